"""The opt-in sequence kernels (zoo.sequence, fused="sequence"): each equals the unrolled graph it
replaces (values and every gradient, float64, hypothesis-drawn sizes, masks, both directions),
passes gradcheck, can run backward again, splits its gradient by step, stays float32."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import zoo
from test_kernels import KINDS, LAYERS, assert_all_close, flat, grads, leaves, make_cell, weighted_loss
from zoo import sequence, sequence_mask, unroll


def run_sequence(kind, X, states, params, **options):
    """The sequence kernel of ``kind`` -> (outputs, h_n[, c_n])."""
    if kind == "lstm":
        return sequence.lstm_sequence(X, *states, *params, **options)
    if kind == "gru":
        return sequence.gru_sequence(X, *states, *params, **options)
    return sequence.rnn_sequence(X, *states, *params, nonlinearity=kind[4:], **options)


def draw_mask(draw, how, T, B):
    if how == "none":
        return None
    if how == "lengths":
        return sequence_mask(draw(st.lists(st.integers(0, T), min_size=B, max_size=B)), T)
    return np.array(draw(st.lists(st.booleans(), min_size=T * B, max_size=T * B))).reshape(T, B)


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
            run = unroll(cell, X, state, mask=mask, reverse=reverse)
            out, final = mg.stack(run.outputs), run.state
        outputs = [out] + flat(final)
        weighted_loss(outputs, np.random.default_rng(seed + 2)).backward()
        results.append(([o.data for o in outputs], grads([X, *flat(state), *cell.parameters()])))
    (v0, g0), (v1, g1) = results
    assert_all_close(v1, v0, 1e-12, 1e-13, f"{kind} values")
    assert_all_close(g1, g0, 1e-11, 1e-12, f"{kind} gradients (X, initial state, parameters)")


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
def test_sequence_kernels_keep_float32(kind):
    packed, _ = sequence_node(kind, np.float32)
    assert packed.dtype == np.float32
    g = np.ones(packed.shape, np.float32)
    for arr in packed.grad_fn.backward(g) + packed.grad_fn.step_grads(g)[1:]:
        assert arr.dtype == np.float32


def test_sequence_kernel_errors_name_the_op_and_the_shapes():
    cell = make_cell("lstm", 3, 4)
    X, h = mg.zeros(5, 2, 3, dtype=np.float64), mg.zeros(2, 4, dtype=np.float64)
    with pytest.raises(mg.ShapeError, match=r"lstm_sequence: got X \(5, 2, 3\), h0 \(2, 4\), c0 \(2, 5\), "
                       r"weight_ih \(16, 3\).*expected X \(T, B, D\), h0 and c0 \(B, H\)"):
        sequence.lstm_sequence(X, h, mg.zeros(2, 5, dtype=np.float64), *cell.parameters())
    with pytest.raises(mg.ShapeError, match=r"mask of shape \(2, 5\), expected \(T, B\) = \(5, 2\)"):
        sequence.lstm_sequence(X, h, h, *cell.parameters(), mask=np.ones((2, 5), bool))
    with pytest.raises(TypeError, match=r"need one dtype.*got X float64, h0 float32, c0 float64"):
        sequence.lstm_sequence(X, h.float(), h, *cell.parameters())
    rnn = make_cell("rnn_tanh", 3, 4)
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        sequence.rnn_sequence(X, h, *rnn.parameters(), nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="both biases"):
        sequence.rnn_sequence(X, h, rnn.weight_ih, rnn.weight_hh, rnn.bias_ih)


def test_a_sequence_layer_records_one_node_per_layer_and_direction_and_steps_when_asked():
    x = mg.randn(3, 2, 2)
    lstm = LAYERS["lstm"][0](2, 3, num_layers=2, bidirectional=True, fused="sequence")
    out, _ = lstm(x)
    kernels = [n for n in mg.toposort(out) if n.op == "lstm_sequence"]
    assert [n.scope for n in kernels] == [f"layer{layer}/{d}" for layer in range(2) for d in ("fwd", "bwd")]
    out, _, _ = lstm(x, return_states=True)  # per-step states need per-step nodes
    assert sum(n.op == "lstm_step" for n in mg.toposort(out)) == 4 * 3
    with zoo.fusion(True):  # the cap lowers an opt-in sequence layer to steps
        assert sum(n.op == "lstm_step" for n in mg.toposort(lstm(x)[0])) == 4 * 3
    assert repr(lstm).endswith("fused='sequence')")
