"""Fused recurrences: the recurrent half of one cell step as one graph node, hand-differentiated.

A layer computes the input half of every step, ``x_t W_ih^T + b_ih`` for all t, as one matrix
product (``CellBase.project``). What each step adds is a kernel here (``rnn_step``,
``lstm_step``, ``gru_step``): ``h W_hh^T + b_hh`` and the gates, one node per step instead of
about fifteen. Each saves only what its backward needs (the gate activations) and is proven equal
to the composed cell it replaces (``tests/test_kernels.py``).

Every step is its own node and its own consumer of ``W_hh``, so the graph shows time, and
``zoo.gradient_shares`` and per-step ``.grad`` work. The backward does not form ``W_hh``'s
gradient per step: it hands the engine the factors (``minigrad.Deferred(dA_t, h_{t-1})``), and the
engine multiplies the factors of all steps at once when ``W_hh``'s gradient is complete - one
product over T*B rows, the trick cuDNN uses, here as a general engine mechanism. A step writes its
dA_t into the row of every step's input-gradient buffer the engine lends it
(``minigrad.gradient_slot``), so dA_t is neither copied nor held twice, and the steps'
left factors are adjacent rows of one array, multiplied in place. Forward, in a loop, a step
forms its gates in its own row of the projection (``inplace``) and the gated cells write h' into
row t of one buffer (``out``), so the graph keeps what the hand-written loop keeps, and no more.

The shared numpy pieces of each gated cell are written once: the step (``_lstm_step_``,
``_gru_step_``) and its derivative factors (``_lstm_factors``, ``_gru_factors``). The cells'
``composed_recurrence`` (``zoo.cells``) is their other form.

Shapes: B sequences, H hidden size, G gates (RNN 1, LSTM 4, GRU 3) stacked as PyTorch's
(i, f, g, o) and (r, z, n); a batch is rows, so a pre-activation is ``h W^T + b``; ``ax`` is a
step's input half (B, G*H).

The engine's Functions have one output, so the LSTM step returns ``[o | c']``; the state's c'
is a slice of it, and ``h' = o * tanh(c')`` is a second node reading o from it and that c'
slice. Packing ``[h' | c']`` instead would hide that h' depends on c', and a user reading
``c_t.grad`` (``return_states``) would get only the part that flows through step t+1.
"""
from __future__ import annotations

import functools

import numpy as np

import minigrad as mg
from minigrad import At, Deferred, Function, ShapeError, gradient_slot
from minigrad.ops import dot_t

__all__ = ["RNNStep", "LSTMStep", "LSTMHidden", "GRUStep", "rnn_step", "lstm_step", "gru_step"]


# ---------------------------------------------------------------------------------------------
# shared pieces: the check, elementwise helpers

def _check(op: str, G: int, ax, states, w_hh, bias) -> None:
    """Raise ShapeError (TypeError for mixed dtypes) naming ``op`` and every input unless they fit:
    ``ax`` (B, G*H), each state (B, H), ``weight_hh`` (G*H, H), ``bias_hh`` (G*H,) or None."""
    dt, shape, wshape = ax.dtype, ax.shape, w_hh.shape
    # NOTE: the common case first, comparing dtypes by identity (builtin dtypes are singletons);
    # anything it does not accept gets the full check below
    if (len(shape) == 2 and len(wshape) == 2 and shape[1] == wshape[0] == G * wshape[1] and w_hh.dtype is dt
            and (bias is None or (bias.dtype is dt and bias.shape == wshape[:1]))):
        hs = (shape[0], wshape[1])
        for s in states:
            if s.shape != hs or s.dtype is not dt:
                break
        else:
            return
    fits = ax.ndim == 2 and w_hh.ndim == 2 and w_hh.shape[0] == G * w_hh.shape[1]
    same = w_hh.dtype == dt
    if fits:
        GH, H = w_hh.shape
        fits = ax.shape[1] == GH and (bias is None or bias.shape == (GH,))
        # NOTE: a plain loop rather than all(...): this runs on every step
        for s in states:
            fits, same = fits and s.shape == (ax.shape[0], H), same and s.dtype == dt
    if bias is not None:
        same = same and bias.dtype == dt
    if fits and same:
        return
    names = ("ax",) + ("h", "c")[:len(states)] + ("weight_hh",) + (() if bias is None else ("bias_hh",))
    arrays = (ax, *states, w_hh) + (() if bias is None else (bias,))
    _refuse(op, names, arrays, fits, f"ax (B, {G}H), {' and '.join(names[1:1 + len(states)])} (B, H), "
                                     f"weight_hh ({G}H, H), bias_hh ({G}H,)")


