"""The differentiable primitives. Each is one small class: ``forward`` and ``backward`` side by side.

``backward`` receives the gradient of the output and returns one gradient per input (``None``
where ``needs_input_grad`` is false). It never writes into the incoming gradient: arrays are
shared between branches. Broadcasting is undone in exactly one place, ``unbroadcast``.
"""
from __future__ import annotations

import functools
import string
import threading
import weakref

import numpy as np

from .function import At, Deferred, Function, ShapeError

# ---------------------------------------------------------------------------------------------
# broadcasting


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` down to ``shape``, undoing numpy broadcasting (leading axes and size-1 axes)."""
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead == 1 and gshape[1:] == shape:  # the common case: a bias added over a batch
        return np.add.reduce(grad, 0)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _expand_reduced(grad: np.ndarray, axis, keepdims: bool, shape: tuple) -> np.ndarray:
    """Broadcast the gradient of a reduction back over the reduced axes of ``shape``."""
    if not keepdims and axis is not None:
        grad = np.expand_dims(grad, axis)
    return np.broadcast_to(grad, shape)


# ---------------------------------------------------------------------------------------------
# binary, broadcasting


class Add(Function):
    op = "add"

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        na, nb = self.needs_input_grad
        return (unbroadcast(g, sa) if na else None), (unbroadcast(g, sb) if nb else None)


class Sub(Function):
    op = "sub"

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        na, nb = self.needs_input_grad
        return (unbroadcast(g, sa) if na else None), (unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    op = "mul"

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs_input_grad
        return (unbroadcast(g * b, a.shape) if na else None), (unbroadcast(g * a, b.shape) if nb else None)


class Div(Function):
    op = "div"

    def forward(self, a, b):
        self.b = b
        self.out = out = a / b
        self.shape_a = a.shape
        return out

    def backward(self, g):
        b = self.b
        na, nb = self.needs_input_grad
        ga = g / b
        return (unbroadcast(ga, self.shape_a) if na else None), (
            unbroadcast(-ga * self.out, b.shape) if nb else None)


class Pow(Function):
    """a ** b with both operands tensors; d/db = a**b * log(a), taken as 0 where a <= 0."""

    op = "pow"

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = out = a ** b
        return out

    def backward(self, g):
        a, b, out = self.a, self.b, self.out
        na, nb = self.needs_input_grad
        ga = unbroadcast(g * b * a ** (b - 1), a.shape) if na else None
        gb = None
        if nb:
            pos = a > 0
            gb = unbroadcast(g * out * np.where(pos, np.log(np.where(pos, a, 1)), 0), b.shape)
        return ga, gb


class PowScalar(Function):
    """a ** p for a Python number p."""

    op = "pow"

    def forward(self, a, exponent):
        self.a = a
        return a ** exponent

    def backward(self, g):
        p = self.options["exponent"]
        a = self.a
        if p == 2:
            return (g * (2 * a),)
        if p == 0:  # NOTE: p * a**(p-1) would be 0 * inf = NaN at a == 0
            return (np.zeros_like(g),)
        return (g * (p * a ** (p - 1)),)


class Maximum(Function):
    """Elementwise max; where a == b the gradient is split evenly."""

    op = "maximum"
    pick = staticmethod(np.maximum)
    wins = staticmethod(np.greater)

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.pick(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        # weight of a: 1 where it wins, 1/2 where it ties, 0 where it loses (in g's dtype)
        wa = np.where(a == b, 0.5, self.wins(a, b)).astype(g.dtype, copy=False)
        na, nb = self.needs_input_grad
        return (unbroadcast(g * wa, a.shape) if na else None), (
            unbroadcast(g * (1 - wa), b.shape) if nb else None)


class Minimum(Maximum):
    """Elementwise min; where a == b the gradient is split evenly."""

    op = "minimum"
    pick = staticmethod(np.minimum)
    wins = staticmethod(np.less)


class Where(Function):
    """cond ? a : b, with broadcasting; ``cond`` (a bool tensor) gets no gradient."""

    op = "where"

    def forward(self, cond, a, b):
        self.cond = cond
        self.shapes = a.shape, b.shape
        return np.where(cond, a, b)

    def backward(self, g):
        _, na, nb = self.needs_input_grad
        zero = np.zeros((), dtype=g.dtype)
        ga = unbroadcast(np.where(self.cond, g, zero), self.shapes[0]) if na else None
        gb = unbroadcast(np.where(self.cond, zero, g), self.shapes[1]) if nb else None
        return None, ga, gb


# ---------------------------------------------------------------------------------------------
# unary


class Neg(Function):
    op = "neg"

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Exp(Function):
    op = "exp"

    def forward(self, a):
        self.out = out = np.exp(a)
        return out

    def backward(self, g):
        return (g * self.out,)


class Log(Function):
    op = "log"

    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return (g / self.a,)


class Sqrt(Function):
    op = "sqrt"

    def forward(self, a):
        self.out = out = np.sqrt(a)
        return out

    def backward(self, g):
        return (g / (2 * self.out),)


class Abs(Function):
    """|a|; the derivative at 0 is taken as 0."""

    op = "abs"

    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return (g * np.sign(self.a),)


class Tanh(Function):
    op = "tanh"

    def forward(self, a):
        self.out = out = np.tanh(a)
        return out

    def backward(self, g):
        out = self.out
        return (g * (1 - out * out),)


def underflow_to_zero(method):
    """Make a stable formula's ``forward`` or ``backward`` silent about underflow, its intended result.

    Sigmoid, softplus, softmax, logsumexp and the losses built on them exponentiate numbers far
    below 0 on purpose (e^-1e4 is 0, and a term that small counts for nothing), so under
    ``np.seterr(under="raise")`` they would raise where nothing is wrong. The method runs as
    written; only if numpy raises ``FloatingPointError`` is it run again with underflow ignored
    (numpy's default), which gives the default result bit for bit and still raises on overflow,
    division by zero or invalid operations when asked. The common path pays no ``np.errstate``
    (about 1 us); only a run that raised pays for the second one. The method must be safe to
    repeat: it writes into nothing but arrays it allocated itself.
    NOTE: numpy's ``warn``, ``print``, ``log`` and ``call`` modes report an underflow as it
    happens, before it can be recognised; only ``raise`` is made silent.
    """
    @functools.wraps(method)
    def run(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except FloatingPointError:
            with np.errstate(under="ignore"):
                return method(*args, **kwargs)
    return run


def stable_sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a) without overflow: only e^-|a| is ever computed (it may underflow: callers
    run under ``underflow_to_zero``)."""
    e = np.exp(-np.abs(a))
    r = 1 / (1 + e)
    return np.where(a >= 0, r, e * r)


def stable_softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + e^a) as max(a, 0) + log1p(e^-|a|): never exponentiates a positive number (e^-|a| may
    underflow, as in ``stable_sigmoid``)."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


class Sigmoid(Function):
    op = "sigmoid"

    @underflow_to_zero
    def forward(self, a):
        self.out = out = stable_sigmoid(a)
        return out

    @underflow_to_zero
    def backward(self, g):
        out = self.out
        return (g * out * (1 - out),)


class Relu(Function):
    """max(a, 0); the derivative at 0 is taken as 0."""

    op = "relu"

    def forward(self, a):
        self.mask = a > 0
        return np.maximum(a, 0)

    def backward(self, g):
        return (g * self.mask,)


class LeakyRelu(Function):
    op = "leaky_relu"

    def forward(self, a, negative_slope):
        self.mask = mask = a > 0
        return np.where(mask, a, a * negative_slope)

    def backward(self, g):
        return (np.where(self.mask, g, g * self.options["negative_slope"]),)


class Softplus(Function):
    """log(1 + e^(beta*a)) / beta, linear where beta*a > threshold (PyTorch's definition)."""

    op = "softplus"

    @underflow_to_zero
    def forward(self, a, beta, threshold):
        z = a * beta
        self.z = z
        soft = stable_softplus(z) / beta
        return np.where(z > threshold, a, soft)

    @underflow_to_zero
    def backward(self, g):
        z = self.z
        return (g * np.where(z > self.options["threshold"], 1, stable_sigmoid(z)),)


class Clip(Function):
    """Clamp into [lo, hi] (either may be None); gradient passes where lo <= a <= hi."""

    op = "clip"

    def forward(self, a, lo, hi):
        mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        self.mask = mask
        return np.clip(a, lo, hi)

    def backward(self, g):
        return (g * self.mask,)


class Cast(Function):
    op = "cast"

    def forward(self, a, dtype):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return (g.astype(self.in_dtype),)


# ---------------------------------------------------------------------------------------------
# reductions


class Sum(Function):
    op = "sum"

    def forward(self, a, axis, keepdims):
        self.shape = a.shape
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        o = self.options
        return (_expand_reduced(g, o["axis"], o["keepdims"], self.shape),)


class _Extremum(Function):
    """max/min over axes; tied elements share the gradient evenly."""

    reduce = staticmethod(np.max)

    def forward(self, a, axis, keepdims):
        if a.size == 0:
            raise ShapeError(f"{self.op}: cannot reduce an empty tensor of shape {a.shape}")
        out = self.reduce(a, axis=axis, keepdims=True)
        self.mask = a == out
        return out if keepdims else np.squeeze(out, axis=axis)

    def backward(self, g):
        o = self.options
        mask = self.mask
        if not o["keepdims"]:
            g = np.expand_dims(g, o["axis"] if o["axis"] is not None else tuple(range(mask.ndim)))
        count = mask.sum(axis=o["axis"], keepdims=True, dtype=g.dtype)
        return (mask * (g / count),)


class Max(_Extremum):
    op = "max"
    reduce = staticmethod(np.max)


class Min(_Extremum):
    op = "min"
    reduce = staticmethod(np.min)


class LogSumExp(Function):
    """log(sum(exp(a))) over axes, shifted by the max so it never overflows.

    A slice of only -inf (every entry masked out) gives -inf and a zero gradient (PyTorch: nan).
    """

    op = "logsumexp"

    @underflow_to_zero
    def forward(self, a, axis, keepdims):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        self.a = a
        with np.errstate(divide="ignore"):  # log(0) = -inf is the answer for a slice of -inf
            out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        # backward's softmax is exp(a - out), which is exp(-inf + inf) = nan on a slice of -inf:
        # subtracting +inf there instead gives exp(-inf) = 0
        self.shift = np.where(out == -np.inf, np.inf, out)
        return out if keepdims else np.squeeze(out, axis=axis)

    @underflow_to_zero
    def backward(self, g):
        o = self.options
        if not o["keepdims"]:
            g = np.expand_dims(g, o["axis"] if o["axis"] is not None else tuple(range(self.a.ndim)))
        return (g * np.exp(self.a - self.shift),)


class Softmax(Function):
    op = "softmax"

    @underflow_to_zero
    def forward(self, a, axis):
        e = np.exp(a - np.max(a, axis=axis, keepdims=True))
        self.out = out = e / e.sum(axis=axis, keepdims=True)
        return out

    @underflow_to_zero
    def backward(self, g):
        s = self.out
        return (s * (g - (g * s).sum(axis=self.options["axis"], keepdims=True)),)


class LogSoftmax(Function):
    op = "log_softmax"

    @underflow_to_zero
    def forward(self, a, axis):
        shifted = a - np.max(a, axis=axis, keepdims=True)
        self.out = out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return out

    @underflow_to_zero
    def backward(self, g):
        return (g - np.exp(self.out) * g.sum(axis=self.options["axis"], keepdims=True),)


# ---------------------------------------------------------------------------------------------
# matmul


def dot_t(a: np.ndarray, w: np.ndarray, w_t: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ w.T`` for 2-D arrays (a batch of rows times a weight stored (out, in)), C-ordered.

    OpenBLAS's float32 kernels run this product with a transposed second operand slowly when ``a``
    has few rows: for (32, 256) @ (1024, 256).T, 116 us against 92 us for ``(w @ a.T).T`` with
    the copy to C order (measured, one thread, SkylakeX kernel; a whole W3 training step is 4%
    slower in the direct order, W2 8%). Recurrent steps are exactly that shape, so the faster
    order is taken there; elsewhere the direct one. ``w_t``: ``w.T`` as a C-ordered array
    (``transposed_for``), read instead of ``w`` when given. ``out``: a C-ordered array of the
    result's shape and dtype to write it into (and return).
    """
    if w_t is not None:
        return np.dot(a, w_t, out=out)
    if _slow_order(a.shape[0], w):
        if out is None:
            return np.ascontiguousarray(np.dot(w, a.T).T)
        np.copyto(out, np.dot(w, a.T).T)
        return out
    return np.dot(a, w.T, out=out)


def _slow_order(rows: int, w: np.ndarray) -> bool:
    """Whether ``np.dot(a, w.T)`` with ``rows`` rows in ``a`` hits OpenBLAS's slow case (``dot_t``)."""
    return w.dtype == np.float32 and 2 <= rows <= 32 and w.shape[1] >= 128 and w.shape[0] >= 256


def transposed_for(rows: int, w: np.ndarray) -> np.ndarray | None:
    """``w.T`` as a new C-ordered array if ``dot_t`` of ``rows``-row batches runs faster from it,
    else None: worth it for a weight that serves many such products (a recurrent weight at every
    step), as it is one copy of ``w``.

    The copy is made in blocks of rows: numpy's strided copy of a whole transpose misses the
    cache (a (512, 128) float32 weight: 60 us at once, 21 us in blocks of 64 rows). Whether it
    pays was measured in whole training steps (forward, backward, update; LSTM, GRU and RNN layers,
    SkylakeX and Haswell kernels), as products timed alone mislead here: it does for small
    batches, (512, 128) at 4 rows 14% faster, (256, 256) at 4 rows 6%, and not for larger ones,
    (512, 128) at 32 rows 2% slower, (256, 256) at 16 to 32 rows 3 to 6%, (1024, 256) from 4 to 16
    rows 7%. So it is made for weights up to 2**16 elements and batches of at most 2**11 numbers
    (rows x in): an empirical boundary in OpenBLAS's small-M kernels, not a derived one."""
    if not _slow_order(rows, w) or w.size > 1 << 16 or rows * w.shape[1] > 1 << 11:
        return None
    out = np.empty(w.shape[::-1], dtype=w.dtype)
    for i in range(0, w.shape[0], 64):
        out[:, i:i + 64] = w[i:i + 64].T
    return out


class MatMul(Function):
    """numpy matmul semantics: 1-D operands are promoted and the added axis dropped; batch axes broadcast."""

    op = "matmul"

    def forward(self, a, b):
        self.a, self.b = a, b
        if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
            return np.dot(a, b)  # NOTE: np.dot is several times faster than @ for small 2-D products
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ShapeError(
                f"matmul: shapes {a.shape} and {b.shape} do not align: "
                f"{ka} (last axis of the first) != {kb} ({'only' if b.ndim == 1 else 'second-to-last'} axis of the second)")
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        na, nb = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            # b's gradient a^T g as factors: a weight used by many products gets one over all rows
            return (np.dot(g, b.T) if na else None), (Deferred(a, g) if nb else None)
        if a.ndim == 1 and b.ndim == 1:  # inner product: g is a 0-d array
            return (g * b if na else None), (g * a if nb else None)
        # promote 1-D operands to matrices, as matmul did, and the gradient to match
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if na:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if nb:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb


# ---------------------------------------------------------------------------------------------
# movement


class Reshape(Function):
    op = "reshape"

    def forward(self, a, shape):
        self.in_shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}") from None

    def backward(self, g):
        return (g.reshape(self.in_shape),)


class Permute(Function):
    op = "permute"

    def forward(self, a, axes):
        if sorted(ax % a.ndim if a.ndim else ax for ax in axes) != list(range(a.ndim)):
            raise ShapeError(f"permute: {axes} is not a permutation of the {a.ndim} axes of shape {a.shape}")
        return np.transpose(a, axes)

    def backward(self, g):
        return (np.transpose(g, np.argsort([ax % g.ndim for ax in self.options["axes"]])),)


class Expand(Function):
    op = "expand"

    def forward(self, a, shape):
        self.in_shape = a.shape
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ShapeError(f"expand: cannot expand shape {a.shape} to {shape}") from None

    def backward(self, g):
        return (unbroadcast(g, self.in_shape),)


class Flip(Function):
    op = "flip"

    def forward(self, a, axis):
        return np.flip(a, axis)

    def backward(self, g):
        return (np.flip(g, self.options["axis"]),)


class GetItem(Function):
    """Basic and advanced indexing; repeated advanced indices accumulate their gradients."""

    op = "getitem"

    def forward(self, a, index):
        return a[index]

    def backward(self, g):
        # only the indexed part: T steps slicing x[t] out of a (T, ...) input share one buffer
        return (At(self.options["index"], g),)


class Cat(Function):
    op = "cat"

    def forward(self, *arrays, axis):
        self.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, np.cumsum(self.sizes)[:-1], axis=self.options["axis"]))


class Stack(Function):
    """Stack along a new axis; a copy, except when the arrays are all the rows of a buffer marked
    by ``step_rows``, in order: then a view of that buffer (a loop's outputs stacked for free)."""

    op = "stack"

    def forward(self, *arrays, axis):
        if axis == 0:
            whole = _whole_buffer(arrays)
            if whole is not None:
                return whole
        return np.stack(arrays, axis=axis)

    def backward(self, g):
        # views, not copies (run_backward never writes into a gradient it did not allocate)
        return tuple(np.moveaxis(g, self.options["axis"], 0))


# Buffers whose rows are the outputs of a loop's steps (``step_rows``), by id; weak, so a buffer
# lives only as long as the tensors viewing it
_STEP_ROWS = weakref.WeakValueDictionary()
_STEP_ROWS_LOCK = threading.Lock()
# Below this many bytes a copy is cheaper than proving that the rows are adjacent (about 1 µs a row)
VIEW_BYTES = 1 << 16


def step_rows(buffer: np.ndarray) -> np.ndarray:
    """Mark ``buffer`` (T, ...) as the buffer a loop writes step t's output into row t of;
    returns it. ``stack`` of all its rows, in order, is then a view of it, not a copy. The
    memory is the loop's own (no user tensor views it), so the view aliases only its steps'
    outputs, which a stack in PyTorch would copy."""
    owner = buffer if buffer.base is None else buffer.base
    if owner.nbytes == buffer.nbytes and owner.flags.c_contiguous and owner.flags.writeable:
        with _STEP_ROWS_LOCK:
            _STEP_ROWS[id(owner)] = owner
    return buffer


def _whole_buffer(arrays: tuple) -> np.ndarray | None:
    """``arrays`` stacked, as a view, if they are rows 0, 1, ... of one ``step_rows`` buffer
    and all of it; else None."""
    a0 = arrays[0]
    owner, size, n = a0.base, a0.nbytes, len(arrays)
    if owner is None or size * n < VIEW_BYTES or _STEP_ROWS.get(id(owner)) is not owner:
        return None
    if owner.nbytes != size * n or owner.dtype != a0.dtype:
        return None
    start = owner.__array_interface__["data"][0]
    for k, a in enumerate(arrays):
        if (a.base is not owner or a.shape != a0.shape or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != start + k * size):
            return None
    return owner.reshape((n,) + a0.shape)


# ---------------------------------------------------------------------------------------------
# PyTorch's further vocabulary (issue 15): sign, contiguous, p-norms, einsum


class Sign(Function):
    """sign(a) in {-1, 0, 1}; its derivative is 0 everywhere it exists, so the gradient is zero
    (as in PyTorch, where the result still requires grad)."""

    op = "sign"

    def forward(self, a):
        return np.sign(a)

    def backward(self, g):
        return (np.zeros_like(g),)


class Clone(Function):
    """A copy of ``a`` in new memory (``Tensor.clone``): in-place ops on it leave ``a`` alone."""

    op = "clone"

    def forward(self, a):
        return np.array(a, copy=True)

    def backward(self, g):
        return (g,)


class Contiguous(Function):
    """A C-ordered copy of ``a`` (``Tensor.contiguous`` records it only for a strided view)."""

    op = "contiguous"

    def forward(self, a):
        return np.ascontiguousarray(a)

    def backward(self, g):
        return (g,)


class Norm(Function):
    """The vector p-norm (sum |a|^p)^(1/p) over ``axis`` for a finite p > 0.

    d/da = sign(a) |a|^(p-1) / norm^(p-1), taken as 0 where the norm is 0 (PyTorch's
    subgradient) and, for p < 1, where a is 0.
    """

    op = "norm"

    def forward(self, a, p, axis, keepdims):
        self.a = a
        if p == 2:
            out = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
        elif p == 1:
            out = np.sum(np.abs(a), axis=axis, keepdims=True)
        else:
            out = np.sum(np.abs(a) ** p, axis=axis, keepdims=True) ** (1.0 / p)
        self.out = out
        return out if keepdims else np.squeeze(out, axis=axis)

    def backward(self, g):
        o = self.options
        p, a, n = o["p"], self.a, self.out
        if not o["keepdims"]:
            g = np.expand_dims(g, o["axis"] if o["axis"] is not None else tuple(range(a.ndim)))
        zero = np.zeros((), dtype=g.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):  # the 0/0 places are replaced below
            if p == 2:
                local = a / n
            elif p == 1:
                local = np.sign(a)
            else:
                local = np.sign(a) * np.abs(a) ** (p - 1) / n ** (p - 1)
        local = np.where((n == 0) | ((a == 0) if p < 1 else False), zero, local)
        return ((g * local).astype(g.dtype, copy=False),)


def _einsum_letters(equation: str, shapes: list) -> tuple:
    """Parse an einsum equation into explicit subscripts: (one str per operand, the output str).

    '...' becomes letters the equation does not use, aligned to the right (broadcasting). Without
    '->' the output is the broadcast axes followed by the letters used once, in alphabetical
    order (numpy's and PyTorch's implicit mode); a '->' output without '...' sums those axes.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    parts = lhs.split(",")
    if len(parts) != len(shapes):
        raise ShapeError(f"einsum: '{equation}' has {len(parts)} operand subscript(s), got {len(shapes)} operand(s)")
    for s in parts + [rhs]:
        bad = set(s.replace("...", "")) - set(string.ascii_letters)
        if bad or s.count("...") > 1:
            raise ShapeError(f"einsum: '{equation}' is not an equation of letters, ',', '->' and at most one "
                             "'...' per operand")
    unused = [c for c in string.ascii_letters if c not in eq]
    counts = []
    for s, shape in zip(parts, shapes):
        named = len(s.replace("...", ""))
        n = len(shape) - named
        if ("..." in s and n < 0) or ("..." not in s and n != 0):
            raise ShapeError(f"einsum: subscripts '{s}' do not fit an operand of shape {tuple(shape)}")
        counts.append(n if "..." in s else 0)
    ell = "".join(unused[:max(counts, default=0)])
    ins = [s.replace("...", ell[len(ell) - n:] if n else "") for s, n in zip(parts, counts)]
    if arrow:
        out = rhs.replace("...", ell)
        if len(set(out)) != len(out) or set(out) - set("".join(ins)):
            raise ShapeError(f"einsum: the output '{rhs}' of '{equation}' repeats a letter or names one no "
                             "operand has")
    else:
        letters = "".join(parts).replace(".", "")
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins, out


class Einsum(Function):
    """Einstein summation over any number of operands (numpy's ``einsum`` with PyTorch's rules).

    The gradient of operand i is itself an einsum: the output gradient contracted with the
    other operands onto operand i's letters; a letter only operand i has (summed inside it) is
    broadcast back, a repeated letter (a diagonal) is written onto the diagonal, and a
    broadcast size-1 axis is summed.
    """

    op = "einsum"

    def forward(self, *arrays, equation):
        self.ins, self.out = ins, out = _einsum_letters(equation, [a.shape for a in arrays])
        self.arrays = arrays
        return np.einsum(",".join(ins) + "->" + out, *arrays, optimize=len(arrays) > 2)

    def backward(self, g):
        return tuple(self._grad(i, g) if need else None for i, need in enumerate(self.needs_input_grad))

    def _grad(self, i: int, g: np.ndarray) -> np.ndarray:
        ins, arrays = self.ins, self.arrays
        a, subs = arrays[i], ins[i]
        others = [j for j in range(len(arrays)) if j != i]
        unique = "".join(dict.fromkeys(subs))  # operand i's letters, each once, in order
        reachable = set(self.out).union(*(ins[j] for j in others))
        target = "".join(c for c in unique if c in reachable)
        r = np.einsum(",".join([self.out] + [ins[j] for j in others]) + "->" + target,
                      g, *[arrays[j] for j in others], optimize=len(arrays) > 2)
        # letters of operand i the result lacks get size-1 axes, then all go into ``unique``'s order
        sizes = {c: n for c, n in zip(subs, a.shape)}
        have = target + "".join(c for c in unique if c not in target)
        r = np.transpose(r.reshape(r.shape + (1,) * (len(have) - len(target))), [have.index(c) for c in unique])
        full = tuple(sizes[c] for c in unique)
        axes = tuple(k for k, (m, n) in enumerate(zip(r.shape, full)) if m != n and n == 1)
        if axes:  # operand i was broadcast along these axes
            r = r.sum(axis=axes, keepdims=True)
        r = np.broadcast_to(r, full)
        if len(unique) == len(subs):
            return np.ascontiguousarray(np.transpose(r, [unique.index(c) for c in subs])).astype(g.dtype, copy=False)
        # a repeated letter: only the diagonal was read, so only the diagonal gets a gradient
        grad = np.zeros(a.shape, dtype=g.dtype)
        index = tuple(np.arange(sizes[c]).reshape([-1 if u == c else 1 for u in unique]) for c in subs)
        grad[index] = r
        return grad
