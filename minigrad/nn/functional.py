"""Layers and losses as functions, with PyTorch's names and signatures.

    import minigrad.nn.functional as F
    loss = F.cross_entropy(logits, targets, ignore_index=0, label_smoothing=0.1)

The hot or numerically delicate pieces are fused primitives, each one node with a hand-derived
backward (tests prove each equal to the composite it replaces): ``linear`` (x W^T + b),
``embedding`` (row lookup), ``layer_norm``, ``dropout``, ``cross_entropy`` (log-softmax, pick,
weight and reduce) and ``binary_cross_entropy_with_logits``. The rest are composites of Tensor ops.
Each primitive's ``Function`` is named after its function with the suffix ``Fn`` (``LinearFn`` for
``linear``), so it is never mistaken for the ``nn`` module of the same name (``nn.Linear``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..function import Deferred, Function, ShapeError
from ..ops import dot_t, stable_sigmoid, stable_softplus, underflow_to_zero
from ..tensors import Tensor, _broadcasts_to, as_array, cat

__all__ = [
    "linear", "embedding", "dropout", "layer_norm", "relu", "tanh", "sigmoid", "softmax", "log_softmax",
    "cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits",
    "pad", "gelu", "silu", "elu", "relu6", "hardtanh", "hardswish", "mish",
]

_REDUCTIONS = ("mean", "sum", "none")




def _check_reduction(reduction: str, what: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{what}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# ---------------------------------------------------------------------------------------------
# layers


class LinearFn(Function):
    """y = x W^T + b over the last axis of x, as one node (instead of transpose, matmul, add)."""

    op = "linear"
    reads_output = False  # so a loop may form its steps' gates in the projection's memory (zoo.unroll)

    def forward(self, x, weight, bias=None):
        if (weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]
                or (bias is not None and bias.shape != weight.shape[:1])):
            raise ShapeError(
                f"linear: input {x.shape}, weight {weight.shape}" + ("" if bias is None else f", bias {bias.shape}")
                + ": expected input (..., in), weight (out, in), bias (out,)")
        self.x, self.weight = x, weight
        out = dot_t(x.reshape(-1, x.shape[-1]), weight)
        if bias is not None:
            out += bias
        return out.reshape(x.shape[:-1] + weight.shape[:1])

    def backward(self, g):
        x, w = self.x, self.weight
        g2 = g.reshape(-1, w.shape[0])
        need = self.needs_input_grad
        gx = np.dot(g2, w).reshape(x.shape) if need[0] else None
        # a weight used by many nodes (a decoder's steps) gets one product over all their rows
        gw = Deferred(g2, x.reshape(-1, x.shape[-1])) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (Deferred(g2) if need[2] else None)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input (..., in), weight (out, in), bias (out,) -> (..., out)."""
    if bias is None:
        return LinearFn.apply(input, weight)
    return LinearFn.apply(input, weight, bias)


