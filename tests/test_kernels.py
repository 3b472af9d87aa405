"""Fused recurrent kernels (zoo.kernels): each equals its composed twin (values and every gradient,
float64, hypothesis-drawn sizes), passes gradcheck on its own, stays float32; the backward factors
compute their docstrings' equations; the fusion switch."""
import inspect
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import zoo
from minigrad.edges import edge_gradients
from zoo import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, gradient_shares, kernels, sequence_mask, unroll

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
LAYERS = {"rnn_tanh": (RNN, {}), "rnn_relu": (RNN, {"nonlinearity": "relu"}), "lstm": (LSTM, {}), "gru": (GRU, {})}
MODES = (True, "cell", False)
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def make_cell(kind, D, H, bias=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    if kind.startswith("rnn"):
        return RNNCell(D, H, bias, nonlinearity=kind[4:], dtype=dtype, generator=rng)
    return (LSTMCell if kind == "lstm" else GRUCell)(D, H, bias, dtype=dtype, generator=rng)


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def leaves(arrays):
    return [mg.Tensor(a, requires_grad=True) for a in arrays]


def grads(tensors):
    return [None if t.grad is None else t.grad.data.copy() for t in tensors]


def assert_all_close(actual, expected, rtol, atol, what):
    """Pairwise allclose; a missing gradient (None) counts as zeros (a graph with no real step
    records nothing per step, while a sequence node sends zeros)."""
    assert len(actual) == len(expected), what
    for k, (a, e) in enumerate(zip(actual, expected)):
        if a is None or e is None:
            assert not np.any(a) and not np.any(e), f"{what} [{k}]: one side has a nonzero gradient"
        else:
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"{what} [{k}]")


def weighted_loss(outputs, rng):
    """sum(w * out) over every output with fixed random w, so each element's gradient differs."""
    return sum((o * rng.standard_normal(o.shape)).sum() for o in outputs)


def run_sequence(kind, X, states, params, **options):
    """The sequence kernel of ``kind`` -> (outputs, h_n[, c_n])."""
    if kind == "lstm":
        return kernels.lstm_sequence(X, *states, *params, **options)
    if kind == "gru":
        return kernels.gru_sequence(X, *states, *params, **options)
    return kernels.rnn_sequence(X, *states, *params, nonlinearity=kind[4:], **options)


def draw_mask(draw, how, T, B):
    if how == "none":
        return None
    if how == "lengths":
        return sequence_mask(draw(st.lists(st.integers(0, T), min_size=B, max_size=B)), T)
    return np.array(draw(st.lists(st.booleans(), min_size=T * B, max_size=T * B))).reshape(T, B)


# ---------------------------------------------------------------------------------------------
# each kernel equals its composed twin

@given(kind=st.sampled_from(KINDS), B=st.integers(1, 4), D=st.integers(1, 4), H=st.integers(1, 5),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_fused_step_equals_the_composed_step(kind, B, D, H, bias, seed):
    cell = make_cell(kind, D, H, bias, seed)
    rng = np.random.default_rng(seed + 1)
    arrays = [rng.standard_normal((B, D))] + [rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1)]
    results = []
    for step in (cell.composed_step, cell.fused_step):
        cell.zero_grad()
        x, *state = leaves(arrays)
        out = flat(step(x, tuple(state) if kind == "lstm" else state[0]))
        weighted_loss(out, np.random.default_rng(seed + 2)).backward()
        results.append(([o.data for o in out], grads([x, *state, *cell.parameters()])))
    (v0, g0), (v1, g1) = results
    assert_all_close(v1, v0, 1e-13, 1e-14, f"{kind} values")
    assert_all_close(g1, g0, 1e-12, 1e-13, f"{kind} gradients (x, state, parameters)")


@settings(max_examples=40)
@given(kind=st.sampled_from(KINDS), T=st.integers(1, 5), B=st.integers(1, 3), D=st.integers(1, 3),
       H=st.integers(1, 4), bias=st.booleans(), reverse=st.booleans(),
       how=st.sampled_from(["none", "lengths", "mask"]), seed=st.integers(0, 2**16), data=st.data())
