"""Fused recurrences (zoo.kernels): each equals its composed twin (values and every gradient,
float64, hypothesis-drawn sizes, batch 0 included), passes gradcheck on its own, stays float32; the
backward factors compute their docstrings' equations; the fusion switch; every level of the graph
gives the same numbers."""
import inspect
import re
import threading
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import zoo
from minigrad.edges import edge_gradients
from zoo import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, gradient_shares, kernels, unroll

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
LAYERS = {"rnn_tanh": (RNN, {}), "rnn_relu": (RNN, {"nonlinearity": "relu"}), "lstm": (LSTM, {}), "gru": (GRU, {})}
MODES = (True, False, "sequence")
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def make_cell(kind, D, H, bias=True, seed=0, dtype=np.float64, fused=True):
    rng = np.random.default_rng(seed)
    if kind.startswith("rnn"):
        return RNNCell(D, H, bias, nonlinearity=kind[4:], dtype=dtype, generator=rng, fused=fused)
    return (LSTMCell if kind == "lstm" else GRUCell)(D, H, bias, dtype=dtype, generator=rng, fused=fused)


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def leaves(arrays):
    return [mg.Tensor(a, requires_grad=True) for a in arrays]


def grads(tensors):
    return [None if t.grad is None else t.grad.data.copy() for t in tensors]


def assert_all_close(actual, expected, rtol, atol, what):
    """Pairwise allclose; a missing gradient (None) counts as zeros."""
    assert len(actual) == len(expected), what
    for k, (a, e) in enumerate(zip(actual, expected)):
        if a is None or e is None:
            assert not np.any(a) and not np.any(e), f"{what} [{k}]: one side has a nonzero gradient"
        else:
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what} [{k}]")


def weighted_loss(outputs, rng):
    """sum(w * out) over every output with fixed random w, so each element's gradient differs."""
    return sum((o * rng.standard_normal(o.shape)).sum() for o in outputs)


# ---------------------------------------------------------------------------------------------
# each kernel equals its composed twin

@given(kind=st.sampled_from(KINDS), B=st.integers(0, 4), D=st.integers(1, 4), H=st.integers(1, 5),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_recurrence_equals_the_composed_recurrence(kind, B, D, H, bias, seed):
    rng = np.random.default_rng(seed)
    cell = make_cell(kind, D, H, bias, seed=seed)
    arrays = [rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))]
    results = []
    for recur in (cell.composed_recurrence, cell.fused_recurrence):
        x, h, c = leaves(arrays)
        out = flat(recur(cell.project(x), (h, c) if kind == "lstm" else h))
        loss = weighted_loss(out, np.random.default_rng(seed + 1))
        cell.zero_grad()
        loss.backward()
        results.append(([o.data for o in out], grads([x, h, c] + cell.parameters())))
    assert_all_close(results[1][0], results[0][0], 1e-12, 1e-14, "values")
    assert_all_close(results[1][1], results[0][1], 1e-11, 1e-13, "gradients")


# ---------------------------------------------------------------------------------------------
# the backward factors are their docstrings' equations
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_backward_factors_compute_their_docstring_equations(kind):
    rng = np.random.default_rng(0)
    B, H = 3, 4
    letters = "ifgo" if kind == "lstm" else "rzn"
    a = rng.uniform(0.05, 0.95, (B, len(letters) * H))  # gate values
    state, ahn, dh, do = (rng.standard_normal((B, H)) for _ in range(4))
    ns = dict(zip(letters, np.split(a, len(letters), axis=1)))
    if kind == "lstm":
        fn = kernels._lstm_factors
        factors = fn(a, state, np.empty((B, 4, H)))
        ns |= {"c": state, "dc_": dh, "do": do}
        expected = {"da_i": dh, "da_f": dh, "da_g": dh, "da_o": do}  # name -> the gradient it scales
    else:
        fn = kernels._gru_factors
        factors = fn(a, ahn, state, np.empty((B, 3, H)), np.empty((B, H)))
        ns |= {"h": state, "ahn": ahn, "dh_": dh}
        expected = {"da_r": dh, "da_z": dh, "da_n": dh}
    block = inspect.getdoc(fn).split("::", 1)[1]
    lines = [line.strip() for line in block.splitlines() if re.match(r"^\s+da_\w+ = ", line)]
    assert sorted(line.split()[0] for line in lines) == sorted(expected)  # one line per gate
    for line in lines:
        exec(line.replace("'", "_"), ns)
    for k, (name, grad) in enumerate(expected.items()):
        np.testing.assert_allclose(factors[:, k] * grad, ns[name], rtol=1e-13, atol=1e-15, err_msg=name)