def _sum_rows(index: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``out[k] = sum of rows[j] with index[j] == k`` for k < n; repeated indices accumulate."""
    out = np.zeros((n,) + rows.shape[1:], dtype=rows.dtype)
    if index.size < 48:
        np.add.at(out, index, rows)  # NOTE: fastest for a few dozen rows (batch-1 steps)
        return out
    # sort, then one reduceat over each run of equal indices: 1120 rows of 64 take 0.22 ms this
    # way against 1.3 ms for np.add.at (measured, float32, 1 thread)
    order = np.argsort(index, kind="stable")
    s = index[order]
    run_start = np.empty(s.size, dtype=bool)
    run_start[0] = True
    np.not_equal(s[1:], s[:-1], out=run_start[1:])
    starts = np.flatnonzero(run_start)
    out[s[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class EmbeddingFn(Function):
    """Row lookup ``weight[indices]``; the backward adds each output row's gradient into its row."""

    op = "embedding"

    def forward(self, weight, indices, padding_idx):
        self.num = weight.shape[0]
        return np.take(weight, indices, axis=0)  # NOTE: ~2x faster than weight[indices] for many rows

    def backward(self, g):
        indices, padding_idx = self.options["indices"], self.options["padding_idx"]
        grad = _sum_rows(indices.reshape(-1), g.reshape(indices.size, -1), self.num)
        if padding_idx is not None:
            grad[padding_idx] = 0  # the padding row stays as it is (PyTorch's padding_idx)
        return (grad,)


def _indices(x, what: str) -> np.ndarray:
    idx = as_array(x)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{what}: indices must be integers, got dtype {idx.dtype}")
    return idx


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integers in ``input``: shape input.shape + (dim,).

    Repeated indices accumulate their gradients; row ``padding_idx`` gets none.
    """
    idx = _indices(input, "embedding").astype(np.intp, copy=False)
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be (num_embeddings, dim), got shape {weight.shape}")
    n = weight.shape[0]
    # one reduction checks both ends: viewed as unsigned, negative indices become huge
    if idx.size and idx.view(np.uintp).max() >= n:
        raise IndexError(f"embedding: indices must lie in [0, {n}), got values in [{idx.min()}, {idx.max()}]")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is outside [-{n}, {n})")
        padding_idx %= n
    return EmbeddingFn.apply(weight, indices=idx, padding_idx=padding_idx)


class DropoutFn(Function):
    """x * mask, where mask holds 0 (dropped) or 1/(1-p) (kept)."""

    op = "dropout"

    def forward(self, x, mask):
        return x * mask

    def backward(self, g):
        return (g * self.options["mask"],)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity unless ``training``.

    The mask comes from ``generator`` or the global generator (see ``minigrad.manual_seed``).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = np.zeros(input.shape, dtype=input.dtype)
    else:
        keep = _random.generator(generator).random(input.shape) >= p
        mask = keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p))
    return DropoutFn.apply(input, mask=mask)


class LayerNormFn(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last ``naxes`` axes (biased variance).

    Backward, with xhat the normalised input and d = dL/dxhat = g * weight:
    dL/dx = (d - mean(d) - xhat * mean(d * xhat)) / sqrt(var + eps).
    """

    op = "layer_norm"

    def forward(self, x, *params, naxes, eps, affine):
        axes = tuple(range(x.ndim - naxes, x.ndim))
        xc = x - x.mean(axis=axes, keepdims=True)
        self.rstd = rstd = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
        self.xhat = y = xc * rstd
        it = iter(params)
        self.weight = next(it) if affine[0] else None
        if self.weight is not None:
            y = y * self.weight
        if affine[1]:
            y = y + next(it)
        return y

    def backward(self, g):
        naxes, affine = self.options["naxes"], self.options["affine"]
        xhat, w = self.xhat, self.weight
        axes = tuple(range(g.ndim - naxes, g.ndim))
        lead = tuple(range(g.ndim - naxes))
        d = g if w is None else g * w
        gx = None
        if self.needs_input_grad[0]:
            gx = self.rstd * (d - d.mean(axis=axes, keepdims=True)
                              - xhat * (d * xhat).mean(axis=axes, keepdims=True))
        grads = [gx]
        need = iter(self.needs_input_grad[1:])
        if affine[0]:
            grads.append((g * xhat).sum(axis=lead) if next(need) else None)
        if affine[1]:
            grads.append(g.sum(axis=lead) if next(need) else None)
        return tuple(grads)


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes to mean 0 and variance 1, then scale and shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) > input.ndim or input.shape[input.ndim - len(shape):] != shape:
        raise ShapeError(f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ShapeError(f"layer_norm: {name} has shape {p.shape}, normalized_shape is {shape}")
    params = [p for p in (weight, bias) if p is not None]
    return LayerNormFn.apply(input, *params, naxes=len(shape), eps=eps,
                           affine=(weight is not None, bias is not None))


def relu(input: Tensor) -> Tensor:
    """max(x, 0) elementwise."""
    return input.relu()


def tanh(input: Tensor) -> Tensor:
    """tanh(x) elementwise."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, computed without overflow."""
    return input.sigmoid()


def softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (the last unless given; computed from x - max(x), so it
    never overflows)."""
    return input.softmax(dim, axis=axis)


def log_softmax(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (the last unless given), computed stably."""
    return input.log_softmax(dim, axis=axis)


# ---------------------------------------------------------------------------------------------
# losses over classes: the class axis is 1 (or the only axis), as in PyTorch


def _class_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) -> (N*d1*..., C): one row of class scores per target."""
    if x.ndim == 1:
        return x[None, :]
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _class_rows_tensor(x: Tensor) -> Tensor:
    """``_class_rows`` as recorded Tensor ops (for the composite losses)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return x.permute(0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])