def test_sequence_kernel_equals_the_composed_unroll(kind, T, B, D, H, bias, reverse, how, seed, data):
    """One node per layer vs ~15 per step: outputs, final state, and the gradients of the input,
    the initial state and every parameter, with and without padding, in both directions."""
    cell = make_cell(kind, D, H, bias, seed)
    mask = draw_mask(data.draw, how, T, B)
    rng = np.random.default_rng(seed + 1)
    arrays = [rng.standard_normal((T, B, D))] + [rng.standard_normal((B, H)) for _ in range(2 if kind == "lstm" else 1)]
    results = []
    for fused in (False, True):
        cell.zero_grad()
        X, *state = leaves(arrays)
        state = tuple(state) if kind == "lstm" else state[0]
        if fused:
            out, final = cell.fused_sequence(X, state, mask=mask, reverse=reverse)
        else:
            with zoo.unfused():
                run = unroll(cell, X, state, mask=mask, reverse=reverse)
            out, final = mg.stack(run.outputs), run.state
        outputs = [out] + flat(final)
        weighted_loss(outputs, np.random.default_rng(seed + 2)).backward()
        results.append(([o.data for o in outputs], grads([X, *flat(state), *cell.parameters()])))
    (v0, g0), (v1, g1) = results
    assert_all_close(v1, v0, 1e-12, 1e-13, f"{kind} values")
    assert_all_close(g1, g0, 1e-11, 1e-12, f"{kind} gradients (X, initial state, parameters)")


