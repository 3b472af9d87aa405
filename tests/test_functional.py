"""minigrad.nn.functional: layers and losses against numpy transcriptions, finite differences,
their composed twins, extreme inputs, and (optionally) PyTorch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import Tensor, gradcheck

FAST = settings(max_examples=20, deadline=None)


def t64(arr, requires_grad=True):
    return Tensor(np.asarray(arr, dtype=np.float64), requires_grad=requires_grad)


def grads_of(fn, *tensors):
    """Value of fn() and the gradients it sends to ``tensors`` (after a fresh backward)."""
    for t in tensors:
        t.grad = None
    out = fn()
    out.backward(np.ones(out.shape))
    return out.data.copy(), [t.grad.data.copy() for t in tensors]


def assert_same(fn_a, fn_b, *tensors, atol=1e-10):
    va, ga = grads_of(fn_a, *tensors)
    vb, gb = grads_of(fn_b, *tensors)
    np.testing.assert_allclose(va, vb, atol=atol, rtol=1e-7)
    for a, b in zip(ga, gb):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# class-target problems drawn by hypothesis: shapes, options, values

@st.composite
def class_problems(draw, extra_axes=True):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2 if extra_axes else 0)))
    unbatched = not extra and draw(st.booleans()) and draw(st.booleans())
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    shape, tshape = ((c,), ()) if unbatched else ((n, c) + extra, (n,) + extra)
    x = rng.normal(0, 2, shape)
    ignore = draw(st.sampled_from([-100, 0, 2]))
    if c == 1 and ignore == 0:  # the only class ignored: nothing could count
        ignore = -100
    flat = rng.integers(0, c, int(np.prod(tshape)))
    flat[rng.random(flat.size) < 0.3] = ignore
    flat[0] = 1 if ignore == 0 else 0  # at least one counted target, so a mean exists
    target = flat.reshape(tshape)
    weight = rng.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    mask = None
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    if kind != "none":  # element weights: 0/1 (padding) or any non-negative value
        mask = rng.random(flat.size) < 0.7 if kind == "bool" else rng.uniform(0, 2, flat.size)
        mask[0] = 1
        mask = mask.reshape(tshape)
    return dict(x=x, target=target, weight=weight, mask=mask, ignore_index=ignore,
                reduction=draw(st.sampled_from(["mean", "sum", "none"])),
                label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.45])))


def numpy_cross_entropy(x, target, weight, mask, ignore_index, reduction, label_smoothing):
    """The docstring's equation, one target at a time."""
    c = x.shape[1] if x.ndim > 1 else x.shape[0]
    rows = (x[None] if x.ndim == 1 else np.moveaxis(x, 1, -1)).reshape(-1, c)
    cw = np.ones(c) if weight is None else weight
    m = np.ones(target.size) if mask is None else mask.reshape(-1).astype(float)
    losses, total = [], 0.0
    for r, y, k in zip(rows, target.reshape(-1), m):
        if y == ignore_index:
            losses.append(0.0)
            continue
        logp = r - np.log(np.sum(np.exp(r - r.max()))) - r.max()
        nll = -cw[y] * logp[y]
        smooth = -(cw * logp).sum()
        losses.append(k * ((1 - label_smoothing) * nll + label_smoothing / c * smooth))
        total += k * cw[y]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(target.shape)
    return losses.sum() if reduction == "sum" else losses.sum() / total


def composed_cross_entropy(x, target, weight, mask, ignore_index, reduction, label_smoothing):
    """cross_entropy from log_softmax + nll_loss (+ the smoothing sum), built from recorded ops."""
    axis = 1 if x.ndim > 1 else 0
    c = x.shape[axis]
    logp = F.log_softmax(x, dim=axis)
    nll = F.nll_loss(logp, target, weight, ignore_index, reduction="none", mask=mask)
    keep = (target != ignore_index) * (1.0 if mask is None else mask)
    cw = np.ones(c) if weight is None else weight
    per = nll * (1 - label_smoothing)
    if label_smoothing:
        cw_b = cw.reshape((c,) + (1,) * (x.ndim - axis - 1))
        per = per - (logp * cw_b).sum(axis=axis) * (keep * label_smoothing / c)
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() * (1.0 / np.sum(keep * cw[np.where(target == ignore_index, 0, target)]))


