"""Fused recurrent kernels: a cell step, or a whole layer over a sequence, as one graph node.

Two kinds of ``minigrad.Function``, each with a hand-derived backward and each proven equal to the
composed cell it replaces (``tests/test_kernels.py``):

* **step kernels** (``rnn_cell``, ``lstm_cell``, ``gru_cell``): one node per time step instead of
  ~15 (the LSTM: two, see below). They save only what backward needs (the gate activations).
  What decoders and ``return_states`` use: every step is still its own node, a separate consumer
  of the weights, so ``zoo.gradient_shares`` and per-step ``.grad`` keep working.
* **sequence kernels** (``rnn_sequence``, ``lstm_sequence``, ``gru_sequence``): one node per layer
  and direction. The input projection of all T steps is one matrix product ``(T*B, D) @ W_ih^T``,
  only ``h @ W_hh^T`` and the gates run per step, into preallocated buffers; backward runs the
  recurrence of the deltas per step and forms each weight gradient as one product over all steps
  (``dA^T @ H_prev``) - the trick cuDNN uses. Reverse direction, masks (padded steps keep the
  state, output zero) and initial states are handled inside.

Both kinds run the same numpy code for one step of each cell (``_lstm_step_``, ``_gru_step_``, the
activations) and for its backward (``_lstm_factors``, ``_gru_factors``), so each equation and each
derivative is written once here; the cells' ``composed_step`` (``zoo.cells``) is its third form.

Shapes: T steps, B sequences, D input size, H hidden size, G gates (RNN 1, LSTM 4, GRU 3), stacked
as PyTorch's (i, f, g, o) and (r, z, n); a batch is rows, so a pre-activation is ``x W^T + b``.

The engine's Functions have one output, so a kernel packs its results and the wrapper slices them;
the slices' gradients meet again in the kernel's backward. A sequence kernel returns
``(T + k, B, H)`` holding the T outputs, h_n (and c_n); without a mask that array is the state
buffer itself, so the outputs and h_n are views, not copies (``_rows``). The LSTM step returns
``[o | c']`` and ``h' = o * tanh(c')`` is a second node reading the c' slice: packing ``[h' | c']``
instead would hide that h' depends on c', and a user reading ``c_t.grad`` (``return_states``)
would get only the part that flows through step t+1.

The kernels keep the weights as given (no copies, no reordering of gates); the LSTM takes one
``tanh`` over all four gates per step (``_lstm_step_``).

``fusion`` / ``unfused`` cap how far the zoo fuses (see ``fusion``).
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

import minigrad as mg
from minigrad import Function, ShapeError

__all__ = [
    "fusion", "unfused", "fusion_level", "current_level", "OPS", "CELL", "SEQUENCE",
    "RNNCellStep", "LSTMCellStep", "LSTMHidden", "GRUCellStep", "RNNSequence", "LSTMSequence", "GRUSequence",
    "rnn_cell", "lstm_cell", "gru_cell", "rnn_sequence", "lstm_sequence", "gru_sequence",
]

# ---------------------------------------------------------------------------------------------
# the switch

OPS, CELL, SEQUENCE = 0, 1, 2  # per-op graph < one node per step < one node per layer and direction
_CAP = SEQUENCE  # changed only by ``fusion``


def fusion_level(fused) -> int:
    """The level a ``fused`` argument names: False -> OPS, "cell" -> CELL, True -> SEQUENCE."""
    # NOTE: by identity, not a dict lookup, in which 1 and 0 would pass for True and False
    if fused is True:
        return SEQUENCE
    if fused is False:
        return OPS
    if isinstance(fused, str) and fused == "cell":
        return CELL
    raise ValueError(f"fused must be True, False or 'cell', got {fused!r}")


def current_level(level: int, cap: int = SEQUENCE) -> int:
    """``level`` lowered to the cap set by the innermost ``fusion`` block and to ``cap``."""
    return min(level, _CAP, cap)


class fusion(contextlib.ContextDecorator):
    """Cap how far zoo cells and layers fuse, inside a ``with`` block (or a decorated function).

    ``fusion(False)`` (also ``unfused()``): every cell step is recorded op by op, the graph viz
    draws in detail. ``fusion("cell")``: at most one node per step. ``fusion(True)``: the default,
    a layer runs as one node per layer and direction when nothing needs per-step nodes.
    A block overrides the blocks around it; a model's own ``fused=False`` is never raised.
    """

    def __init__(self, mode=True):
        self.level = fusion_level(mode)
        self._saved = []  # a stack: the same object may be entered again while inside it

    def __enter__(self):
        global _CAP
        self._saved.append(_CAP)
        _CAP = self.level
        return self

    def __exit__(self, *exc):
        global _CAP
        _CAP = self._saved.pop()


def unfused() -> fusion:
    """``fusion(False)``: inside, zoo cells and layers record the fully unrolled per-op graph."""
    return fusion(False)


# ---------------------------------------------------------------------------------------------
# shared pieces: checks, elementwise helpers, the affine maps

def _check(op: str, G: int, x, states, w_ih, w_hh, biases, seq: bool) -> None:
    """Raise ShapeError (TypeError for mixed dtypes) naming ``op`` and every input unless they fit.

    ``x`` is one step (B, D), or a sequence (T, B, D) if ``seq``; ``states`` (h,) or (h, c), each (B, H).
    """
    dt = x.dtype
    fits = x.ndim == (3 if seq else 2) and w_hh.ndim == 2
    same = w_ih.dtype == dt and w_hh.dtype == dt
    if fits:
        GH, H = w_hh.shape
        fits = GH == G * H and w_ih.shape == (GH, x.shape[-1])
        # NOTE: plain loops rather than all(...): a decoder runs this check on every step
        for s in states:
            fits, same = fits and s.shape == (x.shape[-2], H), same and s.dtype == dt
        for b in biases:
            fits, same = fits and b.shape == (GH,), same and b.dtype == dt
    if fits and same:
        return
    arrays = (x, *states, w_ih, w_hh, *biases)
    names = ("X" if seq else "x",) + (("h0", "c0") if seq else ("h", "c"))[:len(states)]
    names += ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[:2 + len(biases)]
    if not fits:
        got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ShapeError(f"{op}: got {got}; expected {names[0]} {'(T, B, D)' if seq else '(B, D)'}, "
                         f"{' and '.join(names[1:1 + len(states)])} (B, H), weight_ih ({G}H, D), "
                         f"weight_hh ({G}H, H), biases ({G}H,)")
    got = ", ".join(f"{n} {a.dtype}" for n, a in zip(names, arrays))
    raise TypeError(f"{op}: the input, state(s) and parameters need one dtype (no silent casts), got {got}")


# In-place elementwise pieces: each writes into ``out`` (or its argument) so the per-step loops
# allocate nothing.

def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """sigmoid in place as (1 + tanh(a/2)) / 2: one transcendental, and it never overflows."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _dsig_(s: np.ndarray, out: np.ndarray) -> np.ndarray:
    """s (1 - s) into ``out``: the derivative of s = sigmoid(a)."""
    np.subtract(1, s, out=out)
    out *= s
    return out