# ---------------------------------------------------------------------------------------------
# the backward factors the step and sequence kernels share are their docstrings' equations

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
# gradcheck of the kernels themselves

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_step_kernels_pass_gradcheck(kind, bias):
    rng = np.random.default_rng(3)
    B, D, H = 2, 3, 2
    cell = make_cell(kind, D, H, bias, seed=4)
    x, h, c = leaves([rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))])

    def fn(x, h, c, *params):
        return cell.fused_step(x, (h, c) if kind == "lstm" else h)
    mg.gradcheck(fn, [x, h, c] + cell.parameters(), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse, how", [(False, "none"), (True, "lengths"), (False, "mask")])
def test_sequence_kernels_pass_gradcheck(kind, reverse, how):
    rng = np.random.default_rng(5)
    T, B, D, H = 4, 3, 2, 2
    mask = {"none": None, "lengths": sequence_mask([4, 1, 2], T),
            "mask": np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0], [1, 0, 1]], bool)}[how]
    params = leaves(make_cell(kind, D, H, seed=6).state_dict().values())
    X, h0, c0 = leaves([rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))])
    states = [h0, c0] if kind == "lstm" else [h0]

    def fn(*inputs):
        return run_sequence(kind, X, states, params, reverse=reverse, mask=mask)
    mg.gradcheck(fn, [X, *states, *params], atol=1e-8, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# what backward promises: re-runnable, splittable by step, float32 kept

def sequence_node(kind, dtype, T=4, B=3, D=2, H=3, reverse=True, mask=True, seed=0):
    """The packed output of one sequence kernel node (float ``dtype``), and its inputs."""
    rng = np.random.default_rng(seed)
    params = [mg.Tensor(p.astype(dtype), requires_grad=True)
              for p in make_cell(kind, D, H, seed=seed + 1).state_dict().values()]
    X, h0, c0 = (mg.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
                 for s in ((T, B, D), (B, H), (B, H)))
    states = [h0, c0] if kind == "lstm" else [h0]
    out = run_sequence(kind, X, states, params, reverse=reverse,
                       mask=sequence_mask([T, 1, 2][:B], T) if mask else None)
    return out[0].parents[0], [X, *states, *params]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reverse, mask", [(False, False), (True, False), (False, True), (True, True)])
def test_backward_can_run_again_and_step_grads_sum_to_it(kind, reverse, mask):
    """backward reads its saved buffers without changing them (viz and gradient_flow run it
    again), and step_grads splits each shared input's gradient into what each step sent."""
    packed, inputs = sequence_node(kind, np.float64, reverse=reverse, mask=mask)
    g = np.random.default_rng(1).standard_normal(packed.shape)
    fn = packed.grad_fn
    first, again = fn.backward(g), fn.backward(g)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    split = fn.step_grads(g)
    assert split[0] is None  # the input sequence is not shared across steps
    for k, (total, by_step) in enumerate(zip(first[1:], split[1:]), start=1):
        assert by_step.shape == (fn.T,) + inputs[k].shape
        np.testing.assert_allclose(by_step.sum(axis=0), total, rtol=1e-12, atol=1e-14, err_msg=f"input {k}")


@pytest.mark.parametrize("kind", KINDS)
def test_kernels_keep_float32_end_to_end(kind):
    """No silent float64: outputs, every gradient backward returns, and the per-step split."""
    packed, inputs = sequence_node(kind, np.float32)
    assert packed.dtype == np.float32
    g = np.ones(packed.shape, np.float32)
    for arr in packed.grad_fn.backward(g) + packed.grad_fn.step_grads(g)[1:]:
        assert arr.dtype == np.float32
    cell = make_cell(kind, 2, 3, dtype=np.float32)
    x = mg.Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    out = flat(cell(x))
    node = out[-1].parents[0] if kind == "lstm" else out[0]  # the LSTM's c' is a slice of the step node
    assert {o.dtype for o in out} == {np.dtype(np.float32)}
    for arr in node.grad_fn.backward(np.ones(node.shape, np.float32)):
        assert arr is None or arr.dtype == np.float32
    layer_cls, options = LAYERS[kind]
    layer = layer_cls(2, 3, num_layers=2, bidirectional=True, **options)  # float32 by default
    out, _ = layer(mg.Tensor(np.ones((4, 2, 2), np.float32)), lengths=[4, 2])
    out.sum().backward()
    assert out.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_kernel_errors_name_the_op_and_the_shapes():
    cell = make_cell("lstm", 3, 4)
    X, h = mg.zeros(5, 2, 3, dtype=np.float64), mg.zeros(2, 4, dtype=np.float64)
    with pytest.raises(mg.ShapeError, match=r"lstm_sequence: got X \(5, 2, 3\), h0 \(2, 4\), c0 \(2, 5\), "
                       r"weight_ih \(16, 3\).*expected X \(T, B, D\), h0 and c0 \(B, H\)"):
        kernels.lstm_sequence(X, h, mg.zeros(2, 5, dtype=np.float64), *cell.parameters())
    with pytest.raises(mg.ShapeError, match=r"gru_cell: got x \(2, 3\), h \(2, 4\), weight_ih \(16, 3\).*weight_ih \(3H, D\)"):
        kernels.gru_cell(X[0], h, *cell.parameters())
    with pytest.raises(mg.ShapeError, match=r"mask of shape \(2, 5\), expected \(T, B\) = \(5, 2\)"):
        kernels.lstm_sequence(X, h, h, *cell.parameters(), mask=np.ones((2, 5), bool))
    with pytest.raises(TypeError, match=r"need one dtype.*got X float64, h0 float32, c0 float64"):
        kernels.lstm_sequence(X, h.float(), h, *cell.parameters())
    rnn = make_cell("rnn_tanh", 3, 4)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        kernels.rnn_sequence(X, h, *rnn.parameters(), nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="both biases"):
        kernels.rnn_cell(X[0], h, rnn.weight_ih, rnn.weight_hh, rnn.bias_ih)


# ---------------------------------------------------------------------------------------------
# the switch: which graph each mode records

def ops(t):
    return Counter(n.op for n in mg.toposort(t))


def test_layers_fuse_by_default_and_step_by_step_when_asked():
    T = 3
    x = mg.randn(T, 2, 2)
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True)
    out, _ = lstm(x)
    assert ops(out)["lstm_sequence"] == 4 and ops(out)["lstm_cell"] == 0
    out, _, _ = lstm(x, return_states=True)  # per-step states need per-step nodes
    assert ops(out)["lstm_cell"] == 4 * T and ops(out)["lstm_sequence"] == 0
    out, _ = LSTM(2, 3, num_layers=2, bidirectional=True, fused="cell")(x)
    assert ops(out)["lstm_cell"] == 4 * T
    composed = ops(LSTM(2, 3, num_layers=2, bidirectional=True, fused=False)(x)[0])
    assert composed["sigmoid"] == 3 * 4 * T and not {"lstm_cell", "lstm_sequence"} & set(composed)
    gru = GRU(2, 3)
    with zoo.unfused():
        assert ops(gru(x)[0])["gru_cell"] == 0
        with zoo.fusion(True):  # an inner block overrides the outer one
            assert ops(gru(x)[0])["gru_sequence"] == 1
        assert ops(gru(x)[0])["sigmoid"] == 2 * T
    with zoo.fusion("cell"):
        assert ops(gru(x)[0])["gru_cell"] == T
    assert ops(gru(x)[0])["gru_sequence"] == 1
    with zoo.fusion(True):  # a model's own fused=False is never raised
        assert ops(RNN(2, 3, fused=False)(x)[0])["rnn_cell"] == 0


