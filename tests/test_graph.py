"""The graph protocol: one iterative topological sort, scopes, deep graphs, and freed memory."""
import gc
import sys
import weakref
from contextlib import contextmanager

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, Value

DEPTH = 100_000


class Node:
    """The bare protocol: anything with ``parents`` can be walked."""

    def __init__(self, *parents):
        self.parents = parents


def test_toposort_puts_parents_first_root_last_each_node_once():
    a, b = Node(), Node()
    c = Node(a, b)
    d = Node(c, a, c)
    order = mg.toposort(d)
    assert order[-1] is d
    assert len(order) == len({id(n) for n in order}) == 4
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        assert all(pos[id(p)] < pos[id(n)] for p in n.parents)


def test_toposort_order_is_operand_order():
    x, y = Value(1.0), Value(2.0)
    z = x * y + y
    assert [n for n in mg.toposort(z) if not n.parents] == [x, y]
    assert mg.toposort(z) == mg.toposort(z)


@pytest.mark.parametrize("make", [Value, lambda v: Tensor(v, requires_grad=True)], ids=["Value", "Tensor"])
def test_parents_keep_operand_order_and_multiplicity(make):
    x, y = make(3.0), make(2.0)
    assert (x * x).parents == (x, x)
    assert (y - x).parents == (y, x)
    assert (x / y).op and (x / y).parents == (x, y)
    sq = x * x
    sq.backward()
    assert float(x.grad if isinstance(x, Value) else x.grad.item()) == 6.0


@contextmanager
def shallow_recursion_limit(headroom: int = 60):
    """Lower the recursion limit to just above the current stack depth: any recursive walk fails."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_value_chain_of_100k_nodes():
    x = Value(0.5)
    y = x
    for _ in range(DEPTH):
        y = -y
    limit = sys.getrecursionlimit()
    with shallow_recursion_limit():
        y.backward()
        assert len(mg.toposort(y)) == DEPTH + 1
    assert x.grad == 1.0  # an even number of negations
    assert sys.getrecursionlimit() == limit


def test_tensor_chain_of_100k_nodes():
    x = Tensor([0.5, -1.0], requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = -y
    with shallow_recursion_limit():
        y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_deep_graph_is_freed_without_backward():
    """Dropping a 100k-deep graph must not overflow the C stack while deallocating it."""
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y.tanh()
    ref = weakref.ref(y)
    del y
    assert ref() is None


def test_unrolled_scalar_rnn_of_100_steps():
    """h_t = tanh(w*h_{t-1} + u*x_t + b) on two units, all scalar Values; matches the Tensor engine."""
    rng = np.random.default_rng(0)
    W, U, b = rng.normal(0, 0.5, (2, 2)), rng.normal(0, 0.5, 2), rng.normal(0, 0.1, 2)
    xs = rng.normal(size=100)
    w = [[Value(W[i, j]) for j in range(2)] for i in range(2)]
    u = [Value(v) for v in U]
    bias = [Value(v) for v in b]
    h = [Value(0.0), Value(0.0)]
    for x in xs:
        h = [(sum((w[i][j] * h[j] for j in range(2)), bias[i]) + u[i] * x).tanh() for i in range(2)]
    loss = h[0] * h[1] + h[0]
    with shallow_recursion_limit():
        loss.backward()

    tw, tu, tb = (Tensor(a, requires_grad=True) for a in (W, U, b))
    th = Tensor(np.zeros(2))
    for x in xs:
        th = (tw @ th + tu * x + tb).tanh()
    (th[0] * th[1] + th[0]).backward()
    np.testing.assert_allclose([[v.grad for v in row] for row in w], tw.grad.data, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([v.grad for v in u], tu.grad.data, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose([v.grad for v in bias], tb.grad.data, rtol=1e-10, atol=1e-14)


# scopes --------------------------------------------------------------------------------------------
def test_scopes_tag_nodes_and_nest():
    x = Tensor([1.0], requires_grad=True)
    assert mg.current_scope() == ""
    with mg.scope("layer0"):
        a = x * 2
        with mg.scope("t=3"):
            b = a.tanh()
            v = Value(1.0) + 2
            assert mg.current_scope() == "layer0/t=3"
        c = b + 1
    d = c * 1
    assert (a.scope, b.scope, v.scope, c.scope, d.scope) == ("layer0", "layer0/t=3", "layer0/t=3", "layer0", "")
    assert x.scope == ""


def test_scope_is_restored_when_the_body_raises():
    with pytest.raises(KeyError):
        with mg.scope("outer"), mg.scope("inner"):
            raise KeyError("boom")
    assert mg.current_scope() == ""


@pytest.mark.parametrize("name", ["", "a/b"])
def test_scope_names_are_checked(name):
    with pytest.raises(ValueError, match="scope name"):
        mg.scope(name)


# memory: graphs are freed by reference counting alone (no cycles), and by backward ------------------
@contextmanager
def gc_disabled():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _tensor_step(h, W):
    return (h @ W).tanh() * 0.5 + h


def test_tensor_graph_is_freed_by_backward_without_the_cycle_collector():
    W = Tensor(np.eye(3) * 0.3, requires_grad=True)
    with gc_disabled():
        h = Tensor(np.ones((2, 3)))
        refs = []
        for _ in range(4):
            h = _tensor_step(h, W)
            refs += [weakref.ref(h), weakref.ref(h.grad_fn)]
        loss = h.sum()
        del h
        assert all(r() is not None for r in refs)  # held through loss.parents
        loss.backward()
        assert all(r() is None for r in refs)
        assert loss.parents == () and W.grad is not None


def test_training_loop_never_holds_two_graphs():
    """After backward, a step's graph is gone even while its output is still held (here: the
    state carried into the next step)."""
    W = Tensor(np.eye(3) * 0.3, requires_grad=True)
    with gc_disabled():
        h = Tensor(np.ones((1, 3)))
        for _ in range(3):
            h = _tensor_step(h, W)
            graph = [weakref.ref(n) for n in mg.toposort(h) if n is not h and n is not W]
            graph += [weakref.ref(n.grad_fn) for n in mg.toposort(h) if n.grad_fn is not None]
            h.sum().backward()
            assert all(r() is None for r in graph)
            h = h.detach()
            W.grad = None


@pytest.mark.parametrize("mode", ["retain_graph", "keep_grads"])
def test_graph_is_kept_when_asked(mode):
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp()
    ctx = weakref.ref(y.grad_fn)
    if mode == "retain_graph":
        y.sum().backward(retain_graph=True)
    else:
        with mg.keep_grads():
            y.sum().backward()
    assert ctx() is not None and y.parents


def test_tensor_graph_without_backward_is_freed_by_reference_counting():
    with gc_disabled():
        x = Tensor(np.ones(3), requires_grad=True)
        y = (x * 2).exp().sum()
        refs = [weakref.ref(n) for n in mg.toposort(y) if n is not x]
        refs += [weakref.ref(n.grad_fn) for n in mg.toposort(y) if n.grad_fn is not None]
        del y
        assert all(r() is None for r in refs)


def test_value_graph_is_freed_by_reference_counting():
    with gc_disabled():
        a, b = Value(2.0), Value(-1.0)
        out = ((a * b).tanh() + a.exp() * b) ** 2
        out.backward()
        refs = [weakref.ref(n) for n in mg.toposort(out) if n is not a and n is not b]
        del out
        assert all(r() is None for r in refs)
