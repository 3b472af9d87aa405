"""The one loop that runs any cell over time, and the masks and masked losses for padded batches.

``unroll`` is where time is: it labels each step's nodes with the step's scope (``t=<t>``, by
``minigrad.step_scope``), so viz draws the unrolled graph step by step and ``zoo.bptt`` splits
gradients by step, and it is where padding is handled. Cells only know one step; layers only
compose cells and this loop. The input half of every step is one matrix product over the whole
sequence (``cell.project``), sliced per step inside the step's scope; the recurrence runs per
step, one fused node or every op (``zoo.fusion``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import is_anomaly_enabled
from minigrad.tensors import as_array

__all__ = ["Unrolled", "unroll", "sequence_mask", "masked_mean", "masked_cross_entropy"]


@dataclass
class Unrolled:
    """What ``unroll`` returns, all in time order (index t is input step t, in either direction).

    ``outputs[t]``: the cell's output at step t, (B, H), zero where the mask is false.
    ``state``: the state after the last real step of each sequence.
    ``states[t]``: the state after step t (only with ``keep_states``), tensors that keep their
    gradient after backward, so ``states[t].grad`` is dL/dh_t.
    """

    outputs: list
    state: object
    states: list | None = None


def unroll(cell, inputs, state, *, mask=None, reverse: bool = False, keep_states: bool = False,
           fused: bool | None = None) -> Unrolled:
    """Run ``cell`` over ``inputs`` (one (T, B, D) tensor, or T tensors of shape (B, D)).

    ``state`` is the initial state. ``mask`` ((T, B), bool or 0/1) marks real steps: where it is false,
    the state passes through unchanged and the output is zero, so a padded sequence ends in the
    state of its last real step, as with PyTorch's packed sequences. Steps where no sequence is
    real are not computed at all. ``reverse`` walks from the last step to the first (the backward
    direction of a bidirectional layer). The recurrence is chosen once, here: the cell's own
    ``fused`` under the current ``zoo.fusion`` cap, or ``fused`` when given (a choice already
    resolved, as a layer passes it for all its cells; see ``CellBase.recurrence``).

    The inputs of all steps are projected at once (``cell.project``: one node, one matrix product);
    step t reads its slice of that inside ``minigrad.scope(step_scope(t))``, where all its nodes
    are recorded (a fused step reads the slice itself: one node per step, which forms its gates
    in that slice's memory: ``CellBase.recurrence``). Inside
    ``detect_anomaly()`` each step's input slice is also taken in its scope first, so a NaN or Inf
    arriving in the input is reported with its time step.
    """
    X = inputs if isinstance(inputs, mg.Tensor) else mg.stack(list(inputs))
    T = X.shape[0]
    steps = step_scopes(T)
    if mask is not None:
        mask = _mask_array(mask, (T, X.shape[1])) if T else None
    if is_anomaly_enabled():
        for t in range(T):
            with steps[t]:
                X[t]  # the slice's forward check names step t
    AX = cell.project(X)  # (T, B, G*H): x_t W_ih^T + b_ih for every step, read only by the steps
    recur = cell.recurrence(fused, ax=AX)
    outputs = [None] * T
    states = [None] * T if keep_states else None
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        with steps[t]:
            if mask is not None and not mask[t].any():  # no sequence is real here: nothing to compute
                h = cell.output(state)
                out = mg.zeros(h.shape, dtype=h.dtype)
            elif mask is None or mask[t].all():
                state = recur(AX, state, t)
                out = cell.output(state)
            else:
                m = mask[t][:, None]  # (B, 1): broadcasts over the hidden units
                state = _select(m, recur(AX, state, t), state)
                out = mg.where(m, cell.output(state), 0.0)
            if keep_states:
                states[t] = _retain(state)
        outputs[t] = out
    return Unrolled(outputs, state, states)


@functools.lru_cache(maxsize=1024)
def shared_scope(name: str) -> mg.scope:
    """One ``mg.scope(name)`` object per name, entered by every forward: a scope remembers the
    modes it made (``minigrad.ModeSetting``), so a shared one costs no allocation per entry."""
    return mg.scope(name)


@functools.lru_cache(maxsize=64)
def step_scopes(T: int) -> tuple:
    """The scopes of steps 0..T-1 (``shared_scope(step_scope(t))``)."""
    return tuple(shared_scope(mg.step_scope(t)) for t in range(T))


def _select(m: np.ndarray, new, old):
    """``new`` where ``m``, else ``old``, for each tensor of a state."""
    if isinstance(new, tuple):
        return tuple(mg.where(m, a, b) for a, b in zip(new, old))
    return mg.where(m, new, old)


def _retain(state):
    for s in state if isinstance(state, tuple) else (state,):
        if s.requires_grad:
            s.retain_grad()
    return state


# masks -----------------------------------------------------------------------------------------
def sequence_mask(lengths, T: int, batch_first: bool = False) -> np.ndarray:
    """Boolean mask of real steps: (T, B), or (B, T) with ``batch_first``; step t of sequence b is
    real when t < lengths[b]. Raises ValueError for lengths outside [0, T]."""
    lengths = _lengths_array(lengths)
    if lengths.size and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"lengths must lie in [0, T={T}] (the sequence length), got {lengths.tolist()}")
    mask = np.arange(T)[:, None] < lengths[None, :]
    return mask.T if batch_first else mask


def _lengths_array(lengths) -> np.ndarray:
    arr = as_array(lengths)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be one integer per sequence, shape (B,), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind != "f" or not np.all(arr == np.round(arr)):
            raise ValueError(f"lengths must be integers, got {arr.tolist()}")
    return arr.astype(np.int64)


def _mask_array(mask, shape: tuple) -> np.ndarray:
    arr = as_array(mask)
    if arr.shape != shape:
        raise ValueError(f"mask must have shape {shape}, got {arr.shape}")
    if arr.dtype.kind not in "bui":
        raise ValueError(f"mask must be boolean (or 0/1 integers), got dtype {arr.dtype}")
    return arr.astype(bool)


def masked_mean(values: mg.Tensor, mask) -> mg.Tensor:
    """Mean of ``values`` over the positions where ``mask`` is true (a per-step loss over a padded
    batch). ``mask`` has the shape of ``values`` or broadcasts to it; with no true position the
    result is 0 (with zero gradient) rather than 0/0."""
    m = as_array(mask)
    try:
        full = np.broadcast_to(m, values.shape)
    except ValueError:
        raise ValueError(f"masked_mean: mask of shape {m.shape} does not broadcast to values of shape "
                         f"{values.shape}") from None
    count = max(int(np.count_nonzero(full)), 1)
    return (values * m.astype(values.dtype)).sum() / count


def masked_cross_entropy(logits: mg.Tensor, targets, *, lengths=None, mask=None, ignore_index: int = -100,
                         batch_first: bool = False, reduction: str = "mean") -> mg.Tensor:
    """Cross-entropy over time of ``logits`` (T, B, V) against integer ``targets`` (T, B), real steps only.

    (B, T, V) and (B, T) with ``batch_first``. A position counts when it lies within its
    sequence's ``lengths``, its ``mask`` entry (shape of ``targets``) is true, and its target is not
    ``ignore_index``. ``reduction``: "mean" over counted positions (nan if there are none, as in
    PyTorch), "sum", or "none" (shape of ``targets``, zero where not counted). Classes are on the
    last axis here, as a sequence model produces them; the work is ``F.cross_entropy``'s.
    """
    y = as_array(targets)
    if logits.ndim < 1 or logits.shape[:-1] != y.shape:
        raise ValueError(f"logits of shape {logits.shape} need targets of shape {logits.shape[:-1]}, got {y.shape}")
    keep = None if mask is None else _mask_array(mask, y.shape)
    if lengths is not None:
        if y.ndim != 2:
            raise ValueError(f"lengths need targets of shape (T, B) or (B, T), got {y.shape}")
        by_length = sequence_mask(lengths, y.shape[1 if batch_first else 0], batch_first)
        if by_length.shape != y.shape:
            raise ValueError(f"lengths give a mask of shape {by_length.shape}, the targets have shape {y.shape}")
        keep = by_length if keep is None else keep & by_length
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=ignore_index, reduction=reduction,
                           mask=None if keep is None else keep.reshape(-1))
    return loss.reshape(y.shape) if reduction == "none" else loss
