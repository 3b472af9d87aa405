"""BPTT made checkable: autograd vs hand-derived numpy BPTT vs finite differences; per-step gradient
shares; truncated BPTT; a long sequence."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.edges import edge_gradients
from rnn_reference import PARAMS, bptt, forward, numeric_grad, random_params
from zoo import GRU, LSTM, GRUCell, LSTMCell, RNNCell, unroll
from zoo.bptt import detach_state, gradient_shares, truncated_bptt

CELLS = {
    "rnn_tanh": lambda D, H, bias, fused=True: RNNCell(D, H, bias, nonlinearity="tanh", dtype=np.float64, fused=fused),
    "rnn_relu": lambda D, H, bias, fused=True: RNNCell(D, H, bias, nonlinearity="relu", dtype=np.float64, fused=fused),
    "lstm": lambda D, H, bias, fused=True: LSTMCell(D, H, bias, dtype=np.float64, fused=fused),
    "gru": lambda D, H, bias, fused=True: GRUCell(D, H, bias, dtype=np.float64, fused=fused),
}


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_autograd_equals_hand_derived_bptt_equals_finite_differences(kind, bias, fused):
    """Three ways to the same gradients, per parameter: the recorded graph's backward, BPTT written
    out by hand in numpy (tests/rnn_reference.py), and central differences of the numpy forward."""
    T, B, D, H = 4, 2, 3, 3
    rng = np.random.default_rng(11)
    p = random_params(kind, D, H, rng, bias)
    xs, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H)) if kind == "lstm" else None
    w_out, w_h, w_c = (rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H)))

    # 1. autograd through the unrolled graph (one fused node per step, or every op)
    cell = CELLS[kind](D, H, bias, fused)
    cell.load_state_dict(p)
    x_t, h0_t = mg.Tensor(xs, requires_grad=True), mg.Tensor(h0, requires_grad=True)
    c0_t = None if c0 is None else mg.Tensor(c0, requires_grad=True)
    run = unroll(cell, x_t, h0_t if c0 is None else (h0_t, c0_t), keep_states=True)
    h_T = cell.output(run.state)
    loss = (mg.stack(run.outputs) * w_out).sum() + (h_T * w_h).sum()
    if c0 is not None:
        loss = loss + (run.state[1] * w_c).sum()
    loss.backward()
    auto = {name: getattr(cell, name).grad.data for name in p}
    auto.update(x=x_t.grad.data, h0=h0_t.grad.data)
    if c0 is not None:
        auto["c0"] = c0_t.grad.data

    # 2. BPTT by hand
    hs, cs, cache = forward(kind, p, xs, h0, c0)
    hand = bptt(kind, p, cache, w_out, dh_n=w_h, dc_n=None if c0 is None else w_c)

    # 3. finite differences of the numpy forward
    def numpy_loss():
        hs, cs, _ = forward(kind, p, xs, h0, c0)
        return float(np.sum(hs * w_out) + np.sum(hs[-1] * w_h) + (0 if cs is None else np.sum(cs[-1] * w_c)))

    arrays = dict(p, x=xs, h0=h0) | ({} if c0 is None else {"c0": c0})
    for name, arr in arrays.items():
        np.testing.assert_allclose(auto[name], hand[name], rtol=1e-12, atol=1e-14,
                                   err_msg=f"{kind}: autograd vs hand BPTT, d/d {name}")
        np.testing.assert_allclose(hand[name], numeric_grad(numpy_loss, arr), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{kind}: hand BPTT vs finite differences, d/d {name}")

    # dL/dh_t (and dL/dc_t) kept on the per-step states are the hand derivation's running deltas
    for t, state in enumerate(run.states):
        h_t, c_t = state if c0 is not None else (state, None)
        np.testing.assert_allclose(h_t.grad.data, hand["dh"][t], rtol=1e-12, atol=1e-14, err_msg=f"dL/dh_{t}")
        if c_t is not None:
            np.testing.assert_allclose(c_t.grad.data, hand["dc"][t], rtol=1e-12, atol=1e-14, err_msg=f"dL/dc_{t}")


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_gradient_shares_are_the_per_step_terms_of_bptt(kind, fused):
    """Each step's share of dL/dW equals the step-t term of the hand derivation, and they sum to .grad."""
    T, B, D, H = 5, 2, 2, 3
    rng = np.random.default_rng(4)
    p = random_params(kind, D, H, rng)
    xs, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    c0 = np.zeros((B, H)) if kind == "lstm" else None
    w_out = rng.standard_normal((T, B, H))
    cell = CELLS[kind](D, H, True, fused)
    cell.load_state_dict(p)
    state = mg.Tensor(h0) if c0 is None else (mg.Tensor(h0), mg.Tensor(c0))
    loss = (mg.stack(unroll(cell, mg.Tensor(xs), state).outputs) * w_out).sum()
    shares = gradient_shares(loss, cell)

    _, _, cache = forward(kind, p, xs, h0, c0)
    hand = bptt(kind, p, cache, w_out)
    for name in PARAMS:
        assert shares.steps[name].shape == (T,) + p[name].shape
        np.testing.assert_allclose(shares.steps[name], hand["shares"][name], rtol=1e-12, atol=1e-14, err_msg=name)
        np.testing.assert_array_equal(shares.other[name], 0)
        np.testing.assert_allclose(shares.total(name), getattr(cell, name).grad.data, rtol=1e-13, atol=1e-15)
    assert shares.norms("weight_hh").shape == (T,)
    assert shares.norms("weight_hh").max() > 0


