"""minigrad.testing's strategies draw what they promise, and its assertion names the worst element."""
import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Tensor
from minigrad import testing as mt


@given(x=mt.floats("nonzero"), y=mt.floats((-1, 2)), z=mt.floats(avoid=(0.0, 1.0), margin=0.1),
       w=mt.floats(grid=0.25), f=mt.floats("positive", width=32))
def test_floats_stay_in_their_domain(x, y, z, w, f):
    assert 0.1 <= abs(x) <= 3
    assert -1 <= y <= 2
    assert abs(z) >= 0.1 - 1e-12 and abs(z - 1) >= 0.1 - 1e-12 and -3 <= z <= 3
    assert w / 0.25 == round(w / 0.25)
    assert float(np.float32(f)) == f


def test_domains_are_checked():
    with pytest.raises(ValueError, match="unknown domain 'reals'"):
        mt.floats("reals")
    with pytest.raises(ValueError, match="empty"):
        mt.floats((2, 1))


@given(a=mt.arrays(np.float32, (2, 3), domain="probability"), b=mt.arrays(np.int64, mt.shapes(), domain=(0, 4)),
       c=mt.arrays(bool, (4,)), d=mt.arrays(shape=(5,), grid=0.5, unique=True))
def test_arrays(a, b, c, d):
    assert a.dtype == np.float32 and a.shape == (2, 3) and ((a >= 0.05) & (a <= 0.95)).all()
    assert b.dtype == np.int64 and ((b >= 0) & (b <= 4)).all()
    assert c.dtype == np.bool_
    assert len(set(d.tolist())) == 5


@given(t=mt.tensors(np.float32, mt.shapes(min_dims=1), requires_grad=True))
def test_tensors(t):
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float32 and t.ndim >= 1


@given(shapes=mt.broadcastable_shapes(3), pair=mt.matmul_shapes())
def test_shapes_broadcast_and_multiply(shapes, pair):
    assert len(shapes) == 3
    out = np.broadcast_shapes(*shapes)  # raises unless they broadcast
    rank = max(map(len, shapes))
    for axis in range(1, rank + 1):  # numpy's rule, axis by axis from the right: equal sizes or 1
        sizes = {s[-axis] for s in shapes if len(s) >= axis}
        assert len(sizes - {1}) <= 1 and out[-axis] == max(sizes)
    a, b = pair
    assert a[-1] == (b[0] if len(b) == 1 else b[-2])  # the contracted sizes agree
    product = np.matmul(np.zeros(a), np.zeros(b))
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    assert product.shape == batch + a[-2:-1] * (len(a) > 1) + b[-1:] * (len(b) > 1)


def test_broadcastable_shapes_mix_ranks_and_size_one_axes():
    find(mt.broadcastable_shapes(2), lambda s: len(s[0]) != len(s[1]) and 1 in s[0] + s[1])
    find(mt.matmul_shapes(), lambda s: len(s[0]) == 1 and len(s[1]) == 3)


@given(batch=mt.padded_sequences(batch=(2, 4), length=(1, 5), features=3, pad_value=-9.0),
       tokens=mt.padded_sequences(vocab=7, time_major=True))
def test_padded_sequences(batch, tokens):
    x, lengths = batch
    B, T, D = x.shape
    assert 2 <= B <= 4 and D == 3 and lengths.dtype == np.int64 and lengths.shape == (B,)
    assert T == lengths.max() and lengths.min() >= 1
    for b, n in enumerate(lengths):
        assert (x[b, n:] == -9.0).all()
        assert ((x[b, :n] >= -3) & (x[b, :n] <= 3)).all()
    ids, lengths = tokens
    assert ids.shape == (lengths.max(), len(lengths)) and ids.dtype == np.int64
    assert ((ids >= 0) & (ids < 7)).all()


def test_padded_sequences_mix_lengths():
    find(mt.padded_sequences(), lambda xl: len(set(xl[1].tolist())) > 1)


class Leaky(mg.Function):
    """Deliberately wrong: the gradient misses the factor 3."""

    op = "wrong_triple"

    def forward(self, a):
        return a * 3

    def backward(self, g):
        return (g,)


def triple_wrong(x):
    return Leaky.apply(x)


def test_assert_gradients_match_accepts_arrays_and_names_the_worst_element():
    mt.assert_gradients_match(lambda a, b: a * b.exp(), [np.ones((2, 2)), 0.5])
    with pytest.raises(AssertionError, match=r"triple_wrong \(input shapes \(2, 2\)\).*worst at input 0, index") as info:
        mt.assert_gradients_match(triple_wrong, [np.arange(4.0).reshape(2, 2)])
    assert info.value.mismatch.numeric == pytest.approx(3 * info.value.mismatch.analytic)


# The README's example (keep the two in step) -------------------------------------------------------
def softsign(x):
    return x / (1 + x.abs())


@given(x=mt.tensors(shape=mt.shapes(min_dims=1), avoid=(0.0,), requires_grad=True))
def test_readme_softsign_gradient(x):
    mt.assert_gradients_match(softsign, [x])


@given(shapes=mt.broadcastable_shapes(2))
def test_readme_broadcast_gradient(shapes):
    a, b = (np.random.default_rng(0).normal(size=s) for s in shapes)
    mt.assert_gradients_match(lambda a, b: (a * b).tanh(), [a, b])


def masked_mean(x, lengths):
    mask = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
    return (x * mask).sum(axis=1) / lengths[:, None]


@given(batch=mt.padded_sequences(batch=(1, 4), length=(1, 8), features=3))
def test_readme_masked_mean(batch):
    x, lengths = batch
    want = [x[b, :n].mean(axis=0) for b, n in enumerate(lengths)]
    np.testing.assert_allclose(masked_mean(Tensor(x), lengths).numpy(), want)


def test_the_tests_that_compare_against_pytorch_are_marked_oracle_and_others_not(request):
    """``make test-oracle`` runs only ``-m oracle``: each way a test can ask for torch marks it
    (checked on whatever this run collected: the whole suite under ``make test``)."""
    items = request.session.items
    oracle = {i.nodeid.split("[")[0]: i.get_closest_marker("oracle") is not None for i in items}
    assert oracle.get("tests/test_layers.py::test_state_dict_loads_into_pytorch_and_back", True)  # importorskip
    assert all(i.get_closest_marker("oracle") for i in items if "torch" in i.fixturenames)  # a torch fixture
    assert all(i.get_closest_marker("oracle") for i in items if i.nodeid.startswith("tests/test_torch_bridge.py"))
    assert not oracle[request.node.nodeid]
