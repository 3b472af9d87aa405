"""``Value``: the scalar engine, micrograd's API without micrograd's defects.

Each operation stores the local derivatives of its result with respect to its operands
(``_local``) at forward time. Backward multiplies them by the incoming gradient; the built-in
ops need no per-node closures, so no reference cycles and nothing for the garbage collector to
chase. (A custom op may still assign a closure to ``_backward``, micrograd's way.)

Gradient rule (the one PyTorch uses): ``backward()`` *accumulates* into leaves (nodes without
parents) across calls, so call ``zero_grad``/set ``.grad = 0`` between steps; every intermediate
node's ``grad`` is recomputed from zero on each ``backward()`` and holds that pass's gradient.
"""
from __future__ import annotations

import math

from . import graph as _graph
from .modes import AnomalyError, modes

__all__ = ["Value"]


class Value:
    """A scalar that records how it was computed.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)
    """

    __slots__ = ("data", "grad", "parents", "op", "scope", "label", "_local", "_custom", "__weakref__")

    def __init__(self, data, _children=(), _op="", label="", _local=()):
        self.data = data
        self.grad = 0.0
        self.parents = _children if type(_children) is tuple else tuple(_children)
        self.op = _op
        self.scope = modes().scope
        self.label = label
        self._local = _local
        self._custom = None

    # micrograd names, kept so code written for micrograd runs unchanged
    @property
    def _prev(self) -> set:
        return set(self.parents)

    @property
    def _op(self) -> str:
        return self.op

    @property
    def _backward(self):
        """One step of backward: add this node's contribution to its parents' gradients.

        As in micrograd, a custom op may assign its own closure here (``out._backward = fn``);
        ``backward()`` then calls it instead of using ``_local``.
        """
        return self._propagate if self._custom is None else self._custom

    @_backward.setter
    def _backward(self, fn) -> None:
        self._custom = fn

    def _propagate(self) -> None:
        g = self.grad
        for p, d in zip(self.parents, self._local):
            p.grad += d * g

    # arithmetic ---------------------------------------------------------------------------
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        b = other.data
        if b == 0:
            raise ZeroDivisionError(f"Value division by zero: {self.data!r} / 0")
        return _node(self.data / b, (self, other), "/", (1.0 / b, -self.data / (b * b)))

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            if a <= 0:
                raise ValueError(f"Value ** Value needs a positive base (its log enters the gradient), got {a!r}")
            out = a ** other.data
            return _node(out, (self, other), "**", (other.data * a ** (other.data - 1), out * math.log(a)))
        if not isinstance(other, (int, float)):
            raise TypeError(f"Value ** needs an int, float or Value exponent, got {type(other).__name__}")
        out = a ** other
        if isinstance(out, complex):  # Python answers (-2.0) ** 0.5 with a complex number
            raise ValueError(f"Value ** {other}: a negative base ({a!r}) with a fractional exponent has no real value")
        if a == 0 and other < 1:  # a ** (other - 1) would divide by zero: the slope is 0 (other == 0) or infinite
            d = 0.0 if other == 0 else math.inf
        else:
            d = other * a ** (other - 1)
        return _node(out, (self,), f"**{other}", (d,))

    def __rpow__(self, other):
        return Value(other) ** self

    def __neg__(self):
        return _node(-self.data, (self,), "neg", (-1.0,))

    def __radd__(self, other):
        return Value(other) + self

    def __rsub__(self, other):
        return Value(other) - self

    def __rmul__(self, other):
        return Value(other) * self

    def __rtruediv__(self, other):
        return Value(other) / self

    # functions ----------------------------------------------------------------------------
    def relu(self):
        """max(0, x); the derivative at 0 is taken as 0."""
        pos = self.data > 0
        return _node(self.data if pos else 0.0, (self,), "relu", (1.0 if pos else 0.0,))

    def tanh(self):
        """tanh(x); its derivative 1 - tanh(x)^2 is taken from the result."""
        t = math.tanh(self.data)
        return _node(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self):
        """1 / (1 + e^-x), computed without overflow for large |x|."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, (self,), "sigmoid", (s * (1.0 - s),))

    def exp(self):
        """e^x (inf instead of OverflowError for large x)."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return _node(e, (self,), "exp", (e,))

    def log(self):
        """Natural logarithm; raises ValueError for x <= 0."""
        x = self.data
        if x <= 0:
            raise ValueError(f"Value.log needs a positive input, got {x!r}")
        return _node(math.log(x), (self,), "log", (1.0 / x,))

    # backward -----------------------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` of every node this one depends on with d(self)/d(node).

        Leaves accumulate across calls; intermediate nodes are reset first (see module docs).
        """
        topo = _graph.toposort(self)
        for v in topo:
            if v.parents:
                v.grad = 0.0
        self.grad += 1.0
        if modes().anomaly:
            return _checked_backward(topo)
        for v in reversed(topo):
            if v._custom is not None:
                v._custom()
                continue
            local = v._local
            n = len(local)
            if n == 0:  # a leaf
                continue
            g = v.grad
            # NOTE: one and two operands are spelled out: a zip per node made this loop 3x slower
            if n == 2:
                a, b = v.parents
                a.grad += local[0] * g
                b.grad += local[1] * g
            elif n == 1:
                v.parents[0].grad += local[0] * g
            else:
                for p, d in zip(v.parents, local):
                    p.grad += d * g

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"


def _checked_backward(topo: list) -> None:
    """The backward loop of ``detect_anomaly()``: each gradient a node sends is checked."""
    for v in reversed(topo):
        if v._custom is not None:
            v._custom()
            continue
        g = v.grad
        for k, (p, d) in enumerate(zip(v.parents, v._local)):
            share = d * g
            if not math.isfinite(share):
                _anomaly(f"backward of '{v.op}' (gradient for operand {k})", share, v.scope)
            p.grad += share


_new_object = object.__new__


def _node(data, parents: tuple, op: str, local: tuple) -> Value:
    """An op's result, as ``Value(data, parents, op, _local=local)`` would make it, without the
    class call and its keyword parsing (measured: ``a * b`` takes 40% less time)."""
    v = _new_object(Value)
    v.data = data
    v.grad = 0.0
    v.parents = parents
    v.op = op
    m = modes()
    v.scope = m.scope
    v.label = ""
    v._local = local
    v._custom = None
    if m.anomaly and not math.isfinite(data):
        _anomaly(f"forward of '{op}'", data, m.scope)
    return v


def _anomaly(what: str, x: float, where: str) -> None:
    kind = "NaN" if x != x else "Inf"
    raise AnomalyError(f"{what} produced {kind}" + (f" in scope '{where}'" if where else ""))
