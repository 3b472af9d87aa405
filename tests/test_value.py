"""The scalar engine: micrograd's API and rules, micrograd's defects fixed, agreement with Tensor."""
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Tensor, Value
from minigrad import testing as mt


def numeric_derivative(f, x: float, eps: float = 1e-6) -> float:
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_arithmetic_with_numbers_on_either_side():
    a = Value(3.0)
    out = [a + 2, 2 + a, a - 2, 2 - a, a * 2, 2 * a, a / 2, 2 / a, a ** 2, 2 ** a, -a]
    assert [o.data for o in out] == [5.0, 5.0, 1.0, -1.0, 6.0, 6.0, 1.5, 2 / 3, 9.0, 8.0, -3.0]
    total = sum(out)
    total.backward()
    expected = 1 + 1 + 1 - 1 + 2 + 2 + 0.5 - 2 / 9 + 6 + 8 * math.log(2) - 1
    assert a.grad == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name, f, x", [
    ("relu", lambda v: v.relu(), 0.7), ("relu", lambda v: v.relu(), -0.7),
    ("tanh", lambda v: v.tanh(), 0.3), ("sigmoid", lambda v: v.sigmoid(), -1.2),
    ("exp", lambda v: v.exp(), 0.5), ("log", lambda v: v.log(), 2.5),
    ("pow", lambda v: v ** 1.5, 2.0), ("pow", lambda v: v ** -2, -1.5),
    ("vpow", lambda v: v ** Value(1.7), 1.3), ("rvpow", lambda v: Value(1.7) ** v, -0.4),
    ("div", lambda v: 1.3 / v, -0.8),
])
def test_local_derivatives_match_finite_differences(name, f, x):
    v = Value(x)
    out = f(v)
    out.backward()
    assert v.grad == pytest.approx(numeric_derivative(lambda y: f(Value(y)).data, x), rel=1e-6, abs=1e-9)


def test_backward_twice_accumulates_into_leaves_and_resets_intermediates():
    """micrograd double-counts intermediates on a second backward; here only leaves accumulate."""
    x = Value(2.0)
    h = x * x
    y = h * 3
    y.backward()
    assert (x.grad, h.grad, y.grad) == (12.0, 3.0, 1.0)
    y.backward()
    assert (x.grad, h.grad, y.grad) == (24.0, 3.0, 1.0)


def test_fan_out_sums_gradients():
    x = Value(1.5)
    y = x * x + x.tanh() + x
    y.backward()
    assert x.grad == pytest.approx(2 * 1.5 + (1 - math.tanh(1.5) ** 2) + 1)


def test_stable_at_extremes():
    assert Value(-1e4).sigmoid().data == 0.0 and Value(1e4).sigmoid().data == 1.0
    assert Value(1e4).tanh().data == 1.0
    e = Value(1e4).exp()
    assert e.data == math.inf
    s = Value(-1e4)
    s.sigmoid().backward()
    assert s.grad == 0.0


def test_power_edge_cases():
    z = Value(0.0)
    (z ** 0.5).backward()
    assert z.grad == math.inf
    z0 = Value(0.0)
    (z0 ** 0).backward()
    assert z0.grad == 0.0
    with pytest.raises(ValueError, match="fractional exponent"):
        Value(-2.0) ** 0.5
    with pytest.raises(ValueError, match="positive base"):
        Value(-2.0) ** Value(2.0)
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** "2"


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="positive input, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        Value(1.0) / 0


def test_graph_protocol_and_repr():
    a = Value(2.0, label="a")
    b = a * a
    assert b.parents == (a, a) and b.op == "*" and b.data == 4.0 and b.scope == ""
    assert a.op == "" and a.parents == () and a.label == "a"
    assert repr(b) == "Value(data=4.0, grad=0.0)"


def test_a_node_with_local_derivatives_may_have_any_number_of_operands():
    a, b, c = Value(1.0), Value(2.0), Value(3.0)
    prod = Value(6.0, (a, b, c), "prod3", _local=(b.data * c.data, a.data * c.data, a.data * b.data))
    (prod * 2).backward()
    assert (a.grad, b.grad, c.grad) == (12.0, 6.0, 4.0)


# micrograd compatibility -----------------------------------------------------------------------------
# Everything below uses only micrograd's API: Value(data, _children, _op), _prev, _op, _backward,
# .data, .grad, relu(), sum() of Values, and micrograd's own (recursive) backward.


def square(v):
    """A custom op written the micrograd way: a node plus a backward closure."""
    out = Value(v.data ** 2, (v,), "square")

    def _backward():
        v.grad += 2 * v.data * out.grad
    out._backward = _backward
    return out


