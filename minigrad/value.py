"""``Value``: the scalar engine, micrograd's API without micrograd's defects.

Each operation stores the local derivatives of its result with respect to its operands
(``_local``) at forward time. Backward multiplies them by the incoming gradient; there are no
per-node closures, so no reference cycles and nothing for the garbage collector to chase.

Gradient rule (the one PyTorch uses): ``backward()`` *accumulates* into leaves (nodes without
parents) across calls, so call ``zero_grad``/set ``.grad = 0`` between steps; every intermediate
node's ``grad`` is recomputed from zero on each ``backward()`` and holds that pass's gradient.
"""
from __future__ import annotations

import math

from . import graph as _graph

__all__ = ["Value"]


class Value:
    """A scalar that records how it was computed.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad
    (-2.0, 2.0)
    """

    __slots__ = ("data", "grad", "parents", "op", "scope", "label", "_local")

    def __init__(self, data, _children=(), _op="", label="", _local=()):
        self.data = data
        self.grad = 0.0
        self.parents = tuple(_children)
        self.op = _op
        self.scope = _graph._SCOPE
        self.label = label
        self._local = _local

    # micrograd names, kept so code written for micrograd runs unchanged
    @property
    def _prev(self) -> set:
        return set(self.parents)

    @property
    def _op(self) -> str:
        return self.op

    def _backward(self) -> None:
        """Add this node's contribution to its parents' gradients (one step of backward)."""
        g = self.grad
        for p, d in zip(self.parents, self._local):
            p.grad += d * g

    # arithmetic ---------------------------------------------------------------------------
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", _local=(1.0, 1.0))

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-", _local=(1.0, -1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", _local=(other.data, self.data))

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        b = other.data
        if b == 0:
            raise ZeroDivisionError(f"Value division by zero: {self.data!r} / 0")
        return Value(self.data / b, (self, other), "/", _local=(1.0 / b, -self.data / (b * b)))

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            if a <= 0:
                raise ValueError(f"Value ** Value needs a positive base (its log enters the gradient), got {a!r}")
            out = a ** other.data
            return Value(out, (self, other), "**", _local=(other.data * a ** (other.data - 1), out * math.log(a)))
        if not isinstance(other, (int, float)):
            raise TypeError(f"Value ** needs an int, float or Value exponent, got {type(other).__name__}")
        return Value(a ** other, (self,), f"**{other}", _local=(other * a ** (other - 1),))

    def __rpow__(self, other):
        return Value(other) ** self

    def __neg__(self):
        return Value(-self.data, (self,), "neg", _local=(-1.0,))

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
        return Value(self.data if pos else 0.0, (self,), "relu", _local=(1.0 if pos else 0.0,))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", _local=(1.0 - t * t,))

    def sigmoid(self):
        """1 / (1 + e^-x), computed without overflow for large |x|."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, (self,), "sigmoid", _local=(s * (1.0 - s),))

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return Value(e, (self,), "exp", _local=(e,))

    def log(self):
        x = self.data
        if x <= 0:
            raise ValueError(f"Value.log needs a positive input, got {x!r}")
        return Value(math.log(x), (self,), "log", _local=(1.0 / x,))

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
        for v in reversed(topo):
            g = v.grad
            for p, d in zip(v.parents, v._local):
                p.grad += d * g

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"