@FAST
@given(class_problems())
def test_cross_entropy_matches_numpy_and_finite_differences(p):
    p = dict(p)
    x = t64(p.pop("x"))
    out = F.cross_entropy(x, **p)
    np.testing.assert_allclose(out.data, numpy_cross_entropy(x.data, **p), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, **p), [x])


@FAST
@given(class_problems())
def test_fused_cross_entropy_equals_composed_log_softmax_and_gather(p):
    p = dict(p)
    x = t64(p.pop("x"))
    assert_same(lambda: F.cross_entropy(x, **p), lambda: composed_cross_entropy(x, **p), x)


@FAST
@given(class_problems())
def test_nll_loss_gradcheck_and_meaning(p):
    p.pop("label_smoothing")
    p = dict(p)
    x = t64(p.pop("x"))
    logp = F.log_softmax(x, dim=1 if x.ndim > 1 else 0).detach().requires_grad_()
    assert gradcheck(lambda lp: F.nll_loss(lp, **p), [logp])
    np.testing.assert_allclose(F.nll_loss(logp, **p).data, F.cross_entropy(x, **p).data, rtol=1e-10)


def test_label_smoothing_is_cross_entropy_against_the_smoothed_distribution():
    rng = np.random.default_rng(1)
    x, y, eps, c = rng.normal(size=(6, 4)), rng.integers(0, 4, 6), 0.2, 4
    q = (1 - eps) * np.eye(c)[y] + eps / c
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    expected = -(q * logp).sum(1).mean()
    assert F.cross_entropy(t64(x), y, label_smoothing=eps).item() == pytest.approx(expected, rel=1e-12)


def test_ignore_index_targets_count_for_nothing():
    rng = np.random.default_rng(2)
    x = t64(rng.normal(size=(5, 3)))
    y = np.array([0, -100, 2, -100, 1])
    loss = F.cross_entropy(x, y)
    loss.backward()
    kept = [0, 2, 4]
    assert loss.item() == pytest.approx(F.cross_entropy(t64(x.data[kept]), y[kept]).item(), rel=1e-12)
    assert not x.grad.data[[1, 3]].any() and x.grad.data[kept].any()
    per = F.cross_entropy(x, y, reduction="none")
    assert per.shape == (5,) and per.data[1] == 0 and per.data[3] == 0
    assert F.cross_entropy(x, y, reduction="sum").item() == pytest.approx(per.data.sum())
    some_class_ignored = F.cross_entropy(x, np.array([0, 1, 2, 2, 1]), ignore_index=2, reduction="none")
    assert not some_class_ignored.data[2:4].any() and some_class_ignored.data[[0, 1, 4]].all()


def test_mask_weighs_elements_like_ignore_index():
    rng = np.random.default_rng(3)
    x = t64(rng.normal(size=(2, 4, 3)))  # (N, C, T): a sequence model's logits, classes on axis 1
    y = rng.integers(0, 4, (2, 3))
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    masked = F.cross_entropy(x, y, mask=mask)
    ignored = F.cross_entropy(x, np.where(mask, y, -100))
    assert masked.item() == pytest.approx(ignored.item(), rel=1e-12)


def test_all_targets_ignored_gives_nan_loss_and_zero_gradient_like_pytorch():
    for fn in (F.cross_entropy, lambda x, y: F.nll_loss(F.log_softmax(x, dim=1), y)):
        x = t64(np.ones((3, 4)))
        loss = fn(x, np.full(3, -100))
        assert np.isnan(loss.item())
        loss.backward()
        assert np.array_equal(x.grad.data, np.zeros((3, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_is_finite_at_extreme_logits(dtype, smoothing):
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [-1e4, 1e4, 1e4]]), dtype=dtype, requires_grad=True)
    y = np.array([1, 2, 0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = F.cross_entropy(x, y, label_smoothing=smoothing, weight=np.array([1.0, 2.0, 0.5]))
        loss.backward()
    assert np.isfinite(loss.item()) and loss.item() > 1e3  # target 1 of row 0 is 2e4 below the max
    assert np.isfinite(x.grad.data).all() and x.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_are_finite_at_extreme_logits(dtype):
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]), dtype=dtype, requires_grad=True)
    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        for fn in (F.softmax, F.log_softmax):
            x.grad = None
            y = fn(x, dim=1)
            (y * w).sum().backward()
            assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(F.log_softmax(x, dim=1).data[0], [0, -2e4, -1e4])


