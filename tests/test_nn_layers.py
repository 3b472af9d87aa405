"""minigrad.nn layers and containers: PyTorch's shapes, initialisation, train/eval behaviour,
finite-difference gradients, and (optionally) PyTorch's outputs and gradients."""
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import Tensor, gradcheck, nn

FAST = settings(max_examples=15, deadline=None)
shapes = st.lists(st.integers(1, 3), max_size=2)


def x64(shape, seed=0):
    return Tensor(np.random.default_rng(seed).normal(size=shape), dtype=np.float64, requires_grad=True)


# ---------------------------------------------------------------------------------------------
# Linear

def test_linear_parameters_follow_pytorch():
    lin = nn.Linear(20, 30)
    assert lin.weight.shape == (30, 20) and lin.bias.shape == (30,)
    assert lin.weight.dtype == mg.get_default_dtype() and lin.weight.requires_grad
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    bound = 1 / np.sqrt(20)
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(lin.weight.data).max() > 0.9 * bound  # the whole range is used
    assert lin.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)  # U(-b, b) has std b/sqrt(3)
    assert repr(lin) == "Linear(in_features=20, out_features=30, bias=True)"
    no_bias = nn.Linear(2, 3, bias=False, dtype=np.float64)
    assert no_bias.bias is None and no_bias.parameters() == [no_bias.weight]
    assert no_bias.weight.dtype == np.float64