def _unrows(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of ``_class_rows``."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    return np.moveaxis(rows.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


def _class_targets(input: Tensor, target, weight, ignore_index: int, mask, what: str):
    """Validate class targets; returns (target, keep, elem_weight, class_weight, target_shape).

    ``target`` is flat with ignored entries replaced by 0 (any valid class); ``keep`` is 1 where the
    target counts (not ignore_index, times ``mask``) and 0 elsewhere; ``elem_weight`` is ``keep``
    times the target's class weight. All float arrays are in the input's dtype.
    """
    if input.ndim == 0:
        raise ShapeError(f"{what}: input must have a class axis, got a scalar")
    shape = input.shape
    num_classes = shape[1] if input.ndim > 1 else shape[0]
    expected = (shape[0],) + shape[2:] if input.ndim > 1 else ()
    t = as_array(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{what}: targets must be integer class indices, got dtype {t.dtype}")
    if t.shape != expected:
        raise ShapeError(f"{what}: input of shape {shape} (class axis {1 if input.ndim > 1 else 0}) needs "
                         f"targets of shape {expected}, got {t.shape}")
    t = t.reshape(-1)
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= num_classes))
    if bad.any():
        raise IndexError(f"{what}: targets must lie in [0, {num_classes}) or equal ignore_index={ignore_index}; "
                         f"got {t[bad][0]}")
    dtype = input.dtype
    keep = valid.astype(dtype)
    if mask is not None:
        m = as_array(mask)
        if m.shape != expected:
            raise ShapeError(f"{what}: mask has shape {m.shape}, the targets have shape {expected}")
        keep *= m.reshape(-1).astype(dtype)
    t = np.where(valid, t, 0)
    cw = None
    elem_weight = keep
    if weight is not None:
        cw = as_array(weight).astype(dtype)
        if cw.shape != (num_classes,):
            raise ShapeError(f"{what}: weight must have one entry per class, shape ({num_classes},), got {cw.shape}")
        elem_weight = keep * cw[t]
    return t, keep, elem_weight, cw, expected


