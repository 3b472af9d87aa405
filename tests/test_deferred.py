"""Gradients the engine completes itself: Deferred products and At slices give exactly the gradients
of their dense forms, whatever mixes of them reach one input, with hooks, retain_grad, keep_grads,
retain_graph and gradient_shares."""
import contextlib

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


@contextlib.contextmanager
def recorded_dots():
    """The operands ``(a, b)`` of every ``np.dot`` called inside the block."""
    calls, real_dot = [], np.dot

    def recording_dot(a, b, *rest):
        calls.append((a, b))
        return real_dot(a, b, *rest)

    np.dot = recording_dot
    try:
        yield calls
    finally:
        np.dot = real_dot


def test_the_engine_forms_a_weights_products_as_one():
    """Three uses of w: the engine multiplies the stacked factors once, and the result is the sum."""
    rng = np.random.default_rng(0)
    X, w, b = leaves(rng, 3, 2, 3, 4)
    loss = program(X, w, b, False, [(0, False), (1, False), (2, False)])
    with recorded_dots() as calls:
        loss.backward()
    assert ((4, 6), (6, 3)) in [(a.shape, c.shape) for a, c in calls]  # w's: (H, 3 uses x B rows) @ (3 x B rows, D)
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


# gradient_slot: a backward writes its gradient straight into a row of its input's buffer ----------

class Row(mg.Function):
    """h' = tanh(x[t] + h @ w.T), the shape of a recurrent step on every step's input x (T, B, H):
    x's gradient written into the row the engine lends (or, with dense=True, returned as a full
    array), w's sent as a Deferred whose left factor is that row."""

    op = "row"
    lent = 0  # how many rows the engine lent (so the tests know the mechanism ran)

    def forward(self, x, h, w, t, dense):
        self.h, self.w, self.shape = h, w, x.shape
        self.y = np.tanh(x[t] + h @ w.T)
        return self.y

    def backward(self, g):
        t, dense = self.options["t"], self.options["dense"]
        da = None if dense else mg.gradient_slot(self, 0, t)
        sent = None
        if da is None:
            da = np.empty_like(g)
            sent = mg.At(t, da)
        else:
            Row.lent += 1
        np.multiply(g, 1 - self.y * self.y, out=da)
        if dense:
            sent = np.zeros(self.shape)
            sent[t] = da
        return sent, da @ self.w, (da.T @ self.h if dense else mg.Deferred(da, self.h))


def row_program(Xs, w, dense: bool, uses: list):
    """Each X in ``Xs`` runs its own recurrence over ``uses`` ((t, extra) pairs) with the shared
    ``w``; ``extra`` adds another reader of X[t]: 1 a getitem (an At), 2 a second Row at t."""
    total = 0.0
    for X in Xs:
        h = mg.Tensor(np.zeros(X.shape[1:]))
        for step, (t, extra) in enumerate(uses):
            with mg.scope(mg.step_scope(step)):
                h = Row.apply(X, h, w, t=t, dense=dense)
                if extra == 1:
                    total = total + (X[t] * X[t]).sum() * 0.5
                elif extra == 2:
                    total = total + Row.apply(X, h, w, t=t, dense=dense).sum()
        total = total + (h * h).sum()
    return total


def row_leaves(seed, T, B, H, layers):
    rng = np.random.default_rng(seed)
    Xs = [mg.Tensor(rng.standard_normal((T, B, H)), requires_grad=True) for _ in range(layers)]
    return Xs, mg.Tensor(rng.standard_normal((H, H)) * 0.5, requires_grad=True)


ROW_USES = st.integers(1, 5).flatmap(lambda T: st.tuples(
    st.just(T), st.lists(st.tuples(st.integers(0, T - 1), st.sampled_from([0, 0, 1, 2])), min_size=1, max_size=7)))


@settings(max_examples=60, deadline=None)
@given(TU=ROW_USES, B=st.integers(0, 3), H=st.integers(1, 4), layers=st.integers(1, 2),
       through=st.booleans(), seed=st.integers(0, 2**16))
def test_gradients_written_into_lent_rows_equal_the_plain_ones(TU, B, H, layers, through, seed):
    """Repeated steps, other readers of the same row, a weight shared by two recurrences, and
    inputs that are leaves or computed (``through``: X * 1, whose buffer its backward reads)."""
    T, uses = TU
    grads = []
    for dense in (True, False):
        Xs, w = row_leaves(seed, T, B, H, layers)
        ins = [X * 1.0 for X in Xs] if through else Xs
        row_program(ins, w, dense, uses).backward()
        grads.append([t.grad.data for t in (*Xs, w)])
    for g_dense, g_engine in zip(*grads):
        np.testing.assert_allclose(g_engine, g_dense, rtol=1e-12, atol=1e-13)


def test_the_engine_lends_rows_and_multiplies_them_in_place():
    """Three distinct steps: three rows lent, and w's gradient is one product whose left factor
    is the three rows of x's buffer, not a copy."""
    Xs, w = row_leaves(0, 3, 2, 4, 1)
    loss = row_program(Xs, w, False, [(2, 0), (1, 0), (0, 0)])
    lent = Row.lent
    with recorded_dots() as calls:
        loss.backward()
    assert Row.lent - lent == 3
    (product,) = [a for a, _ in calls if a.shape == (4, 6)]
    assert np.shares_memory(product, Xs[0].grad.data)  # x's buffer is x.grad: nothing else reached x
    Xd, wd = row_leaves(0, 3, 2, 4, 1)
    row_program(Xd, wd, True, [(2, 0), (1, 0), (0, 0)]).backward()
    np.testing.assert_allclose(w.grad.data, wd.grad.data, rtol=1e-13)