def _dtanh_(y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 - y^2 into ``out``: the derivative of y = tanh(a)."""
    np.multiply(y, y, out=out)
    np.subtract(1, out, out=out)
    return out


def _relu_(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0, out=out)


def _drelu_(y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[y > 0] into ``out``: the derivative of y = relu(a), read off y."""
    return np.greater(y, 0, out=out)


def _activation(op: str, nonlinearity: str) -> tuple:
    """(act, act') for the Elman cell, each ``f(array, out=...)``; act' is read off act's output."""
    if nonlinearity == "tanh":
        return np.tanh, _dtanh_
    if nonlinearity == "relu":
        return _relu_, _drelu_
    raise ValueError(f"{op}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def _preactivation(x, h, w_ih, w_hh, biases) -> np.ndarray:
    """x W_ih^T + h W_hh^T (+ b_ih + b_hh): (B, G*H), for the cells whose gates add the two."""
    a = np.dot(x, w_ih.T)
    a += np.dot(h, w_hh.T)
    for b in biases:
        a += b
    return a


def _affine_grads(need, x, h, w_ih, w_hh, da_i, da_h) -> list:
    """Gradients of ``a_i = x W_ih^T + b_ih`` and ``a_h = h W_hh^T + b_hh`` given dL/da_i, dL/da_h.

    x (N, D), h (N, H), deltas (N, G*H): N rows are one step's batch, or all T*B rows of a
    sequence. Returns [dx, dh, dW_ih, dW_hh] plus [db_ih, db_hh] when ``need`` covers biases. The
    RNN and LSTM pass one array as both deltas (a_i and a_h enter the gates as one sum); then the
    two bias gradients are one sum, returned twice (the engine copies a leaf's first gradient).
    """
    grads = [np.dot(da_i, w_ih) if need[0] else None, np.dot(da_h, w_hh) if need[1] else None,
             np.dot(da_i.T, x) if need[2] else None, np.dot(da_h.T, h) if need[3] else None]
    if len(need) > 4:
        one = da_h is da_i
        db_i = da_i.sum(axis=0) if need[4] or (one and need[5]) else None
        db_h = (db_i if one else da_h.sum(axis=0)) if need[5] else None
        grads += [db_i if need[4] else None, db_h]
    return grads


# ---------------------------------------------------------------------------------------------
# one step of each gated cell and its derivatives, in numpy: what both the step kernel and the
# sequence kernel of the cell run (the Elman cell is only ``_preactivation`` and ``_activation``)

@functools.lru_cache(maxsize=None)
def _lstm_scales(H: int, dtype: np.dtype) -> tuple:
    """(half, shift), each (4H,) and read-only: i, f, g, o = tanh(a * half) * half + shift.

    sigmoid(a) = (1 + tanh(a/2)) / 2 gives half = shift = 1/2 for i, f, o; g = tanh(a) has
    half = 1, shift = 0. One tanh over all four gates instead of three sigmoids and a tanh.
    """
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[2 * H:3 * H] = 1
    shift = 1 - half
    half.flags.writeable = shift.flags.writeable = False
    return half, shift


def _lstm_step_(a: np.ndarray, c: np.ndarray, c_new: np.ndarray, tmp: np.ndarray) -> None:
    """The LSTM's gates and cell state for one step, in place (h' = o * tanh(c') is left out).

    a (B, 4H): the pre-activations, overwritten by the gates i, f, g, o; c (B, H) the cell state;
    c_new (B, H) <- c' = f * c + i * g; tmp (B, H) is scratch.
    """
    H = c.shape[-1]
    half, shift = _lstm_scales(H, a.dtype)
    a *= half
    np.tanh(a, out=a)
    a *= half
    a += shift
    np.multiply(a[:, H:2 * H], c, out=c_new)  # f * c
    np.multiply(a[:, :H], a[:, 2 * H:3 * H], out=tmp)  # i * g
    c_new += tmp


def _lstm_factors(a: np.ndarray, c: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The LSTM gates' deltas per unit of the gradient that reaches them, into ``out`` (..., 4, H).

    From the gates a = [i|f|g|o] (..., 4H) and the cell state c (..., H) the step read, with dc'
    and do the gradients reaching c' and o::

        da_i = dc' * g * i * (1 - i)
        da_f = dc' * c * f * (1 - f)
        da_g = dc' * i * (1 - g**2)
        da_o = do * o * (1 - o)

    out[..., k, :] is gate k's factor: the caller multiplies by dc' (gates i, f, g) and do.
    """
    H = c.shape[-1]
    i, f, g, o = (a[..., k * H:(k + 1) * H] for k in range(4))
    Ki, Kf, Kg, Ko = (out[..., k, :] for k in range(4))
    np.multiply(_dsig_(i, Ki), g, out=Ki)
    np.multiply(_dsig_(f, Kf), c, out=Kf)
    np.multiply(_dtanh_(g, Kg), i, out=Kg)
    _dsig_(o, Ko)
    return out


def _gru_step_(ai: np.ndarray, ah: np.ndarray, ahn: np.ndarray, h: np.ndarray, out: np.ndarray,
               tmp: np.ndarray) -> np.ndarray:
    """The GRU equations for one step, in place; returns ``out`` <- h' (B, H).

    ai (B, 3H): W_i* x + b_i*, overwritten by the gates r, z, n; ah[:, :2H]: W_hr h, W_hz h and
    their biases (unless ai holds them already); ahn (B, H) = W_hn h + b_hn, which r scales;
    h (B, H) the state; tmp (B, H) is scratch.
    """
    H = h.shape[-1]
    rz = ai[:, :2 * H]
    rz += ah[:, :2 * H]
    _sigmoid_(rz)
    r, z, n = ai[:, :H], ai[:, H:2 * H], ai[:, 2 * H:]
    np.multiply(r, ahn, out=tmp)
    n += tmp
    np.tanh(n, out=n)
    np.subtract(h, n, out=out)
    out *= z
    out += n  # h' = n + z * (h - n) = (1 - z) * n + z * h
    return out


def _gru_factors(a: np.ndarray, ahn: np.ndarray, h: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """The GRU's dL/da_i per unit of dh' (the gradient reaching h'), into ``out`` (..., 3, H).

    From the gates a = [r|z|n] (..., 3H), ahn = W_hn h + b_hn and the state h the step read::

        da_n = dh' * (1 - z) * (1 - n**2)
        da_z = dh' * (h - n) * z * (1 - z)
        da_r = da_n * ahn * r * (1 - r)

    out[..., k, :] is gate k's factor (r, z, n): the caller multiplies by dh'. dL/da_h is the same
    but for its n block, da_n * r; and dL/dh = dh' * z + dL/da_h @ W_hh. tmp (..., H) is scratch.
    """
    H = h.shape[-1]
    r, z, n = a[..., :H], a[..., H:2 * H], a[..., 2 * H:]
    Kr, Kz, Kn = (out[..., k, :] for k in range(3))
    _dtanh_(n, Kn)
    Kn *= np.subtract(1, z, out=tmp)
    np.multiply(Kn, ahn, out=Kr)
    Kr *= _dsig_(r, tmp)
    np.multiply(_dsig_(z, Kz), np.subtract(h, n, out=tmp), out=Kz)
    return out


# ---------------------------------------------------------------------------------------------
# step kernels: one node per time step

class RNNCellStep(Function):
    """``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act = tanh or relu, as one node.

    Inputs ``(x, h, weight_ih, weight_hh[, bias_ih, bias_hh])``; backward: da = dh' * act'(a),
    with tanh' = 1 - h'^2 and relu' = [h' > 0] read off the saved output.
    """

    op = "rnn_cell"

    def forward(self, x, h, w_ih, w_hh, *biases, nonlinearity):
        _check(self.op, 1, x, (h,), w_ih, w_hh, biases, seq=False)
        act, self.dact = _activation(self.op, nonlinearity)
        a = _preactivation(x, h, w_ih, w_hh, biases)
        self.x, self.h, self.w_ih, self.w_hh, self.out = x, h, w_ih, w_hh, act(a, out=a)
        return self.out

    def backward(self, g):
        da = self.dact(self.out, np.empty_like(g))
        da *= g
        return tuple(_affine_grads(self.needs_input_grad, self.x, self.h, self.w_ih, self.w_hh, da, da))


class LSTMCellStep(Function):
    """One LSTM step's gates and cell state as one node; returns ``[o | c']`` (B, 2H).

    Inputs ``(x, h, c, weight_ih, weight_hh[, bias_ih, bias_hh])``. ``h' = o * tanh(c')`` is a
    second node (``LSTMHidden``) that reads the c' slice, so c' lies upstream of h' as in the
    composed cell and ``c'.grad`` is the total dL/dc'. Backward: the gates' deltas from
    ``_lstm_factors`` times do and dc' (the two halves of the incoming gradient), dL/dc = dc' * f.
    """

    op = "lstm_cell"

    def forward(self, x, h, c, w_ih, w_hh, *biases):
        _check(self.op, 4, x, (h, c), w_ih, w_hh, biases, seq=False)
        B, H = h.shape
        a = _preactivation(x, h, w_ih, w_hh, biases)  # (B, 4H), becomes the gates i, f, g, o
        out = np.empty((B, 2 * H), dtype=a.dtype)
        _lstm_step_(a, c, out[:, H:], np.empty_like(c))
        out[:, :H] = a[:, 3 * H:]
        self.x, self.h, self.c, self.w_ih, self.w_hh, self.gates = x, h, c, w_ih, w_hh, a
        return out

    def backward(self, grad):
        B, H = self.h.shape
        do, dc = grad[:, :H], grad[:, H:]
        da = _lstm_factors(self.gates, self.c, np.empty((B, 4, H), dtype=grad.dtype))
        da[:, :3] *= dc[:, None]
        da[:, 3] *= do
        da = da.reshape(B, 4 * H)
        need = self.needs_input_grad
        dx, dh, *rest = _affine_grads(need[:2] + need[3:], self.x, self.h, self.w_ih, self.w_hh, da, da)
        return (dx, dh, dc * self.gates[:, H:2 * H] if need[2] else None, *rest)


class LSTMHidden(Function):
    """``h' = o * tanh(c')``, the LSTM step's last equation, as one node."""

    op = "lstm_hidden"

    def forward(self, o, c):
        self.o, self.tc = o, np.tanh(c)
        return o * self.tc

    def backward(self, g):
        tc = self.tc
        need = self.needs_input_grad
        return (g * tc if need[0] else None), (g * self.o * (1 - tc * tc) if need[1] else None)


