"""Gradient clipping: norms, scaling rule, non-finite handling, value clipping, PyTorch oracle."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

values = st.floats(-100, 100, allow_subnormal=False)
grad_lists = st.lists(arrays(np.float64, array_shapes(min_dims=0, max_dims=2, max_side=4), elements=values),
                      min_size=1, max_size=4)
norm_types = st.sampled_from([1.0, 2.0, 3.0, math.inf])


def _params(grads):
    params = []
    for g in grads:
        p = Parameter(np.zeros(g.shape), dtype=g.dtype)
        p.grad = mg.Tensor(g.copy())
        params.append(p)
    return params


@given(grads=grad_lists, max_norm=st.floats(0.01, 500), norm_type=norm_types)
def test_clip_grad_norm_scales_everything_by_one_factor(grads, max_norm, norm_type):
    params = _params(grads)
    flat = np.concatenate([g.ravel() for g in grads])
    expected_total = np.linalg.norm(flat, ord=norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(expected_total, rel=1e-12, abs=1e-300)
    coef = max_norm / (expected_total + 1e-6)
    for p, g in zip(params, grads):
        if coef < 1:
            np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
        else:
            assert np.array_equal(p.grad.data, g)  # untouched, not multiplied by 1.0
    if coef < 1:
        clipped = np.concatenate([p.grad.data.ravel() for p in params])
        assert np.linalg.norm(clipped, ord=norm_type) <= max_norm


def test_parameters_without_grad_are_skipped_and_a_single_tensor_works():
    a, b = _params([np.array([3.0, 4.0])]) + [Parameter([1.0])]
    assert clip_grad_norm_([a, b], 1.0) == 5.0
    np.testing.assert_allclose(a.grad.data, [3 / (5 + 1e-6), 4 / (5 + 1e-6)])
    assert b.grad is None
    assert clip_grad_norm_(_params([np.array([6.0, 8.0])])[0], 100.0) == 10.0
    assert clip_grad_norm_([b], 1.0) == 0.0


def test_float32_gradients_near_their_max_do_not_overflow_the_norm():
    g = np.array([3e38, 3e38], dtype=np.float32)
    (p,) = _params([g])
    total = clip_grad_norm_([p], 1.0)
    assert total == pytest.approx(math.sqrt(2) * 3e38, rel=1e-6)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, [2 ** -0.5] * 2, rtol=1e-6)


@pytest.mark.parametrize("bad, shown", [(math.inf, "inf"), (math.nan, "nan")])
def test_a_non_finite_norm_raises_when_asked(bad, shown):
    params = _params([np.array([1.0, bad]), np.array([2.0])])
    with pytest.raises(RuntimeError, match=f"2 parameter.*is {shown}.*error_if_nonfinite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[1].grad.data.tolist() == [2.0]  # nothing scaled before raising


def test_a_non_finite_norm_otherwise_scales_like_torch_without_warnings():
    params = _params([np.array([1.0, math.inf]), np.array([2.0])])
    assert clip_grad_norm_(params, 1.0) == math.inf
    assert params[1].grad.data.tolist() == [0.0]  # max_norm / inf
    assert np.isnan(params[0].grad.data[1])  # inf * 0
    params = _params([np.array([math.nan])])
    assert math.isnan(clip_grad_norm_(params, 1.0))


def test_norm_type_must_be_positive():
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(_params([np.ones(2)]), 1.0, norm_type=0)


@given(grads=grad_lists, clip=st.floats(0, 50))
def test_clip_grad_value_clamps_each_element(grads, clip):
    params = _params(grads)
    clip_grad_value_(params, clip)
    for p, g in zip(params, grads):
        assert np.array_equal(p.grad.data, np.clip(g, -clip, clip))


def test_clip_grad_value_keeps_nan_and_refuses_negative_limits():
    (p,) = _params([np.array([math.nan, -5.0, 0.5])])
    clip_grad_value_(p, 1.0)
    assert np.isnan(p.grad.data[0]) and p.grad.data[1:].tolist() == [-1.0, 0.5]
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(p, -1.0)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = _params(grads)
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tparams, grads):
        t.grad = torch.from_numpy(g.copy())
    ours = clip_grad_norm_(params, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert ours == pytest.approx(theirs.item(), rel=1e-13)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-13)
