"""The stable formulas under ``np.seterr(all="raise")``: underflow to 0 is their intended result.

Each op runs forward, and separately backward, at extreme inputs (±1e4, logits thousands below
the row's maximum, values on both sides of the float32 and float64 underflow thresholds, -inf
masks) inside ``np.errstate(all="raise")``, and must neither raise nor lose accuracy: values and
gradients are compared with closed forms evaluated elementwise with Python's ``math`` in float64
(which underflows to 0 quietly whatever numpy's error state is). Overflow, division by zero and
invalid operations still raise as asked.
"""
import math

import numpy as np
import pytest

import minigrad.nn.functional as F
from minigrad import Tensor

# elementwise ops: both sides of exp's underflow thresholds (float64 near -708, float32 near -87)
X = [-1e4, -1e3, -745.0, -720.0, -700.0, -104.0, -100.0, -90.0, -88.0, -50.0, -1.0, 0.0,
     1.0, 50.0, 88.0, 100.0, 720.0, 1e3, 1e4]
# rows of logits: entries far below their row's maximum underflow in softmax-like formulas
LOGITS = [[0.0, -1e4, 5.0, -100.0],
          [1e4, -1e4, 0.0, 1e4],
          [-1e4, -1e4, -1e4, -1e4],
          [0.0, -750.0, -100.0, -90.0],
          [-1e4, -1e4 - 20, -1e4 - 745, -1e4 - 1]]
TARGETS = [1, 1, 2, 3, 2]  # mostly classes far below the maximum: huge but finite losses
MASKED = [[0.0, -np.inf, 3.0, -np.inf], [-np.inf, -1e4, -np.inf, -np.inf]]
BINARY = [1.0, 0.0, 1.0, 0.0, 0.5] * 4  # targets for the 19 logits in X (and one spare)


# closed forms on Python floats ------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def _log1pexp(x):  # log(1 + e^x)
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _lse(row):
    m = max(row)
    if m == -math.inf:
        return -math.inf
    return m + math.log(math.fsum(math.exp(v - m) for v in row))


def _softmax(row):
    lse = _lse(row)
    return [0.0 if lse == -math.inf else math.exp(v - lse) for v in row]


def _rows(f, rows):
    return np.array([f(r) for r in rows])


def _weights(shape):
    """Fixed, varied upstream gradients in [0.5, 1.5] (a loss sum(out * w))."""
    n = int(np.prod(shape))
    return np.linspace(0.5, 1.5, n).reshape(shape) if n > 1 else np.ones(shape)


def _ce_reference(rows, targets, weight, smoothing):
    """(mean loss, d loss / d logits) for cross_entropy with class weights and label smoothing."""
    c = len(rows[0])
    losses, grads, total = [], [], 0.0
    for row, y in zip(rows, targets):
        p, lse = _softmax(row), _lse(row)
        nll = [lse - v for v in row]
        losses.append((1 - smoothing) * weight[y] * nll[y]
                      + smoothing / c * math.fsum(w * n for w, n in zip(weight, nll)))
        total += weight[y]
        grads.append([(1 - smoothing) * weight[y] * (pk - (k == y))
                      + smoothing / c * (pk * sum(weight) - weight[k]) for k, pk in enumerate(p)])
    return math.fsum(losses) / total, np.array(grads) / total


def _bce_reference(x, y, pos_weight):
    """(losses, d loss_i / d x_i): (1 - y) x + (1 + (pw - 1) y) log(1 + e^-x)."""
    lw = [1 + (pos_weight - 1) * t for t in y]
    loss = [(1 - t) * v + w * _log1pexp(-v) for v, t, w in zip(x, y, lw)]
    grad = [(1 - t) - w * _sigmoid(-v) for v, t, w in zip(x, y, lw)]
    return np.array(loss), np.array(grad)


# the checks: (name, input, op(Tensor) -> Tensor, reference output, reference d sum(out * w) / d input)
def _elementwise(f, df, x=X):
    w = _weights((len(x),))
    return np.array(x), np.array([f(v) for v in x]), np.array([df(v) for v in x]) * w


def _softmax_grad(rows):
    out = []
    for row, w in zip(rows, _weights(np.shape(rows))):
        p = _softmax(row)
        dot = math.fsum(pk * wk for pk, wk in zip(p, w))
        out.append([pk * (wk - dot) for pk, wk in zip(p, w)])
    return np.array(out)


def _log_softmax_grad(rows):
    return np.array([[wk - pk * sum(w) for pk, wk in zip(_softmax(row), w)]
                     for row, w in zip(rows, _weights(np.shape(rows)))])


def _logsumexp_grad(rows, w):
    return np.array([[wr * pk for pk in _softmax(row)] for row, wr in zip(rows, w)])


