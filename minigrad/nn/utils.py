"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's names and rules)."""
from __future__ import annotations

import math

import numpy as np

from ..tensors import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list:
    """The gradient arrays of ``parameters`` (one tensor or an iterable), skipping missing ones."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def _norm(g: np.ndarray, norm_type: float) -> float:
    # float64 throughout: a float32 gradient near float32's max still has a finite norm
    flat = g.reshape(-1).astype(np.float64, copy=False)
    if norm_type == 2:
        return math.sqrt(float(np.dot(flat, flat)))
    if norm_type == math.inf:
        return float(np.abs(flat).max(initial=0.0))
    if norm_type == 1:
        return float(np.abs(flat).sum())
    with np.errstate(over="ignore"):
        return float((np.abs(flat) ** norm_type).sum()) ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together, in place, so their joint ``norm_type``-norm is at most ``max_norm``.

    The joint norm is the norm of the per-parameter norms (as if all gradients were one vector).
    Gradients are multiplied by ``min(1, max_norm / (total_norm + 1e-6))``, as in PyTorch.
    Parameters without a gradient are skipped. Returns the total norm *before* clipping as a
    Python float (PyTorch returns a 0-d tensor), computed in float64.

    A NaN or infinite norm raises ``RuntimeError`` if ``error_if_nonfinite``; otherwise, as in
    PyTorch, the gradients are still scaled (by 0 or NaN), which poisons the next step.
    """
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    norms = [_norm(g, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    else:
        total = _norm(np.array(norms), norm_type)
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise RuntimeError(
                f"clip_grad_norm_: the total {norm_type:g}-norm of the gradients of {len(grads)} parameter(s) "
                f"is {total}; the loss or a gradient overflowed or became NaN. Lower the learning rate, "
                "find the op with minigrad.detect_anomaly(), or pass error_if_nonfinite=False to scale anyway")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:  # also when NaN
        with np.errstate(invalid="ignore"):
            for g in grads:
                g *= coef
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