def test_cells_step_fused_by_default_and_decoders_inherit_the_layer_setting():
    x = mg.randn(2, 2)
    assert ops(LSTMCell(2, 3)(x)[0]) == Counter({"": 7, "lstm_cell": 1, "getitem": 2, "lstm_hidden": 1})
    assert ops(GRUCell(2, 3)(x))["gru_cell"] == 1
    with zoo.unfused():
        assert ops(RNNCell(2, 3)(x))["linear"] == 2
    assert ops(RNNCell(2, 3, fused=False)(x))["linear"] == 2
    layer = LSTM(2, 3, num_layers=2)
    assert ops(layer.cell(1).step(mg.randn(2, 3), layer.cell(1).initial_state(2))[0])["lstm_cell"] == 1
    layer = LSTM(2, 3, fused=False)
    assert ops(layer.cell(0).step(x, layer.cell(0).initial_state(2))[0])["lstm_cell"] == 0

    @zoo.fusion(False)
    def composed_graph():
        return ops(GRUCell(2, 3)(x))
    assert composed_graph()["gru_cell"] == 0 and composed_graph.__name__ == "composed_graph"


def test_fused_option_is_checked_and_shown():
    with pytest.raises(ValueError, match="fused must be True, False or 'cell', got 'yes'"):
        LSTM(2, 3, fused="yes")
    with pytest.raises(ValueError, match="fused must be"):
        zoo.fusion(None)
    assert repr(LSTM(3, 4, fused=False)) == "LSTM(3, 4, fused=False)"
    assert repr(GRU(3, 4, 2, fused="cell")) == "GRU(3, 4, num_layers=2, fused='cell')"
    assert repr(RNNCell(3, 4, fused=False)) == "RNNCell(3, 4, fused=False)"


def test_fused_can_be_changed_after_construction():
    x = mg.randn(3, 2, 2)
    gru = GRU(2, 3)
    gru.fused = "cell"
    assert ops(gru(x)[0])["gru_cell"] == 3
    cell = GRUCell(2, 3)
    cell.fused = False
    assert ops(cell(x[0]))["gru_cell"] == 0


# ---------------------------------------------------------------------------------------------
# every mode computes the same thing

@settings(max_examples=25)
@given(kind=st.sampled_from(KINDS), layers=st.integers(1, 2), bi=st.booleans(), bf=st.booleans(),
       h0=st.booleans(), dropout=st.sampled_from([0.0, 0.4]), T=st.integers(1, 4), B=st.integers(1, 3),
       seed=st.integers(0, 2**16), data=st.data())
def test_every_mode_gives_the_same_outputs_and_gradients(kind, layers, bi, bf, h0, dropout, T, B, seed, data):
    """The whole stack (dropout between layers included: every mode draws the same masks)."""
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
        loss = weighted_loss(outputs, np.random.default_rng(seed + 1))
        if loss.requires_grad:
            loss.backward()
        results.append(([o.data for o in outputs], grads([xt, *hxt, *model.parameters()])))
    for fused, (values, gradients) in zip(MODES[1:], results[1:]):
        assert_all_close(values, results[0][0], 1e-12, 1e-13, f"fused={fused!r} values")
        assert_all_close(gradients, results[0][1], 1e-11, 1e-12, f"fused={fused!r} gradients")


@pytest.mark.parametrize("fused", MODES)
def test_gradient_shares_are_the_same_in_every_mode(fused):
    """A sequence node splits its gradient by step itself; per-step nodes are one consumer each."""
    rng = np.random.default_rng(0)
    T = 5
    x = rng.standard_normal((T, 2, 2))
    shares = []
    for mode in (False, fused):
        gru = GRU(2, 3, bidirectional=True, dtype=np.float64, generator=np.random.default_rng(1), fused=mode)
        out, h_n = gru(mg.Tensor(x), lengths=[5, 3])
        shares.append(gradient_shares((out * out).sum() + h_n.sum(), gru))
    for name in shares[0].steps:
        np.testing.assert_allclose(shares[1].steps[name], shares[0].steps[name], rtol=1e-12, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(shares[1].other[name], shares[0].other[name], atol=1e-14, err_msg=name)
    assert np.abs(shares[0].steps["weight_hh_l0"][1:]).min(axis=(1, 2)).max() > 0


def test_each_fused_step_is_its_own_consumer_of_the_weights():
    cell = make_cell("lstm", 2, 3)
    run = unroll(cell, mg.Tensor(np.ones((4, 1, 2))), cell.initial_state(1))
    (uses,) = edge_gradients(mg.stack(run.outputs).sum(), [cell.weight_hh])
    assert [(n.op, n.scope) for n, _ in uses] == [("lstm_cell", f"t={t}") for t in range(4)]
    np.testing.assert_allclose(sum(g for _, g in uses), cell.weight_hh.grad.data, rtol=1e-14)