def _quiet_divide(a, b):
    """a / b where b may be 0: PyTorch's nan for a mean over nothing, without numpy's warning."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(a, b)


class CrossEntropyFn(Function):
    """Softmax cross-entropy as one node: log-softmax, pick the target, weight, reduce.

    With p = softmax(x), w_i the element weight (class weight of y_i times the mask, 0 where
    ignored), k_i the mask (0 where ignored), e the smoothing and C classes:
        loss_i = (1 - e) * w_i * (-log p[y_i]) + (e / C) * k_i * sum_c cw_c * (-log p_c)
    ``mean`` divides the sum by sum_i w_i. Backward, per row:
        dloss_i/dx = (1 - e) w_i (p - onehot(y_i)) + (e / C) k_i (p * sum(cw) - cw).
    """

    op = "cross_entropy"

    @underflow_to_zero
    def forward(self, x, target, keep, elem_weight, class_weight, smoothing, reduction, target_shape):
        self.shape = x.shape
        rows = _class_rows(x)
        shifted = rows - rows.max(axis=1, keepdims=True)
        self.e = e = np.exp(shifted)  # largest entry of each row is 1: never overflows
        self.s = s = e.sum(axis=1)
        lse = np.log(s)
        loss = elem_weight * (lse - shifted[np.arange(len(target)), target])
        if smoothing:
            num_classes = rows.shape[1]
            if class_weight is None:
                smooth = num_classes * lse - shifted.sum(axis=1)
            else:
                smooth = class_weight.sum() * lse - shifted @ class_weight
            loss = (1 - smoothing) * loss + (smoothing / num_classes) * keep * smooth
        if reduction == "none":
            return loss.reshape(target_shape)
        if reduction == "sum":
            return loss.sum()
        self.total = total = elem_weight.sum()
        return _quiet_divide(loss.sum(), total)

    @underflow_to_zero
    def backward(self, g):
        o = self.options
        target, reduction, smoothing, cw = o["target"], o["reduction"], o["smoothing"], o["class_weight"]
        if reduction == "none":
            g = g.reshape(-1)
        elif reduction == "mean":
            # an all-ignored batch has a nan loss (as in PyTorch) but nothing to learn: zero gradient
            g = g / self.total if self.total else g * 0
        p = self.e / self.s[:, None]
        a = g * (1 - smoothing) * o["elem_weight"]
        if smoothing:
            num_classes = p.shape[1]
            b = g * (smoothing / num_classes) * o["keep"]
            grad = p * (a + b * (num_classes if cw is None else cw.sum()))[:, None]
            grad -= b[:, None] if cw is None else b[:, None] * cw
        else:
            grad = p * a[:, None]
        grad[np.arange(len(target)), target] -= a
        return (_unrows(grad, self.shape),)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, mask=None) -> Tensor:
    """Cross-entropy between logits and integer class targets, as ``torch.nn.functional.cross_entropy``.

    ``input`` is (C,), (N, C) or (N, C, d1, ...) with classes on axis 1 (so a sequence model's
    (B, T, C) logits go in as ``logits.reshape(-1, C)`` or ``logits.permute(0, 2, 1)``), ``target``
    integers of shape (), (N,) or (N, d1, ...). ``weight`` (C,) weighs classes; ``mask`` (the
    target's shape, bool or float; a minigrad extra) weighs elements, e.g. 0 on padding. Targets
    equal to ``ignore_index`` count for nothing. ``mean`` divides by the total weight of the
    counted targets (nan if there are none, as in PyTorch). ``label_smoothing`` e mixes the
    one-hot target with the uniform distribution: (1 - e) onehot + e / C. Neither ``weight`` nor
    ``mask`` receives a gradient.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    t, keep, elem_weight, cw, target_shape = _class_targets(input, target, weight, ignore_index, mask,
                                                            "cross_entropy")
    return CrossEntropyFn.apply(input, target=t, keep=keep, elem_weight=elem_weight, class_weight=cw,
                              smoothing=float(label_smoothing), reduction=reduction,
                              target_shape=target_shape)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
             mask=None) -> Tensor:
    """Negative log-likelihood of integer targets under log-probabilities ``input`` (class axis 1).

    loss_i = -w_i * input[i, y_i]; targets, ``weight``, ``mask``, ``ignore_index`` and reductions as
    in ``cross_entropy`` (which equals ``nll_loss(log_softmax(x, dim=1), y)``).
    """
    _check_reduction(reduction, "nll_loss")
    t, _, elem_weight, _, target_shape = _class_targets(input, target, weight, ignore_index, mask, "nll_loss")
    rows = _class_rows_tensor(input)
    losses = rows[np.arange(len(t)), t] * Tensor._const(-elem_weight)
    if reduction == "none":
        return losses.reshape(target_shape)
    if reduction == "sum":
        return losses.sum()
    total = elem_weight.sum()
    if total:
        return losses.sum() * (1.0 / total)
    return losses.sum() * 0.0 + np.nan  # nothing counted: nan loss, zero gradient (as in PyTorch)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean (or sum, or none) of the squared differences. ``target`` may broadcast to ``input``'s shape
    but not enlarge it (a (N, 1) vs (N,) slip is an error here, not an (N, N) loss)."""
    _check_reduction(reduction, "mse_loss")
    target = input._lift(target)
    if not _broadcasts_to(target.shape, input.shape):
        raise ShapeError(f"mse_loss: target of shape {target.shape} does not broadcast to the input's shape {input.shape}")
    d = input - target
    return _reduce(d * d, reduction)


class BCEWithLogitsFn(Function):
    """Binary cross-entropy on logits x with targets y in [0, 1], as one node:

        loss = weight * ((1 - y) x + (1 + (pos_weight - 1) y) * softplus(-x)),
        softplus(-x) = -log sigmoid(x) = max(-x, 0) + log1p(exp(-|x|))  (never overflows)
        dloss/dx = weight * ((1 - y) - (1 + (pos_weight - 1) y) * sigmoid(-x))
        dloss/dy = weight * (-x + (pos_weight - 1) * softplus(-x))
    """

    op = "bce_with_logits"

    @underflow_to_zero
    def forward(self, x, y, weight, pos_weight, reduction):
        self.x, self.y = x, y
        self.sp = sp = stable_softplus(-x)
        loss = (1 - y) * x + (sp if pos_weight is None else (1 + (pos_weight - 1) * y) * sp)
        if weight is not None:
            loss = loss * weight
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.mean()

    @underflow_to_zero
    def backward(self, g):
        o = self.options
        x, y, pw = self.x, self.y, o["pos_weight"]
        if o["reduction"] == "mean":
            g = g / x.size
        if o["weight"] is not None:
            g = g * o["weight"]
        gx = gy = None
        if self.needs_input_grad[0]:
            lw = 1 if pw is None else 1 + (pw - 1) * y
            gx = g * ((1 - y) - lw * stable_sigmoid(-x))
        if self.needs_input_grad[1]:
            gy = g * (-x if pw is None else (pw - 1) * self.sp - x)
        return gx, gy


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid plus binary cross-entropy in one stable step (``torch.nn.functional`` semantics).

    ``target`` has the input's shape (probabilities in [0, 1]); ``weight`` broadcasts to it and
    weighs elements; ``pos_weight`` broadcasts along the last axis and weighs the positive term.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = input._lift(target)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: target has shape {target.shape}, "
                         f"input has shape {input.shape}; they must match")
    if target.dtype.kind != "f":
        target = Tensor._const(target.data.astype(input.dtype))
    extras = {}
    for name, value in (("weight", weight), ("pos_weight", pos_weight)):
        arr = None if value is None else as_array(value).astype(input.dtype)
        if arr is not None and not _broadcasts_to(arr.shape, input.shape):
            raise ShapeError(f"binary_cross_entropy_with_logits: {name} of shape {arr.shape} does not "
                             f"broadcast to the input's shape {input.shape}")
        extras[name] = arr
    return BCEWithLogitsFn.apply(input, target, reduction=reduction, **extras)


# ---------------------------------------------------------------------------------------------
# padding


class PadFn(Function):
    """Constant padding by ``widths`` ((before, after) per axis, none negative); the gradient is
    the gradient's middle, where the input sits."""

    op = "pad"

    def forward(self, x, widths, value):
        self.inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape))
        return np.pad(x, widths, constant_values=value)

    def backward(self, g):
        return (g[self.inner],)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad with PyTorch's pad tuple, last dim first: ``(left, right)`` pads the last dim,
    ``(left, right, top, bottom)`` the last two, and so on.

    ``mode="constant"`` fills with ``value`` (default 0), and a negative width crops, as in PyTorch;
    ``"reflect"`` mirrors without repeating the edge, ``"replicate"`` repeats the edge,
    ``"circular"`` wraps around (these on any dims, widths non-negative).
    """
    widths_flat = tuple(int(p) for p in pad)
    if len(widths_flat) % 2 or len(widths_flat) // 2 > input.ndim:
        raise ValueError(f"pad: the pad tuple {tuple(pad)} must hold (before, after) pairs for at most the "
                         f"{input.ndim} dims of shape {input.shape}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(widths_flat) // 2):  # the first pair pads the last dim
        widths[input.ndim - 1 - i] = widths_flat[2 * i], widths_flat[2 * i + 1]
    if mode == "constant":
        for (b, a), n in zip(widths, input.shape):
            if n + b + a < 0:
                raise ValueError(f"pad: widths {tuple(pad)} crop more than the shape {input.shape} holds")
        x = input
        if any(b < 0 or a < 0 for b, a in widths):
            x = input[tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, input.shape))]
        grow = tuple((max(b, 0), max(a, 0)) for b, a in widths)
        if not any(b or a for b, a in grow):
            return x
        return PadFn.apply(x, widths=grow, value=0.0 if value is None else value)
    if value is not None:
        raise ValueError(f"pad: value is for mode='constant' only, not {mode!r}")
    x = input
    for axis, (b, a) in enumerate(widths):
        if b < 0 or a < 0:
            raise ValueError(f"pad: mode {mode!r} needs non-negative widths, got {tuple(pad)}")
        if b or a:
            x = _pad_axis(x, axis, b, a, mode)
    return x


def _pad_axis(x: Tensor, axis: int, before: int, after: int, mode: str) -> Tensor:
    """One axis of reflect, replicate or circular padding, as slices of ``x`` joined by ``cat``."""
    n = x.shape[axis]
    limit = n - 1 if mode == "reflect" else n if mode == "circular" else None
    if n == 0 or (limit is not None and max(before, after) > limit):
        raise ValueError(f"pad: {mode} padding of ({before}, {after}) does not fit dim {axis} of size {n} "
                         f"(widths at most {limit if limit is not None else 'any'})")

    def part(start, stop):
        return x[(slice(None),) * axis + (slice(start, stop),)]

    def repeated(edge, k):
        return edge.expand(*x.shape[:axis], k, *x.shape[axis + 1:])

    if mode == "reflect":
        parts = [part(1, before + 1).flip(axis), x, part(n - 1 - after, n - 1).flip(axis)]
    elif mode == "replicate":
        parts = [repeated(part(0, 1), before), x, repeated(part(n - 1, n), after)]
    else:
        parts = [part(n - before, n), x, part(0, after)]
    return cat([p for p in parts if p.shape[axis]], axis=axis)


# ---------------------------------------------------------------------------------------------
# activations: each one node with its exact derivative (PyTorch's definitions and kink conventions)

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt(2)) / 2, the standard normal CDF, in x's dtype; exact to round-off in
    both tails (numpy has no erf, so this is ``math.erfc`` per element: about 0.1 us each)."""
    x = np.asarray(x)
    return (0.5 * np.asarray(_erfc(x.astype(np.float64) * -math.sqrt(0.5)), dtype=np.float64)).astype(x.dtype)


