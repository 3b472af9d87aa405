"""zoo.train: the loop learns, schedules and clipping apply, the metrics log, and checkpoints that
resume bit for bit — after a normal stop, after Ctrl-C in the forward pass and in the update."""
import json
import math
import os
import signal

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from zoo.train import METRICS, History, TrainConfig, Trainer, TrainingError, evaluating

D, C = 5, 3


class TinyNet(nn.Module):
    """A two-layer classifier with dropout (so the global generator matters to resumption)."""

    def __init__(self, dropout: float = 0.2):
        self.fc1 = nn.Linear(D, 16)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(16, C)

    def forward(self, x, targets=None):
        logits = self.fc2(self.drop(self.fc1(mg.Tensor(x)).tanh()))
        return logits, None if targets is None else F.cross_entropy(logits, targets)


X = np.random.default_rng(1).normal(size=(64, D)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)


def batches(rng):
    idx = rng.integers(0, len(X), size=8)
    return X[idx], Y[idx]


def accuracy(model):
    assert not model.training and not mg.is_grad_enabled()
    logits, _ = model(X)
    return {"acc": (logits.data.argmax(-1) == Y).mean().astype(np.float32)}  # a numpy scalar, logged as JSON


def build(config, out_dir=None, **kw):
    mg.manual_seed(0)
    return Trainer(TinyNet(), batches, config=config, out_dir=out_dir, progress=False, **kw)


CFG = dict(steps=24, lr=1e-2, warmup=3, schedule="cosine", eval_every=5, log_every=4, seed=3, clip_norm=0.5)


def snapshot(trainer):
    return ({k: v.copy() for k, v in trainer.model.state_dict().items()},
            trainer.optimizer.state_dict(), list(trainer.history.losses),
            trainer.data_rng.bit_generator.state, mg.get_rng_state())


def assert_same_run(a, b):
    params_a, opt_a, losses_a, data_a, rng_a = a
    params_b, opt_b, losses_b, data_b, rng_b = b
    assert list(params_a) == list(params_b)
    for k in params_a:
        assert params_a[k].tobytes() == params_b[k].tobytes(), k
    assert losses_a == losses_b  # floats compared exactly
    for i, st in opt_a["state"].items():
        for k, v in st.items():
            assert np.asarray(v).tobytes() == np.asarray(opt_b["state"][i][k]).tobytes()
    assert data_a == data_b and rng_a == rng_b


@pytest.fixture(scope="module")
def uninterrupted():
    trainer = build(TrainConfig(**CFG))
    trainer.fit()
    return snapshot(trainer)


def test_overfits_a_small_problem():
    trainer = build(TrainConfig(steps=300, lr=3e-2, eval_every=0, log_every=0), evaluate=accuracy)
    trainer.model.drop.p = 0.0
    h = trainer.fit()
    assert len(h.losses) == 300 and h.step == 300 and not h.interrupted
    assert np.mean(h.losses[-20:]) < 0.1 < np.mean(h.losses[:20])
    assert h.evals[-1]["acc"] > 0.95 and h.evals[-1]["step"] == 300


def test_resume_is_bit_for_bit(tmp_path):
    # a cosine schedule is planned for its number of steps, so extending a run uses a constant one
    full = dict(CFG, schedule="constant")
    straight = build(TrainConfig(**full))
    straight.fit()
    first = build(TrainConfig(**{**full, "steps": 10}), out_dir=tmp_path, run_config={"model": {"a": 1}})
    first.fit()
    mg.manual_seed(12345)  # resuming must not depend on the global generator's state before it
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", TinyNet(), batches, config=TrainConfig(**full),
                             progress=False)
    assert resumed.step == 10 and resumed.run_config == {"model": {"a": 1}}
    resumed.fit()
    assert_same_run(snapshot(resumed), snapshot(straight))