# ---------------------------------------------------------------------------------------------
# gradcheck of the kernels themselves, and their dtypes and errors

def step(kind, ax, h, c, w_hh, b_hh=None):
    if kind == "lstm":
        return kernels.lstm_step(ax, h, c, w_hh, b_hh)
    if kind == "gru":
        return kernels.gru_step(ax, h, w_hh, b_hh)
    return kernels.rnn_step(ax, h, w_hh, b_hh, nonlinearity=kind[4:])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_step_kernels_pass_gradcheck(kind, bias):
    rng = np.random.default_rng(3)
    B, H = 2, 2
    G = {"lstm": 4, "gru": 3}.get(kind, 1)
    arrays = [rng.standard_normal((B, G * H)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
              rng.uniform(-0.7, 0.7, (G * H, H))] + ([rng.standard_normal(G * H)] if bias else [])
    if kind == "rnn_relu":
        arrays[0] += np.sign(arrays[0])  # keep pre-activations away from relu's kink
    mg.gradcheck(lambda ax, h, c, *w: step(kind, ax, h, c, *w), leaves(arrays), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_kernels_keep_float32_end_to_end(kind):
    """No silent float64: outputs and every gradient a step's backward returns, Deferred ones formed."""
    cell = make_cell(kind, 2, 3, dtype=np.float32)
    x = mg.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    out = flat(cell(x))
    node = out[-1].parents[0] if kind == "lstm" else out[0]  # the LSTM's c' is a slice of the step node
    assert {o.dtype for o in out} == {np.dtype(np.float32)}
    for arr in node.grad_fn.input_grads(np.ones(node.shape, np.float32), node.parents):
        assert arr is None or arr.dtype == np.float32
    layer_cls, options = LAYERS[kind]
    layer = layer_cls(2, 3, num_layers=2, bidirectional=True, **options)  # float32 by default
    out, _ = layer(mg.Tensor(np.ones((4, 2, 2), np.float32)), lengths=[4, 2])
    out.sum().backward()
    assert out.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in layer.parameters())


@pytest.mark.parametrize("kernel, G", [(kernels.LSTMStep, 4), (kernels.GRUStep, 3)])
def test_a_kernel_applied_with_no_options_backpropagates(kernel, G):
    """Called as ``Kernel.apply(ax, h, ...)`` with no keywords at all, as any Function may be."""
    rng = np.random.default_rng(3)
    B, H = 2, 3
    states = (mg.Tensor(rng.standard_normal((B, H))),) * (2 if G == 4 else 1)
    w = mg.Tensor(rng.standard_normal((G * H, H)), requires_grad=True)
    grads = []
    for options in ({}, {"t": None}):
        ax = mg.Tensor(rng.standard_normal((B, G * H)) if not grads else grads[0][0], requires_grad=True)
        w.grad = None
        (kernel.apply(ax, *states, w, **options) ** 2).sum().backward()
        grads.append((ax.data, ax.grad.data, w.grad.data))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_kernel_errors_name_the_op_and_the_shapes():
    cell = make_cell("lstm", 3, 4)
    ax, h = mg.zeros(2, 16, dtype=np.float64), mg.zeros(2, 4, dtype=np.float64)
    with pytest.raises(mg.ShapeError, match=r"lstm_step: got ax \(2, 16\), h \(2, 4\), c \(2, 5\), "
                       r"weight_hh \(16, 4\), bias_hh \(16,\); expected ax \(B, 4H\), h and c \(B, H\)"):
        kernels.lstm_step(ax, h, mg.zeros(2, 5, dtype=np.float64), cell.weight_hh, cell.bias_hh)
    with pytest.raises(mg.ShapeError, match=r"gru_step: got ax \(2, 16\), h \(2, 4\), weight_hh \(16, 4\)"):
        kernels.gru_step(ax, h, cell.weight_hh)
    with pytest.raises(TypeError, match=r"need one dtype.*got ax float64, h float32, c float64"):
        kernels.lstm_step(ax, h.float(), h, cell.weight_hh)
    rnn = make_cell("rnn_tanh", 3, 4)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        kernels.rnn_step(h, h, rnn.weight_hh, nonlinearity="sigmoid")


@pytest.mark.parametrize("rows, shape, dtype, made", [
    (16, (512, 128), np.float32, True), (32, (512, 128), np.float32, False), (2, (384, 128), np.float32, True), (32, (1024, 256), np.float32, False), (1, (512, 128), np.float32, False),
    (64, (512, 128), np.float32, False), (32, (512, 128), np.float64, False), (32, (128, 128), np.float32, False),
    (8, (256, 256), np.float32, True), (16, (256, 256), np.float32, False)])
def test_transposed_for_copies_w_t_exactly_where_dot_t_is_slow(rows, shape, dtype, made):
    w = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    w_t = mg.ops.transposed_for(rows, w)
    assert (w_t is not None) == made
    if made:
        assert w_t.flags.c_contiguous and np.array_equal(w_t, w.T)
        a = np.random.default_rng(1).standard_normal((rows, shape[1])).astype(dtype)
        np.testing.assert_allclose(mg.ops.dot_t(a, w, w_t), mg.ops.dot_t(a, w), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("rows, shape, dtype, copy", [
    (32, (1024, 256), np.float32, False),  # the slow order: (w a^T)^T
    (8, (512, 128), np.float32, True),  # from a C-ordered w^T
    (32, (64, 16), np.float64, False)])  # the direct product
def test_dot_t_is_a_times_w_transposed_into_out_in_every_order(rows, shape, dtype, copy):
    rng = np.random.default_rng(2)
    a, w = rng.standard_normal((rows, shape[1])).astype(dtype), rng.standard_normal(shape).astype(dtype)
    w_t = mg.ops.transposed_for(rows, w) if copy else None
    assert (w_t is not None) == copy
    out = np.full((rows, shape[0]), np.nan, dtype=dtype)
    got = mg.ops.dot_t(a, w, w_t, out=out)
    assert got is out and out.flags.c_contiguous
    np.testing.assert_allclose(out, a.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(out, mg.ops.dot_t(a, w, w_t))


@pytest.mark.parametrize("kind", ["rnn_tanh", "lstm", "gru"])
def test_steps_reading_w_t_give_the_same_node_outputs_and_gradients(kind):
    """w_t changes how the forward product is computed, nothing else: the node's input is still W_hh."""
    cell = make_cell(kind, 3, 4)
    T, B = 3, 2
    rng = np.random.default_rng(2)
    results = []
    for w_t in (None, np.ascontiguousarray(cell.weight_hh.data.T)):
        cell.zero_grad()
        ax = mg.Tensor(rng.standard_normal((T, B, cell.gates * 4)), requires_grad=True)
        state = cell.initial_state(B)
        for t in range(T):
            state = cell.fused_recurrence(ax, state, t, w_t)
        loss = sum((s * s).sum() for s in (state if isinstance(state, tuple) else (state,)))
        loss.backward()
        results.append([loss.item(), ax.grad.data, cell.weight_hh.grad.data])
        rng = np.random.default_rng(2)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(mg.ShapeError, match=r"w_t must be weight_hh.T, of shape \(4, \d+\)"):
        cell.fused_recurrence(ax, cell.initial_state(B), 0, np.zeros((cell.gates * 4 + 1, 4)))


# ---------------------------------------------------------------------------------------------
# a loop's steps keep no copy of the projection: gates in its rows, h' in rows of one buffer

def run_steps(cell, X, B, in_place, reverse=False):
    """The cell over X (T, B, D) as unroll steps it, its fused recurrence given ``ax`` (in place) or not."""
    AX = cell.project(X)
    recur = cell.recurrence(True, ax=AX if in_place else None)
    state, outs = cell.initial_state(B), [None] * X.shape[0]
    for t in (reversed(range(X.shape[0])) if reverse else range(X.shape[0])):
        state = recur(AX, state, t)
        outs[t] = cell.output(state)
    return AX, outs, state


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(KINDS), T=st.integers(1, 4), B=st.integers(0, 3), D=st.integers(1, 3),
       H=st.integers(1, 4), bias=st.booleans(), reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_steps_in_place_give_the_same_outputs_and_gradients_and_keep_no_copy(kind, T, B, D, H, bias, reverse, seed):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mg.ops, "VIEW_BYTES", 0)  # small sizes take the view too
        check_in_place(kind, T, B, D, H, bias, reverse, seed)


def check_in_place(kind, T, B, D, H, bias, reverse, seed):
    cell = make_cell(kind, D, H, bias, seed)
    X = mg.Tensor(np.random.default_rng(seed).standard_normal((T, B, D)), requires_grad=True)
    results = []
    for in_place in (False, True):
        cell.zero_grad()
        X.grad = None
        AX, outs, state = run_steps(cell, X, B, in_place, reverse)
        out = mg.stack(outs)
        if in_place:
            assert AX._version == 1  # the loop marked it: it holds the gates now
            steps = [n._ctx for n in mg.toposort(out) if n.op.endswith("_step")]
            assert len(steps) == T
            for fn in steps:  # each step's saved gates are its own row of ax, not an array of their own
                assert np.shares_memory(fn.out if kind.startswith("rnn") else fn.gates, AX.data) == (B > 0)
            # the stacked output is one buffer's view: ax itself for the RNN (its gates are h'), else h' rows
            owner = AX.data if kind.startswith("rnn") else outs[0].data.base
            assert np.shares_memory(out.data, owner) == (B > 0)
        weighted_loss([out, *flat(state)], np.random.default_rng(seed)).backward()
        results.append([out.data.copy(), *[s.data for s in flat(state)], X.grad.data,
                        *[getattr(cell, p).grad.data for p in PARAMS if getattr(cell, p) is not None]])
    assert_all_close(results[1], results[0], 1e-12, 1e-12, f"{kind} in place")


def test_a_node_that_read_the_projection_before_the_steps_overwrote_it_refuses_to_backward():
    cell = make_cell("lstm", 2, 3)
    AX = cell.project(mg.randn(4, 2, 2))
    early = (AX * AX).sum()  # mul saved AX's values, which the steps are about to overwrite
    recur = cell.recurrence(True, ax=AX)
    state = cell.initial_state(2)
    for t in range(4):
        state = recur(AX, state, t)
    (state[0].sum() + state[1].sum()).backward()  # the steps themselves never read ax back
    with pytest.raises(RuntimeError, match=r"op 'mul'.*input 0, a tensor of shape \(4, 2, 12\).*modified by an in-place"):
        early.backward()


@pytest.mark.parametrize("kernel", [kernels.rnn_step, kernels.lstm_step, kernels.gru_step])
def test_in_place_steps_refuse_read_only_input_and_a_misshapen_out(kernel):
    G = {kernels.rnn_step: 1, kernels.lstm_step: 4, kernels.gru_step: 3}[kernel]
    ax = mg.zeros(G * 3, dtype=np.float64).expand(2, 2, G * 3)  # expand() gives read-only memory
    h, w = mg.zeros(2, 3, dtype=np.float64), mg.zeros(G * 3, 3, dtype=np.float64)
    states = (h, h) if G == 4 else (h,)
    with pytest.raises(ValueError, match=r"_step: output array is read-only \(input shapes \(2, 2, \d+\), \(2, 3\)"):
        kernel(ax, *states, w, t=0, inplace=True)
    if G > 1:
        with pytest.raises(mg.ShapeError, match=r"_(step|hidden): out must hold h' \(2, 3\) float64 at row t=1, got \(1, 2, 3\)"):
            kernel(mg.zeros(2, 2, G * 3, dtype=np.float64), *states, w, t=1, out=np.zeros((1, 2, 3)))


# ---------------------------------------------------------------------------------------------
# the switch: which graph each mode records

def ops(t):
    return Counter(n.op for n in mg.toposort(t))


def test_layers_record_one_fused_node_per_step_by_default_and_every_op_when_asked():
    T = 3
    x = mg.randn(T, 2, 2)
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True)
    out, _ = lstm(x)
    assert ops(out)["lstm_step"] == 4 * T and ops(out)["linear"] == 4  # one projection per layer and direction
    out, _, _ = lstm(x, return_states=True)
    assert ops(out)["lstm_step"] == 4 * T
    composed = ops(LSTM(2, 3, num_layers=2, bidirectional=True, fused=False)(x)[0])
    assert composed["sigmoid"] == 3 * 4 * T and composed["linear"] == 4 + 4 * T and "lstm_step" not in composed
    gru = GRU(2, 3)
    with zoo.unfused():
        assert ops(gru(x)[0])["gru_step"] == 0
        with zoo.fusion(True):  # an inner block overrides the outer one
            assert ops(gru(x)[0])["gru_step"] == T
        assert ops(gru(x)[0])["sigmoid"] == 2 * T
    assert ops(gru(x)[0])["gru_step"] == T
    with zoo.fusion(True):  # a model's own fused=False is never raised
        assert ops(RNN(2, 3, fused=False)(x)[0])["rnn_step"] == 0


def test_cells_step_fused_by_default_and_decoders_inherit_the_layer_setting():
    x = mg.randn(2, 2)
    assert ops(LSTMCell(2, 3)(x)[0]) == Counter({"": 7, "linear": 1, "lstm_step": 1, "getitem": 1, "lstm_hidden": 1})
    assert ops(GRUCell(2, 3)(x))["gru_step"] == 1
    with zoo.unfused():
        assert ops(RNNCell(2, 3)(x))["linear"] == 2
    assert ops(RNNCell(2, 3, fused=False)(x))["linear"] == 2
    layer = LSTM(2, 3, num_layers=2)
    assert ops(layer.cell(1).step(mg.randn(2, 3), layer.cell(1).initial_state(2))[0])["lstm_step"] == 1
    layer = LSTM(2, 3, fused=False)
    assert ops(layer.cell(0).step(x, layer.cell(0).initial_state(2))[0])["lstm_step"] == 0

    @zoo.fusion(False)
    def composed_graph():
        return ops(GRUCell(2, 3)(x))
    assert composed_graph()["gru_step"] == 0 and composed_graph.__name__ == "composed_graph"


def test_fused_option_is_checked_and_shown():
    for bad in ("yes", "cell", 1, None):
        with pytest.raises(ValueError, match=f"fused must be True .*, False .* or 'sequence' .*, got {re.escape(repr(bad))}"):
            LSTM(2, 3, fused=bad)
    with pytest.raises(ValueError, match="fused must be"):
        zoo.fusion(None)
    assert repr(LSTM(3, 4, fused=False)) == "LSTM(3, 4, fused=False)"
    assert repr(GRU(3, 4, 2)) == "GRU(3, 4, num_layers=2)"
    assert repr(RNNCell(3, 4, fused=False)) == "RNNCell(3, 4, fused=False)"


def test_fused_can_be_changed_after_construction():
    x = mg.randn(3, 2, 2)
    gru = GRU(2, 3)
    gru.fused = False
    assert ops(gru(x)[0])["gru_step"] == 0
    gru.fused = True
    assert ops(gru(x)[0])["gru_step"] == 3
    cell = GRUCell(2, 3)
    cell.fused = False
    assert ops(cell(x[0]))["gru_step"] == 0


def test_the_fusion_cap_is_per_thread():
    """One thread inside ``unfused()`` does not change what another records (interleaved by events)."""
    x = mg.randn(2, 1, 2)
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def other():
        with zoo.unfused():
            inside.set()
            checked.wait(5)
            seen["other"] = ops(GRU(2, 3)(x)[0])["gru_step"]

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    seen["main"] = ops(GRU(2, 3)(x)[0])["gru_step"]
    checked.set()
    thread.join(5)
    assert seen == {"main": 2, "other": 0}


# ---------------------------------------------------------------------------------------------
# every mode computes the same thing

@settings(max_examples=25)
@given(kind=st.sampled_from(KINDS), layers=st.integers(1, 2), bi=st.booleans(), bf=st.booleans(),
       h0=st.booleans(), dropout=st.sampled_from([0.0, 0.4]), T=st.integers(1, 4), B=st.integers(0, 3),
       seed=st.integers(0, 2**16), data=st.data())
def test_every_mode_gives_the_same_outputs_and_gradients(kind, layers, bi, bf, h0, dropout, T, B, seed, data):
    """The whole stack (dropout between layers included: both modes draw the same masks), batch 0 too."""
    D, H = 2, 3
    cls, options = LAYERS[kind]
    lengths = data.draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B), label="lengths")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D) if bf else (T, B, D))
    n = layers * (2 if bi else 1)
    hx = [rng.standard_normal((n, B, H)) for _ in range(2 if kind == "lstm" else 1)] if h0 else []
    results = []
    for fused in MODES:
        model = cls(D, H, num_layers=layers, bidirectional=bi, batch_first=bf, dropout=dropout, dtype=np.float64,
                    generator=np.random.default_rng(seed), fused=fused, **options)
        xt, *hxt = leaves([x] + hx)
        mg.manual_seed(seed)
        out, state = model(xt, (tuple(hxt) if kind == "lstm" else hxt[0]) if h0 else None, lengths=lengths)
        outputs = [out] + flat(state)
        assert out.shape == ((B, T, n // layers * H) if bf else (T, B, n // layers * H))
        loss = weighted_loss(outputs, np.random.default_rng(seed + 1))
        if loss.requires_grad:
            loss.backward()
        results.append(([o.data for o in outputs], grads([xt, *hxt, *model.parameters()])))
    for fused, (values, gradients) in zip(MODES[1:], results[1:]):
        assert_all_close(values, results[0][0], 1e-12, 1e-13, f"fused={fused!r} values")
        assert_all_close(gradients, results[0][1], 1e-11, 1e-12, f"fused={fused!r} gradients")


def test_gradient_shares_are_the_same_in_every_mode():
    rng = np.random.default_rng(0)
    T = 5
    x = rng.standard_normal((T, 2, 2))
    shares = []
    for mode in MODES:
        gru = GRU(2, 3, bidirectional=True, dtype=np.float64, generator=np.random.default_rng(1), fused=mode)
        out, h_n = gru(mg.Tensor(x), lengths=[5, 3])
        shares.append(gradient_shares((out * out).sum() + h_n.sum(), gru))
    for name in shares[0].steps:
        for other in shares[1:]:
            np.testing.assert_allclose(other.steps[name], shares[0].steps[name], rtol=1e-12, atol=1e-14, err_msg=name)
            np.testing.assert_allclose(other.other[name], shares[0].other[name], atol=1e-14, err_msg=name)
        np.testing.assert_allclose(shares[1].total(name), dict(gru.named_parameters())[name].grad.data,
                                   rtol=1e-12, atol=1e-14)
    assert np.abs(shares[0].steps["weight_hh_l0"][1:]).min(axis=(1, 2)).max() > 0
    assert np.abs(shares[0].steps["weight_ih_l0"]).max(axis=(1, 2)).min() > 0  # the projection, split by step


def test_each_fused_step_is_its_own_consumer_of_the_weights():
    cell = make_cell("lstm", 2, 3)
    run = unroll(cell, mg.Tensor(np.ones((4, 1, 2))), cell.initial_state(1))
    (uses,) = edge_gradients(mg.stack(run.outputs).sum(), [cell.weight_hh])
    assert [(n.op, n.scope) for n, _ in uses] == [("lstm_step", f"t={t}") for t in range(4)]
    np.testing.assert_allclose(sum(g for _, g in uses), cell.weight_hh.grad.data, rtol=1e-14)
