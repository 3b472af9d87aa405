"""Property-based testing helpers: hypothesis strategies for minigrad data, and gradient assertions.

>>> from hypothesis import given
>>> from minigrad import testing as mt
>>> @given(mt.tensors(shape=mt.shapes(min_dims=1), domain="positive", requires_grad=True))
... def test_log_gradient(x):
...     mt.assert_gradients_match(lambda x: x.log(), [x])

This module imports hypothesis, an optional dependency (``pip install 'minigrad[test]'``);
``import minigrad`` never imports it.

Value domains are bounded so that central finite differences stay accurate: a name from
``DOMAINS`` or a ``(low, high)`` pair. Functions with kinks (``relu`` at 0, ``clip`` at its
bounds) are checked away from them with ``avoid=``; pairwise kinks (``maximum(a, b)`` at
``a == b``) with ``grid=``, which makes ties exact and near-ties impossible.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .gradcheck import GradcheckError, gradcheck
from .tensors import Tensor

__all__ = [
    "DOMAINS", "floats", "shapes", "broadcastable_shapes", "matmul_shapes", "arrays", "tensors",
    "padded_sequences", "assert_gradients_match",
]

# name -> (low, high); "nonzero" is the union of "negative" and "positive"
DOMAINS = {
    "real": (-3.0, 3.0),
    "positive": (0.1, 3.0),
    "negative": (-3.0, -0.1),
    "nonzero": (-3.0, 3.0),
    "unit": (-0.9, 0.9),
    "probability": (0.05, 0.95),
}


def _bounds(domain) -> tuple:
    if isinstance(domain, str):
        if domain not in DOMAINS:
            raise ValueError(f"unknown domain {domain!r}; use one of {sorted(DOMAINS)} or a (low, high) pair")
        return DOMAINS[domain]
    low, high = domain
    if not low <= high:
        raise ValueError(f"domain ({low}, {high}) is empty")
    return float(low), float(high)


def _push_away(x: float, avoid, margin: float, low: float, high: float) -> float:
    """Move ``x`` to ``margin`` from any point of ``avoid`` it is closer to, staying in [low, high]."""
    for p in avoid:
        if abs(x - p) < margin:
            x = p + margin if (x >= p and p + margin <= high) or p - margin < low else p - margin
    return x


def _interval(low: float, high: float, width: int):
    """Floats in [low, high] at ``width`` bits; narrow bounds are moved inward to the nearest
    representable float (hypothesis needs bounds it can represent exactly)."""
    if width < 64:
        ftype = np.dtype(f"float{width}").type
        lo, hi = ftype(low), ftype(high)
        low = float(lo if lo >= low else np.nextafter(lo, ftype(np.inf)))
        high = float(hi if hi <= high else np.nextafter(hi, ftype(-np.inf)))
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)


def floats(domain="real", *, width: int = 64, avoid=(), margin: float = 0.05, grid: float | None = None):
    """Python floats in ``domain``, representable exactly at ``width`` bits (32 for float32 data).

    ``avoid``: points the values keep at least ``margin`` away from (kinks of the function under
    test). ``grid``: draw only multiples of ``grid``, so two values are equal or ``grid`` apart.
    """
    low, high = _bounds(domain)
    if grid is not None:
        base = st.integers(math.ceil(low / grid), math.floor(high / grid)).map(lambda k: k * grid)
    elif domain == "nonzero":
        mag = _interval(DOMAINS["positive"][0], high, width)
        base = st.tuples(st.booleans(), mag).map(lambda sm: -sm[1] if sm[0] else sm[1])
    else:
        base = _interval(low, high, width)
    if avoid:
        avoid = tuple(float(p) for p in avoid)
        base = base.map(lambda x: _push_away(x, avoid, margin, low, high))
    if width < 64:  # keep values exactly representable after any shift above
        ftype = np.dtype(f"float{width}").type
        base = base.map(lambda x: float(ftype(x)))
    return base


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes (tuples) with ``min_dims..max_dims`` axes of ``min_side..max_side`` each."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                         max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy's rules, ranks mixed
    (``((3, 1), (2, 1, 4))``), for testing that broadcasting ops undo broadcasting in backward."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(*, max_batch_dims: int = 2, max_side: int = 4):
    """Pairs of shapes valid for ``a @ b``: 1-D and 2-D operands and broadcast batch axes."""
    return hnp.mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", max_dims=max_batch_dims, max_side=max_side,
    ).map(lambda b: b.input_shapes)


def _elements(dtype: np.dtype, domain, avoid, margin, grid):
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        low, high = _bounds(domain)
        return st.integers(math.ceil(low), math.floor(high))
    if dtype.kind != "f":
        raise TypeError(f"arrays() draws bool, integer or floating data, not {dtype}")
    return floats(domain, width=min(dtype.itemsize * 8, 64), avoid=avoid, margin=margin, grid=grid)


def arrays(dtype=np.float64, shape=None, *, domain="real", avoid=(), margin: float = 0.05,
           grid: float | None = None, unique: bool = False):
    """numpy arrays of ``dtype`` whose values lie in ``domain`` (see ``floats`` for the options).

    ``shape`` is a tuple, a strategy of tuples, or None for ``shapes()``. Integer arrays take
    the integers inside ``domain``; boolean arrays ignore it. ``unique`` draws distinct values.
    """
    dtype = np.dtype(dtype)
    if shape is None:
        shape = shapes()
    return hnp.arrays(dtype, shape, elements=_elements(dtype, domain, avoid, margin, grid), unique=unique)


def tensors(dtype=np.float64, shape=None, *, requires_grad: bool = False, **array_options):
    """``Tensor``s built from ``arrays(dtype, shape, **array_options)``."""
    return arrays(dtype, shape, **array_options).map(lambda a: Tensor(a, requires_grad=requires_grad))


@st.composite
def padded_sequences(draw, *, batch=(1, 4), length=(1, 6), features=(1, 3), vocab: int | None = None,
                     dtype=np.float64, domain="real", pad_value=0, time_major: bool = False):
    """A padded batch of variable-length sequences: ``(x, lengths)``.

    ``x`` has shape (B, T, D) (``time_major``: (T, B, D)), with T the longest length;
    ``lengths`` (int64, (B,)) are each at least 1, and ``x`` holds ``pad_value`` past each
    sequence's end. With ``vocab`` the sequences are token ids in [0, vocab) of shape (B, T)
    (or (T, B)) instead of feature vectors. ``batch``, ``length`` and ``features`` are ints or
    (min, max) ranges.
    """
    def size(r):
        return r if isinstance(r, int) else draw(st.integers(*r))

    B = size(batch)
    lengths = np.array(draw(st.lists(st.integers(*((length, length) if isinstance(length, int) else length)),
                                     min_size=B, max_size=B)), dtype=np.int64)
    if lengths.min() < 1:
        raise ValueError(f"padded_sequences: lengths must be at least 1, got range {length}")
    T = int(lengths.max())
    if vocab is not None:
        x = draw(hnp.arrays(np.int64, (B, T), elements=st.integers(0, vocab - 1)))
    else:
        x = draw(arrays(dtype, (B, T, size(features)), domain=domain))
    x[np.arange(T)[None, :] >= lengths[:, None]] = pad_value
    if time_major:
        x = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    return x, lengths


def assert_gradients_match(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, **options):
    """Assert that ``fn``'s backward agrees with central finite differences (``gradcheck``).

    ``inputs``: Tensors (those requiring grad are checked; they must be float64) or numpy arrays
    and numbers, which become float64 tensors requiring grad. Raises ``AssertionError`` naming
    the function and the worst element (a ``GradcheckError``, whose ``mismatch`` holds it).
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
              for x in inputs]
    try:
        gradcheck(fn, inputs, eps=eps, atol=atol, rtol=rtol, **options)
    except GradcheckError as e:
        name = getattr(fn, "__qualname__", repr(fn))
        shapes_ = ", ".join(str(x.shape) for x in inputs)
        raise GradcheckError(f"gradients of {name} (input shapes {shapes_}) do not match: {e}", e.mismatch) from None