CHECKS = {
    "sigmoid": (lambda t: t.sigmoid(), *_elementwise(_sigmoid, lambda v: _sigmoid(v) * _sigmoid(-v))),
    "softplus": (lambda t: t.softplus(),
                 *_elementwise(lambda v: v if v > 20 else _log1pexp(v), lambda v: 1.0 if v > 20 else _sigmoid(v))),
    "softplus[beta=0.5, no threshold]": (
        lambda t: t.softplus(beta=0.5, threshold=np.inf),
        *_elementwise(lambda v: 2 * _log1pexp(v / 2), lambda v: _sigmoid(v / 2))),
    "silu": (F.silu, *_elementwise(lambda v: v * _sigmoid(v), lambda v: _sigmoid(v) * (1 + v * _sigmoid(-v)))),
    "mish": (F.mish, *_elementwise(lambda v: v * math.tanh(_log1pexp(v)),
                                   lambda v: math.tanh(_log1pexp(v)) + v * _sigmoid(v) * (1 - math.tanh(_log1pexp(v)) ** 2))),
    "gelu": (F.gelu, *_elementwise(lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2)),
                                   lambda v: 0.5 * math.erfc(-v / math.sqrt(2))
                                   + v * math.exp(-0.5 * v * v) / math.sqrt(2 * math.pi))),
    "logsumexp[rows]": (lambda t: t.logsumexp(axis=1), np.array(LOGITS), _rows(_lse, LOGITS),
                        _logsumexp_grad(LOGITS, _weights((len(LOGITS),)))),
    "logsumexp[masked rows]": (lambda t: t.logsumexp(axis=1), np.array(MASKED), _rows(_lse, MASKED),
                               _logsumexp_grad(MASKED, _weights((len(MASKED),)))),
    "logsumexp[all]": (lambda t: t.logsumexp(), np.array(LOGITS), np.array(_lse(sum(LOGITS, []))),
                       _logsumexp_grad([sum(LOGITS, [])], [1.0]).reshape(np.shape(LOGITS))),
    "softmax": (lambda t: t.softmax(axis=1), np.array(LOGITS), _rows(_softmax, LOGITS), _softmax_grad(LOGITS)),
    "softmax[masked]": (lambda t: t.softmax(axis=1), np.array(MASKED), _rows(_softmax, MASKED),
                        _softmax_grad(MASKED)),
    "log_softmax": (lambda t: t.log_softmax(axis=1), np.array(LOGITS),
                    np.array([[v - _lse(r) for v in r] for r in LOGITS]), _log_softmax_grad(LOGITS)),
    "log_softmax[masked]": (lambda t: t.log_softmax(axis=1), np.array(MASKED),
                            np.array([[v - _lse(r) for v in r] for r in MASKED]), _log_softmax_grad(MASKED)),
    "cross_entropy": (lambda t: F.cross_entropy(t, np.array(TARGETS)), np.array(LOGITS),
                      *_ce_reference(LOGITS, TARGETS, [1.0] * 4, 0.0)),
    "cross_entropy[weight, label_smoothing]": (
        lambda t: F.cross_entropy(t, np.array(TARGETS), weight=np.array([1.0, 2.0, 0.5, 1.5]), label_smoothing=0.1),
        np.array(LOGITS), *_ce_reference(LOGITS, TARGETS, [1.0, 2.0, 0.5, 1.5], 0.1)),
    "binary_cross_entropy_with_logits": (
        lambda t: F.binary_cross_entropy_with_logits(t, np.array(BINARY[:len(X)], t.dtype), reduction="sum"),
        np.array(X), np.array(math.fsum(_bce_reference(X, BINARY[:len(X)], 1.0)[0])),
        _bce_reference(X, BINARY[:len(X)], 1.0)[1]),
    "binary_cross_entropy_with_logits[pos_weight, none]": (
        lambda t: F.binary_cross_entropy_with_logits(t, np.array(BINARY[:len(X)], t.dtype), pos_weight=np.array(3.0),
                                                     reduction="none"),
        np.array(X), _bce_reference(X, BINARY[:len(X)], 3.0)[0],
        _bce_reference(X, BINARY[:len(X)], 3.0)[1] * _weights((len(X),))),
}


def _close(got, expected, dtype, scale=None):
    """``got`` equals the float64 closed form at the dtype's precision, and is 0 (or subnormal:
    rounding at the edge differs) wherever the closed form underflows to 0, not some small floor.

    A gradient is compared with an absolute tolerance ``scale`` times the largest gradient: the
    inputs' own rounding moves exp(x - lse) by about |x| eps, and s * (g - dot) cancels.
    """
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    atol = np.finfo(dtype).tiny if scale is None else scale * np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    assert (np.abs(got[expected == 0]) < np.finfo(dtype).tiny).all(), "an underflow to 0 came out nonzero"


def _upstream(out):
    """The weights w of the loss sum(out * w) (plain 1 for a scalar loss), in the output's dtype."""
    return Tensor(_weights(out.shape).astype(out.dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CHECKS)
def test_forward_is_silent_and_exact_under_seterr_raise(name, dtype):
    op, x, expected, _ = CHECKS[name]
    t = Tensor(x.astype(dtype), requires_grad=True)
    with np.errstate(all="raise"):
        out = op(t)
    assert out.dtype == dtype
    _close(out.data, expected, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CHECKS)
def test_backward_is_silent_and_exact_under_seterr_raise(name, dtype):
    op, x, _, expected = CHECKS[name]
    t = Tensor(x.astype(dtype), requires_grad=True)
    out = op(t)  # forward in numpy's default error state
    loss = (out * _upstream(out)).sum()
    with np.errstate(all="raise"):
        loss.backward()
    assert t.grad.dtype == dtype
    _close(t.grad.data, expected, dtype, scale=16 * np.finfo(dtype).eps * max(1.0, np.abs(x[np.isfinite(x)]).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_errors_other_than_underflow_still_raise(dtype):
    """Only underflow is taken as intended: an overflow or invalid operation the user asked to hear
    about still raises, also when the same op underflows elsewhere."""
    big = Tensor(np.array([np.finfo(dtype).max, -1e4], dtype=dtype))
    with np.errstate(all="raise"), pytest.raises(FloatingPointError, match="overflow"):
        big.softplus(beta=10.0)
    with np.errstate(all="raise"), pytest.raises(FloatingPointError, match="invalid"):
        Tensor(np.array([[np.inf, -np.inf, -1e4]], dtype=dtype)).softmax(axis=1)