def _refuse(op: str, names: tuple, arrays: tuple, fits: bool, expected: str):
    """Raise the error a failed check found: ShapeError listing every input's shape and what was
    expected, or (the shapes fitting) TypeError listing every dtype."""
    if not fits:
        got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ShapeError(f"{op}: got {got}; expected {expected}")
    got = ", ".join(f"{n} {a.dtype}" for n, a in zip(names, arrays))
    raise TypeError(f"{op}: the inputs, states and parameters need one dtype (no silent casts), got {got}")


def _recurrent(op: str, h, w_hh, bias, w_t) -> np.ndarray:
    """h W_hh^T (+ b_hh): (B, G*H), a new array; from ``w_t``, W_hh^T in C order, when given."""
    if w_t is not None and (w_t.shape != w_hh.shape[::-1] or w_t.dtype != w_hh.dtype):
        raise ShapeError(f"{op}: w_t must be weight_hh.T, of shape {w_hh.shape[::-1]} and dtype {w_hh.dtype}, "
                         f"got {w_t.shape} {w_t.dtype}")
    a = dot_t(h, w_hh, w_t)
    if bias is not None:
        a += bias
    return a


def _formed(op: str, ax, h, w_hh, bias, w_t, inplace: bool) -> np.ndarray:
    """The pre-activations ax + h W_hh^T (+ b_hh): in ``ax``'s own memory with ``inplace``, else new."""
    a = _recurrent(op, h, w_hh, bias, w_t)
    if inplace:
        ax += a
        return ax
    a += ax
    return a


# In-place elementwise pieces: each writes into ``out`` (or its argument) to allocate nothing.

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


ACTIVATIONS = {"tanh": (np.tanh, _dtanh_), "relu": (_relu_, _drelu_)}


def _activation(op: str, nonlinearity: str) -> tuple:
    """(act, act') for the Elman cell, each ``f(array, out=...)``; act' is read off act's output."""
    try:
        return ACTIVATIONS[nonlinearity]
    except KeyError:
        raise ValueError(f"{op}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}") from None


# ---------------------------------------------------------------------------------------------
# one step of each gated cell and its derivatives, in numpy

@functools.lru_cache(maxsize=None)
def _lstm_scales(H: int, dtype: np.dtype) -> tuple:
    """(half, shift, half**2), each (4H,) and read-only: i, f, g, o = tanh(a * half) * half + shift.

    sigmoid(a) = (1 + tanh(a/2)) / 2 gives half = shift = 1/2 for i, f, o; g = tanh(a) has
    half = 1, shift = 0. One tanh over all four gates instead of three sigmoids and a tanh; and
    each gate y's derivative is half**2 - (y - shift)**2 (y (1 - y), or 1 - y**2 for g).
    """
    half = np.full(4 * H, 0.5, dtype=dtype)
    half[2 * H:3 * H] = 1
    shift = 1 - half
    square = half * half
    half.flags.writeable = shift.flags.writeable = square.flags.writeable = False
    return half, shift, square


def _lstm_step_(a: np.ndarray, c: np.ndarray, c_new: np.ndarray, tmp: np.ndarray) -> None:
    """The LSTM's gates and cell state for one step, in place (h' = o * tanh(c') is left out).

    a (B, 4H): the pre-activations, overwritten by the gates i, f, g, o; c (B, H) the cell state;
    c_new (B, H) <- c' = f * c + i * g; tmp (B, H) is scratch.
    """
    H = c.shape[-1]
    half, shift, _ = _lstm_scales(H, a.dtype)
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
    _, shift, square = _lstm_scales(H, a.dtype)
    d = out.reshape(a.shape)  # the four gates' derivatives side by side, (..., 4H)
    np.subtract(a, shift, out=d)
    np.square(d, out=d)
    np.subtract(square, d, out=d)
    out[..., 0, :] *= a[..., 2 * H:3 * H]  # g
    out[..., 1, :] *= c
    out[..., 2, :] *= a[..., :H]  # i
    return out