class GRUCellStep(Function):
    """One GRU step (PyTorch's variant) as one node.

    Inputs ``(x, h, weight_ih, weight_hh[, bias_ih, bias_hh])``. Backward: the deltas of
    ``_gru_factors`` times dh', and dL/dh = dh' * z + da_h @ W_hh.
    """

    op = "gru_cell"

    def forward(self, x, h, w_ih, w_hh, *biases):
        _check(self.op, 3, x, (h,), w_ih, w_hh, biases, seq=False)
        H = h.shape[1]
        ai, ah = np.dot(x, w_ih.T), np.dot(h, w_hh.T)  # (B, 3H) each; ai becomes the gates r, z, n
        if biases:
            ai += biases[0]
            ah += biases[1]
        out = _gru_step_(ai, ah, ah[:, 2 * H:], h, np.empty_like(h), np.empty_like(h))
        self.x, self.h, self.w_ih, self.w_hh, self.gates, self.ahn = x, h, w_ih, w_hh, ai, ah[:, 2 * H:]
        return out

    def backward(self, g):
        B, H = g.shape
        a = self.gates
        da_i = _gru_factors(a, self.ahn, self.h, np.empty((B, 3, H), dtype=g.dtype), np.empty_like(g))
        da_i *= g[:, None]
        da_i = da_i.reshape(B, 3 * H)
        da_h = da_i.copy()
        da_h[:, 2 * H:] *= a[:, :H]  # r scales the n gate's recurrent term
        need = self.needs_input_grad
        grads = _affine_grads(need, self.x, self.h, self.w_ih, self.w_hh, da_i, da_h)
        if need[1]:
            grads[1] += g * a[:, H:2 * H]  # the direct path h -> h' carries dh' * z
        return tuple(grads)


