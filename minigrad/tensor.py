"""``Tensor``: a numpy array that records the ops applied to it, and the functions that create tensors.

Each op method is one line that hands numpy arrays to a primitive in ``ops``; composites
(``mean``, ``var``, ``squeeze``, ...) are built from primitives and get their gradients for free.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops as _ops
from . import random as _random
from .function import ShapeError, run_backward
from .modes import modes as _modes

__all__ = [
    "Tensor", "set_default_dtype", "get_default_dtype",
    "zeros", "ones", "full", "eye", "arange", "randn", "rand", "uniform", "zeros_like", "ones_like",
    "cat", "stack", "where", "maximum", "minimum", "one_hot",
]

_DEFAULT_DTYPE = np.dtype(np.float32)


def set_default_dtype(dtype) -> None:
    """Set the floating dtype for Python numbers, lists and factories (float32 unless changed)."""
    global _DEFAULT_DTYPE
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"the default dtype must be a floating type, got {dt}")
    _DEFAULT_DTYPE = dt


def get_default_dtype() -> np.dtype:
    """The floating dtype used for Python numbers, lists and factories."""
    return _DEFAULT_DTYPE


def _to_array(data, dtype=None) -> np.ndarray:
    """Copy ``data`` into a new array: floats get the default dtype unless ``dtype`` is given;
    numpy arrays keep theirs; Python ints and bools stay integer and boolean (as in PyTorch)."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    arr = np.array(data)
    if arr.dtype.kind == "f":
        arr = arr.astype(_DEFAULT_DTYPE)
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"cannot make a Tensor from {type(data).__name__} data of dtype {arr.dtype}")
    return arr


def _shape(args) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike, as PyTorch does."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _check_grad_dtype(arr: np.ndarray) -> None:
    if arr.dtype.kind != "f":
        raise TypeError(
            f"only floating-point tensors can require gradients (a derivative needs a continuum); "
            f"this tensor has dtype {arr.dtype}. Create it with dtype=float32 or float64.")


