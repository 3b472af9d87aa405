"""Long-range experiments: the metrics, one run per task, the table, the chart and the command line
(a few steps each); the claim itself (LSTM and GRU solve the adding problem at T=50) is slow."""
import argparse
import json

import numpy as np
import pytest

import minigrad as mg
from rnnlab.experiments import (
    DEFAULT_STEPS, EXPERIMENTS, RunResult, Settings, add_arguments, plot_results, results_table, run_from_args,
    run_one,
)
from zoo.tasks import ADDING_BASELINE_MSE
from zoo.train import TrainConfig

QUICK = TrainConfig(steps=4, eval_every=2, lr=2e-3)


class Constant:
    """A stand-in model predicting 1.0 for every sequence."""
    training = True

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def __call__(self, x, targets=None, lengths=None):
        return mg.Tensor(np.ones((len(x), 1), np.float32)), None


class Oracle:
    """A stand-in tagger whose logits put (almost) all mass on the right class, read off the input."""

    def __init__(self, problem):
        self.problem = problem

    def __call__(self, x, targets=None, lengths=None):
        n = self.problem.n_copy
        y = np.zeros_like(x)
        y[:, -n:] = x[:, :n]  # the symbols, written back after the delimiter
        return mg.Tensor(np.eye(self.problem.n_symbols + 1, dtype=np.float32)[y] * 30.0), None


def test_always_one_scores_the_adding_baseline_on_the_test_set():
    problem = EXPERIMENTS["adding"](20, Settings(n_test=4000))
    metrics = problem.evaluate(Constant())
    assert metrics["test_mse"] == pytest.approx(ADDING_BASELINE_MSE, rel=0.06)
    assert not metrics["solved"]


def test_copy_metrics_of_a_perfect_tagger():
    problem = EXPERIMENTS["copy"](7, Settings(n_test=50))
    metrics = problem.evaluate(Oracle(problem))
    assert metrics["copy_accuracy"] == 1.0 and metrics["solved"]
    assert metrics["test_cross_entropy"] < 1e-6
    assert problem.baseline == pytest.approx(10 * np.log(8) / (7 + 20))


def test_the_test_set_is_fixed_by_the_seed_and_apart_from_training():
    a, b = EXPERIMENTS["adding"](10, Settings(n_test=20)), EXPERIMENTS["adding"](10, Settings(n_test=20))
    np.testing.assert_array_equal(a.test[0], b.test[0])
    train = a.batches(np.random.default_rng(0))[0]
    assert not np.array_equal(train, a.test[0][:len(train)])


@pytest.mark.parametrize("task", ["adding", "copy"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_run(task, cell):
    r = run_one(task, cell, 6, Settings(hidden_size=4, batch_size=8, n_test=16), QUICK, progress=False)
    assert (r.task, r.cell, r.length, r.steps) == (task, cell, 6, 4)
    assert [c["step"] for c in r.curve] == [2, 4]
    assert np.isfinite(r.final) and r.best <= r.final and r.seconds >= 0
    assert r.final == r.curve[-1][r.metric] and all(c["elapsed"] <= r.seconds + 0.01 for c in r.curve)
    with pytest.raises(ValueError, match="cell must be one of"):
        run_one(task, "elman", 6, Settings(), QUICK, progress=False)


def made_up_results():
    def run(cell, length, final, solved):
        curve = [{"step": 100, "test_mse": 0.16, "elapsed": 0.7}, {"step": 200, "test_mse": final, "elapsed": 1.5}]
        return RunResult("adding", cell, length, "test_mse", ADDING_BASELINE_MSE, 200, 1.5, curve, solved,
                         solved and 1.5)
    return [run("rnn", 10, 0.005, 200), run("lstm", 10, 0.001, 200), run("rnn", 50, 0.16, None),
            run("lstm", 50, 0.003, 200)]


def test_results_table_shows_every_cell_and_length():
    table = results_table(made_up_results())
    assert "| cell | T=10 | T=50 |" in table
    assert "| rnn | 0.0050 (solved at 200) | 0.1600 (not solved) |" in table
    assert "| lstm | 50 | 0.0030 | 0.0030 | 0.1667 | 200 | 2 | 200 | 1.5 | 8 |" in table
    assert "| rnn | 50 | 0.1600 | 0.1600 | 0.1667 | - | - | 200 | 1.5 | 8 |" in table


def test_chart_is_an_svg_with_one_panel_per_length(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_results(made_up_results(), tmp_path / "adding.svg")
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "T = 10" in svg and "T = 50" in svg and "solved (0.01)" in svg


def parse(argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_run_from_args_prints_the_table_and_writes_the_results(tmp_path, capsys):
    args = parse(["copy", "--cells", "gru,rnn", "--lengths", "4,6", "--steps", "3", "--eval-every", "3",
                  "--hidden", "4", "--batch-size", "8", "--n-test", "10", "--out", str(tmp_path), "--quiet"])
    result = run_from_args(args)
    assert [(r["cell"], r["length"]) for r in result["runs"]] == [("gru", 4), ("rnn", 4), ("gru", 6), ("rnn", 6)]
    out = capsys.readouterr().out
    assert "| cell | delay=4 | delay=6 |" in out and "nats" in out and "% right" in out
    saved = json.loads((tmp_path / "experiment_copy" / "results.json").read_text())
    assert saved["settings"]["hidden_size"] == 4 and len(saved["runs"]) == 4
    assert saved["runs"][0]["curve"][-1]["step"] == 3 and "copy_accuracy" in saved["runs"][0]["curve"][-1]
    assert (tmp_path / "experiment_copy" / "results.md").read_text().startswith("# copy experiment")


@pytest.mark.parametrize("argv, message", [
    (["adding", "--cells", "rnn,transformer"], "comma-separated list"),
    (["adding", "--lengths", "10,x"], "comma-separated integers"),
    (["adding", "--lengths", "1"], "at least 2"),
    (["sorting"], "invalid choice"),
])
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag", [["--resume"], ["--ckpt-every", "5"], ["--log-every", "5"]])
def test_checkpoint_flags_are_not_offered(flag, capsys):
    """The experiment keeps no checkpoint or metrics log, so it refuses the flags that would ask for one."""
    with pytest.raises(SystemExit):
        parse(["adding", *flag])
    assert f"unrecognized arguments: {' '.join(flag)}" in capsys.readouterr().err


def test_help_says_copy_memory_is_not_solved_at_the_default_steps():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert f"default {DEFAULT_STEPS}" in text and "--resume" not in text and "--ckpt-every" not in text
    assert "copy memory needs many more steps and is not expected to be solved at the default" in text


@pytest.mark.slow
def test_lstm_and_gru_solve_the_adding_problem_at_length_50():
    settings = Settings()
    train = TrainConfig(steps=DEFAULT_STEPS, lr=2e-3, eval_every=100)
    for cell in ("lstm", "gru"):
        r = run_one("adding", cell, 50, settings, train, progress=False)
        assert r.solved_at is not None and r.final < 0.01, (cell, r.final)


def test_results_table_shows_short_runs_times_instead_of_zeros():
    (fast,) = [RunResult("adding", "gru", 5, "test_mse", ADDING_BASELINE_MSE, 30, 0.0312,
                         [{"step": 30, "test_mse": 0.5, "elapsed": 0.0312}], 30, 0.0312)]
    row = results_table([fast]).splitlines()[-1]
    assert row == "| gru | 5 | 0.5000 | 0.5000 | 0.1667 | 30 | 0.031 | 30 | 0.031 | 1 |"