def test_layers_are_reproducible_from_a_generator_or_the_global_seed():
    a = nn.Linear(4, 3, generator=np.random.default_rng(1))
    b = nn.Linear(4, 3, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    mg.manual_seed(5)
    e1 = nn.Embedding(6, 2).weight.data.copy()
    mg.manual_seed(5)
    np.testing.assert_array_equal(nn.Embedding(6, 2).weight.data, e1)
    # the same draws land in float32 and float64
    c = nn.Linear(4, 3, dtype=np.float64, generator=np.random.default_rng(1))
    np.testing.assert_allclose(c.weight.data, a.weight.data, rtol=1e-6)


@FAST
@given(shapes, st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_linear_forward_and_gradcheck(lead, n_in, n_out, bias):
    lin = nn.Linear(n_in, n_out, bias=bias, dtype=np.float64, generator=np.random.default_rng(0))
    x = x64(tuple(lead) + (n_in,))
    y = lin(x)
    expected = x.data @ lin.weight.data.T + (lin.bias.data if bias else 0)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert gradcheck(lambda x, *_: lin(x), [x] + lin.parameters())


# ---------------------------------------------------------------------------------------------
# Embedding

def test_embedding_init_and_padding_row():
    emb = nn.Embedding(300, 40, padding_idx=-1, generator=np.random.default_rng(2))
    assert emb.padding_idx == 299 and emb.weight.shape == (300, 40)
    assert not emb.weight.data[299].any()
    w = emb.weight.data[:299]
    assert abs(w.mean()) < 0.02 and w.std() == pytest.approx(1.0, rel=0.03)  # N(0, 1), as PyTorch
    assert repr(emb) == "Embedding(300, 40, padding_idx=299)"
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_embedding_padding_row_gets_no_gradient_and_stays_zero():
    emb = nn.Embedding(5, 3, padding_idx=0, dtype=np.float64, generator=np.random.default_rng(3))
    idx = np.array([[0, 1, 1], [2, 0, 4]])
    for _ in range(3):  # a few plain SGD steps
        emb.zero_grad()
        (emb(idx) ** 2).sum().backward()
        assert not emb.weight.grad.data[0].any()
        emb.weight.data = emb.weight.data - 0.1 * emb.weight.grad.data
    assert not emb.weight.data[0].any()
    # repeated index 1 accumulates: d/dW[1] sum(W[1]^2 + W[1]^2) = 4 W[1]
    emb.zero_grad()
    (emb(idx) ** 2).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data[1], 4 * emb.weight.data[1])
    np.testing.assert_array_equal(emb.weight.grad.data[3], 0)


@FAST
@given(st.integers(1, 5), st.integers(1, 3), shapes)
def test_embedding_gradcheck(num, dim, ishape):
    emb = nn.Embedding(num, dim, dtype=np.float64, generator=np.random.default_rng(4))
    idx = np.random.default_rng(5).integers(0, num, ishape)
    assert emb(idx).shape == tuple(ishape) + (dim,)
    assert gradcheck(lambda w: emb(idx), [emb.weight])


def test_embedding_from_pretrained():
    table = np.arange(6.0).reshape(3, 2)
    emb = nn.Embedding.from_pretrained(table)
    np.testing.assert_array_equal(emb(np.array([2, 0])).data, [[4, 5], [0, 1]])
    assert emb.weight.dtype == np.float64 and not emb.weight.requires_grad
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    table[0, 0] = 99.0  # a copy, not a view
    assert emb.weight.data[0, 0] == 0


# ---------------------------------------------------------------------------------------------
# Dropout

def test_dropout_module_train_eval_and_reproducibility():
    drop = nn.Dropout(0.25)
    x = Tensor(np.ones((100, 100)))
    mg.manual_seed(11)
    a = drop(x).data
    mg.manual_seed(11)
    np.testing.assert_array_equal(drop(x).data, a)
    assert not np.array_equal(drop(x).data, a)  # the next call draws a new mask
    assert abs((a == 0).mean() - 0.25) < 0.02 and np.allclose(a[a != 0], 1 / 0.75)
    assert drop.eval()(x) is x
    assert drop.train()(x) is not x
    seeded = [nn.Dropout(0.5, generator=np.random.default_rng(6))(x).data for _ in range(2)]
    np.testing.assert_array_equal(*seeded)
    assert repr(drop) == "Dropout(p=0.25)"
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(-0.1)


def test_eval_switches_dropout_off_inside_a_model():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    x = Tensor(np.ones((4, 3)))
    model.eval()
    np.testing.assert_array_equal(model(x).data, model[0](x).data)
    model.train()
    assert (model(x).data == 0).mean() > 0.5


# ---------------------------------------------------------------------------------------------
# LayerNorm

def test_layer_norm_normalises_the_trailing_axes():
    ln = nn.LayerNorm((2, 5))
    assert ln.weight.shape == ln.bias.shape == (2, 5)
    assert (ln.weight.data == 1).all() and not ln.bias.data.any()
    x = Tensor(np.random.default_rng(7).normal(3, 4, (4, 2, 5)))
    y = ln(x).data.reshape(4, 10)
    np.testing.assert_allclose(y.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(1), 1, rtol=1e-3)  # biased variance, eps=1e-5
    assert nn.LayerNorm(5, elementwise_affine=False).parameters() == []
    assert [n for n, _ in nn.LayerNorm(5, bias=False).named_parameters()] == ["weight"]
    assert repr(ln) == "LayerNorm((2, 5), eps=1e-05, elementwise_affine=True)"


@FAST
@given(shapes, st.integers(1, 4), st.booleans())
def test_layer_norm_gradcheck(lead, n, affine):
    ln = nn.LayerNorm(n, elementwise_affine=affine, dtype=np.float64)
    for p in ln.parameters():
        p.data = np.random.default_rng(8).normal(size=p.shape)
    x = x64(tuple(lead) + (2, n))
    assert gradcheck(lambda x, *_: ln(x), [x] + ln.parameters())


# ---------------------------------------------------------------------------------------------
# containers

def test_sequential_chains_names_and_slices():
    mg.manual_seed(0)
    seq = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    x = Tensor(np.ones((3, 2)))
    np.testing.assert_allclose(seq(x).data, seq[3](seq[2](seq[1](seq[0](x)))).data)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 4 and isinstance(seq[1], nn.Tanh) and list(seq)[2] is seq[2]
    tail = seq[2:]
    assert isinstance(tail, nn.Sequential) and [n for n, _ in tail.named_parameters()] == ["2.weight", "2.bias"]
    seq.append(nn.ReLU())
    assert isinstance(seq[-1], nn.ReLU) and len(seq) == 5
    named = nn.Sequential(OrderedDict(enc=nn.Linear(2, 3), act=nn.ReLU()))
    assert list(named.state_dict()) == ["enc.weight", "enc.bias"]
    assert "(enc): Linear(in_features=2, out_features=3, bias=True)" in repr(named)
    with pytest.raises(TypeError, match="Modules"):
        nn.Sequential(nn.Linear(1, 1), lambda x: x)


def test_module_list_as_an_attribute():
    class Stack(nn.Module):
        def __init__(self):
            self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(2))

    model = Stack()
    assert [n for n, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    layers = model.layers
    layers.append(nn.Linear(2, 3)).extend([nn.ReLU()])
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]
    assert "layers.3.weight" in model.state_dict()  # names follow positions after an insert
    del layers[0]
    layers[3] = nn.Sigmoid()
    assert len(layers) == 4 and isinstance(layers[3], nn.Sigmoid)
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    with pytest.raises(NotImplementedError):
        layers(Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="Modules"):
        layers.append(3)


