"""A scalar autograd engine built the way micrograd builds one: the design ``minigrad.Value`` replaces.

Written here as the scalar workload's reference, keeping that design's three traits on purpose:
each result stores its operands in a ``set`` and a ``_backward`` closure that refers back to the
result (a reference cycle per node, which Python's cyclic garbage collector must find), and
``backward`` orders the graph with a recursive depth-first walk (``RecursionError`` once the graph
is deeper than the interpreter's recursion limit).
"""
from __future__ import annotations

import math

__all__ = ["MicroValue"]


def _noop() -> None:
    pass


class MicroValue:
    """A scalar with micrograd's design (module docs): ``+ * tanh exp log`` and ``backward()``."""

    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0.0
        self._backward = _noop
        self._prev = set(children)
        self._op = op

    @staticmethod
    def _wrap(other) -> "MicroValue":
        return other if isinstance(other, MicroValue) else MicroValue(other)

    def __add__(self, other):
        other = self._wrap(other)
        out = MicroValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._wrap(other)
        out = MicroValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def tanh(self):
        t = math.tanh(self.data)
        out = MicroValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        e = math.exp(self.data)
        out = MicroValue(e, (self,), "exp")

        def _backward():
            self.grad += e * out.grad
        out._backward = _backward
        return out

    def log(self):
        x = self.data
        out = MicroValue(math.log(x), (self,), "log")

        def _backward():
            self.grad += out.grad / x
        out._backward = _backward
        return out

    def backward(self) -> None:
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def nodes(self) -> int:
        """How many nodes this value depends on (itself included), walked without recursion."""
        seen, stack = {id(self)}, [self]
        while stack:
            for c in stack.pop()._prev:
                if id(c) not in seen:
                    seen.add(id(c))
                    stack.append(c)
        return len(seen)
