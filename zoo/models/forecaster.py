"""Sequence regression: real-valued sequences in, real values out, trained with mean squared error.

    many_to_one:   x_1 .. x_T  ->  RNN  ->  h at the last real step  ->  Linear  ->  y (the next value)
    many_to_many:  x_1 .. x_T  ->  RNN  ->  h_1 .. h_T               ->  Linear  ->  y_1 .. y_T (each next value)

The time-series forecaster on ``zoo.tasks.sine_task`` (a noisy sum of sines), measured against the
persistence baseline (repeat the last value seen). The adding problem of ``zoo.experiments`` is the
same shape — two input channels, one number out, many-to-one — so it trains this model too.

``minigrad train forecaster [--mode many_to_many --cell gru ...]`` (see ``add_train_arguments``).
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from zoo.tasks import FORECAST_MODES, sine_task
from zoo.train import add_arguments, evaluating
from zoo.unroll import masked_mean, sequence_mask

from .common import (
    CELLS, add_model_arguments, check_config, final_state, fit_from_args, positive_int, recurrent_layer, run_dir,
    run_numbers, sample_batches, write_json, write_svg,
)

__all__ = ["ForecasterConfig", "Forecaster", "evaluate_mse", "add_train_arguments", "train_from_args"]


@dataclass
class ForecasterConfig:
    """Sizes of a ``Forecaster``."""
    input_size: int = 1
    output_size: int = 1
    mode: str = "many_to_one"   # "many_to_one" | "many_to_many"
    cell: str = "gru"           # "rnn" | "lstm" | "gru"
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0        # between recurrent layers and before the head
    forget_bias: float | None = 1.0  # LSTM only

    def __post_init__(self):
        check_config(self, ("input_size", "output_size", "hidden_size", "num_layers"),
                     {"cell": CELLS, "mode": FORECAST_MODES})


class Forecaster(nn.Module):
    """Recurrent regression with a linear read-out (no bidirectional option: a forecast may not see
    the future).

    ``forward(x (B, T, D), targets = None, lengths (B,) = None) -> (prediction, loss)``: the
    prediction is (B, O) for many_to_one, (B, T, O) for many_to_many; the loss is the mean squared
    error, over real steps only when ``lengths`` is given.
    """

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = config
        c = config
        self.rnn = recurrent_layer(c.cell, c.input_size, c.hidden_size, c.num_layers, dropout=c.dropout,
                                   forget_bias=c.forget_bias)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.output_size)

    def _inputs(self, x) -> mg.Tensor:
        if not isinstance(x, mg.Tensor):
            x = mg.Tensor(np.asarray(x, dtype=self.head.weight.dtype))
        if x.ndim != 3 or x.shape[-1] != self.config.input_size:
            raise ValueError(f"Forecaster: expected inputs of shape (B, T, {self.config.input_size}), got {x.shape}")
        return x

    def forward(self, x, targets=None, lengths=None):
        x = self._inputs(x)
        out, h_n = self.rnn(x, lengths=lengths)
        if self.config.mode == "many_to_one":
            pred = self.head(self.drop(final_state(h_n)))  # (B, O), from each sequence's last real step
        else:
            pred = self.head(self.drop(out))  # (B, T, O)
        if targets is None:
            return pred, None
        if not isinstance(targets, mg.Tensor):  # float64 numpy targets must not promote the graph
            targets = np.asarray(targets, dtype=pred.dtype)
        if self.config.mode == "many_to_one":
            return pred, F.mse_loss(pred, targets)
        if targets.shape != pred.shape:
            raise ValueError(f"Forecaster: many_to_many targets must have the prediction's shape {pred.shape}, "
                             f"got {targets.shape}")
        d = pred - targets
        if lengths is None:
            return pred, (d * d).mean()
        real = sequence_mask(lengths, x.shape[1], batch_first=True)[:, :, None]  # (B, T, 1)
        return pred, masked_mean(d * d, np.broadcast_to(real, d.shape))

    def forecast(self, context, horizon: int) -> np.ndarray:
        """Predict ``horizon`` steps past ``context`` (B, T, D), feeding each prediction back in as
        the next input (needs output_size == input_size). Returns (B, horizon, O). Runs in eval
        mode (no dropout) and restores the previous mode."""
        c = self.config
        if c.output_size != c.input_size:
            raise ValueError(f"Forecaster.forecast feeds predictions back as inputs, so it needs output_size "
                             f"== input_size; got {c.output_size} and {c.input_size}")
        x = self._inputs(context)
        steps = []
        with evaluating(self):
            out, state = self.rnn(x)
            h = out[:, -1]  # (B, H): the top layer after the last context step
            for _ in range(horizon):
                y = self.head(h)  # (B, O)
                steps.append(y.data)
                out, state = self.rnn(y.reshape(y.shape[0], 1, -1), state)
                h = out[:, -1]
        return np.stack(steps, axis=1)


def evaluate_mse(model: Forecaster, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Mean squared error of ``model`` on all of (x, y), in eval mode, without recording a graph."""
    total = 0.0
    with evaluating(model):
        for i in range(0, len(x), batch_size):
            pred, _ = model(x[i:i + batch_size])
            total += float(np.sum((pred.data.astype(np.float64) - y[i:i + batch_size]) ** 2))
    return total / y.size