def test_module_dict_as_an_attribute():
    class Heads(nn.Module):
        def __init__(self):
            self.heads = nn.ModuleDict({"cls": nn.Linear(2, 3), "reg": nn.Linear(2, 1)})

    model = Heads()
    assert list(model.state_dict()) == ["heads.cls.weight", "heads.cls.bias", "heads.reg.weight", "heads.reg.bias"]
    heads = model.heads
    assert "cls" in heads and len(heads) == 2 and list(heads) == ["cls", "reg"]
    heads["aux"] = nn.Linear(2, 2, bias=False)
    del heads["reg"]
    assert list(heads.keys()) == ["cls", "aux"] and list(model.state_dict())[-1] == "heads.aux.weight"
    assert [type(m).__name__ for m in heads.values()] == ["Linear", "Linear"]
    assert dict(heads.items())["aux"] is heads["aux"]


def test_activation_modules():
    x = Tensor(np.array([-2.0, 0.5]))
    np.testing.assert_allclose(nn.ReLU()(x).data, [0, 0.5])
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh([-2.0, 0.5]), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp([2.0, -0.5])), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# PyTorch as an oracle (optional)

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _compare(torch, ours, theirs, x, ours_params, their_params):
    """Same weights, same input: outputs, input gradient and parameter gradients agree."""
    for p, tp in zip(ours_params, their_params):
        with torch.no_grad():
            tp.copy_(torch.tensor(p.data))
    out = ours(x)
    g = np.random.default_rng(9).normal(size=out.shape)
    out.backward(g)
    tx = torch.tensor(x.data, requires_grad=x.requires_grad) if x.dtype.kind == "f" else torch.tensor(x.data)
    tout = theirs(tx)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    if x.requires_grad:
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for p, tp in zip(ours_params, their_params):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_matches_pytorch(torch):
    lin = nn.Linear(4, 3, dtype=np.float64)
    tlin = torch.nn.Linear(4, 3, dtype=torch.float64)
    _compare(torch, lin, tlin, x64((2, 5, 4)), lin.parameters(), [tlin.weight, tlin.bias])


def test_embedding_matches_pytorch(torch):
    emb = nn.Embedding(6, 3, padding_idx=2, dtype=np.float64)
    temb = torch.nn.Embedding(6, 3, padding_idx=2, dtype=torch.float64)
    idx = Tensor(np.array([[2, 1, 1, 5], [0, 2, 1, 3]]))
    _compare(torch, emb, temb, idx, emb.parameters(), [temb.weight])


def test_layer_norm_matches_pytorch(torch):
    ln = nn.LayerNorm((3, 4), dtype=np.float64)
    tln = torch.nn.LayerNorm((3, 4), dtype=torch.float64)
    for p in ln.parameters():
        p.data = np.random.default_rng(10).normal(size=p.shape)
    _compare(torch, ln, tln, x64((2, 3, 4)), ln.parameters(), [tln.weight, tln.bias])
