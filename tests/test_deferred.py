"""Gradients the engine completes itself: Deferred products and At slices give exactly the gradients
of their dense forms, whatever mixes of them reach one input, with hooks, retain_grad, keep_grads,
retain_graph and gradient_shares."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.edges import edge_gradients
from zoo import gradient_shares


class Affine(mg.Function):
    """y = x @ w.T + b, sending w and b their gradients as Deferred (or, with dense=True, as arrays)."""

    op = "affine"

    def forward(self, x, w, b, dense):
        self.x, self.w = x, w
        return x @ w.T + b

    def backward(self, g):
        if self.options["dense"]:
            return g @ self.w, g.T @ self.x, g.sum(0)
        return g @ self.w, mg.Deferred(g, self.x), mg.Deferred(g)


class Pick(mg.Function):
    """y = x[index], sending x an At (or, with dense=True, the full array)."""

    op = "pick"

    def forward(self, x, index, dense):
        self.shape = x.shape
        return x[index]

    def backward(self, g):
        if self.options["dense"]:
            out = np.zeros(self.shape)
            np.add.at(out, self.options["index"], g)
            return (out,)
        return (mg.At(self.options["index"], g),)


def program(X, w, b, dense: bool, uses: list):
    """A recurrence-like graph: h <- tanh(affine(pick(X, i), w, b) + h) for each use; some uses
    also add a dense term in w (w * w) so Deferred, At and dense gradients meet in one input."""
    h = mg.Tensor(np.zeros((X.shape[1], w.shape[0])))
    total = 0.0
    for step, (i, extra) in enumerate(uses):
        with mg.scope(mg.step_scope(step)):
            x = Pick.apply(X, index=i, dense=dense)
            h = (Affine.apply(x, w, b, dense=dense) + h).tanh()
            if extra:
                total = total + (w * w).sum() * 0.1
    return (h * h).sum() + total


def leaves(rng, T, B, D, H):
    return (mg.Tensor(rng.standard_normal((T, B, D)), requires_grad=True),
            mg.Tensor(rng.standard_normal((H, D)) * 0.5, requires_grad=True),
            mg.Tensor(rng.standard_normal(H) * 0.1, requires_grad=True))


USES = st.integers(1, 4).flatmap(lambda T: st.tuples(
    st.just(T), st.lists(st.tuples(st.integers(0, T - 1), st.booleans()), min_size=1, max_size=6)))


@settings(max_examples=40, deadline=None)
@given(TU=USES, B=st.integers(1, 3), D=st.integers(1, 4), H=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_deferred_and_at_give_the_gradients_of_their_dense_forms(TU, B, D, H, seed):
    T, uses = TU
    grads = []
    for dense in (True, False):
        X, w, b = leaves(np.random.default_rng(seed), T, B, D, H)
        program(X, w, b, dense, uses).backward()
        grads.append([t.grad.data for t in (X, w, b)])
    for g_dense, g_engine in zip(*grads):
        np.testing.assert_allclose(g_engine, g_dense, rtol=1e-12, atol=1e-14)


def test_the_engine_forms_a_weights_products_as_one():
    """Three uses of w: the engine multiplies the stacked factors once, and the result is the sum."""
    rng = np.random.default_rng(0)
    X, w, b = leaves(rng, 3, 2, 3, 4)
    loss = program(X, w, b, False, [(0, False), (1, False), (2, False)])
    calls = []
    real_dot = np.dot

    def counting_dot(a, c, *rest):
        calls.append((a.shape, c.shape))
        return real_dot(a, c, *rest)

    np.dot = counting_dot
    try:
        loss.backward()
    finally:
        np.dot = real_dot
    assert ((4, 6), (6, 3)) in calls  # w's gradient: (H, 3 uses x B rows) @ (3 x B rows, D)
    X2, w2, b2 = leaves(np.random.default_rng(0), 3, 2, 3, 4)
    program(X2, w2, b2, True, [(0, False), (1, False), (2, False)]).backward()
    np.testing.assert_allclose(w.grad.data, w2.grad.data, rtol=1e-13)


def test_hooks_retain_grad_and_keep_grads_see_the_finished_gradient():
    rng = np.random.default_rng(1)
    X, w, b = leaves(rng, 2, 2, 3, 2)
    seen = []
    w.register_hook(lambda g: seen.append(g.data.copy()))
    # an intermediate weight: a non-leaf that receives Deferred terms keeps its finished gradient
    w2 = w * 1.0
    w2.retain_grad()
    loss = program(X, w2, b, False, [(0, False), (1, True)])
    loss.backward()
    X_, w_, b_ = leaves(np.random.default_rng(1), 2, 2, 3, 2)
    program(X_, w_, b_, True, [(0, False), (1, True)]).backward()
    np.testing.assert_allclose(w2.grad.data, w_.grad.data, rtol=1e-13)
    np.testing.assert_allclose(seen[0], w_.grad.data, rtol=1e-13)
    X3, w3, b3 = leaves(np.random.default_rng(1), 2, 2, 3, 2)
    loss3 = program(X3, w3, b3, False, [(0, False), (1, True)])
    with mg.keep_grads():
        loss3.backward()
    pick = [n for n in mg.toposort(loss3) if n.op == "pick"]
    assert all(n.grad is not None and n.grad.shape == (2, 3) for n in pick)


def test_retain_graph_runs_backward_twice_with_deferred_terms():
    X, w, b = leaves(np.random.default_rng(2), 2, 1, 2, 2)
    loss = program(X, w, b, False, [(0, False), (1, False)])
    loss.backward(retain_graph=True)
    once = w.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(w.grad.data, 2 * once, rtol=1e-13)


def test_edge_gradients_and_shares_split_deferred_terms_by_use():
    X, w, b = leaves(np.random.default_rng(3), 3, 2, 2, 3)
    loss = program(X, w, b, False, [(0, False), (1, False), (2, False)])
    shares = gradient_shares(loss, {"w": w, "b": b})
    X2, w2, b2 = leaves(np.random.default_rng(3), 3, 2, 2, 3)
    (uses,) = edge_gradients(program(X2, w2, b2, True, [(0, False), (1, False), (2, False)]), [w2])
    by_step = sorted((mg.step_of(n.scope), g) for n, g in uses)
    np.testing.assert_allclose(shares.steps["w"], np.stack([g for _, g in by_step]), rtol=1e-12)
    np.testing.assert_allclose(shares.total("w"), w.grad.data, rtol=1e-12)


def test_a_deferred_of_the_wrong_shape_is_reported_against_the_leaf():
    class Bad(Affine):
        def backward(self, g):
            return None, mg.Deferred(g[:, :1], self.x), None
    x = mg.Tensor(np.ones((2, 3)))
    w = mg.Tensor(np.ones((4, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gradient of shape \(1, 3\) reached a tensor of shape \(4, 3\)"):
        Bad.apply(x, w, mg.Tensor(np.zeros(4)), dense=False).sum().backward()