def test_cross_entropy_errors_name_the_problem():
    x = t64(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(x, np.zeros(3))
    with pytest.raises(mg.ShapeError, match=r"\(3,\).*\(3, 1\)"):
        F.cross_entropy(x, np.zeros((3, 1), dtype=int))
    with pytest.raises(IndexError, match=r"\[0, 4\).*7"):
        F.cross_entropy(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.zeros(3, dtype=int), reduction="avg")
    with pytest.raises(mg.ShapeError, match="weight"):
        F.cross_entropy(x, np.zeros(3, dtype=int), weight=np.ones(3))
    with pytest.raises(mg.ShapeError, match="mask"):
        F.cross_entropy(x, np.zeros(3, dtype=int), mask=np.ones(4))


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax

@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2 ** 31), st.data())
def test_softmax_and_log_softmax(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = t64(np.random.default_rng(seed).normal(0, 3, shape))
    e = np.exp(x.data - x.data.max(dim, keepdims=True))
    np.testing.assert_allclose(F.softmax(x, dim).data, e / e.sum(dim, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, dim).data, np.log(e / e.sum(dim, keepdims=True)), atol=1e-12)
    assert gradcheck(lambda x: F.softmax(x, dim), [x])
    assert gradcheck(lambda x: F.log_softmax(x, dim), [x])


# ---------------------------------------------------------------------------------------------
# mse_loss, binary_cross_entropy_with_logits

@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(0, 2 ** 31),
       st.sampled_from(["mean", "sum", "none"]), st.booleans())
def test_mse_loss(shape, seed, reduction, broadcast_target):
    rng = np.random.default_rng(seed)
    x = t64(rng.normal(size=shape))
    y = t64(rng.normal(size=shape[1:] if broadcast_target else shape))
    d2 = (x.data - y.data) ** 2
    expected = {"mean": d2.mean(), "sum": d2.sum(), "none": d2}[reduction]
    np.testing.assert_allclose(F.mse_loss(x, y, reduction).data, expected, rtol=1e-12)
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction), [x, y])


def test_mse_loss_refuses_a_target_that_would_enlarge_the_input():
    with pytest.raises(mg.ShapeError, match=r"\(4,\).*\(4, 1\)"):
        F.mse_loss(t64(np.zeros((4, 1))), np.zeros(4))


@st.composite
def bce_problems(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    weight = rng.uniform(0.1, 2, shape[-1:]) if draw(st.booleans()) else None
    pos_weight = rng.uniform(0.1, 3, shape[-1:]) if draw(st.booleans()) else None
    return (rng.normal(0, 3, shape), rng.random(shape), weight, pos_weight,
            draw(st.sampled_from(["mean", "sum", "none"])))


@FAST
@given(bce_problems())
def test_bce_with_logits_matches_numpy_and_finite_differences(problem):
    x_arr, y_arr, weight, pos_weight, reduction = problem
    x, y = t64(x_arr), t64(y_arr)
    s = 1 / (1 + np.exp(-x_arr))
    pw = 1.0 if pos_weight is None else pos_weight
    naive = -(pw * y_arr * np.log(s) + (1 - y_arr) * np.log(1 - s)) * (1.0 if weight is None else weight)
    expected = {"mean": naive.mean(), "sum": naive.sum(), "none": naive}[reduction]
    out = F.binary_cross_entropy_with_logits(x, y, weight, reduction, pos_weight)
    np.testing.assert_allclose(out.data, expected, rtol=1e-9, atol=1e-12)
    assert gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight, reduction, pos_weight), [x, y])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_at_extreme_logits(dtype):
    x = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), dtype=dtype, requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=np.array(2.0))
        loss.sum().backward()
    np.testing.assert_allclose(loss.data, [0, 0, 1e4, 2e4])
    np.testing.assert_allclose(x.grad.data, [0, 0, 1, -2])