@pytest.mark.parametrize("fused", [True, False], ids=["cells", "ops"])
def test_gradient_shares_of_a_bidirectional_stack_and_an_output_layer(fused):
    """Shares from both directions of every layer land on their input step; an output layer applied to
    all steps at once is counted outside the steps."""
    T, B = 4, 2
    rng = np.random.default_rng(0)
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64, generator=rng, fused=fused)
    W_out = mg.Tensor(rng.standard_normal((6, 1)), requires_grad=True)
    out, _ = lstm(mg.Tensor(rng.standard_normal((T, B, 2))), lengths=[4, 3])
    loss = (out @ W_out).sum()
    params = dict(lstm.named_parameters()) | {"W_out": W_out}
    shares = gradient_shares(loss, params)
    for name, p in params.items():
        np.testing.assert_allclose(shares.total(name), p.grad.data, rtol=1e-12, atol=1e-15, err_msg=name)
    assert shares.steps["weight_hh_l1_reverse"].shape == (T, 12, 3)
    np.testing.assert_array_equal(shares.other["weight_hh_l0"], 0)
    np.testing.assert_array_equal(shares.steps["W_out"], 0)
    np.testing.assert_allclose(shares.other["W_out"], W_out.grad.data)
    # the backward direction starts at each sequence's last real step: with lengths [4, 3] its
    # first step (t=3) sees only sequence 0, whose h starts at zero, so W_hh gets nothing there
    np.testing.assert_array_equal(shares.steps["weight_hh_l0_reverse"][3], 0)
    assert np.abs(shares.steps["weight_hh_l0_reverse"][2]).max() > 0


def test_edge_gradients_split_every_use_including_repeated_operands():
    a = mg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = mg.Tensor(np.array([3.0, -1.0]), requires_grad=True)
    with mg.scope("t=0"):
        u = a * a  # one node using a twice: its two slots are added
    with mg.scope("t=1"):
        v = (a * b).sum()
    loss = u.sum() + v
    (uses_a, uses_b) = edge_gradients(loss, [a, b])
    assert [n.op for n, _ in uses_a] == ["mul", "mul"]
    np.testing.assert_array_equal(uses_a[0][1], 2 * a.data)
    np.testing.assert_array_equal(uses_a[1][1], b.data)
    np.testing.assert_array_equal(uses_a[0][1] + uses_a[1][1], a.grad.data)
    np.testing.assert_array_equal(uses_b[0][1], b.grad.data)
    assert [mg.step_of(n.scope) for n, _ in uses_a] == [0, 1]
    assert mg.step_of("layer0/bwd/t=12") == 12 and mg.step_of("layer0/tx=3") is None


# ---------------------------------------------------------------------------------------------
# truncated BPTT

def _lm(seed=0):
    rng = np.random.default_rng(seed)
    gru = GRU(2, 3, dtype=np.float64, generator=rng)
    W = mg.Tensor(rng.standard_normal((3, 1)), requires_grad=True)

    def forward(x, state, y):
        out, state = gru(x, state)
        return (((out @ W) - y) ** 2).sum(), state
    return gru, W, forward