# ---------------------------------------------------------------------------------------------
# sequence kernels: one node per layer and direction

_ALL, _SOME, _NONE = 0, 1, 2  # how many of the batch's sequences are real at a step


def _rows(T: int, reverse: bool, masked: bool) -> tuple:
    """Where a sequence kernel's packed output (T + k, B, H) keeps the outputs and h_n.

    Without a mask the state buffer is the packed output: its T + 1 rows hold h0 and the state
    after each step (so the outputs and h_n are views of it, not copies); with a mask the outputs
    (zero at padded steps) differ from the states and take the first T rows, h_n row T. The LSTM's
    c_n is always row T + 1.
    """
    if masked:
        return slice(0, T), T
    return (slice(0, T), 0) if reverse else (slice(1, T + 1), T)


class _Sequence(Function):
    """What the sequence kernels share: checks, the step plan (direction and mask), the packed
    output, and the weight gradients as products over all steps.

    Buffers are in time order. The state buffer ``S`` (T+1, B, H) holds the initial state and the
    state after each step: running forward, step t reads ``S[t]`` and writes ``S[t+1]``; in
    reverse it reads ``S[t+1]`` and writes ``S[t]``. So the outputs and the states entering the
    steps are both contiguous slices, time-aligned with the input.

    A subclass sets ``G`` and ``n_states`` and defines ``forward`` (``_begin``, its steps over
    ``plan``, ``_pack``) and ``_deltas`` (the recurrence of the deltas); backward does the rest.
    """

    G = 1  # gates
    n_states = 1  # h, or h and c

    def _begin(self, X, states, w_ih, w_hh, biases, reverse: bool, mask) -> np.ndarray:
        """Check and plan; returns the state buffer S (T+1, B, H) with the initial state in place.

        ``plan`` lists the steps in the order they run as (t, row written, row read, kind), kind
        saying whether all, some or none of the sequences are real at step t.
        """
        _check(self.op, self.G, X, states, w_ih, w_hh, biases, seq=True)
        T, B, D = X.shape
        H = w_hh.shape[1]
        if T == 0:
            raise ShapeError(f"{self.op}: the input has no time steps (shape {X.shape})")
        self.T, self.B, self.H, self.dtype = T, B, H, X.dtype
        self.w_ih, self.w_hh = w_ih, w_hh
        self.X2 = X.reshape(T * B, D)
        new, prev = (0, 1) if reverse else (1, 0)
        self.new = slice(new, new + T)  # S[self.new]: the state after each step, S[self.prev]: before
        self.prev = slice(prev, prev + T)
        self.init, self.final = (T, 0) if reverse else (0, T)
        if mask is None:
            kinds = [_ALL] * T
            self.m = self.pad = None
        else:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (T, B):
                raise ShapeError(f"{self.op}: mask of shape {mask.shape}, expected (T, B) = {(T, B)}")
            kinds = [_ALL if a else _SOME if s else _NONE for a, s in zip(mask.all(axis=1), mask.any(axis=1))]
            self.m = mask.astype(X.dtype)[:, :, None]  # (T, B, 1): broadcasts over the hidden units
            self.pad = ~mask[:, :, None]
        order = range(T - 1, -1, -1) if reverse else range(T)
        self.plan = [(t, t + new, t + prev, kinds[t]) for t in order]
        self.packed = np.empty((T + self.n_states, B, H), dtype=X.dtype)
        S = self.packed[:T + 1] if mask is None else np.empty((T + 1, B, H), dtype=X.dtype)
        S[self.init] = states[0]
        self.S = S
        return S

    def _project(self, bias) -> np.ndarray:
        """Input projection of all steps at once: (T, B, G*H) = X W_ih^T (+ bias)."""
        A = np.dot(self.X2, self.w_ih.T)
        if bias is not None:
            A += bias
        return A.reshape(self.T, self.B, -1)

    def _pack(self, C=None) -> np.ndarray:
        """The packed output (see ``_rows``); with a mask, the outputs are written in now."""
        T, P = self.T, self.packed
        if self.m is not None:
            np.multiply(self.S[self.new], self.m, out=P[:T])
            P[T] = self.S[self.final]
        if C is not None:
            P[T + 1] = C[self.final]
        return P

    def _output_grad(self, g: np.ndarray) -> tuple:
        """dL/dh_t from the outputs (T, B, H), and the gradient that arrived at h_n on its own.

        Without a mask the last output and h_n are one row of the packed output, so its
        gradient already holds both; padded steps' outputs were zeros and send nothing.
        """
        if self.m is None:
            return g[self.new], np.zeros_like(g[0])
        return g[:self.T] * self.m, g[self.T].copy()

    def _masked(self, *arrays) -> None:
        """Zero padded rows in place: a padded step's new state is not used, so nothing flows into it."""
        if self.m is not None:
            for a in arrays:
                a *= self.m if a.ndim == 3 else self.m[..., None]

    def _carry(self, a: np.ndarray, fill) -> np.ndarray:
        """``a`` on real rows, ``fill`` on padded ones (the factor a carried gradient passes through)."""
        return a if self.m is None else np.where(self.pad, a.dtype.type(fill), a)

    def _back(self, da: np.ndarray, dh: np.ndarray, keep: np.ndarray, t: int, kind: int) -> None:
        """dh <- da @ W_hh: dL/dh_{t-1} from step t's deltas (RNN, LSTM). A padded row's state
        passed through the step unchanged, and so does its gradient."""
        if kind == _SOME:
            np.multiply(dh, self.pad[t], out=keep)
            np.dot(da, self.w_hh, out=dh)
            dh += keep
        else:
            np.dot(da, self.w_hh, out=dh)

    def _deltas(self, g) -> tuple:
        """dL/da_i and dL/da_h (T, B, G*H) (one array for both where the gates add a_i and a_h),
        and the initial states' gradients."""
        raise NotImplementedError

    # backward ------------------------------------------------------------------------------------
    def backward(self, g):
        dA_i, dA_h, dstates = self._deltas(g)
        T, B = self.T, self.B
        Ai = dA_i.reshape(T * B, -1)
        Ah = Ai if dA_h is dA_i else dA_h.reshape(T * B, -1)
        need = self.needs_input_grad
        k = 1 + self.n_states  # inputs: X, the initial states, then the weights and biases
        dX, _, *rest = _affine_grads((need[0], False) + need[k:], self.X2, self.S[self.prev].reshape(T * B, -1),
                                     self.w_ih, self.w_hh, Ai, Ah)
        dstates = [d if n else None for d, n in zip(dstates, need[1:k])]
        return (None if dX is None else dX.reshape(T, B, -1), *dstates, *rest)

    def step_grads(self, g) -> tuple:
        """Each input's gradient split by time step (what ``backward`` sums over steps), for
        ``zoo.gradient_shares``: per input an array (T, *input.shape) whose row t is what step t
        contributed (index t is the input step, in either direction), or None for the input
        sequence, which is not shared across steps."""
        dA_i, dA_h, dstates = self._deltas(g)
        T, B = self.T, self.B
        Ai, Ah = dA_i.reshape(T, B, -1), dA_h.reshape(T, B, -1)
        per_step = [None]
        first = next((t for t, _, _, kind in self.plan if kind != _NONE), None)
        for d in dstates:  # the initial state is read by the first step that is computed
            rows = np.zeros((T,) + d.shape, dtype=d.dtype)
            if first is not None:
                rows[first] = d
            per_step.append(rows)
        per_step.append(np.matmul(Ai.transpose(0, 2, 1), self.X2.reshape(T, B, -1)))
        per_step.append(np.matmul(Ah.transpose(0, 2, 1), self.S[self.prev]))
        if len(self.needs_input_grad) > len(per_step):
            per_step += [Ai.sum(axis=1), Ah.sum(axis=1)]
        return tuple(per_step)