def test_bce_with_logits_shape_errors():
    with pytest.raises(mg.ShapeError, match="target"):
        F.binary_cross_entropy_with_logits(t64(np.zeros((2, 3))), np.zeros(3))
    with pytest.raises(mg.ShapeError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(t64(np.zeros((2, 3))), np.zeros((2, 3)), pos_weight=np.ones(2))


# ---------------------------------------------------------------------------------------------
# fused layers against their composite twins

@FAST
@given(st.lists(st.integers(1, 3), max_size=3), st.integers(1, 4), st.integers(1, 4), st.booleans(),
       st.integers(0, 2 ** 31))
def test_linear_equals_composite_and_gradchecks(lead, n_in, n_out, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, w = t64(rng.normal(size=tuple(lead) + (n_in,))), t64(rng.normal(size=(n_out, n_in)))
    b = t64(rng.normal(size=n_out)) if with_bias else None
    params = [x, w] + ([b] if with_bias else [])
    composite = (lambda: x @ w.T + b) if with_bias else (lambda: x @ w.T)
    assert_same(lambda: F.linear(x, w, b), composite, *params)
    assert gradcheck(lambda *ps: F.linear(*ps), params)


def test_linear_errors_and_mixed_dtypes():
    with pytest.raises(mg.ShapeError, match=r"input \(2, 3\), weight \(4, 5\)"):
        F.linear(t64(np.zeros((2, 3))), t64(np.zeros((4, 5))))
    with pytest.raises(mg.ShapeError, match=r"bias \(5,\)"):
        F.linear(t64(np.zeros((2, 3))), t64(np.zeros((4, 3))), t64(np.zeros(5)))
    x = Tensor(np.ones((2, 3)), dtype=np.float32, requires_grad=True)
    F.linear(x, t64(np.ones((4, 3)))).sum().backward()
    assert x.grad.dtype == np.float32


@FAST
@given(st.lists(st.integers(1, 4), min_size=1, max_size=2), st.booleans(), st.integers(0, 2 ** 31))
def test_layer_norm_equals_composite_and_gradchecks(shape, affine, seed):
    rng = np.random.default_rng(seed)
    shape = [2] + shape
    x = t64(rng.normal(size=shape))
    ns = tuple(shape[-1:])
    w, b = (t64(rng.normal(size=ns)), t64(rng.normal(size=ns))) if affine else (None, None)

    def composite():
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) * (x - mu)).mean(-1, keepdims=True)
        y = (x - mu) / (var + 1e-5).sqrt()
        return y * w + b if affine else y

    params = [x, w, b] if affine else [x]
    assert_same(lambda: F.layer_norm(x, ns, w, b), composite, *params)
    assert gradcheck(lambda *_: F.layer_norm(x, ns, w, b), params)


def test_layer_norm_weight_without_bias_and_errors():
    rng = np.random.default_rng(4)
    x, w = t64(rng.normal(size=(3, 2, 4))), t64(rng.normal(size=(2, 4)))
    assert gradcheck(lambda x, w: F.layer_norm(x, (2, 4), weight=w), [x, w])
    assert gradcheck(lambda x, w: F.layer_norm(x, (2, 4), bias=w), [x, w])
    with pytest.raises(mg.ShapeError, match="normalized_shape"):
        F.layer_norm(x, (3,))


@FAST
@given(st.integers(1, 6), st.integers(1, 3), st.lists(st.integers(1, 4), min_size=0, max_size=2),
       st.booleans(), st.integers(0, 2 ** 31))
def test_embedding_gradchecks_and_accumulates_repeats(num, dim, ishape, padded, seed):
    rng = np.random.default_rng(seed)
    w = t64(rng.normal(size=(num, dim)))
    idx = rng.integers(0, num, ishape)
    pad = int(rng.integers(0, num)) if padded else None
    out = F.embedding(idx, w, pad)
    assert out.shape == tuple(ishape) + (dim,)
    np.testing.assert_array_equal(out.data, w.data[idx])
    g = rng.normal(size=out.shape)
    out.backward(g)
    expected = np.zeros((num, dim))
    np.add.at(expected, idx.reshape(-1), g.reshape(-1, dim))
    if pad is not None:
        expected[pad] = 0
    np.testing.assert_allclose(w.grad.data, expected, atol=1e-12)
    assert gradcheck(lambda w: F.embedding(idx, w), [w])  # (the padding row's zero gradient is by design)


def test_embedding_backward_for_many_rows_uses_the_same_sums():
    # 48 or more lookups take the sort-and-reduce path instead of np.add.at
    rng = np.random.default_rng(5)
    w = t64(rng.normal(size=(7, 3)))
    idx = rng.integers(0, 7, (10, 9))
    g = rng.normal(size=(10, 9, 3))
    F.embedding(idx, w).backward(g)
    expected = np.zeros((7, 3))
    np.add.at(expected, idx.reshape(-1), g.reshape(-1, 3))
    np.testing.assert_allclose(w.grad.data, expected, atol=1e-12)