# command line ------------------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train forecaster`` (next values of a noisy sum of sines)."""
    g = parser.add_argument_group("task")
    g.add_argument("--mode", choices=FORECAST_MODES, default="many_to_one",
                   help="predict the value after the window, or the next value at every step")
    g.add_argument("--window", type=positive_int, default=32, help="input steps per example (default 32)")
    g.add_argument("--series-length", type=positive_int, default=2000, help="steps of the series (default 2000)")
    g.add_argument("--components", type=positive_int, default=3, help="sines in the mixture (default 3)")
    g.add_argument("--noise", type=float, default=0.05, help="standard deviation of the noise (default 0.05)")
    add_model_arguments(parser, cell="gru", hidden=32)
    add_arguments(parser, steps=800, lr=3e-3, eval_every=100)


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train forecaster``: train, print the test MSE next to the persistence baseline's,
    save the run and a chart of the forecasts; return the numbers."""
    task = sine_task(args.window, args.mode, args.series_length, n_components=args.components, noise=args.noise,
                     seed=args.seed)
    config = ForecasterConfig(mode=args.mode, cell=args.cell, hidden_size=args.hidden, num_layers=args.layers,
                              dropout=args.dropout, forget_bias=args.forget_bias)
    mg.manual_seed(args.seed)
    model = Forecaster(config)
    out = run_dir(args, f"forecaster_{args.mode}")
    history = fit_from_args(
        args, model, sample_batches(task.train, args.batch_size), out=out, desc=f"forecaster {args.cell}",
        evaluate=lambda m: {"test_mse": evaluate_mse(m, task.test.x, task.test.y)},
        run_config={"kind": "forecaster", "model": asdict(config),
                    "task": {"window": args.window, "mode": args.mode, "n_steps": args.series_length,
                             "n_components": args.components, "noise": args.noise, "seed": args.seed}})
    persistence = task.info["persistence_mse"]
    result = {"mode": args.mode, "cell": args.cell, **run_numbers(history),
              "train_mse": evaluate_mse(model, task.train.x, task.train.y),
              "test_mse": evaluate_mse(model, task.test.x, task.test.y),
              "persistence_mse": persistence, "noise_mse": args.noise ** 2}
    result["skill"] = 1 - result["test_mse"] / persistence
    write_json(out / "results.json", result)
    print(f"forecaster ({args.mode}, {args.cell}, {history.step} steps, {history.elapsed:.1f} s): test MSE "
          f"{result['test_mse']:.5f} vs persistence {persistence:.5f} (skill {result['skill']:+.1%}; "
          f"the noise alone costs {result['noise_mse']:.5f})")
    chart = _plot_forecast(model, task, out / "forecast.svg")
    print(f"checkpoint, metrics and results in {out}/" + (f"; chart {chart}" if chart else ""))
    return result


def _plot_forecast(model: Forecaster, task, path):
    """The test series with the one-step forecasts and persistence's, as SVG (None without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    with evaluating(model):
        pred, _ = model(task.test.x)
    split, window = task.info["split"], task.info["window"]
    many = task.info["mode"] == "many_to_many"
    truth = (task.test.y[:, -1] if many else task.test.y)[:, 0]
    guess = (pred.data[:, -1] if many else pred.data)[:, 0]
    t = split + window + np.arange(len(truth))  # the step each target belongs to
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    ax.plot(t, task.info["clean"][t], color="0.75", lw=3, label="clean signal")
    ax.plot(t, truth, color="0.3", lw=1, label="series (target)")
    ax.plot(t, task.test.x[:, -1, 0], color="tab:orange", lw=1, ls="--", label="persistence")
    ax.plot(t, guess, color="tab:blue", lw=1.2, label=f"{model.config.cell} forecast")
    ax.set_xlabel("time step (test part of the series)")
    ax.set_title("one-step-ahead forecasts on held-out steps")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    fig.tight_layout()
    return write_svg(fig, path)