class RNNSequence(_Sequence):
    """An Elman layer over a whole sequence as one node: ``h_t = act(x_t W_ih^T + h_{t-1} W_hh^T + b)``.

    Inputs ``(X (T, B, D), h0 (B, H), weight_ih, weight_hh[, bias_ih, bias_hh])``; options
    ``nonlinearity``, ``reverse``, ``mask`` ((T, B) bool or None). Returns the outputs and h_n
    packed in (T + 1, B, H) (see ``_rows``). Backward: da_t = dh_t * act'(a_t), dh_{t-1} = da_t W_hh.
    """

    op = "rnn_sequence"

    def forward(self, X, h0, w_ih, w_hh, *biases, nonlinearity="tanh", reverse=False, mask=None):
        act, self.dact = _activation(self.op, nonlinearity)
        S = self._begin(X, (h0,), w_ih, w_hh, biases, reverse, mask)
        A = self._project(biases[0] + biases[1] if biases else None)  # (T, B, H)
        whT = w_hh.T
        pad = self.pad
        for t, new, prev, kind in self.plan:
            s = S[new]
            if kind == _NONE:
                s[...] = S[prev]
                continue
            np.dot(S[prev], whT, out=s)
            s += A[t]
            act(s, out=s)
            if kind == _SOME:
                np.copyto(s, S[prev], where=pad[t])
        return self._pack()

    def _deltas(self, g):
        dA = self.dact(self.S[self.new], np.empty((self.T, self.B, self.H), dtype=self.dtype))  # act'(a_t)
        self._masked(dA)
        dY, dh = self._output_grad(g)
        keep = np.empty_like(dh)
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:  # nothing was computed; the masked factors are zero
                continue
            dh += dY[t]
            dA[t] *= dh
            self._back(dA[t], dh, keep, t, kind)
        return dA, dA, (dh,)