def test_embedding_errors():
    w = t64(np.zeros((4, 2)))
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        F.embedding(np.array([0, 4]), w)
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        F.embedding(np.array([-1]), w)
    with pytest.raises(TypeError, match="integers"):
        F.embedding(np.array([0.0]), w)


# ---------------------------------------------------------------------------------------------
# dropout

def test_dropout_masks_scales_and_repeats_with_a_seed():
    x = t64(np.ones((200, 50)))
    y = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    kept = y.data != 0
    assert set(np.unique(y.data)) <= {0.0, 1 / 0.7}
    assert abs(kept.mean() - 0.7) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, y.data)  # d(x * mask)/dx = mask
    again = F.dropout(x, 0.3, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(again.data, y.data)
    mg.manual_seed(3)
    a = F.dropout(x, 0.5).data
    mg.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)


def test_dropout_identity_cases_and_errors():
    x = t64(np.ones(5))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert not F.dropout(x, 1.0).data.any()
    with pytest.raises(ValueError, match="probability"):
        F.dropout(x, 1.5)


@FAST
@given(st.lists(st.integers(1, 4), max_size=3), st.floats(0.05, 0.95), st.integers(0, 2 ** 31))
def test_dropout_gradchecks_with_a_fixed_mask(shape, p, seed):
    x = t64(np.random.default_rng(seed).normal(size=shape))
    assert gradcheck(lambda x: F.dropout(x, p, generator=np.random.default_rng(seed)), [x])


# ---------------------------------------------------------------------------------------------
# PyTorch as an oracle (optional)

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("case", range(6))
def test_cross_entropy_matches_pytorch(torch, case):
    rng = np.random.default_rng(case)
    shape = [(5, 4), (3, 4, 2), (2, 3, 2, 2), (6, 3), (4,), (5, 4)][case]
    x = rng.normal(0, 2, shape)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = rng.integers(0, shape[1] if len(shape) > 1 else shape[0], tshape)
    if y.ndim:
        y.reshape(-1)[-1] = -1
    opts = dict(ignore_index=-1, label_smoothing=[0.0, 0.1, 0.3, 0.0, 0.2, 0.25][case],
                reduction=["mean", "sum", "none", "mean", "mean", "mean"][case])
    c = shape[1] if len(shape) > 1 else shape[0]
    weight = rng.uniform(0.5, 2, c) if case in (0, 2, 5) else None
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(y), None if weight is None else torch.tensor(weight), **opts)
    tl.sum().backward()
    mx = t64(x)
    ml = F.cross_entropy(mx, y, weight, **opts)
    ml.sum().backward()
    np.testing.assert_allclose(ml.data, tl.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_bce_with_logits_and_nll_match_pytorch(torch):
    rng = np.random.default_rng(9)
    x, y, w, pw = rng.normal(0, 3, (4, 3)), rng.random((4, 3)), rng.random(3), rng.uniform(0.5, 3, 3)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, torch.tensor(w), pos_weight=torch.tensor(pw))
    tl.backward()
    mx, my = t64(x), t64(y)
    ml = F.binary_cross_entropy_with_logits(mx, my, w, pos_weight=pw)
    ml.backward()
    np.testing.assert_allclose(ml.item(), tl.item(), rtol=1e-12)
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(my.grad.data, ty.grad.numpy(), rtol=1e-10)
    lp = np.log(rng.dirichlet(np.ones(3), size=5))
    tgt = rng.integers(0, 3, 5)
    tn = torch.nn.functional.nll_loss(torch.tensor(lp), torch.tensor(tgt), torch.tensor(w))
    assert F.nll_loss(t64(lp), tgt, w).item() == pytest.approx(tn.item(), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# activations (issue 15): values against numpy transcriptions, the docstrings' derivatives,
# finite differences, PyTorch at the kinks, extreme inputs

import math  # noqa: E402
import warnings  # noqa: E402

from minigrad import testing as mt  # noqa: E402

_erf = np.vectorize(math.erf)
_SIG = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
_SP = lambda x: np.log1p(np.exp(x))  # noqa: E731
_U = lambda x: math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)  # noqa: E731

