"""Attention over an encoder's outputs: additive (Bahdanau) and multiplicative (Luong) scores.

At each decoder step a query ``q`` (B, Q) scores every source position j against its key ``k_j``
(the encoder output there), the scores become weights by a softmax over the *real* positions
only, and the context is the weighted mean of the keys::

    e_j = score(q, k_j)                      (B, S)
    a_j = exp(e_j) / sum_{i real} exp(e_i)   for real j, and exactly 0 for padding
    c   = sum_j a_j k_j                      (B, K)

The parts of a score that depend only on the keys are computed once per source sentence
(``prepare``) rather than at every decoder step.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn import Linear, Module, Parameter, init

__all__ = ["Memory", "masked_softmax", "Attention", "AdditiveAttention", "MultiplicativeAttention",
           "make_attention", "ATTENTIONS"]

# the attention kinds a seq2seq model can be built with ("none": no attention at all)
ATTENTIONS = ("additive", "multiplicative", "dot", "none")


class Memory(NamedTuple):
    """What the decoder attends to, fixed for a whole decoding: one row per sequence (or beam)."""
    keys: mg.Tensor       # (B, S, K) encoder outputs: keys and values
    projected: mg.Tensor  # (B, S, A) the keys' part of the score, computed once (``prepare``)
    mask: np.ndarray      # (B, S) bool, True on real source positions

    def select(self, rows: np.ndarray) -> "Memory":
        """The memory of sequences ``rows`` (repeats allowed: one copy per beam)."""
        return Memory(self.keys[rows], self.projected[rows], self.mask[rows])


def masked_softmax(scores: mg.Tensor, mask) -> mg.Tensor:
    """Softmax of ``scores`` over the last axis, over the positions where ``mask`` is true.

    Masked positions get weight exactly 0 and receive exactly zero gradient, whatever their score
    (even inf or NaN); a row with no true position gets all-zero weights. No infinity is ever
    formed (``detect_anomaly`` stays quiet): masked scores are replaced by 0 before ``exp`` and
    their exponentials by 0 after it. The row maximum over real positions is subtracted as a
    constant, which is exact for the gradient too, because softmax does not change under a shift.
    """
    m = np.asarray(mask, dtype=bool)
    if m.shape != scores.shape:
        raise ValueError(f"masked_softmax: mask of shape {m.shape} for scores of shape {scores.shape}")
    real = np.where(m, scores.data, -np.inf)
    empty = ~m.any(axis=-1, keepdims=True)
    shift = np.where(empty, 0, real.max(axis=-1, keepdims=True, initial=-np.inf)).astype(scores.dtype)
    e = mg.where(m, (mg.where(m, scores, 0.0) - shift).exp(), 0.0)
    # an empty row sums to 0: dividing by 1 instead leaves its weights at 0
    return e / (e.sum(axis=-1, keepdims=True) + empty.astype(scores.dtype))


class Attention(Module):
    """Base of the attention modules: ``prepare`` keys once, then ``forward(query, memory)``.

    Subclasses define ``project_keys(keys)`` (the part of the score that needs only the keys) and
    ``score(query, projected)`` -> (B, S).
    """

    def prepare(self, keys: mg.Tensor, mask) -> Memory:
        """The memory for ``keys`` (B, S, K) with real positions ``mask`` (B, S)."""
        mask = np.asarray(mask, dtype=bool)
        if keys.ndim != 3 or mask.shape != keys.shape[:2] or keys.shape[2] != self.key_size:
            raise ValueError(f"{type(self).__name__}: expected keys (B, S, {self.key_size}) and mask (B, S), "
                             f"got keys {keys.shape} and mask {mask.shape}")
        return Memory(keys, self.project_keys(keys), mask)

    def forward(self, query: mg.Tensor, memory: Memory) -> tuple[mg.Tensor, mg.Tensor]:
        """``(context (B, K), weights (B, S))`` for ``query`` (B, Q)."""
        if query.ndim != 2 or query.shape[1] != self.query_size or query.shape[0] != memory.keys.shape[0]:
            raise ValueError(f"{type(self).__name__}: expected a query of shape ({memory.keys.shape[0]}, "
                             f"{self.query_size}), got {query.shape}")
        B, S, K = memory.keys.shape
        weights = masked_softmax(self.score(query, memory.projected), memory.mask)  # (B, S)
        context = (weights.reshape(B, 1, S) @ memory.keys).reshape(B, K)
        return context, weights

    def project_keys(self, keys: mg.Tensor) -> mg.Tensor:
        """The keys' part of the score (B, S, A), computed once per source."""
        raise NotImplementedError

    def score(self, query: mg.Tensor, projected: mg.Tensor) -> mg.Tensor:
        """Scores e (B, S) of ``query`` (B, Q) against every prepared key."""
        raise NotImplementedError