def test_lent_rows_with_hooks_retain_grad_retain_graph_and_anomaly_mode():
    uses = [(0, 0), (1, 1), (2, 0), (1, 2)]
    Xd, wd = row_leaves(4, 3, 2, 3, 1)
    row_program(Xd, wd, True, uses).backward()
    seen, seen_w = [], []
    Xs, w = row_leaves(4, 3, 2, 3, 1)
    X1 = Xs[0] * 1.0
    X1.retain_grad()
    X1.register_hook(lambda g: seen.append(g.data.copy()) or g * 2)  # doubles what reaches Xs[0]
    w.register_hook(lambda g: seen_w.append(g.data.copy()))
    loss = row_program([X1], w, False, uses)
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(seen[0], Xd[0].grad.data, rtol=1e-12)
    np.testing.assert_allclose(X1.grad.data, 2 * Xd[0].grad.data, rtol=1e-12)  # .grad is after the hooks
    np.testing.assert_allclose(Xs[0].grad.data, 2 * Xd[0].grad.data, rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, wd.grad.data, rtol=1e-12)
    np.testing.assert_allclose(seen_w[0], wd.grad.data, rtol=1e-12)
    loss.backward()  # the graph was kept: the same gradients again, accumulated
    np.testing.assert_allclose(w.grad.data, 2 * wd.grad.data, rtol=1e-12)
    Xa, wa = row_leaves(4, 3, 2, 3, 1)
    lent = Row.lent
    with mg.detect_anomaly():
        row_program(Xa, wa, False, uses).backward()
    assert Row.lent == lent  # anomaly mode checks what each backward returns: it lends nothing
    np.testing.assert_allclose(wa.grad.data, wd.grad.data, rtol=1e-12)
    np.testing.assert_allclose(Xa[0].grad.data, Xd[0].grad.data, rtol=1e-12)


def test_no_row_is_lent_outside_the_pass_running_the_node():
    Xs, w = row_leaves(5, 2, 1, 2, 1)
    h = Row.apply(Xs[0], mg.Tensor(np.zeros((1, 2))), w, t=1, dense=False)
    assert mg.gradient_slot(h.grad_fn, 0, 1) is None
    sent, _, _ = h.grad_fn.backward(np.ones((1, 2)))  # as edge_gradients and gradient_shares call it
    assert type(sent) is mg.At


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_the_default_layers_lend_rows_and_keep_their_gradients_and_shares(kind):
    """zoo's step kernels write dL/dax into the projection's buffer: gradients equal the per-op
    graph's, each step's share of weight_hh sums to .grad, and finite differences agree."""
    import zoo
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 2, 3))
    grads = {}
    for fused in (True, False):
        layer = getattr(zoo, kind)(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, fused=fused)
        layer.load_state_dict({k: rng.standard_normal(v.shape) * 0.4 for k, v in layer.state_dict().items()}
                              if not grads else grads["state"])
        grads.setdefault("state", {k: v.copy() for k, v in layer.state_dict().items()})
        out, _ = layer(mg.Tensor(x))
        (out * out).sum().backward()
        grads[fused] = {n: p.grad.data.copy() for n, p in layer.named_parameters()}
    for n, g in grads[True].items():
        np.testing.assert_allclose(g, grads[False][n], rtol=1e-10, atol=1e-12, err_msg=n)
    layer = getattr(zoo, kind)(3, 4, dtype=np.float64)
    xt = mg.Tensor(x, requires_grad=True)
    shares = gradient_shares((layer(xt)[0] ** 2).sum(), {"w": layer.weight_hh_l0})
    layer.zero_grad()
    (layer(xt)[0] ** 2).sum().backward()
    np.testing.assert_allclose(shares.total("w"), layer.weight_hh_l0.grad.data, rtol=1e-12)
    assert mg.gradcheck(lambda xt, *ps: (layer(xt)[0] ** 2).sum(), [xt, *layer.parameters()])


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 1, 3], [1, 2, 3], [0, 2]])
def test_runs_of_lent_rows_in_either_direction_are_multiplied_in_place(order):
    """A loop forwards in time sends its rows last to first, one backwards in time first to
    last (the quick path), any other order of adjacent rows is sorted: the product's left
    factor is the rows of x's buffer themselves, unless the rows are not adjacent."""
    Xs, w = row_leaves(1, 4, 2, 3, 1)
    loss = row_program(Xs, w, False, [(t, 0) for t in order])
    with recorded_dots() as calls:
        loss.backward()
    lefts = [a for a, _ in calls if a.shape[0] == 3 and a.shape[1] > 2]
    in_place = order != [0, 2]
    assert any(np.shares_memory(a, Xs[0].grad.data) for a in lefts) == in_place
    Xd, wd = row_leaves(1, 4, 2, 3, 1)
    row_program(Xd, wd, True, [(t, 0) for t in order]).backward()
    np.testing.assert_allclose(w.grad.data, wd.grad.data, rtol=1e-13)
