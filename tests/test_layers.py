"""Sequence layers RNN/LSTM/GRU: PyTorch's shapes, names and numbers; gradcheck; errors; scopes."""
import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.nn import StateDictError
from zoo import GRU, LSTM, RNN

KINDS = {
    "rnn_tanh": (RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, {}),
    "gru": (GRU, {}),
}
# (num_layers, bidirectional, batch_first, initial state given, lengths given)
CONFIGS = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [False, True]))
# fused=: one fused node per step (default), every op of every step, one node per layer (opt-in)
MODES = (True, False, "sequence")


def mode_id(fused):
    return {True: "cells", False: "ops", "sequence": "seq"}[fused]


def config_id(c):
    layers, bi, bf, h0, lengths = c
    return f"L{layers}-{'bi' if bi else 'uni'}{'-bf' if bf else ''}{'-h0' if h0 else ''}{'-len' if lengths else ''}"


def make(kind, D, H, layers=1, bi=False, bf=False, seed=0, **kw):
    cls, opts = KINDS[kind]
    return cls(D, H, num_layers=layers, bidirectional=bi, batch_first=bf, dtype=np.float64,
               generator=np.random.default_rng(seed), **opts, **kw)


def inputs(kind, layers, bi, bf, h0, lengths, T=4, B=3, D=2, H=3, seed=1):
    """Input, initial state (or None) and lengths (or None) for one configuration, float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D) if bf else (T, B, D))
    n = layers * (2 if bi else 1)
    hx = None
    if h0:
        hx = rng.standard_normal((n, B, H))
        if kind == "lstm":
            hx = (hx, rng.standard_normal((n, B, H)))
    lens = rng.integers(1, T + 1, B) if lengths else None
    if lengths:
        lens[0] = T  # the longest sequence fills the batch, as after padding
    return x, hx, lens


def as_tensors(hx, requires_grad=False):
    if hx is None:
        return None
    if isinstance(hx, tuple):
        return tuple(mg.Tensor(a, requires_grad=requires_grad) for a in hx)
    return mg.Tensor(hx, requires_grad=requires_grad)


def flat_state(state):
    return list(state) if isinstance(state, tuple) else [state]


# ---------------------------------------------------------------------------------------------
# PyTorch oracle

@pytest.mark.parametrize("fused", MODES, ids=mode_id)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_outputs_and_every_gradient_match_pytorch(kind, config, fused):
    torch = pytest.importorskip("torch")
    layers, bi, bf, h0, lengths = config
    D, H = 2, 3
    ours = make(kind, D, H, layers, bi, bf, fused=fused)
    tcls = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    extra = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    theirs = tcls(D, H, num_layers=layers, bidirectional=bi, batch_first=bf, dtype=torch.float64, **extra)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, hx, lens = inputs(kind, layers, bi, bf, h0, lengths, D=D, H=H)

    xt = mg.Tensor(x, requires_grad=True)
    hxt = as_tensors(hx, requires_grad=True)
    out, state = ours(xt, hxt, lengths=lens)

    tx = torch.tensor(x, requires_grad=True)
    thx = None if hx is None else (tuple(torch.tensor(a, requires_grad=True) for a in hx)
                                   if isinstance(hx, tuple) else torch.tensor(hx, requires_grad=True))
    tin = tx if lens is None else torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lens), batch_first=bf, enforce_sorted=False)
    tout, tstate = theirs(tin, thx)
    if lens is not None:
        tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, batch_first=bf, total_length=x.shape[1 if bf else 0])

    rng = np.random.default_rng(5)
    outs = [out] + flat_state(state)
    touts = [tout] + flat_state(tstate)
    weights = [rng.standard_normal(o.shape) for o in outs]
    for o, to in zip(outs, touts):
        np.testing.assert_allclose(o.data, to.detach().numpy(), rtol=1e-12, atol=1e-14)
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    sum((to * torch.from_numpy(w)).sum() for to, w in zip(touts, weights)).backward()

    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[name].grad.numpy(), rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg="input")
    if hx is not None:
        for a, ta in zip(flat_state(hxt), flat_state(thx)):
            np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-11, atol=1e-13, err_msg="hx")


def test_state_dict_loads_into_pytorch_and_back():
    torch = pytest.importorskip("torch")
    ours = LSTM(3, 4, num_layers=2, bidirectional=True)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})  # strict
    back = LSTM(3, 4, num_layers=2, bidirectional=True)
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for (name, a), (_, b) in zip(ours.state_dict().items(), back.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


# ---------------------------------------------------------------------------------------------
# names and shapes (no torch needed)

def test_parameter_names_follow_pytorch_order():
    names = list(GRU(3, 4, num_layers=2, bidirectional=True).state_dict())
    expected = [f"{w}_l{layer}{sfx}" for layer in range(2) for sfx in ("", "_reverse")
                for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == expected
    assert list(RNN(3, 4, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    shapes = {k: v.shape for k, v in LSTM(3, 4, num_layers=2, bidirectional=True).state_dict().items()}
    assert shapes["weight_ih_l0"] == (16, 3)
    assert shapes["weight_ih_l1_reverse"] == (16, 8)  # layer 1 reads both directions of layer 0
    assert shapes["weight_hh_l1"] == (16, 4)


def test_repr_shows_non_default_configuration():
    assert repr(RNN(3, 4)) == "RNN(3, 4)"
    assert repr(RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(LSTM(3, 4, 2, batch_first=True, forget_bias=1.0)) == \
        "LSTM(3, 4, num_layers=2, batch_first=True, forget_bias=1.0)"


def test_load_state_dict_reports_wrong_names_and_shapes():
    model = GRU(3, 4)
    sd = model.state_dict()
    sd["weight_hh_l0"] = np.zeros((12, 5), np.float32)
    sd["weight_hh_l1"] = sd.pop("bias_hh_l0")
    with pytest.raises(StateDictError) as e:
        model.load_state_dict(sd)
    msg = str(e.value)
    assert "bias_hh_l0" in msg and "weight_hh_l1" in msg and "(12, 5)" in msg


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layers, bi, bf", [(1, False, False), (2, True, True), (2, False, True)])
def test_output_and_state_shapes(kind, layers, bi, bf, fused):
    T, B, D, H = 5, 3, 2, 4
    K = 2 if bi else 1
    model = make(kind, D, H, layers, bi, bf, fused=fused)
    x = mg.zeros((B, T, D) if bf else (T, B, D), dtype=np.float64)
    out, state = model(x)
    assert out.shape == ((B, T, K * H) if bf else (T, B, K * H))
    for s in flat_state(state):
        assert s.shape == (layers * K, B, H)
    assert isinstance(state, tuple) == (kind == "lstm")
    out1, state1 = model(mg.zeros((T, D), dtype=np.float64))  # unbatched
    assert out1.shape == (T, K * H)
    for s in flat_state(state1):
        assert s.shape == (layers * K, H)


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unbatched_input_equals_batch_of_one(kind, fused):
    model = make(kind, 2, 3, layers=2, bi=True, fused=fused)
    x = np.random.default_rng(0).standard_normal((4, 2))
    out1, s1 = model(mg.Tensor(x))
    out, s = model(mg.Tensor(x[:, None]))
    np.testing.assert_array_equal(out1.data, out.data[:, 0])
    for a, b in zip(flat_state(s1), flat_state(s)):
        np.testing.assert_array_equal(a.data, b.data[:, 0])


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
def test_batch_first_is_a_transpose(fused):
    a, b = make("gru", 2, 3, 2, True, False, fused=fused), make("gru", 2, 3, 2, True, True, fused=fused)
    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    out_a, h_a = a(mg.Tensor(x))
    out_b, h_b = b(mg.Tensor(x.transpose(1, 0, 2)))
    np.testing.assert_array_equal(out_a.data, out_b.data.transpose(1, 0, 2))
    np.testing.assert_array_equal(h_a.data, h_b.data)


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
def test_bidirectional_output_is_forward_then_reversed_run(fused):
    """The backward direction at step t has read the input from T-1 down to t."""
    model = make("rnn_tanh", 2, 3, bi=True, fused=fused)
    x = np.random.default_rng(0).standard_normal((5, 1, 2))
    out, h_n = model(mg.Tensor(x))
    rev = make("rnn_tanh", 2, 3)
    rev.load_state_dict({"weight_ih_l0": model.weight_ih_l0_reverse.data, "weight_hh_l0": model.weight_hh_l0_reverse.data,
                         "bias_ih_l0": model.bias_ih_l0_reverse.data, "bias_hh_l0": model.bias_hh_l0_reverse.data})
    out_rev, h_rev = rev(mg.Tensor(x[::-1].copy()))
    np.testing.assert_allclose(out.data[:, :, 3:], out_rev.data[::-1], rtol=1e-14)
    np.testing.assert_allclose(h_n.data[1], h_rev.data[0], rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# gradcheck: every configuration

def gradcheck_layer(kind, config, T, B, D, H, seed=0, directions=6, fused=True):
    """gradcheck one layer configuration with respect to its input, initial state and parameters.

    Random directions through all of them at once, with tolerances tight enough (float64) that an
    error in any single element shows; per-element checks of the cells' own gradients are in
    test_bptt.py, of the fused kernels' in test_kernels.py.
    """
    layers, bi, bf, h0, lengths = config
    model = make(kind, D, H, layers, bi, bf, seed=seed, fused=fused)
    x, hx, lens = inputs(kind, layers, bi, bf, h0, lengths, T=T, B=B, D=D, H=H, seed=seed + 1)
    xt = mg.Tensor(x, requires_grad=True)
    hxt = as_tensors(hx, requires_grad=True)

    def fn(xt, *rest):
        out, state = model(xt, hxt, lengths=lens)
        return (out, *flat_state(state))

    mg.gradcheck(fn, [xt] + flat_state(hxt if hxt is not None else []) + model.parameters(),
                 max_full=0, samples=0, directions=directions, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_gradcheck_every_configuration(kind, config):
    gradcheck_layer(kind, config, T=3, B=2, D=2, H=2)


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(list(KINDS)), config=st.sampled_from(CONFIGS), T=st.integers(1, 4),
       B=st.integers(1, 3), D=st.integers(1, 3), H=st.integers(1, 3), seed=st.integers(0, 2**16),
       fused=st.sampled_from(MODES))
def test_gradcheck_at_drawn_sizes(kind, config, T, B, D, H, seed, fused):
    gradcheck_layer(kind, config, T, B, D, H, seed=seed, directions=4, fused=fused)


# ---------------------------------------------------------------------------------------------
# dropout between layers

def test_dropout_only_between_layers_and_only_in_training():
    mg.manual_seed(0)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((4, 2, 3)))
    plain = make("lstm", 3, 5, layers=2)
    dropped = make("lstm", 3, 5, layers=2, dropout=0.5)
    out_plain, (h_plain, _) = plain(x)
    out_drop, (h_drop, _) = dropped(x)
    # the first layer sees undropped input, so its final state is the same
    np.testing.assert_array_equal(h_plain.data[0], h_drop.data[0])
    assert not np.allclose(out_plain.data, out_drop.data)
    dropped.eval()
    out_eval, _ = dropped(x)
    np.testing.assert_array_equal(out_eval.data, out_plain.data)
    one_layer = make("lstm", 3, 5, layers=1, dropout=0.5)  # nothing after the last layer
    np.testing.assert_array_equal(one_layer(x)[0].data, make("lstm", 3, 5, layers=1)(x)[0].data)


# ---------------------------------------------------------------------------------------------
# errors

def test_errors_name_expected_and_actual_shapes():
    lstm = LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"rank 3 \(T, B, D\) or rank 2 \(T, D\).*got shape \(2, 3, 4, 3\)"):
        lstm(mg.zeros(2, 3, 4, 3))
    with pytest.raises(ValueError, match=r"D=input_size=3.*got shape \(5, 2, 7\)"):
        lstm(mg.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        lstm(mg.zeros(5, 2, 3), (mg.zeros(1, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 2, 4\).*got \(2, 4\)"):
        lstm(mg.zeros(5, 2, 3), (mg.zeros(2, 2, 4), mg.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"pair \(h0, c0\)"):
        lstm(mg.zeros(5, 2, 3), mg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"lengths \[5, 6\] exceed the sequence length T=5"):
        lstm(mg.zeros(5, 2, 3), lengths=[5, 6])
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\), got \(3,\)"):
        lstm(mg.zeros(5, 2, 3), lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"mask must have shape \(5, 2\), got \(2, 5\)"):
        lstm(mg.zeros(5, 2, 3), mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"expected input of rank 3 \(B, T, D\)"):
        GRU(3, 4, batch_first=True)(mg.zeros(3))
    with pytest.raises(ValueError, match="one tensor h0"):
        GRU(3, 4)(mg.zeros(5, 2, 3), (mg.zeros(1, 2, 4),))
    with pytest.raises(TypeError, match="dtype float64 differs"):
        GRU(3, 4)(mg.zeros(5, 2, 3, dtype=np.float64))
    with pytest.raises(ValueError, match=r"no time steps \(shape \(0, 2, 3\)\)"):
        lstm(mg.zeros(0, 2, 3))
    with pytest.raises(ValueError, match="dropout"):
        RNN(3, 4, dropout=1.0)


# ---------------------------------------------------------------------------------------------
# scopes for viz, per-step states

STEP_SCOPE = re.compile(r"^layer(\d+)/(fwd|bwd)/t=(\d+)$")


# what a layer records outside its steps: the input projection and the stacked outputs of each
# direction, the directions side by side, and the final states
OUTSIDE_STEPS = re.compile(r"^(layer\d+/(fwd|bwd):(linear|stack)|layer\d+:cat|:stack|:getitem)$")


@pytest.mark.parametrize("fused", [True, False], ids=mode_id)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_every_step_node_carries_its_layer_direction_and_step(kind, fused):
    model = make(kind, 2, 3, layers=2, bi=True, fused=fused)
    out, _ = model(mg.Tensor(np.ones((4, 1, 2))))
    seen = set()
    for node in mg.toposort(out):
        if not node.op:
            continue
        if STEP_SCOPE.match(node.scope):
            seen.add(node.scope)
        else:
            assert OUTSIDE_STEPS.match(f"{node.scope}:{node.op}"), f"node '{node.op}' has scope {node.scope!r}"
    assert seen == {f"layer{layer}/{d}/t={t}" for layer in range(2) for d in ("fwd", "bwd") for t in range(4)}


@pytest.mark.parametrize("fused", [True, False], ids=mode_id)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_each_direction_projects_all_its_inputs_with_one_matrix_product(kind, fused):
    model = make(kind, 2, 3, layers=2, bi=True, fused=fused)
    out, _ = model(mg.Tensor(np.ones((4, 1, 2))))
    projections = [n for n in mg.toposort(out) if any(p is model.weight_ih_l0 or p is model.weight_ih_l1
                                                       or p is model.weight_ih_l0_reverse
                                                       or p is model.weight_ih_l1_reverse for p in n.parents)]
    assert [(n.scope, n.op, n.shape[0]) for n in projections] == [
        (f"layer{layer}/{d}", "linear", 4) for layer in range(2) for d in ("fwd", "bwd")]


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_step_states_are_returned_and_keep_their_gradients(kind, fused):
    T, B, H = 4, 2, 3
    model = make(kind, 2, H, layers=2, bi=True, fused=fused)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((T, B, 2)))
    out, state, steps = model(x, return_states=True)
    w = np.random.default_rng(1).standard_normal(out.shape)
    (out * w).sum().backward()
    assert len(steps.h) == 2 and len(steps.h[0]) == 2 and len(steps.h[0][0]) == T
    assert (steps.c is not None) == (kind == "lstm")
    last = flat_state(state)[0]
    for layer in range(2):
        for d in range(2):
            np.testing.assert_array_equal(steps.h[layer][d][T - 1 if d == 0 else 0].data, last.data[2 * layer + d])
    # the top layer's forward h at the last step reaches the loss only through output[T-1]
    np.testing.assert_allclose(steps.grads("h", 1, 0)[T - 1], w[T - 1, :, :H], rtol=1e-15)
    # ... and its backward-direction h at step 0 only through output[0]
    np.testing.assert_allclose(steps.grads("h", 1, 1)[0], w[0, :, H:], rtol=1e-15)
    assert np.abs(steps.grads("h", 0, 0)).min() > 0  # lower layers receive gradient at every step
    if kind == "lstm":
        assert steps.grads("c", 0, 1).shape == (T, B, H)


@pytest.mark.parametrize("fused", MODES, ids=mode_id)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_batch_of_zero_sequences_gives_empty_outputs_and_zero_gradients(kind, fused):
    model = make(kind, 3, 4, layers=2, bi=True, fused=fused)
    out, state = model(mg.zeros(5, 0, 3, dtype=np.float64))
    assert out.shape == (5, 0, 8) and all(s.shape == (4, 0, 4) for s in flat_state(state))
    (out.sum() + sum(s.sum() for s in flat_state(state))).backward()
    assert all(not p.grad.data.any() for p in model.parameters())


def test_parameters_carry_their_pytorch_names_for_drawings():
    model = make("lstm", 2, 3, layers=2, bi=True)
    assert [p.name for p in model.parameters()] == [n for n, _ in model.named_parameters()]
    out, _ = model(mg.Tensor(np.ones((3, 1, 2))))
    leaves = {n.name for n in mg.toposort(out.sum()) if not n.parents and n.requires_grad}
    assert {"weight_hh_l0", "weight_hh_l1_reverse", "bias_ih_l0"} <= leaves
