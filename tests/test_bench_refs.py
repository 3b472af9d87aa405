"""The benchmark's hand-written references are right: gradients against central finite differences,
and every implementation of a workload (minigrad, numpy, PyTorch) agreeing at tiny sizes.
No timing here: speed is measured by ``python -m bench`` only."""
import sys
from dataclasses import replace

import numpy as np
import pytest

from bench import harness, lstm_lm, memory, npref, rnn_lm, scalar, seq2seq
from rnn_reference import numeric_grad

TINY_RNN = replace(rnn_lm.W1, V=5, H=4, T=3, B=2, dtype="float64")
TINY_LSTM = replace(lstm_lm.W3, V=5, E=3, H=4, T=3, B=2, dtype="float64")
TINY_S2S = replace(seq2seq.W4, V=5, E=3, H=2, Ts=3, Tt=2, B=2, dtype="float64")


def numeric_grads(loss, arrays: dict) -> dict:
    """Central differences of ``loss()`` with respect to every array (perturbed in place)."""
    return {name: numeric_grad(loss, a) for name, a in arrays.items()}


def assert_close_grads(analytic: dict, numeric: dict, tol: float = 1e-6) -> None:
    assert analytic.keys() == numeric.keys()
    for k in analytic:
        np.testing.assert_allclose(analytic[k], numeric[k], atol=tol, rtol=1e-5, err_msg=k)


