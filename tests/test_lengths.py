"""Padded batches: lengths and masks in the layers, and losses over real steps only."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from zoo import GRU, LSTM, RNN, masked_cross_entropy, masked_mean, sequence_mask, unroll

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
MODES = (True, False, "sequence")  # fused=: one fused node per step, every op, one node per layer


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def model(kind, D=2, H=3, layers=1, bi=False, seed=0, fused=True):
    return LAYERS[kind](D, H, num_layers=layers, bidirectional=bi, dtype=np.float64,
                        generator=np.random.default_rng(seed), fused=fused)


def run(m, x, lengths, hx, w_out, w_state):
    """Forward + backward of sum(w_out * output) + sum(w_state * state); returns arrays to compare."""
    for p in m.parameters():
        p.grad = None
    xt = mg.Tensor(x, requires_grad=True)
    hxt = None if hx is None else tuple(mg.Tensor(a, requires_grad=True) for a in hx)
    out, state = m(xt, hxt if hxt is None or len(hxt) == 2 else hxt[0], lengths=lengths)
    loss = (out * w_out).sum() + sum((s * w).sum() for s, w in zip(flat(state), w_state))
    if loss.requires_grad:  # not when every length is 0 and there is no initial state to learn
        loss.backward()

    def grad(t):
        return np.zeros(t.shape) if t.grad is None else t.grad.data
    return dict(out=out.data, state=[s.data for s in flat(state)], x_grad=grad(xt),
                hx_grad=[] if hxt is None else [grad(a) for a in hxt],
                param_grads={n: grad(p) for n, p in m.named_parameters()})


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(list(LAYERS)), layers=st.integers(1, 2), bi=st.booleans(), h0=st.booleans(),
       fused=st.sampled_from(MODES), data=st.data())
def test_appending_padding_changes_no_output_state_or_gradient(kind, layers, bi, h0, fused, data):
    D, H = 2, 2
    B = data.draw(st.integers(1, 3), label="B")
    T = data.draw(st.integers(1, 4), label="T")
    extra = data.draw(st.integers(1, 3), label="padding steps")
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B), label="lengths"))
    values = st.floats(-3, 3)
    x = data.draw(hnp.arrays(np.float64, (T, B, D), elements=values), label="x")
    pad = data.draw(hnp.arrays(np.float64, (extra, B, D), elements=st.floats(-1e3, 1e3)), label="padding")
    rng = np.random.default_rng(0)
    n = layers * (2 if bi else 1)
    hx = tuple(rng.standard_normal((n, B, H)) for _ in range(2 if kind == "lstm" else 1)) if h0 else None
    K = 2 if bi else 1
    w_out = rng.standard_normal((T + extra, B, K * H))
    w_state = [rng.standard_normal((n, B, H)) for _ in range(2)]
    m = model(kind, D, H, layers, bi, fused=fused)

    short = run(m, x, lengths, hx, w_out[:T], w_state)
    long = run(m, np.concatenate([x, pad]), lengths, hx, w_out, w_state)

    # Round-off only: the input projection and the weight gradients are products over all T*B rows
    # at once, and BLAS sums a product with more rows (or splits its rows) in another order.
    def same(a, b, err_msg=""):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=err_msg)
    same(long["out"][:T], short["out"])
    np.testing.assert_array_equal(long["out"][T:], 0)
    for a, b in zip(long["state"], short["state"]):
        same(a, b)
    same(long["x_grad"][:T], short["x_grad"])
    np.testing.assert_array_equal(long["x_grad"][T:], 0)
    for a, b in zip(long["hx_grad"], short["hx_grad"]):
        same(a, b)
    for name, g in short["param_grads"].items():
        same(long["param_grads"][name], g, err_msg=name)


@pytest.mark.parametrize("fused", MODES)
@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("bi", [False, True])
def test_padded_batch_equals_each_sequence_run_alone(kind, bi, fused):
    rng = np.random.default_rng(3)
    T, B, D, H = 5, 3, 2, 3
    lengths = np.array([5, 2, 4])
    x = rng.standard_normal((T, B, D))
    m = model(kind, D, H, layers=2, bi=bi, fused=fused)
    out, state = m(mg.Tensor(x), lengths=lengths)
    for b, n in enumerate(lengths):
        out_b, state_b = m(mg.Tensor(x[:n, b:b + 1]))
        np.testing.assert_allclose(out.data[:n, b:b + 1], out_b.data, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(out.data[n:, b], 0)
        for s, s_b in zip(flat(state), flat(state_b)):
            np.testing.assert_allclose(s.data[:, b:b + 1], s_b.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fused", MODES)
def test_mask_equals_lengths_and_batch_first_mask_is_transposed(fused):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2))
    lengths = [4, 1, 3]
    m = model("lstm", layers=2, bi=True, fused=fused)
    out_len, (h_len, c_len) = m(mg.Tensor(x), lengths=lengths)
    mask = sequence_mask(lengths, 4)
    out_mask, (h_mask, c_mask) = m(mg.Tensor(x), mask=mask)
    out_tensor, _ = m(mg.Tensor(x), lengths=mg.Tensor(np.array(lengths)))
    np.testing.assert_array_equal(out_tensor.data, out_len.data)
    np.testing.assert_array_equal(out_len.data, out_mask.data)
    np.testing.assert_array_equal(c_len.data, c_mask.data)
    m.batch_first = True
    out_bf, (h_bf, _) = m(mg.Tensor(x.transpose(1, 0, 2)), mask=mask.T)
    np.testing.assert_array_equal(out_bf.data.transpose(1, 0, 2), out_len.data)
    np.testing.assert_array_equal(h_bf.data, h_len.data)


@pytest.mark.parametrize("fused", MODES)
def test_a_masked_step_in_the_middle_is_skipped(fused):
    """A general mask (not only trailing padding): a false step leaves the state as it was."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1, 2))
    m = model("gru", fused=fused)
    out, h = m(mg.Tensor(x), mask=np.array([[True], [False], [True], [True]]))
    out_skip, h_skip = m(mg.Tensor(x[[0, 2, 3]]))
    np.testing.assert_allclose(out.data[[0, 2, 3]], out_skip.data, rtol=1e-14)
    np.testing.assert_array_equal(out.data[1], 0)
    np.testing.assert_allclose(h.data, h_skip.data, rtol=1e-14)