class LSTMSequence(_Sequence):
    """An LSTM layer over a whole sequence as one node (the equations of ``LSTMCellStep``).

    Inputs ``(X, h0, c0, weight_ih, weight_hh[, bias_ih, bias_hh])``; options ``reverse``,
    ``mask``. Returns the outputs, h_n and c_n packed in (T + 2, B, H) (see ``_rows``).
    """

    op = "lstm_sequence"
    G, n_states = 4, 2

    def forward(self, X, h0, c0, w_ih, w_hh, *biases, reverse=False, mask=None):
        S = self._begin(X, (h0, c0), w_ih, w_hh, biases, reverse, mask)
        T, B, H = self.T, self.B, self.H
        A = self._project(biases[0] + biases[1] if biases else None)  # (T, B, 4H), becomes the gates
        C = np.empty((T + 1, B, H), dtype=self.dtype)  # the cell states, laid out as S
        C[self.init] = c0
        ah = np.empty((B, 4 * H), dtype=self.dtype)
        ig = np.empty((B, H), dtype=self.dtype)
        tc = np.empty((B, H), dtype=self.dtype)  # tanh(c'); backward computes it again rather than keep T of them
        whT = w_hh.T
        pad = self.pad
        for t, new, prev, kind in self.plan:
            if kind == _NONE:
                S[new], C[new], A[t] = S[prev], C[prev], 0
                continue
            a = A[t]
            a += np.dot(S[prev], whT, out=ah)
            _lstm_step_(a, C[prev], C[new], ig)
            np.tanh(C[new], out=tc)
            np.multiply(a[:, 3 * H:], tc, out=S[new])  # h' = o * tanh(c')
            if kind == _SOME:
                np.copyto(S[new], S[prev], where=pad[t])
                np.copyto(C[new], C[prev], where=pad[t])
        self.C, self.A = C, A
        return self._pack(C)

    def _deltas(self, g):
        T, B, H = self.T, self.B, self.H
        A = self.A
        # dA starts as each gate's factor (_lstm_factors) for all steps at once, and is multiplied
        # by dc_t (gates i, f, g) or dh_t (gate o) step by step
        dA = _lstm_factors(A, self.C[self.prev], np.empty((T, B, 4, H), dtype=self.dtype))
        Kc = np.tanh(self.C[self.new])
        dA[:, :, 3] *= Kc  # do_t = dh_t * tanh(c_t)
        _dtanh_(Kc, Kc)
        Kc *= A[..., 3 * H:]  # dc_t gets dh_t * o_t * (1 - tanh(c_t)^2)
        self._masked(Kc, dA)
        F = self._carry(A[..., H:2 * H], 1)  # dc_{t-1} = dc_t * f_t
        dY, dh = self._output_grad(g)
        dc = g[T + 1].copy()
        dA2 = dA.reshape(T, B, 4 * H)
        tmp = np.empty_like(dh)
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:  # nothing was computed; the masked factors are zero
                continue
            dh += dY[t]
            np.multiply(dh, Kc[t], out=tmp)
            dc += tmp
            dA[t, :, :3] *= dc[:, None, :]
            dA[t, :, 3] *= dh
            dc *= F[t]
            self._back(dA2[t], dh, tmp, t, kind)
        return dA2, dA2, (dh, dc)