# npref building blocks ---------------------------------------------------------------------------
def test_lstm_layer_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    T, B, D, H = 3, 2, 3, 4
    a = {"X": rng.normal(size=(T, B, D)), "Wx": rng.normal(size=(D, 4 * H)) * 0.5,
         "Wh": rng.normal(size=(H, 4 * H)) * 0.5, "b": rng.normal(size=4 * H) * 0.5,
         "h0": rng.normal(size=(B, H)), "c0": rng.normal(size=(B, H))}
    # a loss that reads every output: all hidden states, and the final h and c separately
    R, rh, rc = rng.normal(size=(T, B, H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

    def loss():
        Hs, cT, _ = npref.lstm_forward(a["X"], a["Wx"], a["Wh"], a["b"], a["h0"], a["c0"])
        return float((Hs[1:] * R).sum() + (Hs[-1] * rh).sum() + (cT * rc).sum())

    Hs, cT, cache = npref.lstm_forward(a["X"], a["Wx"], a["Wh"], a["b"], a["h0"], a["c0"])
    dX, dWx, dWh, db, dh0, dc0 = npref.lstm_backward(R, rh, rc, cache)
    analytic = {"X": dX, "Wx": dWx, "Wh": dWh, "b": db, "h0": dh0, "c0": dc0}
    assert_close_grads(analytic, numeric_grads(loss, a))


def test_lstm_forward_is_the_textbook_cell():
    rng = np.random.default_rng(1)
    D, H = 3, 2
    x, h, c = rng.normal(size=(1, 1, D)), rng.normal(size=(1, H)), rng.normal(size=(1, H))
    Wx, Wh, b = rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    Hs, cT, _ = npref.lstm_forward(x, Wx, Wh, b, h, c)
    a = x[0] @ Wx + h @ Wh + b
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
    c1 = f * c + i * g
    np.testing.assert_allclose(cT, c1, rtol=1e-12)
    np.testing.assert_allclose(Hs[1], o * np.tanh(c1), rtol=1e-12)


def test_sigmoid_is_stable_at_extremes():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(all="raise"):
        s = npref.sigmoid(x)
    np.testing.assert_allclose(s, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], atol=1e-15)


def test_adam_and_adagrad_follow_their_formulas_for_two_steps():
    rng = np.random.default_rng(2)
    p0, g1, g2 = rng.normal(size=5), rng.normal(size=5), rng.normal(size=5)
    adam_p, ada_p = {"w": p0.copy()}, {"w": p0.copy()}
    adam, ada = npref.Adam(adam_p, lr=0.01), npref.Adagrad(ada_p, lr=0.1, eps=1e-8)
    for g in (g1, g2):
        adam.step({"w": g})
        ada.step({"w": g})
    m = 0.1 * 0.9 * g1 + 0.1 * g2
    v = 0.001 * 0.999 * g1 ** 2 + 0.001 * g2 ** 2
    w1 = p0 - 0.01 * g1 / (np.sqrt(g1 ** 2) + 1e-8)  # step 1: m_hat = g1, v_hat = g1^2
    expected = w1 - 0.01 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    np.testing.assert_allclose(adam_p["w"], expected, rtol=1e-12)
    s1, s2 = g1 ** 2, g1 ** 2 + g2 ** 2
    expected = p0 - 0.1 * g1 / (np.sqrt(s1) + 1e-8) - 0.1 * g2 / (np.sqrt(s2) + 1e-8)
    np.testing.assert_allclose(ada_p["w"], expected, rtol=1e-12)


# whole references ---------------------------------------------------------------------------------
@pytest.mark.parametrize("batched", [False, True], ids=["per-step", "time-batched"])
def test_numpy_rnn_matches_finite_differences(batched):
    cfg = replace(TINY_RNN, init_std=0.5)
    model = rnn_lm.NumpyRNN(cfg, rnn_lm.init_params(cfg), batched)
    x, y = rnn_lm.make_batch(cfg)
    h0 = np.random.default_rng(3).normal(size=(cfg.B, cfg.H))
    _, grads, _ = model.loss_and_grads(x, y, h0)
    assert_close_grads(grads, numeric_grads(lambda: model.loss_and_grads(x, y, h0)[0], model.p))


def test_numpy_lstm_lm_matches_finite_differences():
    model = lstm_lm.NumpyLSTMLM(TINY_LSTM, lstm_lm.init_params(TINY_LSTM))
    x, y = lstm_lm.make_batch(TINY_LSTM)
    _, grads = model.loss_and_grads(x, y)
    assert_close_grads(grads, numeric_grads(lambda: model.loss_and_grads(x, y)[0], model.p))


def test_numpy_seq2seq_matches_finite_differences():
    model = seq2seq.NumpySeq2Seq(TINY_S2S, seq2seq.init_params(TINY_S2S))
    batch = seq2seq.make_batch(TINY_S2S)
    _, grads = model.loss_and_grads(*batch)
    assert_close_grads(grads, numeric_grads(lambda: model.loss_and_grads(*batch)[0], model.p))


def test_seq2seq_batch_is_reversal_with_teacher_forcing():
    src, dec_in, tgt = seq2seq.make_batch(TINY_S2S)
    np.testing.assert_array_equal(tgt, src[::-1])
    assert (dec_in[0] == seq2seq.BOS).all() and (src != seq2seq.BOS).all()
    np.testing.assert_array_equal(dec_in[1:], tgt[:-1])


# every implementation agrees ------------------------------------------------------------------------
WORKLOADS = [
    ("W1-like", lambda torch: rnn_lm.make_impls(TINY_RNN, torch)),
    ("W2-like", lambda torch: rnn_lm.make_impls(replace(TINY_RNN, reduction="mean", carry_state=False,
                                                        init_std=None), torch)),
    ("W3-like", lambda torch: lstm_lm.make_impls(TINY_LSTM, torch)),
    ("W4-like", lambda torch: seq2seq.make_impls(TINY_S2S, torch)),
]


def _assert_all_agree(impls, steps: int = 3):
    ref = next(i for i in impls if i.name == "numpy time-batched")
    ref_lg = ref.loss_and_grads()
    for impl in impls:
        assert harness.check_agreement(ref.name, ref_lg, impl.name, impl.loss_and_grads(), 1e-9) <= 1e-9
    # training steps (optimizer, clipping, carried state) keep them together
    losses = {i.name: [i.step() for _ in range(steps)] for i in impls}
    for name, ls in losses.items():
        np.testing.assert_allclose(ls, losses[ref.name], rtol=1e-9, err_msg=name)
    assert losses[ref.name][0] != losses[ref.name][-1]  # the steps did train


@pytest.mark.parametrize("make", [w[1] for w in WORKLOADS], ids=[w[0] for w in WORKLOADS])
def test_minigrad_and_numpy_agree(make):
    _assert_all_agree(make(None))


@pytest.mark.parametrize("make", [w[1] for w in WORKLOADS], ids=[w[0] for w in WORKLOADS])
def test_torch_agrees_too(make):
    torch = pytest.importorskip("torch")
    _assert_all_agree(make(torch))


def test_check_agreement_names_the_disagreeing_gradient():
    ref = (1.0, {"W": np.ones((2, 2)), "b": np.ones(2)})
    bad = (1.0, {"W": np.ones((2, 2)), "b": np.array([1.0, 1.1])})
    with pytest.raises(harness.Mismatch, match=r"gradient 'b' of other .* at \(1,\)"):
        harness.check_agreement("ref", ref, "other", bad, 1e-3)
    with pytest.raises(harness.Mismatch, match="loss"):
        harness.check_agreement("ref", ref, "other", (1.5, ref[1]), 1e-3)


# scalar engine and memory method ---------------------------------------------------------------------
def test_micrograd_design_and_minigrad_value_build_the_same_graph():
    assert scalar.check_agreement(T=3) < 1e-12


def test_micrograd_design_hits_the_recursion_limit_and_minigrad_does_not():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        max_T = scalar.micrograd_max_steps(limit=256)
        loss = scalar.hello_loss(scalar.mg.Value, scalar.make_params(scalar.mg.Value), 2 * max_T)
        loss.backward()  # minigrad's iterative walk does not care
    finally:
        sys.setrecursionlimit(old)
    assert max_T is not None and 5 < max_T < 60


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_peak_growth_sees_a_temporary_allocation():
    n = 40 * memory.MiB
    growth, _ = memory._peak_growth(lambda: np.ones(n // 8).sum())
    assert n * 0.9 < growth < n * 1.5