@pytest.mark.parametrize("fused", MODES)
def test_zero_length_keeps_the_initial_state(fused):
    m = model("lstm", fused=fused)
    h0, c0 = np.full((1, 2, 3), 0.5), np.full((1, 2, 3), -0.25)
    out, (h, c) = m(mg.Tensor(np.ones((3, 2, 2))), (mg.Tensor(h0), mg.Tensor(c0)), lengths=[0, 3])
    np.testing.assert_array_equal(out.data[:, 0], 0)
    np.testing.assert_array_equal(h.data[:, 0], h0[:, 0])
    np.testing.assert_array_equal(c.data[:, 0], c0[:, 0])


def test_unroll_skips_steps_where_no_sequence_is_real():
    from zoo import GRUCell
    cell = GRUCell(2, 3, dtype=np.float64)
    xs = mg.Tensor(np.ones((5, 2, 2)))
    res = unroll(cell, xs, cell.initial_state(2), mask=sequence_mask([2, 3], 5))
    nodes = [n for n in mg.toposort(mg.stack(res.outputs)) if n.op and n.op != "stack"]
    assert {n.scope for n in nodes if n.op != "linear" or n.scope} == {"t=0", "t=1", "t=2"}
    assert [n.shape for n in nodes if not n.scope] == [(5, 2, 9)]  # the one projection of all steps
    with pytest.raises(ValueError, match=r"mask must have shape \(5, 2\), got \(2, 5\)"):
        unroll(cell, xs, cell.initial_state(2), mask=sequence_mask([2, 3], 5).T)


def test_sequence_mask_checks_lengths():
    np.testing.assert_array_equal(sequence_mask([2, 0, 3], 3), [[1, 0, 1], [1, 0, 1], [0, 0, 1]])
    assert sequence_mask([1, 2], 3, batch_first=True).shape == (2, 3)
    with pytest.raises(ValueError, match=r"lie in \[0, T=3\].*\[1, 4\]"):
        sequence_mask([1, 4], 3)
    with pytest.raises(ValueError, match="shape \\(B,\\)"):
        sequence_mask([[1, 2]], 3)
    with pytest.raises(ValueError, match="integers"):
        sequence_mask([1.5], 3)


# ---------------------------------------------------------------------------------------------
# losses over real steps

def test_masked_cross_entropy_averages_over_real_steps_only():
    rng = np.random.default_rng(0)
    T, B, V = 4, 3, 5
    logits = mg.Tensor(rng.standard_normal((T, B, V)), requires_grad=True)
    targets = rng.integers(0, V, (T, B))
    lengths = [4, 2, 1]
    loss = masked_cross_entropy(logits, targets, lengths=lengths)
    logp = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    real = [(t, b) for b in range(B) for t in range(lengths[b])]
    expected = -np.mean([logp[t, b, targets[t, b]] for t, b in real])
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-13)
    loss.backward()
    pad = ~sequence_mask(lengths, T)
    np.testing.assert_array_equal(logits.grad.data[pad], 0)
    assert np.all(np.abs(logits.grad.data[~pad]).sum(-1) > 0)


def test_masked_cross_entropy_ignore_index_mask_and_lengths_agree():
    rng = np.random.default_rng(1)
    B, T, V = 2, 5, 4
    logits = mg.Tensor(rng.standard_normal((B, T, V)))
    targets = rng.integers(0, V, (B, T))
    lengths = [5, 3]
    mask = sequence_mask(lengths, T, batch_first=True)
    padded = np.where(mask, targets, -1)
    by_len = masked_cross_entropy(logits, targets, lengths=lengths, batch_first=True)
    by_mask = masked_cross_entropy(logits, targets, mask=mask)
    by_ignore = masked_cross_entropy(logits, padded, ignore_index=-1)
    np.testing.assert_allclose(by_len.item(), by_mask.item(), rtol=1e-15)
    np.testing.assert_allclose(by_len.item(), by_ignore.item(), rtol=1e-15)
    per_step = masked_cross_entropy(logits, targets, mask=mask, reduction="none")
    assert per_step.shape == (B, T)
    np.testing.assert_array_equal(per_step.data[~mask], 0)
    np.testing.assert_allclose(per_step.data.sum(), masked_cross_entropy(logits, targets, mask=mask,
                                                                         reduction="sum").item())
    with pytest.raises(ValueError, match=r"need targets of shape \(2, 5\), got \(5, 2\)"):
        masked_cross_entropy(logits, targets.T)


def test_masked_mean_of_a_per_step_loss():
    values = mg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    mask = np.array([[1, 0], [1, 1], [0, 0]], bool)
    out = masked_mean(values, mask)
    assert out.item() == (0 + 2 + 3) / 3
    out.backward()
    np.testing.assert_array_equal(values.grad.data, mask / 3)
    assert masked_mean(values, np.zeros((3, 2), bool)).item() == 0
    with pytest.raises(ValueError, match="does not broadcast"):
        masked_mean(values, np.ones(3, bool))