class GeluFn(Function):
    """GELU(x) = x Phi(x), with Phi the standard normal CDF; d/dx = Phi(x) + x phi(x), phi the density.

    ``approximate="tanh"``: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3);
    d/dx = 0.5 (1 + tanh u) + 0.5 x (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """

    op = "gelu"

    @underflow_to_zero
    def forward(self, x, approximate):
        self.x = x
        if approximate == "tanh":
            self.th = th = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            return 0.5 * x * (1 + th)
        self.cdf = cdf = normal_cdf(x)
        return x * cdf

    @underflow_to_zero
    def backward(self, g):
        x = self.x
        if self.options["approximate"] == "tanh":
            th = self.th
            du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
            return (g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du),)
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return (g * (self.cdf + x * pdf),)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) (Hendrycks & Gimpel 2016), exact (``"none"``) or with the tanh approximation (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GeluFn.apply(input, approximate=approximate)


class SiluFn(Function):
    """SiLU(x) = x sigmoid(x); d/dx = s (1 + x (1 - s)) with s = sigmoid(x)."""

    op = "silu"

    @underflow_to_zero
    def forward(self, x):
        self.x = x
        self.s = s = stable_sigmoid(x)
        return x * s

    @underflow_to_zero
    def backward(self, g):
        s = self.s
        return (g * (s * (1 + self.x * (1 - s))),)


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return SiluFn.apply(input)


class EluFn(Function):
    """ELU(x) = x for x > 0, alpha (e^x - 1) otherwise; d/dx = 1 for x > 0, alpha e^x otherwise."""

    op = "elu"

    def forward(self, x, alpha):
        self.pos = pos = x > 0
        self.neg = neg = alpha * np.expm1(np.minimum(x, 0))  # NOTE: no e^x of a large positive x
        return np.where(pos, x, neg)

    def backward(self, g):
        return (g * np.where(self.pos, 1, self.neg + self.options["alpha"]).astype(g.dtype, copy=False),)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return EluFn.apply(input, alpha=alpha)


class HardtanhFn(Function):
    """Clamp into [min_val, max_val]; the gradient passes strictly inside (0 at the bounds, as in
    PyTorch's hardtanh, where ``clamp`` passes it at the bounds too)."""

    op = "hardtanh"

    def forward(self, x, min_val, max_val):
        self.inside = (x > min_val) & (x < max_val)
        return np.clip(x, min_val, max_val)

    def backward(self, g):
        return (g * self.inside,)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """max(min_val, min(max_val, x)); the gradient is 1 strictly inside the bounds, else 0."""
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be smaller than max_val ({max_val})")
    return HardtanhFn.apply(input, min_val=min_val, max_val=max_val)


def relu6(input: Tensor) -> Tensor:
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, as PyTorch defines it."""
    return HardtanhFn.apply(input, min_val=0.0, max_val=6.0)


class HardswishFn(Function):
    """x relu6(x + 3) / 6: 0 for x <= -3, x for x >= 3, x (x + 3) / 6 between.
    d/dx = 0 for x <= -3, 1 for x >= 3, x / 3 + 1/2 strictly between (PyTorch's values at the kinks)."""

    op = "hardswish"

    def forward(self, x):
        self.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, g):
        x = self.x
        d = np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1)).astype(g.dtype, copy=False)
        return (g * d,)


def hardswish(input: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6 (Howard et al. 2019, MobileNetV3)."""
    return HardswishFn.apply(input)


class MishFn(Function):
    """Mish(x) = x tanh(softplus(x)); d/dx = t + x sigmoid(x) (1 - t^2) with t = tanh(softplus(x))."""

    op = "mish"

    @underflow_to_zero
    def forward(self, x):
        self.x = x
        self.t = t = np.tanh(stable_softplus(x))
        return x * t

    @underflow_to_zero
    def backward(self, g):
        x, t = self.x, self.t
        return (g * (t + x * stable_sigmoid(x) * (1 - t * t)),)


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x)) (Misra 2019)."""
    return MishFn.apply(input)