def test_resume_takes_the_saved_config(tmp_path):
    trainer = build(TrainConfig(**{**CFG, "steps": 7}), out_dir=tmp_path)
    trainer.fit()
    again = Trainer.resume(tmp_path / "checkpoint.npz", TinyNet(), batches, progress=False)
    assert again.config == TrainConfig(**{**CFG, "steps": 7}) and again.fit().step == 7


def test_ctrl_c_in_the_forward_pass_saves_and_resumes_exactly(tmp_path, uninterrupted):
    calls = []

    def interrupting(rng):
        batch = batches(rng)  # the draw happens, then the user presses Ctrl-C
        calls.append(1)
        if len(calls) == 14:
            raise KeyboardInterrupt
        return batch

    trainer = build(TrainConfig(**CFG), out_dir=tmp_path)
    trainer.batches = interrupting
    h = trainer.fit()
    assert h.interrupted and h.step == 13 and len(h.losses) == 13
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", TinyNet(), batches, progress=False)
    assert resumed.step == 13
    resumed.fit()
    assert_same_run(snapshot(resumed), uninterrupted)


class SignallingAdam(optim.Adam):
    """Adam that delivers a real SIGINT to this process in the middle of its 9th update."""

    def _step_group(self, group):
        self.calls = getattr(self, "calls", 0) + 1
        if self.calls == 9:
            os.kill(os.getpid(), signal.SIGINT)
        super()._step_group(group)


def test_sigint_during_the_update_finishes_the_step(tmp_path, uninterrupted):
    mg.manual_seed(0)
    model = TinyNet()
    trainer = Trainer(model, batches, config=TrainConfig(**CFG), out_dir=tmp_path, progress=False,
                      optimizer=SignallingAdam(model.parameters(), lr=CFG["lr"]))
    h = trainer.fit()
    assert h.interrupted and h.step == 9
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", TinyNet(), batches, progress=False)
    resumed.fit()
    assert_same_run(snapshot(resumed), uninterrupted)


def test_periodic_checkpoints_and_metrics_log(tmp_path):
    trainer = build(TrainConfig(**{**CFG, "ckpt_every": 6}), out_dir=tmp_path, evaluate=accuracy)
    saved_at = []
    real_save = trainer.save_checkpoint
    trainer.save_checkpoint = lambda path=None: saved_at.append(trainer.step) or real_save(path)
    h = trainer.fit()
    assert saved_at == [6, 12, 18, 24, 24]  # every 6 steps, then the final save
    lines = [json.loads(s) for s in (tmp_path / METRICS).read_text().splitlines()]
    assert lines == h.records
    train = [r for r in lines if r["kind"] == "train"]
    assert [r["step"] for r in train] == [4, 8, 12, 16, 20, 24]
    assert [r["step"] for r in h.evals] == [5, 10, 15, 20, 24]
    assert math.isclose(train[0]["loss"], np.mean(h.losses[:4]))
    assert all(r["tokens_per_s"] > 0 and r["grad_norm"] > 0 for r in train)


def test_resumed_metrics_log_drops_lines_after_the_checkpoint(tmp_path):
    build(TrainConfig(**{**CFG, "steps": 8}), out_dir=tmp_path, evaluate=accuracy).fit()
    with open(tmp_path / METRICS, "a") as f:  # a killed run logged past its last checkpoint
        f.write(json.dumps({"kind": "train", "step": 99}) + "\n")
    resumed = Trainer.resume(tmp_path / "checkpoint.npz", TinyNet(), batches, config=TrainConfig(**CFG),
                             evaluate=accuracy, progress=False)
    h = resumed.fit()
    lines = [json.loads(s) for s in (tmp_path / METRICS).read_text().splitlines()]
    assert lines == h.records and 99 not in [r["step"] for r in lines]
    assert [r["step"] for r in h.evals] == [5, 8, 10, 15, 20, 24]