class AdditiveAttention(Attention):
    """Bahdanau et al. (2015): a one-hidden-layer network scores each pair.

    Equations (q: query (Q,), k_j: key (K,), A: attention size; column vectors)::

        e_j = v^T tanh(W_q @ q + W_k @ k_j + b)

    ``W_k @ k_j + b`` is the prepared part. Parameters ``query_proj.weight`` W_q (A, Q),
    ``key_proj.weight`` W_k (A, K), ``key_proj.bias`` b (A,), ``v`` (A,).
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int, *, dtype=None, generator=None):
        self.query_size, self.key_size, self.attention_size = query_size, key_size, attention_size
        self.query_proj = Linear(query_size, attention_size, bias=False, dtype=dtype, generator=generator)
        self.key_proj = Linear(key_size, attention_size, dtype=dtype, generator=generator)
        self.v = Parameter(np.zeros(attention_size, dtype=self.key_proj.weight.dtype))
        bound = 1 / math.sqrt(attention_size)
        init.uniform_(self.v, -bound, bound, generator=generator)

    def project_keys(self, keys):
        return self.key_proj(keys)  # (B, S, A)

    def score(self, query, projected):
        B, S, A = projected.shape
        hidden = (projected + self.query_proj(query).reshape(B, 1, A)).tanh()  # (B, S, A)
        # NOTE: linear (one 2-D product) rather than hidden @ v, whose batched backward is far slower
        return F.linear(hidden, self.v.reshape(1, A)).reshape(B, S)

    def extra_repr(self) -> str:
        return f"query={self.query_size}, key={self.key_size}, attention={self.attention_size}"


class MultiplicativeAttention(Attention):
    """Luong et al. (2015): a bilinear score, ``general`` or ``dot``.

    Equations (q: query (Q,), k_j: key (K,); column vectors)::

        general: e_j = q^T W k_j      W (Q, K), the parameter ``weight``
        dot:     e_j = q^T k_j        (needs Q == K; no parameters)

    ``W @ k_j`` (or ``k_j``) is the prepared part, so each step costs one batched product.
    """

    def __init__(self, query_size: int, key_size: int, scoring: str = "general", *, dtype=None, generator=None):
        if scoring not in ("general", "dot"):
            raise ValueError(f"MultiplicativeAttention: scoring must be 'general' or 'dot', got {scoring!r}")
        if scoring == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs query and key of one size, got query {query_size} and key "
                             f"{key_size} (a bidirectional encoder doubles the key size; use 'multiplicative')")
        self.query_size, self.key_size, self.scoring = query_size, key_size, scoring
        self.weight = None
        if scoring == "general":
            dt = mg.get_default_dtype() if dtype is None else np.dtype(dtype)
            self.weight = Parameter(np.zeros((query_size, key_size), dtype=dt))
            bound = 1 / math.sqrt(key_size)
            init.uniform_(self.weight, -bound, bound, generator=generator)

    def project_keys(self, keys):
        return keys if self.weight is None else F.linear(keys, self.weight)  # (B, S, Q): W k_j

    def score(self, query, projected):
        B, S, Q = projected.shape
        return (projected @ query.reshape(B, Q, 1)).reshape(B, S)

    def extra_repr(self) -> str:
        return f"query={self.query_size}, key={self.key_size}, scoring={self.scoring!r}"


def make_attention(kind: str, query_size: int, key_size: int, attention_size: int | None = None, *,
                   dtype=None, generator=None) -> Attention | None:
    """The attention module called ``kind`` (one of ``ATTENTIONS``; ``"none"`` gives None).

    ``"multiplicative"`` is Luong's ``general`` score; ``attention_size`` (additive only)
    defaults to ``query_size``.
    """
    if kind == "additive":
        return AdditiveAttention(query_size, key_size, attention_size or query_size, dtype=dtype,
                                 generator=generator)
    if kind in ("multiplicative", "dot"):
        return MultiplicativeAttention(query_size, key_size, "general" if kind == "multiplicative" else "dot",
                                       dtype=dtype, generator=generator)
    if kind == "none":
        return None
    raise ValueError(f"unknown attention {kind!r}; choose one of {', '.join(ATTENTIONS)}")
