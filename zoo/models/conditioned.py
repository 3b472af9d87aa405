"""Conditioned generation (one-to-many), the image-captioning pattern: a feature vector v — an
image's CNN code there, a number's digits here — steers a recurrent decoder that writes a sentence.

v reaches the decoder in one or both of two ways (``condition``):

* ``"init"``:  it sets the initial state, ``h_0 = tanh(W_init v + b_init)`` (every layer; the LSTM's
  c_0 stays 0), so the decoder starts from the features and must carry them along;
* ``"input"``: it enters every step as an extra input, so the vanilla cell computes
  ``h_t = tanh(W_xh x_t + W_hh h_{t-1} + W_ih v + b)`` (the image-captioning RNN of the CS231n
  lecture; Mao et al.'s m-RNN also sees the image at every step). It is done by feeding
  ``[x_t; v]`` to the first layer: its input weights ``weight_ih_l0 = [W_xh | W_ih]`` give
  ``W_xh x_t + W_ih v``, and because every cell (rnn, lstm, gru) begins with that product, every
  cell is conditioned the same way.

Training uses teacher forcing: the decoder reads ``BOS y_1 .. y_n`` and predicts ``y_1 .. y_n EOS``.
``generate`` decodes greedily (temperature 0) or samples with a temperature.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
from minigrad.tensors import as_array
from zoo.tasks import BOS, EOS
from zoo.train import evaluating
from zoo.unroll import masked_cross_entropy

from .common import CELLS, check_config, check_sampling, recurrent_layer, sample_tokens

__all__ = ["CONDITIONS", "ConditionedConfig", "ConditionedGenerator"]

CONDITIONS = ("init", "input", "both")


@dataclass
class ConditionedConfig:
    """Sizes of a ``ConditionedGenerator``."""
    feature_size: int
    vocab_size: int             # a TokenVocab's size (PAD BOS EOS UNK come first)
    cell: str = "gru"           # "rnn" | "lstm" | "gru"
    condition: str = "both"     # "init" | "input" | "both"
    embed_dim: int = 32
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    forget_bias: float | None = 1.0  # LSTM only
    max_length: int = 16        # generation stops after this many tokens (EOS included)

    def __post_init__(self):
        check_config(self, ("feature_size", "vocab_size", "embed_dim", "hidden_size", "num_layers", "max_length"),
                     {"cell": CELLS, "condition": CONDITIONS})


class ConditionedGenerator(nn.Module):
    """A decoder conditioned on a feature vector.

    ``forward(features (B, F), inputs (B, T) ids, targets (B, T) = None, mask (B, T) = None)
    -> (logits (B, T, V), loss)``; the loss is the mean cross-entropy over the positions where
    ``mask`` is true (all when it is None).
    """

    def __init__(self, config: ConditionedConfig):
        super().__init__()
        self.config = config
        c = config
        self.uses_input = c.condition in ("input", "both")
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim)
        self.rnn = recurrent_layer(c.cell, c.embed_dim + (c.feature_size if self.uses_input else 0), c.hidden_size,
                                   c.num_layers, dropout=c.dropout, forget_bias=c.forget_bias)
        self.to_h0 = nn.Linear(c.feature_size, c.num_layers * c.hidden_size) if c.condition != "input" else None
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)

    def _features(self, features) -> mg.Tensor:
        if not isinstance(features, mg.Tensor):
            features = mg.Tensor(np.asarray(features, dtype=self.head.weight.dtype))
        if features.ndim != 2 or features.shape[1] != self.config.feature_size:
            raise ValueError(f"ConditionedGenerator: expected features of shape (B, {self.config.feature_size}), "
                             f"got {features.shape}")
        return features

    def initial_state(self, v: mg.Tensor):
        """The state the features give (None, i.e. zeros, for ``condition="input"``)."""
        if self.to_h0 is None:
            return None
        c = self.config
        h0 = self.to_h0(v).tanh().reshape(v.shape[0], c.num_layers, c.hidden_size).permute(1, 0, 2)  # (L, B, H)
        return (h0, mg.zeros_like(h0)) if c.cell == "lstm" else h0

    def _step_inputs(self, ids, v: mg.Tensor) -> mg.Tensor:
        """Embedded ids (B, T, E), with v appended to every step when it enters as an input."""
        x = self.embedding(ids)
        if not self.uses_input:
            return x
        B, T = x.shape[0], x.shape[1]
        return mg.cat([x, v.reshape(B, 1, -1).expand(B, T, v.shape[1])], axis=-1)  # (B, T, E + F)

    def forward(self, features, inputs, targets=None, mask=None):
        v = self._features(features)
        ids = as_array(inputs)
        if ids.ndim != 2 or ids.shape[0] != v.shape[0]:
            raise ValueError(f"ConditionedGenerator: expected inputs of shape ({v.shape[0]}, T), got {ids.shape}")
        out, _ = self.rnn(self._step_inputs(ids, v), self.initial_state(v))  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = masked_cross_entropy(logits, targets, mask=mask, batch_first=True)
        return logits, loss

    def generate(self, features, max_length: int | None = None, temperature: float = 0.0,
                 generator: np.random.Generator | None = None) -> np.ndarray:
        """Token ids (B, T) written for each feature vector, starting from BOS and stopping at EOS
        (included; PAD after it) or after ``max_length`` tokens. ``temperature`` 0 picks the most
        likely token; above 0 samples from softmax(logits / temperature) with ``generator``.
        Runs in eval mode (no dropout) and restores the previous mode."""
        check_sampling(temperature)
        max_length = self.config.max_length if max_length is None else max_length
        rng = mg.random.generator(generator)
        with evaluating(self):
            v = self._features(features)
            B = v.shape[0]
            state = self.initial_state(v)
            prev = np.full((B, 1), BOS, dtype=np.int64)
            done = np.zeros(B, dtype=bool)
            written = np.zeros((B, max_length), dtype=np.int64)  # PAD = 0
            for t in range(max_length):
                out, state = self.rnn(self._step_inputs(prev, v), state)
                nxt = sample_tokens(self.head(out[:, -1]).data, temperature, rng)  # (B,)
                written[:, t] = np.where(done, 0, nxt)
                done |= nxt == EOS
                if done.all():
                    return written[:, :t + 1]
                prev = nxt[:, None]
        return written