def _gru_step_(ax: np.ndarray, ah: np.ndarray, h: np.ndarray, gates: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The GRU equations for one step; returns ``out`` <- h' (B, H). ``ah`` is read only.

    ax (B, 3H): W_i* x + b_i*; ah (B, 3H): W_h* h + b_h* (its n block, W_hn h + b_hn, is what r
    scales); h (B, H) the state; gates (B, 3H) <- r, z, n (``gates`` may be ``ax`` itself).
    """
    H = h.shape[-1]
    rz = np.add(ax[:, :2 * H], ah[:, :2 * H], out=gates[:, :2 * H])
    _sigmoid_(rz)
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    np.multiply(r, ah[:, 2 * H:], out=out)  # out is scratch until h': n may be ax's own block
    np.add(ax[:, 2 * H:], out, out=n)
    np.tanh(n, out=n)
    np.subtract(h, n, out=out)
    out *= z
    out += n  # h' = n + z * (h - n) = (1 - z) * n + z * h
    return out


def _gru_factors(a: np.ndarray, ahn: np.ndarray, h: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """The GRU's dL/dax per unit of dh' (the gradient reaching h'), into ``out`` (..., 3, H).

    From the gates a = [r|z|n] (..., 3H), ahn = W_hn h + b_hn and the state h the step read::

        da_n = dh' * (1 - z) * (1 - n**2)
        da_z = dh' * (h - n) * z * (1 - z)
        da_r = da_n * ahn * r * (1 - r)

    out[..., k, :] is gate k's factor (r, z, n): the caller multiplies by dh'. dL/dah is the same
    but for its n block, da_n * r; and dL/dh = dh' * z + dL/dah @ W_hh. tmp (..., H) is scratch.
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


def _step_input(ax: np.ndarray, t) -> np.ndarray:
    """Step t's input half: ``ax[t]`` of every step's (T, B, G*H) when ``t`` is given, else ``ax``."""
    if t is None:
        return ax
    if ax.ndim != 3 or not 0 <= t < ax.shape[0]:
        raise ShapeError(f"step t={t} of ax {ax.shape}: expected ax (T, B, G*H) with 0 <= t < T")
    return ax[t]


def _step_output(op: str, out, t, like: np.ndarray) -> np.ndarray:
    """Where h' goes: a new array like the state ``like`` (B, H), or row t of every step's buffer
    ``out`` (T, B, H) (``out`` itself, (B, H), without ``t``)."""
    if out is None:
        return np.empty_like(like)
    row = out if t is None else out[t] if out.ndim == 3 and 0 <= t < out.shape[0] else None
    if row is None or row.shape != like.shape or row.dtype != like.dtype:
        raise ShapeError(f"{op}: out must hold h' {like.shape} {like.dtype}" + ("" if t is None else f" at row t={t}")
                         + f", got {out.shape} {out.dtype}")
    return row


def _delta(fn: Function, shape: tuple, dtype) -> tuple:
    """``(da, sent)``: an array for the step's dL/d(ax), to fill, and the gradient ``ax`` is sent.

    With ``t``, da is row t of every step's gradient buffer when the engine lends it
    (``gradient_slot``; ``sent`` is then None, as da is already in place), so no step's delta is
    copied and the deltas of all steps are rows of one array for the weights' products.
    Otherwise da is a new array, sent as ``At(t, da)`` (or ``da``)."""
    t = fn.options.get("t")  # a kernel applied directly may have no options at all
    need = fn.needs_input_grad[0]
    if need and t is not None:
        da = gradient_slot(fn, 0, t)
        if da is not None:  # (B, G*H) as the forward checked; used as it is: the engine knows it by identity
            return da, None
    da = np.empty(shape, dtype=dtype)
    return da, (None if not need else da if t is None else At(t, da))


def _weight_grads(need: tuple, da: np.ndarray, h: np.ndarray) -> tuple:
    """W_hh's and b_hh's gradients as Deferred products (formed by the engine over all steps)."""
    dw = Deferred(da, h) if need[0] else None
    if len(need) == 1:
        return (dw,)
    return dw, (Deferred(da) if need[1] else None)


# ---------------------------------------------------------------------------------------------
# the kernels

class RNNStep(Function):
    """``h' = act(ax + h W_hh^T + b_hh)``, act = tanh or relu, as one node.

    Inputs ``(ax, h, weight_hh[, bias_hh])``; backward: da = dh' * act'(a), with tanh' = 1 - h'^2
    and relu' = [h' > 0] read off the saved output; d(ax) = da, dh = da W_hh.
    """

    op = "rnn_step"

    def forward(self, ax, h, w_hh, bias=None, *, nonlinearity, t=None, w_t=None, inplace=False):
        ax = _step_input(ax, t)
        _check(self.op, 1, ax, (h,), w_hh, bias)
        act, self.dact = _activation(self.op, nonlinearity)
        a = _formed(self.op, ax, h, w_hh, bias, w_t, inplace)
        self.h, self.w_hh, self.out = h, w_hh, act(a, out=a)
        return a

    def backward(self, g):
        da, sent = _delta(self, g.shape, g.dtype)
        self.dact(self.out, da)
        da *= g
        need = self.needs_input_grad
        return sent, np.dot(da, self.w_hh) if need[1] else None, *_weight_grads(need[2:], da, self.h)


class LSTMStep(Function):
    """One LSTM step's gates and cell state as one node; returns ``[o | c']`` (B, 2H).

    Inputs ``(ax, h, c, weight_hh[, bias_hh])``. ``h' = o * tanh(c')`` is a second node
    (``LSTMHidden``) reading o from it and c' from the state's slice of it, so c' lies upstream
    of h' as in the composed cell and ``c'.grad`` is the total dL/dc'. Backward: the gates' deltas from ``_lstm_factors`` times
    do and dc' (the two halves of the incoming gradient); d(ax) = da, dh = da W_hh, dc = dc' * f.
    """

    op = "lstm_step"

    def forward(self, ax, h, c, w_hh, bias=None, t=None, w_t=None, inplace=False):
        ax = _step_input(ax, t)
        _check(self.op, 4, ax, (h, c), w_hh, bias)
        B, H = h.shape
        a = _formed(self.op, ax, h, w_hh, bias, w_t, inplace)  # (B, 4H), becomes the gates i, f, g, o
        out = np.empty((B, 2 * H), dtype=a.dtype)
        _lstm_step_(a, c, out[:, H:], np.empty_like(c))
        out[:, :H] = a[:, 3 * H:]
        self.h, self.c, self.w_hh, self.gates = h, c, w_hh, a
        return out

    def backward(self, grad):
        B, H = self.h.shape
        do, dc = grad[:, :H], grad[:, H:]
        da, sent = _delta(self, (B, 4 * H), grad.dtype)
        d = _lstm_factors(self.gates, self.c, da.reshape(B, 4, H))
        d[:, :3] *= dc[:, None]
        d[:, 3] *= do
        need = self.needs_input_grad
        return (sent, np.dot(da, self.w_hh) if need[1] else None,
                dc * self.gates[:, H:2 * H] if need[2] else None, *_weight_grads(need[3:], da, self.h))


class LSTMHidden(Function):
    """``h' = o * tanh(c')``, the LSTM step's last equation, as one node.

    Inputs ``(packed, c')``: the step's ``[o | c']`` (B, 2H), of which it reads o, and c' (B, H),
    the state's slice of it, so that h' depends on the c' the state carries. Backward: dh' *
    tanh(c') into o's half of ``packed``'s gradient (an ``At``), dh' * o * (1 - tanh(c')**2) to c'.
    ``out``, ``t``: h' goes into ``out[t]`` (see ``lstm_step``).
    """

    op = "lstm_hidden"

    def forward(self, packed, c, out=None, t=None):
        self.o, self.tc = packed[:, :c.shape[1]], np.tanh(c)
        return np.multiply(self.o, self.tc, out=_step_output(self.op, out, t, c))

    def backward(self, g):
        tc = self.tc
        dc = _dtanh_(tc, np.empty_like(tc))
        dc *= self.o
        dc *= g
        return At((slice(None), slice(0, g.shape[1])), g * tc), dc


class GRUStep(Function):
    """One GRU step (PyTorch's variant) as one node.

    Inputs ``(ax, h, weight_hh[, bias_hh])``. Backward: d(ax) is ``_gru_factors`` times dh';
    dL/dah the same with r scaling the n block; dL/dh = dh' * z + dL/dah W_hh.
    """

    op = "gru_step"

    def forward(self, ax, h, w_hh, bias=None, t=None, w_t=None, inplace=False, out=None):
        ax = _step_input(ax, t)
        _check(self.op, 3, ax, (h,), w_hh, bias)
        ah = _recurrent(self.op, h, w_hh, bias, w_t)
        gates = ax if inplace else np.empty_like(ah)
        out = _gru_step_(ax, ah, h, gates, _step_output(self.op, out, t, h))
        self.h, self.w_hh, self.gates, self.ahn = h, w_hh, gates, ah[:, 2 * ah.shape[1] // 3:]
        return out

    def backward(self, g):
        B, H = g.shape
        a = self.gates
        dax, sent = _delta(self, (B, 3 * H), g.dtype)
        d = _gru_factors(a, self.ahn, self.h, dax.reshape(B, 3, H), np.empty_like(g))
        d *= g[:, None]
        dah = dax.copy()
        dah[:, 2 * H:] *= a[:, :H]  # r scales the n gate's recurrent term
        need = self.needs_input_grad
        dh = None
        if need[1]:
            dh = np.dot(dah, self.w_hh)
            dh += g * a[:, H:2 * H]  # the direct path h -> h' carries dh' * z
        return sent, dh, *_weight_grads(need[2:], dah, self.h)


# ---------------------------------------------------------------------------------------------
# functional forms (what the cells call)

def _inputs(w_hh, b_hh) -> tuple:
    return (w_hh,) if b_hh is None else (w_hh, b_hh)


def rnn_step(ax, h, w_hh, b_hh=None, nonlinearity: str = "tanh", t: int | None = None, w_t=None,
             inplace: bool = False) -> mg.Tensor:
    """The Elman recurrence as one node: ax (B, H) = x W_ih^T + b_ih, h (B, H) -> h' (B, H).

    With ``t``, ``ax`` holds every step's input half (T, B, H) and step t's is used: the node
    reads its slice itself, and sends its gradient to that slice only. ``w_t``: an array equal to
    ``w_hh.T`` in C order (``minigrad.ops.transposed_for``), which the forward product reads
    instead of ``w_hh`` (faster at some shapes); the node's input is still ``w_hh``.
    ``inplace``: h' is formed in ax's own memory (step t's slice), as the hand-written loop forms
    it, and is a view of it; ax's data then holds h'. No backward reads ax, but the caller must
    know that nothing else does either (``zoo.unroll``'s projection; see ``CellBase.recurrence``).
    """
    return RNNStep.apply(ax, h, *_inputs(w_hh, b_hh), nonlinearity=nonlinearity, t=t, w_t=w_t, inplace=inplace)


def lstm_step(ax, h, c, w_hh, b_hh=None, t: int | None = None, w_t=None, inplace: bool = False,
              out=None) -> tuple:
    """The LSTM recurrence: the gates and c' as one node, then h' = o * tanh(c') -> (h', c').

    ax (B, 4H) = x W_ih^T + b_ih (or every step's (T, B, 4H) with ``t``, see ``rnn_step``, also
    for ``w_t``); h, c, h', c' (B, H). ``inplace``: the gates are formed in ax's memory (see
    ``rnn_step``). ``out``: h' is written into it, (B, H), or into its row t (T, B, H) with ``t``.
    """
    packed = LSTMStep.apply(ax, h, c, *_inputs(w_hh, b_hh), t=t, w_t=w_t, inplace=inplace)
    c2 = packed[:, h.shape[-1]:]
    return LSTMHidden.apply(packed, c2, out=out, t=t), c2


def gru_step(ax, h, w_hh, b_hh=None, t: int | None = None, w_t=None, inplace: bool = False,
             out=None) -> mg.Tensor:
    """The GRU recurrence as one node: ax (B, 3H) = x W_ih^T + b_ih (or every step's with ``t``,
    see ``rnn_step``, also for ``w_t``, ``inplace`` and ``out``), h (B, H) -> h' (B, H);
    ``inplace`` forms the gates in ax's memory."""
    return GRUStep.apply(ax, h, *_inputs(w_hh, b_hh), t=t, w_t=w_t, inplace=inplace, out=out)
