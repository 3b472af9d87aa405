"""Forecaster: many-to-one and many-to-many regression, padding, gradients, rollout, learning,
and the command line against the persistence baseline."""
import argparse
import json

import numpy as np
import pytest

import minigrad as mg
from rnnlab.recipes.forecaster import add_train_arguments, train_from_args
from zoo.models.forecaster import Forecaster, ForecasterConfig, evaluate_mse
from zoo.train import TrainConfig, Trainer

CELL_NAMES = ("rnn", "lstm", "gru")
MODES = ("many_to_one", "many_to_many")


def fit_tiny_batch(model, batch, steps, lr):
    """The zoo's trainer on one fixed batch, no clipping: a model that cannot learn it is broken."""
    config = TrainConfig(steps=steps, lr=lr, clip_norm=None, eval_every=0, log_every=0)
    return Trainer(model, lambda rng: batch, config=config, progress=False).fit()


def tiny(mode, cell, D=1, O=1, H=4, layers=1, seed=0):
    mg.manual_seed(seed)
    return Forecaster(ForecasterConfig(input_size=D, output_size=O, mode=mode, cell=cell, hidden_size=H,
                                       num_layers=layers))


def series(B=3, T=5, D=1, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((B, T, D)).astype(dtype)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_shapes_and_mse(cell):
    x = series(D=2)
    m1 = tiny("many_to_one", cell, D=2, O=3, layers=2)
    pred, loss = m1(x)
    assert pred.shape == (3, 3) and loss is None
    y = np.ones((3, 3), np.float32)
    pred, loss = m1(x, y)
    assert loss.item() == pytest.approx(np.mean((pred.data - 1) ** 2), rel=1e-5)
    mm = tiny("many_to_many", cell, D=2, O=3)
    pred, loss = mm(x, np.zeros((3, 5, 3), np.float32))
    assert pred.shape == (3, 5, 3)
    assert loss.item() == pytest.approx(np.mean(pred.data ** 2), rel=1e-5)


def test_many_to_one_reads_each_sequence_at_its_last_real_step():
    model = tiny("many_to_one", "lstm")
    x, lengths = series(T=6), np.array([6, 3, 1])
    padded, _ = model(x, lengths=lengths)
    for b, n in enumerate(lengths):
        alone, _ = model(x[b:b + 1, :n])
        np.testing.assert_allclose(padded.data[b], alone.data[0], rtol=1e-5, atol=1e-6)


def test_many_to_many_loss_counts_real_steps_only():
    model = tiny("many_to_many", "gru")
    x, lengths = series(B=2, T=5), np.array([5, 2])
    y = series(B=2, T=5, seed=2)
    pred, loss = model(x, y, lengths=lengths)
    y2 = y.copy()
    y2[1, 2:] = 100.0
    assert model(x, y2, lengths=lengths)[1].item() == pytest.approx(loss.item())
    sq = (pred.data - y) ** 2
    assert loss.item() == pytest.approx(np.mean(np.concatenate([sq[0].ravel(), sq[1, :2].ravel()])), rel=1e-5)


def test_config_and_input_errors():
    with pytest.raises(ValueError, match="mode must be one of"):
        ForecasterConfig(mode="one_to_many")
    with pytest.raises(ValueError, match=r"expected inputs of shape \(B, T, 1\)"):
        tiny("many_to_one", "rnn")(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="output_size == input_size"):
        tiny("many_to_one", "rnn", D=2, O=1).forecast(series(D=2), 3)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(mode, cell):
    mg.set_default_dtype(np.float64)
    model = tiny(mode, cell, H=3)
    x = series(B=2, T=4, dtype=np.float64)
    lengths = np.array([4, 3])
    y = series(B=2, T=4 if mode == "many_to_many" else 1, seed=4, dtype=np.float64)
    y = y if mode == "many_to_many" else y[:, 0]
    xt = mg.Tensor(x, requires_grad=True)  # the inputs' gradient too
    assert mg.gradcheck(lambda xt, *ps: model(xt, y, lengths=lengths)[1], [xt, *model.parameters()], atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forecast_feeds_predictions_back(mode, cell):
    model = tiny(mode, cell)
    x = series(B=2, T=5)
    rolled = model.forecast(x, 3)
    assert rolled.shape == (2, 3, 1)
    # each forecast step is the model's prediction for the context extended by the steps before it
    context = x
    for k in range(3):
        pred, _ = model(context)
        last = pred.data if mode == "many_to_one" else pred.data[:, -1]
        np.testing.assert_allclose(rolled[:, k], last, rtol=1e-4, atol=1e-6)
        context = np.concatenate([context, last[:, None, :]], axis=1)


@pytest.mark.parametrize("mode", MODES)
def test_overfits_a_tiny_batch(mode):
    model = tiny(mode, "gru", H=16)
    x = series(B=4, T=8)
    y = np.cumsum(x, axis=1) / np.arange(1, 9)[:, None]  # the running mean: every step has a target
    y = y[:, -1] if mode == "many_to_one" else y
    loss = fit_tiny_batch(model, (x, y), steps=200, lr=0.02).losses[-1]
    assert loss < 1e-3
    assert evaluate_mse(model, x, y) == pytest.approx(loss, rel=0.5, abs=1e-4)


def parse(argv):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("mode", MODES)
def test_train_from_args(tmp_path, capsys, mode):
    args = parse(["--mode", mode, "--window", "8", "--series-length", "200", "--steps", "5", "--hidden", "8",
                  "--out", str(tmp_path), "--quiet"])
    result = train_from_args(args)
    assert {"test_mse", "persistence_mse", "skill", "train_seconds"} <= set(result)
    out = tmp_path / f"forecaster_{mode}"
    assert json.loads((out / "results.json").read_text())["steps"] == 5
    assert "persistence" in capsys.readouterr().out
    ckpt = mg.load(out / "checkpoint.npz")
    assert Forecaster(ForecasterConfig(**ckpt["config"]["model"])).config.mode == mode
    if pytest.importorskip("matplotlib"):
        assert (out / "forecast.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.slow
def test_gru_forecaster_beats_persistence(tmp_path):
    result = train_from_args(parse(["--out", str(tmp_path), "--quiet"]))
    assert result["test_mse"] < 0.5 * result["persistence_mse"]
