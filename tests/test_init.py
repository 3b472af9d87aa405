"""minigrad.nn.init: PyTorch's fans and formulas, checked by the statistics of large samples."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import Tensor
from minigrad.nn import Parameter, init


def big(*shape, dtype=np.float64):
    return Parameter(np.zeros(shape), dtype=dtype)


def rng(seed=0):
    return np.random.default_rng(seed)


def test_fills_in_place_and_returns_the_tensor():
    p = big(3, 4, dtype=np.float32)
    arr = p.data
    assert init.normal_(p, generator=rng()) is p
    assert p.data is arr and p.dtype == np.float32 and arr.any()
    assert init.zeros_(p) is p and not arr.any()
    assert (init.ones_(p).data == 1).all() and (init.constant_(p, 2.5).data == 2.5).all()


def test_uniform_and_normal_statistics():
    u = init.uniform_(big(200, 250), -2.0, 3.0, generator=rng(1)).data
    assert u.min() >= -2.0 and u.max() < 3.0 and u.min() < -1.99 and u.max() > 2.99
    assert u.mean() == pytest.approx(0.5, abs=0.02) and u.std() == pytest.approx(5 / math.sqrt(12), rel=0.01)
    n = init.normal_(big(200, 250), 1.5, 0.3, generator=rng(2)).data
    assert n.mean() == pytest.approx(1.5, abs=0.003) and n.std() == pytest.approx(0.3, rel=0.01)


@pytest.mark.parametrize("shape, fan_in, fan_out", [((30, 20), 20, 30), ((16, 8, 3, 3), 72, 144), ((5, 7, 2), 14, 10)])
def test_xavier_uses_pytorch_fans(shape, fan_in, fan_out):
    scale = 1 if len(shape) == 2 else 40  # enough samples for the statistics
    p = big(shape[0] * scale, *shape[1:])
    fan_out *= scale
    a = 1.7 * math.sqrt(6 / (fan_in + fan_out))
    x = init.xavier_uniform_(p, gain=1.7, generator=rng(3)).data
    assert np.abs(x).max() <= a and np.abs(x).max() > 0.98 * a
    assert x.std() == pytest.approx(a / math.sqrt(3), rel=0.05)
    x = init.xavier_normal_(p, gain=0.5, generator=rng(4)).data
    assert x.std() == pytest.approx(0.5 * math.sqrt(2 / (fan_in + fan_out)), rel=0.05)


def test_kaiming_bounds_gains_and_modes():
    p = big(400, 100)
    # a = sqrt(5) gives PyTorch's Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    x = init.kaiming_uniform_(p, a=math.sqrt(5), generator=rng(5)).data
    assert np.abs(x).max() <= 1 / math.sqrt(100) and np.abs(x).max() > 0.99 / math.sqrt(100)
    x = init.kaiming_uniform_(p, mode="fan_out", nonlinearity="relu", generator=rng(6)).data
    assert x.std() == pytest.approx(math.sqrt(2) / math.sqrt(400), rel=0.02)
    x = init.kaiming_normal_(p, nonlinearity="tanh", generator=rng(7)).data
    assert x.std() == pytest.approx(5 / 3 / math.sqrt(100), rel=0.02)
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(p, mode="fan_avg")


def test_calculate_gain_matches_pytorch_table():
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.lists(st.integers(1, 4), min_size=1, max_size=3), st.floats(0.1, 3))
def test_orthogonal_rows_or_columns_are_orthonormal(rows, rest, gain):
    p = big(rows, *rest)
    q = init.orthogonal_(p, gain, generator=rng(rows)).data.reshape(rows, -1) / gain
    small = min(q.shape)
    gram = q @ q.T if rows <= q.shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_orthogonal_sign_fix_makes_the_distribution_uniform():
    # LAPACK's QR alone biases Q's diagonal (mean about -0.4 per entry for 4x4 Gaussians); with
    # the signs of R's diagonal folded in, Q is Haar-distributed and its diagonal has mean 0.
    g = rng(8)
    diag = np.array([np.diag(init.orthogonal_(big(4, 4), generator=g).data) for _ in range(2000)])
    assert np.abs(diag.mean(0)).max() < 0.05


def test_generator_and_global_seed_reproduce_and_dtypes_share_draws():
    a = init.xavier_uniform_(big(5, 6), generator=rng(9)).data
    b = init.xavier_uniform_(big(5, 6, dtype=np.float32), generator=rng(9)).data
    np.testing.assert_allclose(a, b, rtol=1e-6)
    mg.manual_seed(4)
    c = init.orthogonal_(big(3, 3)).data.copy()
    mg.manual_seed(4)
    np.testing.assert_array_equal(init.orthogonal_(big(3, 3)).data, c)


def test_initializer_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"at least 2 axes.*\(5,\)"):
        init.xavier_uniform_(big(5))
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.orthogonal_(big(5))
    with pytest.raises(TypeError, match="int64"):
        init.uniform_(Tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(TypeError, match="Tensor"):
        init.zeros_(np.zeros(3))
    x = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="op 'mul'"):
        init.ones_(x * 2)
