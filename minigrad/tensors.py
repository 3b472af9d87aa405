"""``Tensor``: a numpy array that records the ops applied to it, and the functions that create tensors.

Each op method is one line that hands numpy arrays to a primitive in ``ops``; composites
(``mean``, ``var``, ``squeeze``, ...) are built from primitives and get their gradients for free.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops as _ops
from . import random as _random
from . import return_types as _return_types
from .function import ShapeError, modified_in_place, run_backward
from .modes import modes as _modes

__all__ = [
    "Tensor", "set_default_dtype", "get_default_dtype",
    "zeros", "ones", "full", "eye", "arange", "randn", "rand", "uniform", "zeros_like", "ones_like",
    "cat", "stack", "where", "maximum", "minimum", "one_hot",
    "tanh", "sigmoid", "exp", "log", "logsumexp", "matmul", "einsum", "from_dlpack",
]

_DEFAULT_DTYPE = np.dtype(np.float32)
_new_object = object.__new__


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

    # ``_version`` counts the in-place ops on this tensor; ``_stamp`` (set by the first one, see
    # ``function.modified_in_place``) says when the last one ran, for backward's check
    __slots__ = ("data", "grad", "requires_grad", "parents", "_ctx", "scope", "name", "_retain",
                 "_hooks", "_version", "_stamp", "__weakref__")
    # numpy hands `array * tensor` to Tensor.__rmul__ instead of looping over the tensor
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        arr = _to_array(data, dtype)
        if requires_grad:
            _check_grad_dtype(arr)
        Tensor._node(arr, t=self)
        self.requires_grad = bool(requires_grad)
        self.name = name

    # internal constructor: no copies, no checks ------------------------------------------------
    @staticmethod
    def _node(arr: np.ndarray, scope: str | None = None, fn=None, parents: tuple = (), t=None) -> "Tensor":
        """The one place a tensor's fields are set: a node made by ``fn`` from ``parents`` (it
        requires grad), or with no ``fn`` a constant (``_const``); ``scope`` defaults to the current
        one. ``t``: fill this object (``__init__``) instead of a new one.

        Always a ``Tensor``, whatever the class of the inputs: ``w * 2`` is no ``Parameter``.
        NOTE: every op's result is made here, right after ``Function.apply``: each line is one
        attribute store, and a staticmethod is called faster than a classmethod.
        """
        if t is None:
            t = _new_object(Tensor)
        t.data = arr
        t.grad = None
        t.requires_grad = fn is not None
        t.parents = parents
        t._ctx = fn
        t.scope = _modes().scope if scope is None else scope
        t.name = None
        t._retain = False
        t._hooks = None
        t._version = 0
        return t

    _const = _node  # a constant is a node without fn: _const(arr) or _const(arr, scope)

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

    def size(self, dim: int | None = None):
        """The shape (a tuple), or with ``dim`` that dimension's length: PyTorch's meaning, not
        numpy's element count (that is ``numel()``)."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_dim_of(self, dim, "size")]

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

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
        """The number of elements."""
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
            grad = np.asarray(as_array(gradient), dtype=self.dtype)
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
        raise TypeError("Tensors are not assigned in place by index (x[i] = v); build the new tensor with "
                        "where() or masked_fill(), or change a whole tensor with add_(), copy_(), fill_()...")

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

    # in place: PyTorch's rules ----------------------------------------------------------------
    def add_(self, other, *, alpha=1):
        """``self += alpha * other`` in place (see ``_in_place`` for the rules); returns self."""
        return self._in_place("add_", _add, other, alpha)

    def sub_(self, other, *, alpha=1):
        """``self -= alpha * other`` in place; returns self."""
        return self._in_place("sub_", _sub, other, alpha)

    def mul_(self, other):
        """``self *= other`` in place; returns self."""
        return self._in_place("mul_", Tensor.__mul__, other)

    def div_(self, other):
        """``self /= other`` in place; returns self."""
        return self._in_place("div_", Tensor.__truediv__, other)

    def clamp_(self, min=None, max=None):
        """Clamp into [min, max] in place; returns self."""
        return self._in_place("clamp_", Tensor.clip, min, max)

    def fill_(self, value):
        """Set every element to ``value`` (a number or a 0-d tensor) in place; returns self."""
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError(f"fill_: value must be a number or a 0-d tensor, got shape {value.shape}")
        return self._in_place("fill_", _fill, value, casting="unsafe")

    def zero_(self):
        """Set every element to 0 in place; returns self."""
        return self._in_place("zero_", _fill, 0, casting="unsafe")

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, converted to this dtype) into this tensor; returns self."""
        return self._in_place("copy_", _fill, src, casting="unsafe")

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def _in_place(self, what: str, compute, *operands, casting: str = "same_kind") -> "Tensor":
        """Make ``compute(self, *operands)`` (the out-of-place op) this tensor's value, by PyTorch's rules.

        Under ``no_grad()``, or when nothing involved requires grad, the result is written into
        this tensor's memory (views of it see the change). A leaf that requires grad refuses
        while gradients are recorded: it is the graph's input. Any other tensor, when something
        involved requires grad, becomes the recorded op's output (its earlier value stays the
        op's input). Either way ``_version`` counts up, and a backward through a node recorded
        earlier that used or made this tensor raises.
        """
        m = _modes()
        if m.grad and (self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)):
            if self.requires_grad and self._ctx is None:
                raise RuntimeError(
                    f"{what}: a leaf tensor that requires grad cannot be modified in place while gradients are "
                    "recorded (it is an input of the graph). Do it under minigrad.no_grad() (an optimizer "
                    "step), or modify a copy (y = x * 2).")
            before = Tensor._node(self.data, self.scope, self._ctx, self.parents)
            before.requires_grad, before._version = self.requires_grad, self._version
            if hasattr(self, "_stamp"):
                before._stamp = self._stamp
            new = _in_place_result(what, self, compute(before, *operands), casting)
            modified_in_place(self)
            if new._ctx is not None:  # recorded as of the change: it reads ``before``, not this tensor
                new._ctx._epoch = self._stamp
            self.data, self._ctx, self.parents = new.data, new._ctx, new.parents
            self.requires_grad, self.scope = new.requires_grad, new.scope
            return self
        if not self.data.flags.writeable:
            raise RuntimeError(f"{what}: this tensor's memory is read-only (an expand() or broadcast shares one "
                               "element among many places); clone() it first")
        new = _in_place_result(what, self, compute(self, *operands), casting)
        np.copyto(self.data, new.data, casting="unsafe")
        modified_in_place(self)
        return self

    # comparisons: not differentiable, return boolean tensors; a Python number stays a weak scalar
    # (numpy's promotion rules), so a float32 tensor is compared in float32, as in PyTorch
    def __lt__(self, other): return Tensor._const(np.asarray(self.data < _operand(other)))
    def __le__(self, other): return Tensor._const(np.asarray(self.data <= _operand(other)))
    def __gt__(self, other): return Tensor._const(np.asarray(self.data > _operand(other)))
    def __ge__(self, other): return Tensor._const(np.asarray(self.data >= _operand(other)))
    def __eq__(self, other): return Tensor._const(np.asarray(self.data == _operand(other)))
    def __ne__(self, other): return Tensor._const(np.asarray(self.data != _operand(other)))

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
    # ``dim``/``keepdim`` are PyTorch's names, numpy's ``axis``/``keepdims`` their aliases
    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Sum over ``dim`` (an int, a tuple, or None for all dims)."""
        dim, keepdim = _reduce_dims("sum", dim, keepdim, axis, keepdims)
        return _ops.Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        dim, keepdim = _reduce_dims("mean", dim, keepdim, axis, keepdims)
        return _ops.Sum.apply(self, axis=dim, keepdims=keepdim) * (1.0 / _count(self.shape, dim, "mean"))

    def var(self, dim=None, unbiased: bool | None = None, keepdim=None, *, correction: int | None = None,
            axis=None, keepdims=None):
        """Variance with Bessel's correction by default (PyTorch's ``correction=1``, numpy's
        ``ddof``); ``unbiased=False`` (PyTorch's older spelling) is ``correction=0``."""
        dim, keepdim = _reduce_dims("var", dim, keepdim, axis, keepdims)
        correction = _correction(correction, unbiased, "var")
        n = _count(self.shape, dim, "var")
        if n <= correction:
            raise ValueError(f"var: {n} element(s) per reduction is too few for correction={correction}")
        d = self - self.mean(dim, True)
        return (d * d).sum(dim, keepdim) * (1.0 / (n - correction))

    def std(self, dim=None, unbiased: bool | None = None, keepdim=None, *, correction: int | None = None,
            axis=None, keepdims=None):
        """Standard deviation, the square root of ``var`` (same arguments)."""
        dim, keepdim = _reduce_dims("std", dim, keepdim, axis, keepdims)
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """``max()``: the largest element (tied elements share the gradient evenly).
        ``max(dim)``: the named pair ``(values, indices)`` along ``dim``, as PyTorch's (the first
        index on ties; the gradient goes to it). ``max(other)``: the elementwise ``maximum``.
        ``amax`` reduces several dims and returns the values only."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        dim, keepdim = _reduce_dims("max", dim, keepdim, axis, keepdims)
        if dim is None:
            return _ops.Max.apply(self, axis=None, keepdims=keepdim)
        return _return_types.max(*self._select(dim, keepdim, np.argmax, "max"))

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """``min()``, ``min(dim) -> (values, indices)``, ``min(other)``: as ``max``."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        dim, keepdim = _reduce_dims("min", dim, keepdim, axis, keepdims)
        if dim is None:
            return _ops.Min.apply(self, axis=None, keepdims=keepdim)
        return _return_types.min(*self._select(dim, keepdim, np.argmin, "min"))

    def _select(self, dim, keepdim: bool, arg, what: str) -> tuple:
        """(values, indices) of ``max(dim)``/``min(dim)``: ``arg`` (np.argmax or np.argmin) picks."""
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{what}(dim) takes one int dim, got {dim!r}; a{what}(dim) reduces several")
        d = _dim_of(self, dim, what)
        if self.shape[d] == 0:
            raise ShapeError(f"{what}: cannot reduce the empty dim {dim} of shape {self.shape}")
        idx = np.expand_dims(arg(self.data, axis=d), d)
        values = self.gather(d, idx)
        if keepdim:
            return values, Tensor._const(idx)
        return values.squeeze(d), Tensor._const(np.squeeze(idx, d))

    def amax(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The largest values over ``dim`` (an int, a tuple, or None for all); tied elements share
        the gradient evenly."""
        dim, keepdim = _reduce_dims("amax", dim, keepdim, axis, keepdims)
        return _ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The smallest values over ``dim``; tied elements share the gradient evenly."""
        dim, keepdim = _reduce_dims("amin", dim, keepdim, axis, keepdims)
        return _ops.Min.apply(self, axis=dim, keepdims=keepdim)

    def logsumexp(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """log(sum(exp(x))) over ``dim`` without overflow; a slice of only -inf gives -inf."""
        dim, keepdim = _reduce_dims("logsumexp", dim, keepdim, axis, keepdims)
        return _ops.LogSumExp.apply(self, axis=dim, keepdims=keepdim)

    def softmax(self, dim: int | None = None, *, axis: int | None = None):
        """exp(x) / sum(exp(x)) along ``dim`` (the last unless given)."""
        dim = _spelling("softmax", "dim", dim, "axis", axis)
        return _ops.Softmax.apply(self, axis=-1 if dim is None else dim)

    def log_softmax(self, dim: int | None = None, *, axis: int | None = None):
        """log(softmax(x)) along ``dim`` (the last unless given), computed stably."""
        dim = _spelling("log_softmax", "dim", dim, "axis", axis)
        return _ops.LogSoftmax.apply(self, axis=-1 if dim is None else dim)

    def argmax(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Index of the largest element (first on ties), as a constant int64 tensor."""
        dim, keepdim = _reduce_dims("argmax", dim, keepdim, axis, keepdims)
        return Tensor._const(np.asarray(np.argmax(self.data, axis=dim, keepdims=keepdim)))

    def argmin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Index of the smallest element (first on ties), as a constant int64 tensor."""
        dim, keepdim = _reduce_dims("argmin", dim, keepdim, axis, keepdims)
        return Tensor._const(np.asarray(np.argmin(self.data, axis=dim, keepdims=keepdim)))

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

    def squeeze(self, dim=None, *, axis=None):
        """Drop size-1 dims (all, or those in ``dim``, an int or a tuple; a dim of another size
        is kept, as in PyTorch)."""
        dim = _spelling("squeeze", "dim", dim, "axis", axis)
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {_dim_of(self, d, "squeeze") for d in ((dim,) if isinstance(dim, (int, np.integer)) else dim)}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in dims or n != 1))

    def unsqueeze(self, dim: int | None = None, *, axis: int | None = None):
        """Insert a size-1 dim at position ``dim`` (counted in the result: -1 appends one)."""
        dim = _spelling("unsqueeze", "dim", dim, "axis", axis)
        if dim is None:
            raise TypeError("unsqueeze() needs the position of the new dim (dim=)")
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise ShapeError(f"unsqueeze: dim {dim} is out of range for a tensor of shape {self.shape} "
                             f"(the result has {self.ndim + 1} dims)")
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge dims ``start_dim..end_dim`` (inclusive) into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def flip(self, *args, dims=None, axis=None):
        """Reverse the order along ``dims`` (``flip(0)``, ``flip(0, 1)``, ``flip(dims=(0,))``;
        numpy's ``axis=`` too); all dims if none are given."""
        if args:
            if dims is not None:
                raise TypeError("flip() got dims both as arguments and as dims=; pass them once")
            dims = args[0] if len(args) == 1 else args
        dims = _spelling("flip", "dims", dims, "axis", axis)
        return _ops.Flip.apply(self, axis=tuple(dims) if isinstance(dims, list) else dims)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_index(index))

    def split(self, split_size_or_sections, dim: int | None = None, *, axis: int | None = None) -> tuple:
        """Split along ``dim`` (0 unless given) into pieces of one size (the last may be smaller)
        or of the given sizes."""
        dim = _spelling("split", "dim", dim, "axis", axis)
        d = _dim_of(self, 0 if dim is None else dim, "split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split size must be positive, got {step}")
            sizes = [min(step, n - s) for s in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split sizes {sizes} sum to {sum(sizes)}, but dim {d} has length {n}")
        pre = (slice(None),) * d
        starts = np.cumsum([0] + sizes)
        return tuple(self[pre + (slice(int(a), int(b)),)] for a, b in zip(starts[:-1], starts[1:]))

    def chunk(self, chunks: int, dim: int | None = None, *, axis: int | None = None) -> tuple:
        """Split into ``chunks`` nearly equal pieces along ``dim`` (0 unless given; PyTorch's rule:
        ceil(n / chunks) each)."""
        dim = _spelling("chunk", "dim", dim, "axis", axis)
        d = _dim_of(self, 0 if dim is None else dim, "chunk")
        return self.split(max(-(-self.shape[d] // chunks), 1), d)

    # PyTorch's further vocabulary (issue 15) ----------------------------------------------------
    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor comes back as it is (PyTorch's ``t``)."""
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor of at most 2 dimensions, got shape {self.shape}; "
                                       "use transpose(dim0, dim1) or permute")
        return self.permute(1, 0) if self.ndim == 2 else self

    def mm(self, mat2):
        """The product of two matrices, without broadcasting (``matmul`` broadcasts)."""
        mat2 = self._lift(mat2)
        if self.ndim != 2 or mat2.ndim != 2:
            raise ShapeError(f"mm: both operands must be 2-D, got shapes {self.shape} and {mat2.shape}")
        return _ops.MatMul.apply(self, mat2)

    def bmm(self, mat2):
        """Batched matrix product: (b, n, m) @ (b, m, p) -> (b, n, p), without broadcasting."""
        mat2 = self._lift(mat2)
        if self.ndim != 3 or mat2.ndim != 3 or self.shape[0] != mat2.shape[0]:
            raise ShapeError(
                f"bmm: operands must be 3-D with the same batch size, got shapes {self.shape} and {mat2.shape}")
        return _ops.MatMul.apply(self, mat2)

    def pow(self, exponent): return self ** exponent
    def square(self): return _ops.PowScalar.apply(self, exponent=2)

    def sign(self):
        """-1, 0 or 1 elementwise; differentiable with a zero gradient, as in PyTorch."""
        return _ops.Sign.apply(self)

    def norm(self, p="fro", dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The vector p-norm over ``dim`` (all elements if None): (sum |x|^p)^(1/p).

        ``p`` is a number > 0, ``"fro"`` (2), ``inf`` (max |x|), ``-inf`` (min |x|) or 0 (the count
        of non-zero elements, with a zero gradient). At a zero norm the gradient is 0.
        """
        dim, keepdim = _reduce_dims("norm", dim, keepdim, axis, keepdims)
        if isinstance(p, str):
            if p != "fro":
                raise ValueError(f"norm: p={p!r} is not supported; use a number, inf, -inf or 'fro'")
            p = 2
        p = float(p)
        if p == np.inf:
            return self.abs().amax(dim, keepdim)
        if p == -np.inf:
            return self.abs().amin(dim, keepdim)
        if p == 0:
            return self.sign().abs().sum(dim, keepdim)
        if not p > 0:
            raise ValueError(f"norm: p must be positive, 0, inf, -inf or 'fro', got {p}")
        return _ops.Norm.apply(self, p=p, axis=dim, keepdims=keepdim)

    def masked_fill(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcast to this tensor's shape) is true, else this
        tensor; the gradient reaches this tensor only where the mask is false."""
        m = as_array(mask)
        if m.dtype != bool:
            raise TypeError(f"masked_fill: the mask must be boolean, got dtype {m.dtype}")
        if not _broadcasts_to(m.shape, self.shape):
            raise ShapeError(f"masked_fill: a mask of shape {m.shape} does not broadcast to {self.shape}")
        if isinstance(value, Tensor) and value.ndim:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        return where(m, value, self)

    def gather(self, dim: int, index):
        """``out[i][j][k] = self[index[i][j][k]][j][k]`` for dim 0 (likewise for other dims).

        ``index`` (integers) has as many dimensions as this tensor and no larger size on the
        other dims; repeated indices accumulate their gradients.
        """
        d = _dim_of(self, dim, "gather")
        idx = _int_array(index, "gather")
        if idx.ndim != self.ndim or any(m > n for a, (m, n) in enumerate(zip(idx.shape, self.shape)) if a != d):
            raise ShapeError(f"gather: index of shape {idx.shape} does not fit a tensor of shape "
                                       f"{self.shape} along dim {dim} (same rank, no larger size on the other dims)")
        _check_range(idx, self.shape[d], "gather")
        mesh = tuple(idx if a == d else np.arange(n).reshape([-1 if b == a else 1 for b in range(idx.ndim)])
                     for a, n in enumerate(idx.shape))
        return self[mesh]

    def index_select(self, dim: int, index):
        """The entries at the 1-d integer ``index`` along ``dim`` (repeats allowed; they accumulate)."""
        d = _dim_of(self, dim, "index_select")
        idx = _int_array(index, "index_select")
        if idx.ndim > 1:
            raise ShapeError(f"index_select: index must be 1-d, got shape {idx.shape}")
        _check_range(idx, self.shape[d], "index_select")
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def repeat(self, *sizes):
        """Tile the tensor ``sizes[i]`` times along dim i (leading sizes add dims): numpy's ``tile``."""
        sizes = _shape(sizes)
        if len(sizes) < self.ndim or any(r < 0 for r in sizes):
            raise ValueError(f"repeat: needs at least {self.ndim} non-negative sizes (one per dim), got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        x = self.reshape(tuple(v for n in shape for v in (1, n)))  # a size-1 axis before each one
        x = x.expand(tuple(v for r, n in zip(sizes, shape) for v in (r, n)))
        return x.reshape(tuple(r * n for r, n in zip(sizes, shape)))

    def clone(self):
        """A copy in new memory (recorded, so gradients pass): in-place ops on it leave this one alone."""
        return _ops.Clone.apply(self)

    def is_contiguous(self) -> bool:
        """Whether the data is laid out in C order."""
        return self.data.flags.c_contiguous

    def contiguous(self):
        """This tensor if its data is C-ordered, else a C-ordered copy (recorded, so gradients pass)."""
        return self if self.data.flags.c_contiguous else _ops.Contiguous.apply(self)

    def to(self, *args, dtype=None, device=None, copy: bool = False):
        """``to(dtype)``, ``to(other)`` (its dtype), ``to("cpu")``: numpy runs on the CPU only.
        A cast between floating dtypes is differentiable (see ``astype``)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xla"):
                device = a
            else:
                dtype = a
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"to({device!r}): minigrad computes with numpy on the CPU only")
        out = self if dtype is None else self.astype(dtype)
        return out.clone() if copy and out is self else out

    def long(self): return self.astype(np.int64)
    def int(self): return self.astype(np.int32)
    def bool(self): return self.astype(np.bool_)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """The ``k`` largest (or smallest) entries along ``dim`` and their indices, as the named pair
        ``(values, indices)``; always in sorted order, ties in index order. Values are differentiable."""
        d = _dim_of(self, dim, "topk")
        n = self.shape[d]
        if not 0 <= k <= n:
            raise ValueError(f"topk: k={k} is outside [0, {n}] (the size of dim {dim})")
        idx = np.take(_argsort(self.data, d, descending=largest), np.arange(k), axis=d)
        return _return_types.topk(self.gather(d, idx), Tensor._const(idx))

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False):
        """The entries sorted along ``dim`` and where they came from, as the named pair
        ``(values, indices)``. Always stable (equal entries keep their order), so ``stable`` is
        accepted for PyTorch's signature. Values are differentiable."""
        d = _dim_of(self, dim, "sort")
        idx = _argsort(self.data, d, descending=descending)
        return _return_types.sort(self.gather(d, idx), Tensor._const(idx))

    # numpy and DLPack interchange: no copies
    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` is the data itself (shared); numpy 2's ``dtype`` and ``copy`` are honoured."""
        arr = self.data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            if copy is False:
                raise ValueError(f"np.asarray(tensor, dtype={np.dtype(dtype)}, copy=False): "
                                 f"the data is {arr.dtype}, so converting it needs a copy")
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The data as a DLPack capsule (numpy's), so ``torch.from_dlpack(t)`` shares it."""
        options = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
        return self.data.__dlpack__(**{k: v for k, v in options.items() if v is not None})

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()


def _add(t: Tensor, other, alpha) -> Tensor:
    return t + (other if alpha == 1 else other * alpha)


def _sub(t: Tensor, other, alpha) -> Tensor:
    return t - (other if alpha == 1 else other * alpha)


def _fill(t: Tensor, value) -> Tensor:
    """``value`` everywhere ``t`` is (broadcast); the gradient goes to ``value``, none to ``t``."""
    return where(np.True_, value, t)


def _in_place_result(what: str, t: Tensor, new: Tensor, casting: str) -> Tensor:
    """``new`` checked to fit ``t`` (shape, dtype by ``casting``) and converted to ``t``'s dtype."""
    if new.shape != t.shape:
        raise RuntimeError(f"{what}: the result has shape {new.shape}, but this tensor has shape {t.shape}: "
                           "an in-place op cannot change the shape")
    if new.dtype != t.dtype:
        if not np.can_cast(new.dtype, t.dtype, casting):
            raise RuntimeError(f"{what}: the result is {new.dtype}, which this {t.dtype} tensor cannot hold")
        new = new.astype(t.dtype)
    return new


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


def _spelling(what: str, name: str, value, alias: str, alias_value):
    """The one place where PyTorch's keyword and its numpy alias (``dim``/``axis``,
    ``keepdim``/``keepdims``, ``dims``/``axis``) are resolved: the value of whichever was given,
    None if neither; a TypeError if both were."""
    if alias_value is None:
        return value
    if value is not None:
        raise TypeError(f"{what}() got {name}={value!r} and {alias}={alias_value!r}: they are one argument "
                        f"(PyTorch's and numpy's name for it); pass one")
    return alias_value


def _reduce_dims(what: str, dim, keepdim, axis, keepdims) -> tuple:
    """A reduction's (dim, keepdim) as the primitives take them: an int, a tuple or None, and a bool."""
    dim = _spelling(what, "dim", dim, "axis", axis)
    keepdim = _spelling(what, "keepdim", keepdim, "keepdims", keepdims)
    return (tuple(dim) if isinstance(dim, list) else dim), bool(keepdim)


def _correction(correction, unbiased, what: str) -> int:
    """The variance's divisor n - correction from PyTorch's ``correction`` or its older ``unbiased``."""
    if unbiased is None:
        return 1 if correction is None else correction
    if correction is not None:
        raise TypeError(f"{what}() got unbiased={unbiased!r} and correction={correction!r}: pass one")
    return 1 if unbiased else 0


def _dim_of(t: Tensor, dim: int, what: str) -> int:
    """``dim`` as a non-negative axis of ``t`` (ShapeError when ``t`` has no such dim)."""
    if not -t.ndim <= dim < t.ndim:
        raise ShapeError(f"{what}: dim {dim} is out of range for a tensor of shape {t.shape}")
    return dim % t.ndim


def _int_array(index, what: str) -> np.ndarray:
    idx = as_array(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{what}: index must hold integers, got dtype {idx.dtype}")
    return idx


def _check_range(idx: np.ndarray, n: int, what: str) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"{what}: indices must lie in [0, {n}), got values in [{idx.min()}, {idx.max()}]")


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to exactly ``target`` (without enlarging it)."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _argsort(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``axis``; descending keeps equal entries in index order as well
    (sorting the reversed array ascending, then reversing back)."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    return (n - 1) - np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)


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
def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (``torch.tensor``): Python floats take the default
    dtype, ints stay int64, numpy arrays keep theirs, unless ``dtype`` is given."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(data, dtype=None) -> Tensor:
    """``data`` itself if it is a Tensor (converted if ``dtype`` differs), else a constant tensor
    of it that shares a numpy array's memory (``torch.as_tensor``); lists and numbers are copied
    with ``Tensor``'s dtype rules."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return Tensor._const(data)
    return Tensor(data, dtype=dtype)


def _operand(x):
    """A comparison's other operand: a Tensor's array, anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def as_array(x) -> np.ndarray:
    """The array of a Tensor (shared, not copied), or ``np.asarray(x)`` of anything else: the one
    way for code that accepts tensors and array-likes alike."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _tensors(ts, what: str) -> list:
    ts = [as_tensor(t) for t in ts]
    if not ts:
        raise ValueError(f"{what}() needs at least one tensor")
    return ts


def cat(tensors, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim (0 unless given)."""
    dim = _spelling("cat", "dim", dim, "axis", axis)
    dim = 0 if dim is None else dim
    ts = _tensors(tensors, "cat")
    shapes = [t.shape for t in ts]
    ndim = ts[0].ndim
    d = dim % ndim if ndim else 0
    if any(len(s) != ndim or s[:d] + s[d + 1:] != shapes[0][:d] + shapes[0][d + 1:] for s in shapes):
        raise ValueError(f"cat: shapes {shapes} differ outside dim {dim}")
    return _ops.Cat.apply(*ts, axis=dim)


def stack(tensors, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dim (0 unless given)."""
    dim = _spelling("stack", "dim", dim, "axis", axis)
    ts = _tensors(tensors, "stack")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in ts]}")
    return _ops.Stack.apply(*ts, axis=0 if dim is None else dim)


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting; numbers allowed for a or b)."""
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    cond = as_array(cond)
    return _ops.Where.apply(Tensor._const(cond.astype(bool, copy=False)), like._lift(a), like._lift(b))


def maximum(a, b) -> Tensor:
    """Elementwise max with broadcasting; ties split the gradient evenly."""
    return as_tensor(a).maximum(b)


def minimum(a, b) -> Tensor:
    """Elementwise min with broadcasting; ties split the gradient evenly."""
    return as_tensor(a).minimum(b)


def one_hot(indices, num_classes: int, dtype=None) -> Tensor:
    """Rows of the identity: ``one_hot(i, C)[..., c] == (i[...] == c)``; not differentiable."""
    idx = as_array(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer indices, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: indices must lie in [0, {num_classes}), got range [{idx.min()}, {idx.max()}]")
    return Tensor._const(np.eye(num_classes, dtype=_float(dtype))[idx])


def tanh(input) -> Tensor:
    """tanh(x) elementwise (``torch.tanh``)."""
    return as_tensor(input).tanh()


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, without overflow (``torch.sigmoid``)."""
    return as_tensor(input).sigmoid()


def exp(input) -> Tensor:
    """e^x elementwise (``torch.exp``)."""
    return as_tensor(input).exp()


def log(input) -> Tensor:
    """The natural logarithm elementwise (``torch.log``)."""
    return as_tensor(input).log()


def logsumexp(input, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """log(sum(exp(x))) over ``dim`` without overflow (``torch.logsumexp``)."""
    return as_tensor(input).logsumexp(dim, keepdim, axis=axis, keepdims=keepdims)


def matmul(input, other) -> Tensor:
    """The matrix product with numpy's (and PyTorch's) broadcasting rules: ``input @ other``."""
    return as_tensor(input) @ other


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation (``torch.einsum``): ``einsum("bij,bjk->bik", a, b)``; operands may also come
    as one list. Differentiable in every operand, with any number of them."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument is the equation (a str), got {type(equation).__name__}")
    return _ops.Einsum.apply(*_tensors(operands, "einsum"), equation=equation)


def from_dlpack(x) -> Tensor:
    """A tensor sharing the memory of any DLPack exporter (a torch tensor, a numpy array, ...).

    A torch tensor that requires grad must be ``detach()``-ed first (PyTorch refuses to export it).
    """
    return Tensor._const(np.from_dlpack(x))