def micrograd_backward(root):
    topo, visited = [], set()

    def build(v):
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build(child)
            topo.append(v)
    build(root)
    root.grad = 1
    for v in reversed(topo):
        v._backward()


class Neuron:
    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def _dataset():
    """Two classes: inside (-1) and outside (+1) a circle; not linearly separable."""
    rng = random.Random(1)
    X, y = [], []
    while len(X) < 24:
        p = [rng.uniform(-2, 2), rng.uniform(-2, 2)]
        r = math.hypot(*p)
        if abs(r - 1.2) > 0.3:
            X.append(p)
            y.append(1 if r > 1.2 else -1)
    return X, y


def _loss(model, X, y):
    scores = [model(x) for x in X]
    hinge = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / len(y))
    reg = 1e-4 * sum(square(p) for p in model.parameters())
    accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
    return hinge + reg, accuracy


def test_micrograd_mlp_trains_unchanged():
    random.seed(0)
    model = MLP(2, [8, 1])
    X, y = _dataset()
    first, _ = _loss(model, X, y)
    for k in range(40):
        loss, accuracy = _loss(model, X, y)
        for p in model.parameters():
            p.grad = 0
        loss.backward()
        lr = 0.5 - 0.45 * k / 40
        for p in model.parameters():
            p.data -= lr * p.grad
    assert loss.data < 0.2 * first.data
    assert accuracy == 1.0


def test_micrograd_backward_gives_the_same_gradients():
    random.seed(2)
    model = MLP(2, [4, 1])
    X, y = _dataset()
    loss, _ = _loss(model, X[:5], y[:5])
    assert loss._op == "+" and all(isinstance(c, Value) for c in loss._prev)
    loss.backward()
    ours = [p.grad for p in model.parameters()]
    for p in model.parameters():
        p.grad = 0
    loss, _ = _loss(model, X[:5], y[:5])
    micrograd_backward(loss)
    assert [p.grad for p in model.parameters()] == pytest.approx(ours, rel=1e-12, abs=1e-15)


# Value and Tensor agree on random expression trees ------------------------------------------------------
N_VARS = 3

# Each op is written once with the API both engines share; inputs are kept in safe ranges by the
# formulas themselves (division by b*b + 1, log of a*a + 1, exp of tanh), so every tree is defined.
TREE_OPS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 1),
    "** Value": lambda a, b: (a * a + 1) ** b.tanh(),
    "neg": lambda a: -a,
    "relu": lambda a: a.relu(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 1).log(),
    "** 2": lambda a: a ** 2,
    "** 3": lambda a: a ** 3,
    "** 0.5": lambda a: (a * a + 0.5) ** 0.5,
    "** -1": lambda a: (a * a + 1) ** -1,
    "number +": lambda a: 1.5 + a,
    "number -": lambda a: 1.5 - a,
    "number *": lambda a: -0.7 * a,
    "number /": lambda a: 2.0 / (a * a + 1),
    "number **": lambda a: 1.5 ** a.tanh(),
}
UNARY_NAMES = sorted(k for k, f in TREE_OPS.items() if f.__code__.co_argcount == 1)
BINARY_NAMES = sorted(k for k, f in TREE_OPS.items() if f.__code__.co_argcount == 2)

trees = st.recursive(
    st.one_of(st.integers(0, N_VARS - 1), mt.floats()),
    lambda sub: st.one_of(st.tuples(st.sampled_from(UNARY_NAMES), sub),
                          st.tuples(st.sampled_from(BINARY_NAMES), sub, sub)),
    max_leaves=10,
)


def evaluate(tree, variables, const):
    if isinstance(tree, int):
        return variables[tree]
    if isinstance(tree, float):
        return const(tree)
    name, *args = tree
    return TREE_OPS[name](*(evaluate(a, variables, const) for a in args))


@settings(max_examples=3 * settings().max_examples)  # cheap examples: draw more of them
@given(tree=trees, xs=st.lists(mt.floats(), min_size=N_VARS, max_size=N_VARS))
def test_value_and_tensor_agree_on_random_expressions(tree, xs):
    vs = [Value(x) for x in xs]
    ts = [Tensor(x, dtype=np.float64, requires_grad=True) for x in xs]
    v_out = evaluate(tree, vs, Value)
    t_out = evaluate(tree, ts, lambda c: Tensor(c, dtype=np.float64))
    assert v_out.data == pytest.approx(float(t_out.data), rel=1e-10, abs=1e-12)
    v_out.backward()
    if t_out.requires_grad:
        t_out.backward()
    for v, t in zip(vs, ts):
        assert v.grad == pytest.approx(0.0 if t.grad is None else float(t.grad.data), rel=1e-9, abs=1e-12)