# name, call, value, derivative (each the docstring's equation in numpy), kinks to keep away from
ACTIVATIONS = [
    ("gelu", lambda x: F.gelu(x), lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))),
     lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi), ()),
    ("gelu[tanh]", lambda x: F.gelu(x, approximate="tanh"), lambda x: 0.5 * x * (1 + np.tanh(_U(x))),
     lambda x: 0.5 * (1 + np.tanh(_U(x))) + 0.5 * x * (1 - np.tanh(_U(x)) ** 2) * math.sqrt(2 / math.pi)
     * (1 + 3 * 0.044715 * x * x), ()),
    ("silu", F.silu, lambda x: x * _SIG(x), lambda x: _SIG(x) * (1 + x * (1 - _SIG(x))), ()),
    ("elu", lambda x: F.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
     lambda x: np.where(x > 0, 1, 0.7 * np.exp(x)), (0,)),
    ("relu6", F.relu6, lambda x: np.minimum(np.maximum(x, 0), 6), lambda x: ((x > 0) & (x < 6)) * 1.0, (0, 6)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0),
     lambda x: ((x > -0.5) & (x < 2.0)) * 1.0, (-0.5, 2.0)),
    ("hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
     lambda x: np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1)), (-3, 3)),
    ("mish", F.mish, lambda x: x * np.tanh(_SP(x)),
     lambda x: np.tanh(_SP(x)) + x * _SIG(x) * (1 - np.tanh(_SP(x)) ** 2), ()),
]
WIDE = (-7.0, 7.0)  # past every kink, into the tails


@pytest.mark.parametrize("name, call, value, derivative, kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
@FAST
@given(data=st.data())
def test_activation_values_derivatives_and_finite_differences(name, call, value, derivative, kinks, data):
    x = data.draw(mt.arrays(np.float64, mt.shapes(), domain=WIDE, avoid=kinks))
    t = t64(x)
    y = call(t)
    assert y.dtype == np.float64 and y.op
    np.testing.assert_allclose(y.data, value(x), rtol=1e-12, atol=1e-14)
    y.backward(np.ones(x.shape))
    np.testing.assert_allclose(t.grad.data, derivative(x), rtol=1e-12, atol=1e-14)
    mt.assert_gradients_match(call, [t64(x)])
    y32 = call(Tensor(x.astype(np.float32), requires_grad=True))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.data, value(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, call, value, derivative, kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_are_finite_at_extremes(name, call, value, derivative, kinks, dtype):
    x = Tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = call(x)
        y.sum().backward()
    assert y.dtype == dtype and np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()


def test_normal_cdf_is_exact_in_both_tails():
    x = np.array([-30.0, -8.0, -1.0, 0.0, 0.5, 8.0])
    expected = [0.5 * math.erfc(-v * math.sqrt(0.5)) for v in x]
    np.testing.assert_allclose(F.normal_cdf(x), expected, rtol=1e-15)
    assert F.normal_cdf(x.astype(np.float32)).dtype == np.float32


def test_activation_options_are_checked():
    x = t64([1.0])
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="smaller than max_val"):
        F.hardtanh(x, 1.0, 1.0)


_TORCH_ACTIVATIONS = {
    "gelu": lambda F, x: F.gelu(x), "gelu[tanh]": lambda F, x: F.gelu(x, approximate="tanh"),
    "silu": lambda F, x: F.silu(x), "elu": lambda F, x: F.elu(x, alpha=0.7), "relu6": lambda F, x: F.relu6(x),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 2.0), "hardswish": lambda F, x: F.hardswish(x),
    "mish": lambda F, x: F.mish(x),
}


@pytest.mark.parametrize("name", list(_TORCH_ACTIVATIONS))
def test_activations_match_pytorch_including_the_kinks(torch, name):
    x = np.concatenate([np.linspace(-8, 8, 65), [-3.0, -0.5, 0.0, 2.0, 3.0, 6.0]])  # every kink exactly
    tx = torch.tensor(x, requires_grad=True)
    ty = _TORCH_ACTIVATIONS[name](torch.nn.functional, tx)
    ty.sum().backward()
    mx = t64(x)
    my = _TORCH_ACTIVATIONS[name](F, mx)
    my.sum().backward()
    # absolute round-off: in the far negative tail both compute 1 + tanh(u) of a u near -inf
    np.testing.assert_allclose(my.data, ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