class GRUSequence(_Sequence):
    """A GRU layer over a whole sequence as one node (the equations of ``GRUCellStep``).

    Inputs ``(X, h0, weight_ih, weight_hh[, bias_ih, bias_hh])``; options ``reverse``, ``mask``.
    Returns the outputs and h_n packed in (T + 1, B, H) (see ``_rows``).
    """

    op = "gru_sequence"
    G = 3

    def forward(self, X, h0, w_ih, w_hh, *biases, reverse=False, mask=None):
        S = self._begin(X, (h0,), w_ih, w_hh, biases, reverse, mask)
        T, B, H = self.T, self.B, self.H
        b_ih, b_hh = biases if biases else (None, None)
        AI = self._project(b_ih)  # (T, B, 3H), becomes the gates r, z, n
        if b_hh is not None:
            AI[..., :2 * H] += b_hh[:2 * H]  # b_hr and b_hz add like b_ih; b_hn sits inside r * (.)
        b_hn = 0 if b_hh is None else b_hh[2 * H:]
        AHN = np.empty((T, B, H), dtype=self.dtype)  # W_hn h + b_hn, for r's delta
        ah = np.empty((B, 3 * H), dtype=self.dtype)
        tmp = np.empty((B, H), dtype=self.dtype)
        whT = w_hh.T
        pad = self.pad
        for t, new, prev, kind in self.plan:
            if kind == _NONE:
                S[new], AI[t], AHN[t] = S[prev], 0, 0
                continue
            np.dot(S[prev], whT, out=ah)
            np.add(ah[:, 2 * H:], b_hn, out=AHN[t])
            _gru_step_(AI[t], ah, AHN[t], S[prev], S[new], tmp)
            if kind == _SOME:
                np.copyto(S[new], S[prev], where=pad[t])
        self.AI, self.AHN = AI, AHN
        return self._pack()

    def _deltas(self, g):
        T, B, H = self.T, self.B, self.H
        AI = self.AI
        # dL/da_i = dh_t * KI[t], KI the factors of all steps (_gru_factors); dL/da_h is the same
        # but for r scaling the n gate's recurrent term. KI becomes dL/da_i once all dh_t are known.
        KI = _gru_factors(AI, self.AHN, self.S[self.prev], np.empty((T, B, 3, H), dtype=self.dtype),
                          np.empty((T, B, H), dtype=self.dtype))
        self._masked(KI)
        r = AI[..., :H]
        Z = self._carry(AI[..., H:2 * H], 1)  # the direct path h -> h' carries dh * z
        dY, carry = self._output_grad(g)
        DH = np.empty((T, B, H), dtype=self.dtype)  # dL/dh_t in total
        dAH = np.empty((T, B, 3, H), dtype=self.dtype)
        dAH2 = dAH.reshape(T, B, 3 * H)
        direct = np.empty_like(carry)
        w_hh = self.w_hh
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:
                DH[t], dAH[t] = 0, 0
                continue
            dh = np.add(carry, dY[t], out=DH[t])
            np.multiply(dh[:, None, :], KI[t], out=dAH[t])
            dAH[t, :, 2] *= r[t]
            np.multiply(dh, Z[t], out=direct)
            np.dot(dAH2[t], w_hh, out=carry)
            carry += direct
        KI *= DH[:, :, None, :]
        return KI.reshape(T, B, 3 * H), dAH2, (carry,)