def test_warmup_then_cosine_learning_rates():
    trainer = build(TrainConfig(steps=20, lr=0.1, warmup=4, schedule="cosine", log_every=1, eval_every=0))
    h = trainer.fit()
    lrs = [r["lr"] for r in h.records]
    assert np.allclose(lrs[:5], [0.1 * (t + 1) / 5 for t in range(5)])
    assert np.allclose(lrs[4:], [0.1 * (1 + math.cos(math.pi * t / 16)) / 2 for t in range(16)])


def test_constant_schedule_and_clipping():
    trainer = build(TrainConfig(steps=6, lr=0.05, log_every=1, eval_every=0, clip_norm=1e-3))
    before = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    h = trainer.fit()
    assert trainer.scheduler is None and all(r["lr"] == 0.05 for r in h.records)
    # Adam's step size does not shrink with the gradient, but the grad-norm readout is pre-clip
    assert all(r["grad_norm"] > 1e-3 for r in h.records)
    assert any(not np.array_equal(before[k], v) for k, v in trainer.model.state_dict().items())


def test_time_budget_stops_training():
    trainer = build(TrainConfig(steps=None, max_seconds=0.3, eval_every=0))
    h = trainer.fit()
    assert 0 < h.step and 0.3 <= h.elapsed < 5


def test_non_finite_loss_is_reported():
    class Exploding(TinyNet):
        def forward(self, x, targets=None):
            logits, loss = super().forward(x, targets)
            return logits, loss * float("nan")

    mg.manual_seed(0)
    trainer = Trainer(Exploding(), batches, config=TrainConfig(steps=3), progress=False)
    with pytest.raises(TrainingError, match="step 1: the training loss is nan"):
        trainer.fit()


@pytest.mark.parametrize("options, message", [
    (dict(steps=None), "give steps or max_seconds"),
    (dict(schedule="linear"), "schedule must be one of"),
    (dict(steps=None, max_seconds=1.0, schedule="cosine"), "cosine schedule needs"),
    (dict(lr=0.0), "lr must be positive"),
    (dict(clip_norm=-1.0), "clip_norm must be positive"),
    (dict(ckpt_every=0), "ckpt_every must be positive"),
])
def test_bad_configs_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**options)


def test_ckpt_every_needs_an_out_dir():
    with pytest.raises(ValueError, match="ckpt_every needs an out_dir"):
        build(TrainConfig(ckpt_every=5))


def test_resume_rejects_a_checkpoint_of_another_model(tmp_path):
    build(TrainConfig(steps=2), out_dir=tmp_path).fit()

    class Wider(TinyNet):
        def __init__(self):
            super().__init__()
            self.fc2 = nn.Linear(16, C + 1)

    with pytest.raises(TrainingError, match="(?s)cannot resume from .*fc2.weight.: shape"):
        Trainer.resume(tmp_path / "checkpoint.npz", Wider(), batches, progress=False)


def test_history_defaults():
    h = History()
    assert h.evals == [] and h.last_eval is None and h.losses == []


@pytest.mark.parametrize("print_evals", [True, False])
def test_evaluations_print_a_line_each_or_only_update_the_bar(capsys, print_evals):
    trainer = Trainer(TinyNet(), batches, config=TrainConfig(steps=6, eval_every=2, log_every=1), evaluate=accuracy,
                      progress=True, print_evals=print_evals)
    trainer.fit()
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).replace("\r", "\n").splitlines() if line.startswith("step ")]
    if print_evals:
        assert [line.split(":")[0] for line in lines] == ["step 2", "step 4", "step 6"] and "acc" in lines[0]
    else:
        assert lines == [] and "acc=" in err  # the latest evaluation shows in the bar's readout


def test_evaluating_switches_to_eval_mode_without_a_graph_and_restores_the_mode():
    model = TinyNet()
    with evaluating(model):
        assert not model.training and not mg.is_grad_enabled()
    assert model.training and mg.is_grad_enabled()
    model.eval()
    with pytest.raises(ZeroDivisionError), evaluating(model):
        1 / 0
    assert not model.training and mg.is_grad_enabled()