def _grads(gru, W):
    return [p.grad.data.copy() for p in gru.parameters()] + [W.grad.data.copy()]


def test_truncated_bptt_with_k_at_least_t_is_full_bptt():
    rng = np.random.default_rng(1)
    T = 6
    x, y = mg.Tensor(rng.standard_normal((T, 2, 2))), rng.standard_normal((T, 2, 1))
    gru, W, forward = _lm()
    loss, _ = forward(x, None, y)
    loss.backward()
    full = _grads(gru, W)
    for k in (T, T + 3):
        gru.zero_grad()
        W.grad = None
        result = truncated_bptt(forward, x, k, targets=y)
        assert result.losses == [loss.item()]
        for a, b in zip(_grads(gru, W), full):
            np.testing.assert_array_equal(a, b)


def test_truncated_bptt_gradient_is_the_sum_of_chunk_gradients():
    rng = np.random.default_rng(2)
    T, k = 7, 3
    x, y = mg.Tensor(rng.standard_normal((T, 2, 2))), rng.standard_normal((T, 2, 1))
    gru, W, forward = _lm()
    result = truncated_bptt(forward, x, k, targets=y)
    tbptt = _grads(gru, W)

    # by hand: each chunk separately, from the state the previous chunk ended in (a constant)
    total, state, losses = None, None, []
    for s in range(0, T, k):
        gru.zero_grad()
        W.grad = None
        loss, state = forward(x[s:s + k], state, y[s:s + k])
        loss.backward()
        state = state.detach()
        losses.append(loss.item())
        total = _grads(gru, W) if total is None else [a + b for a, b in zip(total, _grads(gru, W))]
    assert result.losses == losses and len(losses) == 3
    for a, b in zip(tbptt, total):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)

    # the forward pass is not truncated: the carried state is full BPTT's final state ...
    gru.zero_grad()
    W.grad = None
    loss, h_full = forward(x, None, y)
    np.testing.assert_allclose(result.state.data, h_full.data, rtol=1e-14)
    assert not result.state.requires_grad
    # ... but the gradient is: it misses the paths across chunk boundaries
    loss.backward()
    assert not np.allclose(_grads(gru, W)[1], tbptt[1])


def test_truncated_bptt_steps_and_checks():
    rng = np.random.default_rng(3)
    x, y = mg.Tensor(rng.standard_normal((2, 5, 2))), rng.standard_normal((2, 5, 1))
    gru, W, forward = _lm()
    gru.batch_first = True
    calls = []
    result = truncated_bptt(forward, x, 2, targets=y, time_axis=1, step=lambda: calls.append(1))
    assert len(calls) == len(result.losses) == 3
    with pytest.raises(ValueError, match="k must be a positive integer"):
        truncated_bptt(forward, x, 0, targets=y)
    with pytest.raises(ValueError, match="inputs have 5 steps along axis 1, targets 4"):
        truncated_bptt(forward, x, 2, targets=y[:, :4], time_axis=1)


def test_detach_state_cuts_every_tensor():
    h = mg.Tensor(np.ones(2), requires_grad=True) * 2
    out = detach_state((h, [h, None]))
    assert isinstance(out, tuple) and isinstance(out[1], list)
    assert not out[0].requires_grad and out[1][1] is None
    np.testing.assert_array_equal(out[0].data, h.data)
    with pytest.raises(TypeError, match="got int"):
        detach_state(3)


# ---------------------------------------------------------------------------------------------
# a long sequence

def test_thousand_step_two_layer_lstm_trains_without_recursion_errors():
    """1,000 steps through 2 layers is ~40k recorded nodes: forward, backward and an SGD step."""
    T, B, D, H = 1000, 4, 8, 16
    rng = np.random.default_rng(0)
    lstm = LSTM(D, H, num_layers=2, generator=rng)
    x = mg.Tensor(rng.standard_normal((T, B, D)).astype(np.float32))
    out, _ = lstm(x)
    loss = (out[-1] ** 2).mean() + (out ** 2).mean()
    loss.backward()
    for p in lstm.parameters():
        assert p.grad is not None and np.all(np.isfinite(p.grad.data))
        p.data -= 0.1 * p.grad.data
    assert np.abs(lstm.weight_ih_l0.grad.data).max() > 0
