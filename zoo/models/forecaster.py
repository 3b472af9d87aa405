"""Sequence regression: real-valued sequences in, real values out, trained with mean squared error.

    many_to_one:   x_1 .. x_T  ->  RNN  ->  h at the last real step  ->  Linear  ->  y (the next value)
    many_to_many:  x_1 .. x_T  ->  RNN  ->  h_1 .. h_T               ->  Linear  ->  y_1 .. y_T (each next value)

The time-series forecaster of ``zoo.tasks.sine_task`` (a noisy sum of sines), measured against the
persistence baseline (repeat the last value seen). The adding problem (``zoo.tasks.adding_batch``)
is the same shape — two input channels, one number out, many-to-one — so this model learns it too.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from zoo.tasks import FORECAST_MODES
from zoo.train import evaluating
from zoo.unroll import masked_mean, sequence_mask

from .common import CELLS, check_config, final_state, recurrent_layer

__all__ = ["ForecasterConfig", "Forecaster", "evaluate_mse"]


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