class Tensor:
    """An n-dimensional array with reverse-mode autograd.

    >>> x = Tensor([[1.0, 2.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy()
    array([[2., 4.]], dtype=float32)
    """

    __slots__ = ("data", "grad", "requires_grad", "parents", "_ctx", "scope", "name", "_retain",
                 "_hooks", "__weakref__")
    # numpy hands `array * tensor` to Tensor.__rmul__ instead of looping over the tensor
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        arr = _to_array(data, dtype)
        if requires_grad:
            _check_grad_dtype(arr)
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.parents = ()
        self._ctx = None
        self.scope = _modes().scope
        self.name = name
        self._retain = False
        self._hooks = None

    # internal constructors: no copies, no checks -----------------------------------------------
    @classmethod
    def _const(cls, arr: np.ndarray, scope: str | None = None) -> "Tensor":
        t = object.__new__(cls)
        t.data = arr
        t.grad = None
        t.requires_grad = False
        t.parents = ()
        t._ctx = None
        t.scope = _modes().scope if scope is None else scope
        t.name = None
        t._retain = False
        t._hooks = None
        return t

    @classmethod
    def _node(cls, arr: np.ndarray, fn, parents: tuple, scope: str) -> "Tensor":
        t = object.__new__(cls)
        t.data = arr
        t.grad = None
        t.requires_grad = True
        t.parents = parents
        t._ctx = fn
        t.scope = scope
        t.name = None
        t._retain = False
        t._hooks = None
        return t

    def _lift(self, other) -> "Tensor":
        """Turn a Python number or array operand into a constant tensor (numbers take our dtype)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, np.generic):
            if self.data.dtype.kind == "f":
                return Tensor._const(np.asarray(other, dtype=self.data.dtype))
            if isinstance(other, float):
                return Tensor._const(np.asarray(other, dtype=_DEFAULT_DTYPE))
        return Tensor._const(np.asarray(other))

    # attributes ---------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements (numpy's meaning; PyTorch's ``size()`` is ``shape`` here)."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (user-created, parameters, detached)."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The ``Function`` instance that made this tensor (``None`` for leaves). It keeps its class
        and ``options``, so tools can re-run the op on its parents' data (viz's per-op gradcheck);
        after a backward without ``retain_graph`` it is only a marker holding ``op``."""
        return self._ctx

    @property
    def op(self) -> str:
        """Name of the op that produced this tensor (``""`` for leaves)."""
        return "" if self._ctx is None else self._ctx.op

    def numel(self) -> int:
        """Number of elements (PyTorch's name for ``size``)."""
        return self.data.size

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """The data as nested Python lists."""
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._const(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or, on a leaf, stop) recording ops on this tensor, in place; returns it."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        if requires_grad:
            _check_grad_dtype(self.data)
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after ``backward()`` (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retain = True
        return self

    def register_hook(self, hook) -> "_HookHandle":
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook() on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        handle = _HookHandle(self)
        self._hooks[handle.key] = hook
        return handle

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        ``gradient`` is needed when ``self`` is not a scalar (the vector in the vector-Jacobian
        product). The graph's buffers are freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input had requires_grad=True, "
                "or it was computed under no_grad()")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without `gradient` needs a scalar, but this tensor has shape {self.shape}; "
                    "reduce it first (e.g. .sum()) or pass gradient= of the same shape")
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): gradient has shape {grad.shape}, the tensor has shape {self.shape}")
        run_backward(self, grad, retain_graph)

    # Python protocol ----------------------------------------------------------------------------
    __hash__ = object.__hash__

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __setitem__(self, index, value):
        raise TypeError("Tensors are not assigned in place (it would corrupt recorded graphs); "
                        "build a new tensor with where(), cat() or arithmetic instead")

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=40, prefix="Tensor(")
        extra = [f"dtype={self.dtype}"]
        if self._ctx is not None:
            extra.append(f"op='{self.op}'")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.scope:
            extra.append(f"scope='{self.scope}'")
        return f"Tensor({body}, {', '.join(extra)})"

    # arithmetic ---------------------------------------------------------------------------------
    def __add__(self, other): return _ops.Add.apply(self, self._lift(other))
    def __radd__(self, other): return _ops.Add.apply(self._lift(other), self)
    def __sub__(self, other): return _ops.Sub.apply(self, self._lift(other))
    def __rsub__(self, other): return _ops.Sub.apply(self._lift(other), self)
    def __mul__(self, other): return _ops.Mul.apply(self, self._lift(other))
    def __rmul__(self, other): return _ops.Mul.apply(self._lift(other), self)
    def __truediv__(self, other): return _ops.Div.apply(self, self._lift(other))
    def __rtruediv__(self, other): return _ops.Div.apply(self._lift(other), self)
    def __matmul__(self, other): return _ops.MatMul.apply(self, self._lift(other))
    def __rmatmul__(self, other): return _ops.MatMul.apply(self._lift(other), self)
    def __neg__(self): return _ops.Neg.apply(self)

    def __pow__(self, other):
        if isinstance(other, numbers.Real) and not isinstance(other, np.generic):
            return _ops.PowScalar.apply(self, exponent=other)
        return _ops.Pow.apply(self, self._lift(other))

    def __rpow__(self, other): return _ops.Pow.apply(self._lift(other), self)

    def matmul(self, other): return self @ other
    def maximum(self, other): return _ops.Maximum.apply(self, self._lift(other))
    def minimum(self, other): return _ops.Minimum.apply(self, self._lift(other))

    # comparisons: not differentiable, return boolean tensors
    def _raw(self, other): return other.data if isinstance(other, Tensor) else other
    def __lt__(self, other): return Tensor._const(np.asarray(self.data < self._raw(other)))
    def __le__(self, other): return Tensor._const(np.asarray(self.data <= self._raw(other)))
    def __gt__(self, other): return Tensor._const(np.asarray(self.data > self._raw(other)))
    def __ge__(self, other): return Tensor._const(np.asarray(self.data >= self._raw(other)))
    def __eq__(self, other): return Tensor._const(np.asarray(self.data == self._raw(other)))
    def __ne__(self, other): return Tensor._const(np.asarray(self.data != self._raw(other)))

    def any(self) -> bool: return bool(self.data.any())
    def all(self) -> bool: return bool(self.data.all())

    # elementwise functions ----------------------------------------------------------------------
    def neg(self): return _ops.Neg.apply(self)
    def exp(self): return _ops.Exp.apply(self)
    def log(self): return _ops.Log.apply(self)
    def sqrt(self): return _ops.Sqrt.apply(self)
    def abs(self): return _ops.Abs.apply(self)
    def tanh(self): return _ops.Tanh.apply(self)
    def sigmoid(self): return _ops.Sigmoid.apply(self)
    def relu(self): return _ops.Relu.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01):
        return _ops.LeakyRelu.apply(self, negative_slope=negative_slope)

    def softplus(self, beta: float = 1.0, threshold: float = 20.0):
        return _ops.Softplus.apply(self, beta=beta, threshold=threshold)

    def clip(self, min=None, max=None):
        """Clamp into [min, max] (either may be None); the gradient passes only inside."""
        if min is None and max is None:
            raise ValueError("clip() needs at least one of min and max")
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    def astype(self, dtype):
        """Dtype conversion: differentiable between floating dtypes (the gradient is converted
        back); a cast to or from an integer or boolean dtype gives a constant, as in PyTorch."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind != "f" or self.dtype.kind != "f":
            return Tensor._const(self.data.astype(dtype))
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self): return self.astype(np.float32)
    def double(self): return self.astype(np.float64)

    # reductions ---------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        """Sum over ``axis`` (an int, a tuple, or None for all axes)."""
        return _ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return self.sum(axis, keepdims) * (1.0 / _count(self.shape, axis, "mean"))

    def var(self, axis=None, keepdims: bool = False, correction: int = 1):
        """Variance with Bessel's correction by default (PyTorch's ``correction=1``, numpy's ``ddof``)."""
        n = _count(self.shape, axis, "var")
        if n <= correction:
            raise ValueError(f"var: {n} element(s) per reduction is too few for correction={correction}")
        d = self - self.mean(axis, keepdims=True)
        return (d * d).sum(axis, keepdims) * (1.0 / (n - correction))

    def max(self, axis=None, keepdims: bool = False):
        """Largest element over ``axis``; tied elements share the gradient evenly."""
        return _ops.Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False):
        """Smallest element over ``axis``; tied elements share the gradient evenly."""
        return _ops.Min.apply(self, axis=_axis(axis), keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims: bool = False):
        """log(sum(exp(x))) over ``axis`` without overflow; a slice of only -inf gives -inf."""
        return _ops.LogSumExp.apply(self, axis=_axis(axis), keepdims=keepdims)

    def softmax(self, axis: int = -1): return _ops.Softmax.apply(self, axis=axis)
    def log_softmax(self, axis: int = -1): return _ops.LogSoftmax.apply(self, axis=axis)

    def argmax(self, axis=None, keepdims: bool = False):
        """Index of the largest element (first on ties), as a constant int64 tensor."""
        return Tensor._const(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdims)))

    def argmin(self, axis=None, keepdims: bool = False):
        """Index of the smallest element (first on ties), as a constant int64 tensor."""
        return Tensor._const(np.asarray(np.argmin(self.data, axis=axis, keepdims=keepdims)))

    # movement -----------------------------------------------------------------------------------
    def reshape(self, *shape): return _ops.Reshape.apply(self, shape=_shape(shape))
    view = reshape

    def permute(self, *axes): return _ops.Permute.apply(self, axes=_shape(axes))

    def transpose(self, axis0: int = -2, axis1: int = -1):
        """Swap two axes (PyTorch's meaning; ``permute`` reorders all of them)."""
        axes = list(range(self.ndim))
        try:
            axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
        except IndexError:
            raise ShapeError(
                f"transpose: axes {axis0} and {axis1} are out of range for shape {self.shape}") from None
        return self.permute(*axes)

    @property
    def T(self): return self.permute(*range(self.ndim - 1, -1, -1))

    def expand(self, *shape):
        """Broadcast to ``shape`` (new axes in front; -1 keeps an axis's size) without copying."""
        shape = _shape(shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: target {shape} has fewer axes than the tensor's shape {self.shape}")
        full = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
        return _ops.Expand.apply(self, shape=full)

    def squeeze(self, axis=None):
        """Drop size-1 axes (all, or those in ``axis``; an ``axis`` of another size is kept)."""
        if axis is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        axes = {a % self.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes or n != 1))

    def unsqueeze(self, axis: int):
        """Insert a size-1 axis at position ``axis``."""
        axis = axis if axis >= 0 else axis + self.ndim + 1
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def flatten(self, start_axis: int = 0, end_axis: int = -1):
        """Merge axes ``start_axis..end_axis`` (inclusive) into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_axis % self.ndim, end_axis % self.ndim
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def flip(self, axis=None): return _ops.Flip.apply(self, axis=_axis(axis))

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_index(index))

    def split(self, split_size_or_sections, axis: int = 0) -> tuple:
        """Split along ``axis`` into pieces of one size (the last may be smaller) or of given sizes."""
        n = self.shape[axis]
        if isinstance(split_size_or_sections, int):
            step = split_size_or_sections
            if step <= 0:
                raise ValueError(f"split size must be positive, got {step}")
            sizes = [min(step, n - s) for s in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split sizes {sizes} sum to {sum(sizes)}, but axis {axis} has length {n}")
        pre = (slice(None),) * (axis % self.ndim)
        starts = np.cumsum([0] + sizes)
        return tuple(self[pre + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:]))

    def chunk(self, chunks: int, axis: int = 0) -> tuple:
        """Split into ``chunks`` nearly equal pieces (PyTorch's rule: ceil(n / chunks) each)."""
        n = self.shape[axis]
        return self.split(max(-(-n // chunks), 1), axis)


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next = 0

    def __init__(self, tensor: Tensor):
        _HookHandle._next += 1
        self.key = _HookHandle._next
        self._tensor = tensor

    def remove(self) -> None:
        if self._tensor._hooks:
            self._tensor._hooks.pop(self.key, None)


def _count(shape: tuple, axis, what: str) -> int:
    """How many elements each output of a reduction over ``axis`` combines."""
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    if n == 0:
        raise ValueError(f"{what}: reducing over an empty axis of shape {shape}")
    return n


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _index(index):
    """Replace tensors inside an index by their arrays; lists become arrays (advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_index_item(i) for i in index)
    return _index_item(index)


def _index_item(i):
    if isinstance(i, Tensor):
        return i.data
    if isinstance(i, list):
        return np.asarray(i)
    return i


# creation -------------------------------------------------------------------------------------
def _new(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._const(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype) -> np.dtype:
    return _DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (default floating dtype unless ``dtype``)."""
    return _new(np.zeros(_shape(shape), dtype=_float(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (default floating dtype unless ``dtype``)."""
    return _new(np.ones(_shape(shape), dtype=_float(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _new(np.full(shape, fill_value, dtype=_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """The n x m (default n x n) identity matrix."""
    return _new(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Like PyTorch: integer arguments give int64, any float gives the default float dtype."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else _DEFAULT_DTYPE
    return _new(np.arange(start, stop, step, dtype=dtype), requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples, from ``generator`` or the global one (see ``manual_seed``)."""
    g = _random.generator(generator)
    return _new(g.standard_normal(_shape(shape)).astype(_float(dtype)), requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    g = _random.generator(generator)
    return _new(g.random(_shape(shape)).astype(_float(dtype)), requires_grad)


def uniform(*shape, low: float = 0.0, high: float = 1.0, dtype=None, requires_grad: bool = False,
            generator=None) -> Tensor:
    """Uniform samples in [low, high)."""
    g = _random.generator(generator)
    return _new(g.uniform(low, high, _shape(shape)).astype(_float(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and (unless ``dtype``) dtype."""
    return _new(np.zeros(t.shape, dtype=t.dtype if dtype is None else dtype), requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and (unless ``dtype``) dtype."""
    return _new(np.ones(t.shape, dtype=t.dtype if dtype is None else dtype), requires_grad)


# free functions -------------------------------------------------------------------------------
def _tensors(ts, what: str) -> list:
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in ts]
    if not ts:
        raise ValueError(f"{what}() needs at least one tensor")
    return ts


def cat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = _tensors(tensors, "cat")
    shapes = [t.shape for t in ts]
    ndim = ts[0].ndim
    ax = axis % ndim if ndim else 0
    if any(len(s) != ndim or s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:] for s in shapes):
        raise ValueError(f"cat: shapes {shapes} differ outside axis {axis}")
    return _ops.Cat.apply(*ts, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = _tensors(tensors, "stack")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in ts]}")
    return _ops.Stack.apply(*ts, axis=axis)


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting; numbers allowed for a or b)."""
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    return _ops.Where.apply(Tensor._const(cond.astype(bool, copy=False)), like._lift(a), like._lift(b))


def maximum(a, b) -> Tensor:
    """Elementwise max with broadcasting; ties split the gradient evenly."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    return a.maximum(b)


def minimum(a, b) -> Tensor:
    """Elementwise min with broadcasting; ties split the gradient evenly."""
    a = a if isinstance(a, Tensor) else Tensor(a)
    return a.minimum(b)


def one_hot(indices, num_classes: int, dtype=None) -> Tensor:
    """Rows of the identity: ``one_hot(i, C)[..., c] == (i[...] == c)``; not differentiable."""
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: indices must lie in [0, {num_classes}), got range [{idx.min()}, {idx.max()}]")
    return Tensor._const(np.eye(num_classes, dtype=_float(dtype))[idx])