# ---------------------------------------------------------------------------------------------
# functional forms (what the cells and layers call)

def _params(w_ih, w_hh, b_ih, b_hh) -> tuple:
    if (b_ih is None) != (b_hh is None):
        raise ValueError("pass both biases (bias_ih and bias_hh) or neither")
    return (w_ih, w_hh) if b_ih is None else (w_ih, w_hh, b_ih, b_hh)


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh") -> mg.Tensor:
    """One Elman step as one node: x (B, D), h (B, H) -> h' (B, H)."""
    return RNNCellStep.apply(x, h, *_params(w_ih, w_hh, b_ih, b_hh), nonlinearity=nonlinearity)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple:
    """One LSTM step: the gates and c' as one node, then h' = o * tanh(c') -> (h', c'), each (B, H)."""
    H = h.shape[-1]
    packed = LSTMCellStep.apply(x, h, c, *_params(w_ih, w_hh, b_ih, b_hh))
    c2 = packed[:, H:]
    return LSTMHidden.apply(packed[:, :H], c2), c2


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None) -> mg.Tensor:
    """One GRU step as one node: x (B, D), h (B, H) -> h' (B, H)."""
    return GRUCellStep.apply(x, h, *_params(w_ih, w_hh, b_ih, b_hh))


def _unpack(packed: mg.Tensor, states: int, reverse: bool, mask) -> tuple:
    """The outputs (T, B, H), h_n (and c_n) as slices of a sequence kernel's packed node (``_rows``)."""
    T = packed.shape[0] - states
    outputs, h_n = _rows(T, reverse, mask is not None)
    return (packed[outputs], packed[h_n]) + ((packed[T + 1],) if states == 2 else ())


def rnn_sequence(X, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh", *,
                 reverse: bool = False, mask=None) -> tuple:
    """An Elman layer over X (T, B, D) from h0 (B, H) as one node -> (outputs (T, B, H), h_n).

    ``reverse`` runs from the last step to the first; ``mask`` (T, B) bool marks real steps:
    elsewhere the state is kept and the output is zero.
    """
    packed = RNNSequence.apply(X, h0, *_params(w_ih, w_hh, b_ih, b_hh), nonlinearity=nonlinearity,
                               reverse=reverse, mask=mask)
    return _unpack(packed, 1, reverse, mask)


def lstm_sequence(X, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse: bool = False, mask=None) -> tuple:
    """An LSTM layer over X (T, B, D) as one node -> (outputs (T, B, H), h_n, c_n); see ``rnn_sequence``."""
    packed = LSTMSequence.apply(X, h0, c0, *_params(w_ih, w_hh, b_ih, b_hh), reverse=reverse, mask=mask)
    return _unpack(packed, 2, reverse, mask)


def gru_sequence(X, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse: bool = False, mask=None) -> tuple:
    """A GRU layer over X (T, B, D) as one node -> (outputs (T, B, H), h_n); see ``rnn_sequence``."""
    packed = GRUSequence.apply(X, h0, *_params(w_ih, w_hh, b_ih, b_hh), reverse=reverse, mask=mask)
    return _unpack(packed, 1, reverse, mask)
