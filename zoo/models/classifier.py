"""Sequence classification (many-to-one) and sequence tagging (synced many-to-many).

    SequenceClassifier:  x_1 .. x_T  ->  RNN  ->  h at the last real step  ->  Linear  ->  one class
    SequenceTagger:      x_1 .. x_T  ->  RNN  ->  h_1 .. h_T               ->  Linear  ->  a class per step

Inputs are token ids (B, T) int64, embedded; the recurrent stack is ``zoo.RNN``/``LSTM``/``GRU``
chosen by the config's ``cell``. Padded batches pass ``lengths`` (B,): the classifier then reads
each sequence's state at its own last real step (the layers return it as ``h_n``), and the tagger
counts only real steps in its loss.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.tensors import as_array
from zoo.train import evaluating
from zoo.unroll import masked_cross_entropy

from .common import CELLS, check_config, final_state, recurrent_layer

__all__ = ["ClassifierConfig", "SequenceClassifier", "TaggerConfig", "SequenceTagger", "accuracy"]


@dataclass
class ClassifierConfig:
    """Sizes of a ``SequenceClassifier``."""
    vocab_size: int
    num_classes: int
    cell: str = "lstm"          # "rnn" | "lstm" | "gru"
    embed_dim: int = 16
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0        # between recurrent layers and before the head
    bidirectional: bool = False  # a causal tagger (running parity) must stay unidirectional
    forget_bias: float | None = 1.0  # LSTM only

    def __post_init__(self):
        check_config(self, ("vocab_size", "num_classes", "embed_dim", "hidden_size", "num_layers"), {"cell": CELLS})


@dataclass
class TaggerConfig(ClassifierConfig):
    """Sizes of a ``SequenceTagger`` (the same fields as the classifier's)."""


class _TokenRNN(nn.Module):
    """Embedding -> recurrent stack -> dropout -> linear head: the body both models share."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim)
        self.rnn = recurrent_layer(c.cell, c.embed_dim, c.hidden_size, c.num_layers, dropout=c.dropout,
                                   bidirectional=c.bidirectional, forget_bias=c.forget_bias)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_classes)

    def encode(self, x, lengths):
        """``(output (B, T, K*H), h_n)`` of the recurrent stack over the embedded ids."""
        ids = _check_ids(x, self.config.vocab_size, type(self).__name__)
        return self.rnn(self.embedding(ids), lengths=lengths)

    def predict(self, x, lengths=None) -> np.ndarray:
        """The most likely class ids (argmax of the logits), without recording a graph."""
        with mg.no_grad():
            logits, _ = self(x, lengths=lengths)
        return logits.data.argmax(axis=-1)


class SequenceClassifier(_TokenRNN):
    """Many-to-one: a class for each sequence, from the final recurrent state.

    ``forward(x (B, T) ids, targets (B,) = None, lengths (B,) = None) -> (logits (B, C), loss)``.
    """

    def forward(self, x, targets=None, lengths=None):
        _, h_n = self.encode(x, lengths)  # h_n: (L*K, B, H), at each sequence's last real step
        logits = self.head(self.drop(final_state(h_n, self.config.bidirectional)))  # (B, C)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


class SequenceTagger(_TokenRNN):
    """Synced many-to-many: a class for every input step, from that step's top-layer output.

    ``forward(x (B, T) ids, targets (B, T) = None, lengths (B,) = None) -> (logits (B, T, C), loss)``;
    the loss is the mean cross-entropy over real steps (steps past ``lengths`` do not count).
    """

    def forward(self, x, targets=None, lengths=None):
        out, _ = self.encode(x, lengths)  # (B, T, K*H)
        logits = self.head(self.drop(out))  # (B, T, C)
        loss = None
        if targets is not None:
            loss = masked_cross_entropy(logits, targets, lengths=lengths, batch_first=True)
        return logits, loss


def _check_ids(x, vocab_size: int, what: str) -> np.ndarray:
    ids = as_array(x)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected token ids of shape (B, T) and an integer dtype, got shape "
                         f"{ids.shape} dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{what}: token ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
    return ids


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Fraction of correct predictions (per sequence for a classifier, per step for a tagger)."""
    with evaluating(model):
        hits = sum(int(np.sum(model.predict(x[i:i + batch_size]) == y[i:i + batch_size]))
                   for i in range(0, len(x), batch_size))
    return hits / y.size
