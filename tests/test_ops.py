"""Every Tensor op, one table row each, checked by one harness.

A row names the op, calls it through minigrad, gives the numpy reference, and says where its
inputs come from (shapes with their options, value domain). For differentiable ops the harness
checks the forward against numpy in float64 and float32, every primitive's backward contract
(one gradient per input, of the input's shape and dtype, the incoming gradient left untouched),
and the gradients against central finite differences. Non-differentiable ops have their own
table: forward against numpy, and no graph recorded.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import ShapeError, Tensor
from minigrad import testing as mt

# ---------------------------------------------------------------------------------------------
# how inputs are drawn: strategies of (input shapes, keyword options)


def cases(shapes, params: Callable | None = None):
    """Pair each drawn tuple of shapes with options drawn from ``params(shapes)`` (or none)."""
    if params is None:
        return shapes.map(lambda s: (s, {}))
    return shapes.flatmap(lambda s: params(s).map(lambda p: (s, p)))


def one(**kw):
    return mt.shapes(**kw).map(lambda s: (s,))


UNARY = one()
NONSCALAR = one(min_dims=1)
BINARY = mt.broadcastable_shapes(2)
TERNARY = mt.broadcastable_shapes(3)
MATMUL = mt.matmul_shapes()


def number(domain="real"):
    return lambda s: st.fixed_dictionaries({"c": mt.floats(domain)})


def raw_array(domain="real"):
    """A numpy array of the first shape, used as a constant operand (``ndarray + tensor``)."""
    return lambda s: st.fixed_dictionaries({"c": mt.arrays(shape=s[0], domain=domain)})


def signed_axes(ndim: int):
    """Tuples of distinct axes (possibly empty), each written positive or negative."""
    return hnp.valid_tuple_axes(ndim)


def axis_of(ndim: int):
    return st.integers(-ndim, ndim - 1)


def reduce_params(s, extra=None):
    nd = len(s[0])
    axis = st.one_of(st.none(), signed_axes(nd), axis_of(nd)) if nd else st.one_of(st.none(), st.just(()))
    return st.fixed_dictionaries({"axis": axis, "keepdims": st.booleans(), **(extra or {})})


def _count(shape, axis) -> int:
    axes = range(len(shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


def var_params(s):
    return reduce_params(s, {"correction": st.sampled_from([0, 1])}).filter(
        lambda p: _count(s[0], p["axis"]) > p["correction"])


def softmax_params(s):
    return st.fixed_dictionaries({"axis": axis_of(len(s[0]))})


@st.composite
def reshape_params(draw, s):
    """A new shape of the same size: the sizes shuffled, some neighbours merged, 1s inserted, maybe a -1."""
    sizes = draw(st.permutations(s[0]))
    merged = []
    for n in sizes:
        if merged and draw(st.booleans()):
            merged[-1] *= n
        else:
            merged.append(n)
    for _ in range(draw(st.integers(0, 2))):
        merged.insert(draw(st.integers(0, len(merged))), 1)
    if merged and draw(st.booleans()):
        merged[draw(st.integers(0, len(merged) - 1))] = -1
    return {"shape": tuple(merged)}


def transpose_params(s):
    nd = len(s[0])
    return st.fixed_dictionaries({"axis0": axis_of(nd), "axis1": axis_of(nd)})


def permute_params(s):
    nd = len(s[0])
    return st.permutations(range(nd)).flatmap(
        lambda p: st.tuples(*[st.sampled_from([a, a - nd]) for a in p])).map(lambda p: {"axes": p})


@st.composite
def expand_params(draw, s):
    """A target shape: size-1 axes grown, up to two new leading axes, kept sizes sometimes written -1."""
    target = [draw(st.integers(1, 3)) if n == 1 else (-1 if draw(st.booleans()) else n) for n in s[0]]
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    return {"shape": tuple(lead + target)}


def squeeze_params(s):
    nd = len(s[0])
    axis = st.one_of(st.none(), axis_of(nd), signed_axes(nd)) if nd else st.none()
    return st.fixed_dictionaries({"axis": axis})


def unsqueeze_params(s):
    nd = len(s[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd - 1, nd)})


@st.composite
def flatten_params(draw, s):
    nd = len(s[0])
    if nd == 0:
        return {}
    start = draw(st.integers(0, nd - 1))
    end = draw(st.integers(start, nd - 1))
    return {"start_dim": draw(st.sampled_from([start, start - nd])),
            "end_dim": draw(st.sampled_from([end, end - nd]))}


def flip_params(s):
    nd = len(s[0])
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), axis_of(nd), signed_axes(nd)) if nd else st.none()})


def basic_index(s):
    return hnp.basic_indices(s[0], allow_newaxis=True, allow_ellipsis=True).map(lambda i: {"index": i})


def int_array_index(s):
    """Integer arrays, one per axis (or a prefix of the axes); repeats are likely."""
    return hnp.integer_array_indices(s[0], result_shape=mt.shapes(max_dims=2)).map(lambda i: {"index": i})


@st.composite
def mixed_index(draw, s):
    """``a[..., idx, ::step]``-style: an integer list on one axis between slices and an Ellipsis."""
    shape = s[0]
    ax = draw(st.integers(0, len(shape) - 1))
    idx = draw(st.lists(st.integers(-shape[ax], shape[ax] - 1), min_size=1, max_size=5))
    index = [slice(None)] * ax + [idx] + [slice(None, None, draw(st.sampled_from([1, -1, 2])))] * (len(shape) - ax - 1)
    if ax and draw(st.booleans()):
        index = [Ellipsis] + index[ax:]
    return {"index": tuple(index)}


@st.composite
def bool_index(draw, s):
    shape = s[0]
    k = draw(st.integers(1, len(shape)))
    return {"index": draw(hnp.arrays(bool, shape[:k]))}


@st.composite
def cat_cases(draw):
    base = draw(mt.shapes(min_dims=1))
    axis = draw(axis_of(len(base)))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    shapes = tuple(base[:axis % len(base)] + (n,) + base[axis % len(base) + 1:] for n in sizes)
    return shapes, {"axis": axis}


@st.composite
def stack_cases(draw):
    base = draw(mt.shapes())
    n = draw(st.integers(1, 3))
    return (base,) * n, {"axis": draw(st.integers(-len(base) - 1, len(base)))}


@st.composite
def split_cases(draw):
    shape = draw(mt.shapes(min_dims=1, max_side=5))
    axis = draw(axis_of(len(shape)))
    n = shape[axis]
    if draw(st.booleans()):
        sections = draw(st.integers(1, n + 1))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
        sections = [b - a for a, b in zip([0] + cuts, cuts + [n])]
    return (shape,), {"sections": sections, "axis": axis}


@st.composite
def chunk_cases(draw):
    shape = draw(mt.shapes(min_dims=1, max_side=5))
    return (shape,), {"chunks": draw(st.integers(1, 6)), "axis": draw(axis_of(len(shape)))}


# ---------------------------------------------------------------------------------------------
# numpy references that are more than one call


def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_softplus(a, beta=1.0, threshold=20.0):
    return np.where(a * beta > threshold, a, np.log1p(np.exp(a * beta)) / beta)


def np_expand(a, shape):
    lead = len(shape) - a.ndim
    return np.broadcast_to(a, tuple(a.shape[i - lead] if n == -1 else n for i, n in enumerate(shape)))


def np_squeeze(a, axis):
    axes = range(a.ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    return np.squeeze(a, axis=tuple(ax % a.ndim for ax in axes if a.shape[ax] == 1))


def np_flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    s, e = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:])


def np_split(a, sections, axis):
    n = a.shape[axis]
    if isinstance(sections, int):
        cuts = list(range(sections, n, sections))
    else:
        cuts = list(np.cumsum(sections)[:-1])
    return tuple(np.split(a, cuts, axis=axis))


def np_chunk(a, chunks, axis):
    return np_split(a, -(-a.shape[axis] // chunks), axis)


def take(a, index):
    """``a[index]``: the minigrad call and the numpy reference alike."""
    return a[index]


def np_pow(a, p):
    return np.power(a, float(p))


# ---------------------------------------------------------------------------------------------
# inputs of the ops issue 15 adds (PyTorch's further vocabulary)

MM = st.tuples(*[st.integers(1, 4)] * 3).map(lambda n: ((n[0], n[1]), (n[1], n[2])))
BMM = st.tuples(*[st.integers(1, 3)] * 4).map(lambda n: ((n[0], n[1], n[2]), (n[0], n[2], n[3])))


def torch_reduce_params(s, extra=None):
    """``reduce_params`` spelled as PyTorch does: dim and keepdim."""
    return reduce_params(s, extra).map(lambda p: {"dim": p.pop("axis"), "keepdim": p.pop("keepdims"), **p})


def dim_params(s):
    """One int dim (PyTorch's max(dim), min(dim)) and keepdim."""
    return st.fixed_dictionaries({"dim": axis_of(len(s[0])), "keepdim": st.booleans()})


SAME2 = one().map(lambda s: (s[0], s[0]))  # two operands of one shape (in-place ops keep the shape)


@st.composite
def broadcast_into_cases(draw):
    """A shape and a second shape that broadcasts to it (never enlarging it): ``copy_``'s source."""
    shape = draw(mt.shapes())
    src = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape)).filter(
        lambda m: np.broadcast_shapes(m, shape) == shape))
    return (shape, src), {}


def iadd(a, b):
    y = a * 1
    y += b
    return y


def isub(a, b):
    y = a * 1
    y -= b
    return y


def imul(a, b):
    y = a * 1
    y *= b
    return y


def itruediv(a, b):
    y = a * 1
    y /= b
    return y


def norm_params(s):
    return torch_reduce_params(s, {"p": st.sampled_from([1, 2, 3, 1.5, "fro"])})


def std_params(s):
    """At least two elements per reduction (a single one has no spread to differentiate)."""
    return torch_reduce_params(s, {"correction": st.sampled_from([0, 1])}).filter(
        lambda p: _count(s[0], p["dim"]) > 1)


def unbiased_params(s):
    return torch_reduce_params(s, {"unbiased": st.booleans()}).filter(lambda p: _count(s[0], p["dim"]) > 1)


@st.composite
def masked_fill_cases(draw, value_tensor=False):
    """An input shape and a mask shape that broadcasts to it (never enlarging it)."""
    shape = draw(mt.shapes())
    mask = draw(hnp.broadcastable_shapes(shape, min_dims=0, max_dims=len(shape)).filter(
        lambda m: np.broadcast_shapes(m, shape) == shape))
    return ((shape, mask, ()) if value_tensor else (shape, mask)), {}


@st.composite
def gather_params(draw, s):
    """A dim and an index array: same rank, any size along dim, at most the input's size elsewhere."""
    shape = s[0]
    d = draw(axis_of(len(shape)))
    ishape = tuple(draw(st.integers(1, 4)) if a == d % len(shape) else draw(st.integers(1, n))
                   for a, n in enumerate(shape))
    index = draw(hnp.arrays(np.int64, ishape, elements=st.integers(0, shape[d] - 1)))
    return {"dim": d, "index": index}


def np_gather(a, dim, index):
    inner = tuple(slice(0, m) for m in index.shape)
    return np.take_along_axis(a[tuple(sl if i != dim % a.ndim else slice(None) for i, sl in enumerate(inner))],
                              index, axis=dim)


def index_select_params(s):
    shape = s[0]
    return axis_of(len(shape)).flatmap(lambda d: st.fixed_dictionaries({
        "dim": st.just(d), "index": st.lists(st.integers(0, shape[d] - 1), min_size=1, max_size=5)}))


def repeat_params(s):
    nd = len(s[0])
    return st.integers(nd, nd + 2).flatmap(
        lambda n: st.tuples(*[st.integers(1, 3)] * n)).map(lambda r: {"sizes": r})


def sort_params(s):
    return st.fixed_dictionaries({"dim": axis_of(len(s[0])), "descending": st.booleans()})


def np_sort(a, dim, descending):
    return -np.sort(-a, axis=dim) if descending else np.sort(a, axis=dim)


def topk_params(s):
    shape = s[0]
    return axis_of(len(shape)).flatmap(lambda d: st.fixed_dictionaries({
        "k": st.integers(0, shape[d]), "dim": st.just(d), "largest": st.booleans()}))


def np_topk(a, k, dim, largest):
    return np.take(np_sort(a, dim, largest), np.arange(k), axis=dim)


# einsum: an equation and the shape of each operand, spelled with its letters (each letter a drawn
# size; "1" a size-1 axis that broadcasts)
EINSUMS = [
    ("ij,jk->ik", "ij,jk"), ("bij,bjk->bik", "bij,bjk"), ("i,i->", "i,i"), ("i,j->ij", "i,j"),
    ("ij->ji", "ij"), ("ij->", "ij"), ("ii->i", "ii"), ("ii", "ii"), ("ba", "ba"), ("ij,ij->i", "ij,ij"),
    ("iij,jk->ik", "iij,jk"), ("ij,jk,kl->il", "ij,jk,kl"), ("i,ij,j", "i,ij,j"),
    ("...ij,...jk->...ik", "1bij,abjk"), ("...i,...i", "ai,bai"), ("...ij->...", "abij"),
    ("i,i->i", "1,i"), ("ij,kj->ik", "ij,kj"),
]


@st.composite
def einsum_cases(draw):
    equation, spec = draw(st.sampled_from(EINSUMS))
    sizes = {c: draw(st.integers(1, 3)) for c in sorted(set(spec) - {",", "1"})}
    shapes = tuple(tuple(1 if c == "1" else sizes[c] for c in part) for part in spec.split(","))
    return shapes, {"equation": equation}


@st.composite
def pad_cases(draw):
    """PyTorch's pad tuple (last dim first) for some trailing dims, with a mode the widths fit."""
    shape = draw(mt.shapes(min_dims=1))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = draw(st.integers(1, len(shape)))
    pad = []
    for n in reversed(shape[-k:]):
        low, high = {"constant": (-(n - 1) // 2 if n > 1 else 0, 3), "reflect": (0, n - 1),
                     "replicate": (0, 3), "circular": (0, n)}[mode]
        pad += [draw(st.integers(low, high)), draw(st.integers(low, high))]
    return (shape,), {"pad": tuple(pad), "mode": mode}


def np_pad(a, pad, mode):
    widths = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        widths[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for (b, e), n in zip(widths, a.shape))
    grow = [(max(b, 0), max(e, 0)) for b, e in widths]
    numpy_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return np.pad(a[crop], grow, mode=numpy_mode)


# ---------------------------------------------------------------------------------------------
# the table of differentiable ops


@dataclass(frozen=True)
class Op:
    """One differentiable op: how minigrad calls it, what numpy says it computes, where inputs live."""

    name: str  # "<api name>" or "<api name>[variant]"
    call: Callable  # (*inputs, **params) -> Tensor or tuple of Tensors
    ref: Callable  # (*arrays, **params) -> array or tuple of arrays
    cases: st.SearchStrategy = field(default=cases(UNARY))  # (input shapes, params)
    domain: object = "real"  # for every input, or a tuple with one per input
    options: dict = field(default_factory=dict)  # further mt.arrays options (avoid, grid, unique)
    raw: tuple = ()  # inputs passed as numpy arrays (constants), not tensors
    boolean: tuple = ()  # inputs drawn as boolean arrays (conditions)

    def __repr__(self) -> str:
        return self.name


SOFTPLUS = {"beta": st.sampled_from([1.0, 2.0, 0.5]), "threshold": st.just(20.0)}
CLIP_BOUNDS = [(-1.0, 1.0), (None, 0.5), (-0.5, None)]
TIES = {"grid": 0.25}  # maximum/minimum: exact ties (the gradient splits as central differences do), no near-ties
DISTINCT = {"grid": 1 / 16, "unique": True}  # max/min reductions: ties are tested separately, below

OPS = [
    # binary, broadcasting (rank mismatch included)
    Op("add", lambda a, b: a + b, np.add, cases(BINARY)),
    Op("sub", lambda a, b: a - b, np.subtract, cases(BINARY)),
    Op("mul", lambda a, b: a * b, np.multiply, cases(BINARY)),
    Op("div", lambda a, b: a / b, np.divide, cases(BINARY), domain=("real", "nonzero")),
    Op("pow", lambda a, b: a ** b, np.power, cases(BINARY), domain=("positive", "real")),
    Op("maximum", lambda a, b: mg.maximum(a, b), np.maximum, cases(BINARY), options=TIES),
    Op("maximum[method]", lambda a, b: a.maximum(b), np.maximum, cases(BINARY), options=TIES),
    Op("minimum", lambda a, b: mg.minimum(a, b), np.minimum, cases(BINARY), options=TIES),
    Op("where", lambda c, a, b: mg.where(c, a, b), np.where, cases(TERNARY), raw=(0,), boolean=(0,)),
    Op("where[number]", lambda cond, a, c: mg.where(cond, c, a), lambda cond, a, c: np.where(cond, c, a),
       cases(BINARY, number()), raw=(0,), boolean=(0,)),
    # with Python numbers and numpy arrays, on either side
    Op("add[number]", lambda a, c: a + c, lambda a, c: a + c, cases(UNARY, number())),
    Op("radd[number]", lambda a, c: c + a, lambda a, c: c + a, cases(UNARY, number())),
    Op("sub[number]", lambda a, c: a - c, lambda a, c: a - c, cases(UNARY, number())),
    Op("rsub[number]", lambda a, c: c - a, lambda a, c: c - a, cases(UNARY, number())),
    Op("mul[number]", lambda a, c: a * c, lambda a, c: a * c, cases(UNARY, number())),
    Op("rmul[number]", lambda a, c: c * a, lambda a, c: c * a, cases(UNARY, number())),
    Op("div[number]", lambda a, c: a / c, lambda a, c: a / c, cases(UNARY, number("nonzero"))),
    Op("rtruediv[number]", lambda a, c: c / a, lambda a, c: c / a, cases(UNARY, number()), domain="nonzero"),
    Op("rpow[number]", lambda a, c: c ** a, lambda a, c: np.power(c, a), cases(UNARY, number("positive"))),
    Op("pow[int]", lambda a, p: a ** p, np_pow,
       cases(UNARY, lambda s: st.fixed_dictionaries({"p": st.sampled_from([0, 1, 2, 3])}))),
    Op("pow[negative int]", lambda a, p: a ** p, np_pow,
       cases(UNARY, lambda s: st.fixed_dictionaries({"p": st.sampled_from([-1, -2])})), domain="nonzero"),
    Op("pow[fraction]", lambda a, p: a ** p, np_pow,
       cases(UNARY, lambda s: st.fixed_dictionaries({"p": st.sampled_from([0.5, 1.5, -0.5])})), domain="positive"),
    Op("radd[array]", lambda a, c: c + a, lambda a, c: c + a, cases(UNARY, raw_array())),
    Op("rsub[array]", lambda a, c: c - a, lambda a, c: c - a, cases(UNARY, raw_array())),
    Op("rmul[array]", lambda a, c: c * a, lambda a, c: c * a, cases(UNARY, raw_array())),
    Op("rtruediv[array]", lambda a, c: c / a, lambda a, c: c / a, cases(UNARY, raw_array()), domain="nonzero"),
    Op("rmatmul[array]", lambda c, b: c @ b, np.matmul, cases(MATMUL), raw=(0,)),
    # elementwise
    Op("neg", lambda a: -a, np.negative),
    Op("neg[method]", lambda a: a.neg(), np.negative),
    Op("exp", lambda a: a.exp(), np.exp),
    Op("log", lambda a: a.log(), np.log, domain="positive"),
    Op("sqrt", lambda a: a.sqrt(), np.sqrt, domain="positive"),
    Op("abs", lambda a: a.abs(), np.abs, options={"avoid": (0,)}),
    Op("tanh", lambda a: a.tanh(), np.tanh),
    Op("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    Op("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), options={"avoid": (0,)}),
    Op("leaky_relu", lambda a, slope: a.leaky_relu(slope), lambda a, slope: np.where(a > 0, a, slope * a),
       cases(UNARY, lambda s: st.fixed_dictionaries({"slope": st.sampled_from([0.01, 0.2])})),
       options={"avoid": (0,)}),
    Op("softplus", lambda a, **kw: a.softplus(**kw), np_softplus,
       cases(UNARY, lambda s: st.fixed_dictionaries(SOFTPLUS))),
    Op("softplus[linear above threshold]", lambda a: a.softplus(threshold=1.0),
       lambda a: np_softplus(a, threshold=1.0), options={"avoid": (1.0,)}),
    Op("clip", lambda a, b: a.clip(*b), lambda a, b: np.clip(a, *b),
       cases(UNARY, lambda s: st.fixed_dictionaries({"b": st.sampled_from(CLIP_BOUNDS)})),
       options={"avoid": (-1.0, -0.5, 0.5, 1.0)}),
    # reductions
    Op("sum", lambda a, **kw: a.sum(**kw), lambda a, **kw: np.sum(a, **kw), cases(UNARY, reduce_params)),
    Op("mean", lambda a, **kw: a.mean(**kw), lambda a, **kw: np.mean(a, **kw), cases(UNARY, reduce_params)),
    Op("var", lambda a, **kw: a.var(**kw),
       lambda a, axis, keepdims, correction: np.var(a, axis=axis, keepdims=keepdims, ddof=correction),
       cases(UNARY, var_params)),
    Op("max[all]", lambda a: a.max(), np.max, cases(one(max_side=3)), options=DISTINCT),
    Op("max[dim]", lambda a, dim, keepdim: a.max(dim, keepdim).values,
       lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim), cases(one(min_dims=1, max_side=3), dim_params),
       options=DISTINCT),
    Op("max[dim, pair]", lambda a, dim, keepdim: a.max(dim=dim, keepdim=keepdim)[0],
       lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim), cases(one(min_dims=1, max_side=3), dim_params),
       options=DISTINCT),
    Op("max[other]", lambda a, b: a.max(b), np.maximum, cases(BINARY), options=TIES),
    Op("min[all]", lambda a: a.min(), np.min, cases(one(max_side=3)), options=DISTINCT),
    Op("min[dim]", lambda a, dim, keepdim: a.min(dim, keepdim).values,
       lambda a, dim, keepdim: np.min(a, axis=dim, keepdims=keepdim), cases(one(min_dims=1, max_side=3), dim_params),
       options=DISTINCT),
    Op("min[other]", lambda a, b: a.min(b), np.minimum, cases(BINARY), options=TIES),
    Op("amax", lambda a, **kw: a.amax(**kw), lambda a, **kw: np.max(a, **kw),
       cases(one(max_side=3), reduce_params), options=DISTINCT),
    Op("amax[dim]", lambda a, **kw: a.amax(**kw), lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim),
       cases(one(max_side=3), torch_reduce_params), options=DISTINCT),
    Op("amin", lambda a, **kw: a.amin(**kw), lambda a, **kw: np.min(a, **kw),
       cases(one(max_side=3), reduce_params), options=DISTINCT),
    # PyTorch's dim= / keepdim= (numpy's axis= / keepdims= are the rows above)
    Op("sum[dim]", lambda a, **kw: a.sum(**kw), lambda a, dim, keepdim: np.sum(a, axis=dim, keepdims=keepdim),
       cases(UNARY, torch_reduce_params)),
    Op("mean[dim]", lambda a, **kw: a.mean(**kw), lambda a, dim, keepdim: np.mean(a, axis=dim, keepdims=keepdim),
       cases(UNARY, torch_reduce_params)),
    Op("logsumexp[dim]", lambda a, **kw: a.logsumexp(**kw),
       lambda a, dim, keepdim: np.log(np.sum(np.exp(a), axis=dim, keepdims=keepdim)),
       cases(UNARY, torch_reduce_params)),
    Op("logsumexp", lambda a, **kw: a.logsumexp(**kw),
       lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)), cases(UNARY, reduce_params)),
    Op("softmax", lambda a, axis: a.softmax(axis), np_softmax, cases(NONSCALAR, softmax_params)),
    Op("log_softmax", lambda a, axis: a.log_softmax(axis), lambda a, axis: np.log(np_softmax(a, axis)),
       cases(NONSCALAR, softmax_params)),
    Op("softmax[dim]", lambda a, axis: a.softmax(dim=axis), np_softmax, cases(NONSCALAR, softmax_params)),
    Op("softmax[axis]", lambda a, axis: a.softmax(axis=axis), np_softmax, cases(NONSCALAR, softmax_params)),
    Op("softmax[last]", lambda a: a.softmax(), lambda a: np_softmax(a, -1), cases(NONSCALAR)),
    Op("log_softmax[dim]", lambda a, axis: a.log_softmax(dim=axis), lambda a, axis: np.log(np_softmax(a, axis)),
       cases(NONSCALAR, softmax_params)),
    # matmul: 1-D, 2-D and batched operands, batch axes broadcast
    Op("matmul", lambda a, b: a @ b, np.matmul, cases(MATMUL)),
    Op("matmul[method]", lambda a, b: a.matmul(b), np.matmul, cases(MATMUL)),
    # movement
    Op("reshape", lambda a, shape: a.reshape(shape), lambda a, shape: a.reshape(shape), cases(UNARY, reshape_params)),
    Op("reshape[varargs]", lambda a, shape: a.reshape(*shape), lambda a, shape: a.reshape(shape),
       cases(UNARY, reshape_params)),
    Op("transpose", lambda a, **kw: a.transpose(**kw), lambda a, axis0, axis1: np.swapaxes(a, axis0, axis1),
       cases(NONSCALAR, transpose_params)),
    Op("transpose[default]", lambda a: a.transpose(), lambda a: np.swapaxes(a, -2, -1), cases(one(min_dims=2))),
    Op("permute", lambda a, axes: a.permute(*axes), lambda a, axes: np.transpose(a, axes), cases(UNARY, permute_params)),
    Op("T", lambda a: a.T, lambda a: a.T),
    Op("expand", lambda a, shape: a.expand(*shape), np_expand, cases(UNARY, expand_params)),
    Op("squeeze", lambda a, axis: a.squeeze(axis), np_squeeze, cases(UNARY, squeeze_params)),
    Op("squeeze[dim]", lambda a, axis: a.squeeze(dim=axis), np_squeeze, cases(UNARY, squeeze_params)),
    Op("squeeze[axis]", lambda a, axis: a.squeeze(axis=axis), np_squeeze, cases(UNARY, squeeze_params)),
    Op("unsqueeze", lambda a, axis: a.unsqueeze(axis), lambda a, axis: np.expand_dims(a, axis),
       cases(UNARY, unsqueeze_params)),
    Op("unsqueeze[dim]", lambda a, axis: a.unsqueeze(dim=axis), lambda a, axis: np.expand_dims(a, axis),
       cases(UNARY, unsqueeze_params)),
    Op("unsqueeze[axis]", lambda a, axis: a.unsqueeze(axis=axis), lambda a, axis: np.expand_dims(a, axis),
       cases(UNARY, unsqueeze_params)),
    Op("flatten", lambda a, **kw: a.flatten(**kw), np_flatten, cases(UNARY, flatten_params)),
    Op("flip", lambda a, axis: a.flip(axis), lambda a, axis: np.flip(a, axis), cases(UNARY, flip_params)),
    Op("flip[dims]", lambda a, axis: a.flip(dims=axis), lambda a, axis: np.flip(a, axis), cases(UNARY, flip_params)),
    Op("flip[axis]", lambda a, axis: a.flip(axis=axis), lambda a, axis: np.flip(a, axis), cases(UNARY, flip_params)),
    Op("flip[varargs]", lambda a, axis: a.flip(*axis) if isinstance(axis, tuple) and axis else a.flip(axis),
       lambda a, axis: np.flip(a, axis), cases(UNARY, flip_params)),
    Op("getitem[basic]", take, take, cases(UNARY, basic_index)),
    Op("getitem[int arrays]", take, take, cases(NONSCALAR, int_array_index)),
    Op("getitem[lists and slices]", take, take, cases(NONSCALAR, mixed_index)),
    Op("getitem[bool mask]", take, take, cases(NONSCALAR, bool_index)),
    Op("getitem[tensor index]", lambda a, index: a[Tensor(index[0])], lambda a, index: a[index[0]],
       cases(NONSCALAR, int_array_index)),
    # joining and splitting
    Op("cat", lambda *ts, axis: mg.cat(ts, axis=axis), lambda *arrs, axis: np.concatenate(arrs, axis=axis),
       cat_cases()),
    Op("stack", lambda *ts, axis: mg.stack(ts, axis=axis), lambda *arrs, axis: np.stack(arrs, axis=axis),
       stack_cases()),
    Op("split", lambda a, sections, axis: a.split(sections, axis), np_split, split_cases()),
    Op("split[dim]", lambda a, sections, axis: a.split(sections, dim=axis), np_split, split_cases()),
    Op("split[axis]", lambda a, sections, axis: a.split(sections, axis=axis), np_split, split_cases()),
    Op("chunk", lambda a, chunks, axis: a.chunk(chunks, axis), np_chunk, chunk_cases()),
    Op("chunk[dim]", lambda a, chunks, axis: a.chunk(chunks, dim=axis), np_chunk, chunk_cases()),
    Op("cat[dim]", lambda *ts, axis: mg.cat(ts, dim=axis), lambda *arrs, axis: np.concatenate(arrs, axis=axis),
       cat_cases()),
    Op("cat[positional]", lambda *ts, axis: mg.cat(list(ts), axis), lambda *arrs, axis: np.concatenate(arrs, axis=axis),
       cat_cases()),
    Op("stack[dim]", lambda *ts, axis: mg.stack(ts, dim=axis), lambda *arrs, axis: np.stack(arrs, axis=axis),
       stack_cases()),
    # issue 15: PyTorch's further vocabulary
    Op("t", lambda a: a.t(), lambda a: a.T, cases(one(max_dims=2))),
    Op("mm", lambda a, b: a.mm(b), np.matmul, cases(MM)),
    Op("bmm", lambda a, b: a.bmm(b), np.matmul, cases(BMM)),
    Op("pow[method]", lambda a, b: a.pow(b), np.power, cases(BINARY), domain=("positive", "real")),
    Op("pow[method, number]", lambda a, p: a.pow(p), np_pow,
       cases(UNARY, lambda s: st.fixed_dictionaries({"p": st.sampled_from([2, 0.5, -1.5])})), domain="positive"),
    Op("square", lambda a: a.square(), np.square),
    Op("sign", lambda a: a.sign(), np.sign, options={"avoid": (0,)}),
    Op("norm", lambda a, p, dim, keepdim: a.norm(p, dim, keepdim),
       lambda a, p, dim, keepdim: np.sum(np.abs(a) ** (2 if p == "fro" else p), axis=dim, keepdims=keepdim)
       ** (1 / (2 if p == "fro" else p)), cases(UNARY, norm_params), domain="nonzero"),
    Op("norm[axis, keepdims]", lambda a, dim, keepdim: a.norm(axis=dim, keepdims=keepdim),
       lambda a, dim, keepdim: np.sqrt(np.sum(a * a, axis=dim, keepdims=keepdim)),
       cases(UNARY, torch_reduce_params), domain="nonzero"),
    Op("norm[inf]", lambda a, dim, keepdim, p: a.norm(p, dim=dim, keepdim=keepdim),
       lambda a, dim, keepdim, p: (np.max if p > 0 else np.min)(np.abs(a), axis=dim, keepdims=keepdim),
       cases(one(max_side=3), lambda s: torch_reduce_params(s, {"p": st.sampled_from([np.inf, -np.inf])})),
       domain="positive", options=DISTINCT),
    Op("norm[0]", lambda a, dim, keepdim: a.norm(0, dim, keepdim),
       lambda a, dim, keepdim: np.sum(a != 0, axis=dim, keepdims=keepdim).astype(a.dtype),
       cases(UNARY, torch_reduce_params), options={"avoid": (0,)}),
    Op("std", lambda a, **kw: a.std(**kw),
       lambda a, dim, keepdim, correction: np.std(a, axis=dim, keepdims=keepdim, ddof=correction),
       cases(UNARY, std_params), options=DISTINCT),
    Op("std[unbiased]", lambda a, **kw: a.std(**kw),
       lambda a, dim, keepdim, unbiased: np.std(a, axis=dim, keepdims=keepdim, ddof=int(unbiased)),
       cases(UNARY, unbiased_params), options=DISTINCT),
    Op("var[unbiased]", lambda a, dim, keepdim, unbiased: a.var(dim, unbiased, keepdim),
       lambda a, dim, keepdim, unbiased: np.var(a, axis=dim, keepdims=keepdim, ddof=int(unbiased)),
       cases(UNARY, unbiased_params)),
    Op("masked_fill", lambda a, m, c: a.masked_fill(m, c), lambda a, m, c: np.where(m, c, a),
       masked_fill_cases().map(lambda sp: (sp[0], {"c": -1.5})), raw=(1,), boolean=(1,)),
    Op("masked_fill[tensor value]", lambda a, m, v: a.masked_fill(Tensor(m), v), lambda a, m, v: np.where(m, v, a),
       masked_fill_cases(value_tensor=True), raw=(1,), boolean=(1,)),
    Op("gather", lambda a, dim, index: a.gather(dim, index), np_gather, cases(NONSCALAR, gather_params)),
    Op("gather[tensor index]", lambda a, dim, index: a.gather(dim, Tensor(index)), np_gather,
       cases(NONSCALAR, gather_params)),
    Op("index_select", lambda a, dim, index: a.index_select(dim, index),
       lambda a, dim, index: np.take(a, index, axis=dim), cases(NONSCALAR, index_select_params)),
    Op("repeat", lambda a, sizes: a.repeat(*sizes), lambda a, sizes: np.tile(a, sizes), cases(UNARY, repeat_params)),
    Op("repeat[tuple]", lambda a, sizes: a.repeat(sizes), lambda a, sizes: np.tile(a, sizes),
       cases(UNARY, repeat_params)),
    Op("contiguous", lambda a: a.T.contiguous(), lambda a: a.T),
    Op("to", lambda a: a.to(a.dtype, copy=True), lambda a: a),
    Op("to[other]", lambda a: (a * 2).to(a), lambda a: a * 2),
    Op("clone", lambda a: a.clone(), lambda a: a),
    # in place, recorded: the tensor becomes the op's output (on a leaf that requires grad it is refused)
    Op("add_", lambda a, b: (a * 1).add_(b), np.add, cases(SAME2)),
    Op("add_[alpha]", lambda a, b: (a * 1).add_(b, alpha=-2.0), lambda a, b: a - 2 * b, cases(SAME2)),
    Op("add_[broadcast number]", lambda a, c: (a * 1).add_(c), lambda a, c: a + c, cases(UNARY, number())),
    Op("sub_", lambda a, b: (a * 1).sub_(b), np.subtract, cases(SAME2)),
    Op("sub_[alpha]", lambda a, b: (a * 1).sub_(b, alpha=0.5), lambda a, b: a - 0.5 * b, cases(SAME2)),
    Op("mul_", lambda a, b: (a * 1).mul_(b), np.multiply, cases(SAME2)),
    Op("div_", lambda a, b: (a * 1).div_(b), np.divide, cases(SAME2), domain=("real", "nonzero")),
    Op("iadd", iadd, np.add, cases(SAME2)),
    Op("isub", isub, np.subtract, cases(SAME2)),
    Op("imul", imul, np.multiply, cases(SAME2)),
    Op("itruediv", itruediv, np.divide, cases(SAME2), domain=("real", "nonzero")),
    Op("clamp_", lambda a, b: (a * 1).clamp_(*b), lambda a, b: np.clip(a, *b),
       cases(UNARY, lambda s: st.fixed_dictionaries({"b": st.sampled_from(CLIP_BOUNDS)})),
       options={"avoid": (-1.0, -0.5, 0.5, 1.0)}),
    Op("fill_", lambda a, c: (a * 1).fill_(c), lambda a, c: np.full_like(a, c), cases(UNARY, number())),
    Op("fill_[tensor]", lambda a, v: (a * 1).fill_(v), lambda a, v: np.full_like(a, v),
       one().map(lambda s: (s[0], ())).map(lambda s: (s, {}))),
    Op("zero_", lambda a: (a * 1).zero_(), np.zeros_like),
    Op("copy_", lambda a, b: (a * 1).copy_(b), lambda a, b: np.broadcast_to(b, a.shape), broadcast_into_cases()),
    Op("sort", lambda a, **kw: a.sort(**kw).values, np_sort, cases(NONSCALAR, sort_params), options=DISTINCT),
    Op("topk", lambda a, **kw: a.topk(**kw).values, np_topk, cases(NONSCALAR, topk_params), options=DISTINCT),
    Op("einsum", lambda *ts, equation: mg.einsum(equation, *ts), lambda *arrs, equation: np.einsum(equation, *arrs),
       einsum_cases()),
    Op("einsum[list]", lambda *ts, equation: mg.einsum(equation, list(ts)),
       lambda *arrs, equation: np.einsum(equation, *arrs), einsum_cases()),
    Op("pad", lambda a, **kw: F.pad(a, **kw), np_pad, pad_cases()),
    Op("pad[value]", lambda a, pad: F.pad(a, pad, value=2.5),
       lambda a, pad: np.pad(a, [(0, 0)] * (a.ndim - 1) + [pad], constant_values=2.5),
       cases(NONSCALAR, lambda s: st.fixed_dictionaries({"pad": st.tuples(st.integers(0, 2), st.integers(0, 2))}))),
    # ... and as functions
    Op("tanh[function]", lambda a: mg.tanh(a), np.tanh),
    Op("sigmoid[function]", lambda a: mg.sigmoid(a), lambda a: 1 / (1 + np.exp(-a))),
    Op("exp[function]", lambda a: mg.exp(a), np.exp),
    Op("log[function]", lambda a: mg.log(a), np.log, domain="positive"),
    Op("logsumexp[function]", lambda a, **kw: mg.logsumexp(a, **kw),
       lambda a, dim, keepdim: np.log(np.sum(np.exp(a), axis=dim, keepdims=keepdim)),
       cases(UNARY, torch_reduce_params)),
    Op("matmul[function]", lambda a, b: mg.matmul(a, b), np.matmul, cases(MATMUL)),
]

# the ops issue 2 promises; every one must have at least one row above
PROMISED = """add sub mul div pow radd rsub rmul rtruediv rpow rmatmul neg exp log sqrt abs tanh sigmoid relu
leaky_relu softplus clip maximum minimum where sum mean max min var logsumexp softmax log_softmax matmul
reshape transpose permute T expand squeeze unsqueeze flatten flip getitem cat stack split chunk""".split()
# and those issue 15 adds (PyTorch's further vocabulary)
PROMISED_15 = """t mm bmm pow square sign norm std var masked_fill gather index_select repeat contiguous to sort topk
einsum pad amax amin clone add_ sub_ mul_ div_ clamp_ fill_ zero_ copy_ iadd isub imul itruediv""".split()


def test_table_covers_every_promised_op():
    covered = {op.name.split("[")[0] for op in OPS}
    assert not set(PROMISED + PROMISED_15) - covered
    assert len({op.name for op in OPS}) == len(OPS), "duplicate row names"


# ---------------------------------------------------------------------------------------------
# the harness


def _outputs(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _draw_inputs(data, op: Op):
    shapes, params = data.draw(op.cases, label="shapes and options")
    arrays = []
    for i, shape in enumerate(shapes):
        domain = op.domain[i] if isinstance(op.domain, tuple) else op.domain
        dtype = bool if i in op.boolean else np.float64
        arrays.append(data.draw(mt.arrays(dtype, shape, domain=domain, **op.options), label=f"input {i}"))
    return arrays, params


def _cast(params: dict, dtype) -> dict:
    """Constant array operands in ``params`` follow the inputs' dtype."""
    return {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in params.items()}


def _inputs(arrays, op: Op, dtype) -> list:
    out = []
    for i, a in enumerate(arrays):
        a = a if a.dtype == bool else a.astype(dtype)
        out.append(a if i in op.raw else Tensor(a, requires_grad=True))
    return out


def _check_backward_contract(outs) -> None:
    """Every primitive of the graph returns one gradient per input, shaped and typed like it,
    and does not write into the (read-only) gradient it receives."""
    for root in outs:
        for node in mg.toposort(root):
            if node.grad_fn is None:
                continue
            g = np.ones_like(node.data)
            g.flags.writeable = False
            grads = node.grad_fn.input_grads(g, node.parents)
            assert len(grads) == len(node.parents), node.op
            for p, pg in zip(node.parents, grads):
                if pg is not None:
                    assert pg.shape == p.shape, (node.op, pg.shape, p.shape)
                    assert pg.dtype == p.dtype, (node.op, pg.dtype, p.dtype)


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_op(op: Op, data):
    arrays, params = _draw_inputs(data, op)
    expected = _outputs(op.ref(*arrays, **params))

    # forward, float64
    inputs = _inputs(arrays, op, np.float64)
    outs = _outputs(op.call(*inputs, **params))
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        assert isinstance(o, Tensor) and o.dtype == np.float64 and o.requires_grad
        assert o.shape == np.shape(e)
        np.testing.assert_allclose(o.data, e, rtol=1e-10, atol=1e-12)

    # forward and backward contract, float32: the dtype is kept everywhere
    outs32 = _outputs(op.call(*_inputs(arrays, op, np.float32), **_cast(params, np.float32)))
    for o, e in zip(outs32, expected):
        assert o.dtype == np.float32, o.dtype
        np.testing.assert_allclose(o.data, e, rtol=2e-4, atol=2e-5)
    _check_backward_contract(outs32)

    # backward against central finite differences, float64
    which = [i for i in range(len(inputs)) if i not in op.raw]

    def f(*tensors):
        args = list(inputs)
        for i, t in zip(which, tensors):
            args[i] = t
        return op.call(*args, **params)

    mt.assert_gradients_match(f, [inputs[i] for i in which])

    # with only one input requiring grad, that input gets the same gradient (needs_input_grad)
    if len(which) > 1:
        _check_one_input_at_a_time(op, arrays, params, which)


def _weighted_sum(outs) -> Tensor:
    rng = np.random.default_rng(1)
    return sum((o * rng.standard_normal(o.shape)).sum() for o in outs if o.requires_grad)


def _check_one_input_at_a_time(op: Op, arrays, params, which) -> None:
    inputs = _inputs(arrays, op, np.float64)
    _weighted_sum(_outputs(op.call(*inputs, **params))).backward()
    for i in which:
        alone = [x.detach().requires_grad_(j == i) if j in which else x
                 for j, x in enumerate(_inputs(arrays, op, np.float64))]
        loss = _weighted_sum(_outputs(op.call(*alone, **params)))
        loss.backward()
        assert all(alone[j].grad is None for j in which if j != i)
        np.testing.assert_allclose(alone[i].grad.data, inputs[i].grad.data, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# ties in max/min reductions and in maximum/minimum split the gradient evenly


@pytest.mark.parametrize("reduce, sign", [("amax", 1), ("amin", -1)])
def test_reduction_ties_split_evenly(reduce, sign):
    x = Tensor(sign * np.array([[1.0, 3.0, 3.0, 3.0], [2.0, 3.0, 0.0, 5.0]]), requires_grad=True)
    getattr(x, reduce)(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0, 1]])
    x.grad = None
    getattr(x, reduce)(axis=0, keepdims=True).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 1 / 2, 1, 0], [1, 1 / 2, 0, 1]])


def test_reduction_over_all_axes_with_ties():
    x = Tensor(np.array([[2.0, 1.0], [2.0, 2.0]]), requires_grad=True)
    y = x.max()
    y.backward()
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0], [1 / 3, 1 / 3]])
    x.grad = None
    x.amax(axis=(0, 1), keepdims=True).backward(np.ones((1, 1)))
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_maximum_minimum_ties_split_evenly():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([1.0, 5.0, 3.0], requires_grad=True)
    (mg.maximum(a, b) + mg.minimum(a, b) * 10).sum().backward()
    np.testing.assert_allclose(a.grad.data, [5.5, 10, 5.5])
    np.testing.assert_allclose(b.grad.data, [5.5, 1, 5.5])


@pytest.mark.parametrize("name, f, expected", [
    ("relu", lambda x: x.relu(), [0, 0, 1]),
    ("abs", lambda x: x.abs(), [-1, 0, 1]),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), [0.1, 0.1, 1]),
    ("clip", lambda x: x.clip(-1.0, 1.0), [1, 1, 1]),  # the bounds themselves pass the gradient, as in PyTorch
    ("clip[inside]", lambda x: x.clip(-0.5, 0.5), [0, 1, 0]),
])
def test_gradients_at_kinks(name, f, expected):
    x = Tensor([-1.0, 0.0, 1.0], dtype=np.float64, requires_grad=True)
    f(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, expected)


def test_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3, 0, 1])
    m = Tensor(np.zeros((2, 3)), requires_grad=True)
    (m[[1, 1], [2, 2]] * Tensor([2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(m.grad.data, [[0, 0, 0], [0, 0, 7]])


def test_zero_size_tensors_flow_through():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    y = (x * 2).sum(axis=0)
    np.testing.assert_array_equal(y.data, [0, 0, 0])
    y.sum().backward()
    assert x.grad.shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# non-differentiable ops: forward against numpy, and no graph even from inputs requiring grad


@dataclass(frozen=True)
class Plain:
    name: str
    call: Callable
    ref: Callable
    cases: st.SearchStrategy = field(default=cases(UNARY))

    def __repr__(self) -> str:
        return self.name


def _arg_params(s):
    nd = len(s[0])
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), axis_of(nd)) if nd else st.none(),
                                  "keepdims": st.booleans()})


PLAIN = [
    Plain("lt", lambda a, b: a < b, np.less, cases(BINARY)),
    Plain("le", lambda a, b: a <= b, np.less_equal, cases(BINARY)),
    Plain("gt", lambda a, b: a > b, np.greater, cases(BINARY)),
    Plain("ge", lambda a, b: a >= b, np.greater_equal, cases(BINARY)),
    Plain("eq", lambda a, b: a == b, np.equal, cases(BINARY)),
    Plain("ne", lambda a, b: a != b, np.not_equal, cases(BINARY)),
    Plain("gt[number]", lambda a, c: a > c, lambda a, c: a > c, cases(UNARY, number())),
    Plain("argmax", lambda a, **kw: a.argmax(**kw), lambda a, **kw: np.argmax(a, **kw), cases(UNARY, _arg_params)),
    Plain("argmin", lambda a, **kw: a.argmin(**kw), lambda a, **kw: np.argmin(a, **kw), cases(UNARY, _arg_params)),
    Plain("argmax[dim]", lambda a, axis, keepdims: a.argmax(dim=axis, keepdim=keepdims),
          lambda a, **kw: np.argmax(a, **kw), cases(UNARY, _arg_params)),
    Plain("argmin[dim]", lambda a, axis, keepdims: a.argmin(dim=axis, keepdim=keepdims),
          lambda a, **kw: np.argmin(a, **kw), cases(UNARY, _arg_params)),
    Plain("max.indices", lambda a, dim, keepdim: a.max(dim, keepdim).indices,
          lambda a, dim, keepdim: np.argmax(a, axis=dim, keepdims=keepdim), cases(NONSCALAR, dim_params)),
    Plain("min.indices", lambda a, dim, keepdim: a.min(dim, keepdim)[1],
          lambda a, dim, keepdim: np.argmin(a, axis=dim, keepdims=keepdim), cases(NONSCALAR, dim_params)),
    Plain("long", lambda a: a.long(), lambda a: a.astype(np.int64)),
    Plain("int", lambda a: a.int(), lambda a: a.astype(np.int32)),
    Plain("bool", lambda a: a.bool(), lambda a: a.astype(bool)),
    Plain("to[int64]", lambda a: a.to(np.int64), lambda a: a.astype(np.int64)),
    Plain("sort.indices", lambda a, **kw: a.sort(**kw).indices,
          lambda a, dim, descending: np.argsort(-a if descending else a, axis=dim, kind="stable"),
          cases(NONSCALAR, sort_params)),
    Plain("topk.indices", lambda a, k, dim, largest: a.topk(k, dim, largest).indices,
          lambda a, k, dim, largest: np.take(np.argsort(-a if largest else a, axis=dim, kind="stable"),
                                             np.arange(k), axis=dim), cases(NONSCALAR, topk_params)),
]


@pytest.mark.parametrize("op", PLAIN, ids=repr)
@given(data=st.data())
def test_non_differentiable(op: Plain, data):
    shapes, params = data.draw(op.cases)
    arrays = [data.draw(mt.arrays(shape=s, grid=0.5)) for s in shapes]  # on a grid, so ties occur
    out = op.call(*[Tensor(a, requires_grad=True) for a in arrays], **params)
    expected = op.ref(*arrays, **params)
    assert not out.requires_grad and out.is_leaf and out.parents == ()
    assert out.dtype == np.asarray(expected).dtype
    np.testing.assert_array_equal(out.data, expected)


@given(idx=mt.arrays(np.int64, mt.shapes(max_dims=2), domain=(0, 6)), classes=st.integers(7, 9))
def test_one_hot(idx, classes):
    out = mg.one_hot(Tensor(idx), classes)
    assert out.shape == idx.shape + (classes,) and out.dtype == mg.get_default_dtype()
    assert not out.requires_grad
    np.testing.assert_array_equal(out.data.argmax(-1), idx)
    np.testing.assert_array_equal(out.data.sum(-1), 1)


def test_one_hot_rejects_bad_indices():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        mg.one_hot([0, 3], 3)
    with pytest.raises(TypeError, match="integer"):
        mg.one_hot(np.array([0.5]), 3)


# ---------------------------------------------------------------------------------------------
# numerically stable at extremes: finite forward and backward, and not one numpy warning

EXTREME = np.array([[-1e4, 0.0, 1e4], [-1e4, -1e4, -1e4]])
STABLE = [
    ("sigmoid", lambda x: x.sigmoid(), [[0, 0.5, 1], [0, 0, 0]]),
    ("log_softmax", lambda x: x.log_softmax(), [[-2e4, -1e4, 0], [-np.log(3)] * 3]),
    ("softmax", lambda x: x.softmax(), [[0, 0, 1], [1 / 3] * 3]),
    ("softplus", lambda x: x.softplus(), [[0, np.log(2), 1e4], [0, 0, 0]]),
    ("softplus[beta, no threshold]", lambda x: x.softplus(beta=0.5, threshold=np.inf), [[0, 2 * np.log(2), 1e4], [0, 0, 0]]),
    ("logsumexp", lambda x: x.logsumexp(axis=1), [1e4, -1e4 + np.log(3)]),
    ("tanh", lambda x: x.tanh(), [[-1, 0, 1], [-1, -1, -1]]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, f, expected", STABLE, ids=[s[0] for s in STABLE])
def test_stable_at_extremes(name, f, expected, dtype):
    x = Tensor(EXTREME.astype(dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = f(x)
        (y * Tensor(np.linspace(0.5, 1.5, y.numel()).reshape(y.shape).astype(dtype))).sum().backward()
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, expected, rtol=1e-6, atol=1e-6)
    assert np.isfinite(x.grad.data).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_of_only_minus_inf_is_minus_inf_with_zero_gradient(dtype, keepdims):
    """A fully masked row (attention over nothing) stays quiet: -inf out, no NaN gradient anywhere."""
    x = Tensor(np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, np.log(3.0)]], dtype=dtype),
               requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.logsumexp(axis=1, keepdims=keepdims)
        (y * Tensor(np.array([2.0, 3.0], dtype=dtype).reshape(y.shape))).sum().backward()
    np.testing.assert_allclose(y.data.reshape(-1), [-np.inf, np.log(4.0)], rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [[0, 0, 0], [3 * 0.25, 0, 3 * 0.75]], rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = Tensor(np.full((2, 2), -np.inf, dtype=dtype), requires_grad=True)
        out = z.logsumexp()
        out.backward()
    assert out.item() == -np.inf and (z.grad.data == 0).all()


# ---------------------------------------------------------------------------------------------
# issue 15's ops beyond the table: named pairs, ties, zero norms, interchange, errors


def test_sort_and_topk_return_named_pairs_with_stable_ties():
    x = Tensor([[3.0, 1.0, 3.0, 2.0]], requires_grad=True)
    values, indices = x.sort(dim=1, descending=True)
    np.testing.assert_array_equal(values.data, [[3, 3, 2, 1]])
    np.testing.assert_array_equal(indices.data, [[0, 2, 3, 1]])  # equal entries keep their order
    top = x.topk(2)
    assert type(top).__name__ == "topk" and top._fields == ("values", "indices")
    np.testing.assert_array_equal(top.indices.data, [[0, 2]])
    (top.values * Tensor([[1.0, 10.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1, 0, 10, 0]])
    assert x.sort().indices.dtype == np.int64 and not x.sort().indices.requires_grad


def test_norm_of_zeros_has_a_zero_gradient_and_no_warning():
    for p in (2, 3, 1, 0.5):
        x = Tensor(np.zeros((2, 3)), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            n = x.norm(p, dim=1)
            n.sum().backward()
        np.testing.assert_array_equal(n.data, [0, 0])
        np.testing.assert_array_equal(x.grad.data, np.zeros((2, 3)))


def test_norm_with_p_below_one_at_a_zero_entry():
    x = Tensor(np.array([0.0, 1.0, 4.0]), requires_grad=True)
    x.norm(0.5).backward()
    n = (1 + 2) ** 2
    np.testing.assert_allclose(x.grad.data, [0, n ** 0.5 * 0.5 * 1 ** -0.5 * 2, n ** 0.5 * 2 ** -1 * 0.5 * 2])


def test_dim_and_axis_are_one_thing_and_not_both():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x.norm(dim=1).data, x.norm(axis=1).data)
    assert x.std(dim=0, keepdim=True).shape == x.std(axis=0, keepdims=True).shape == (1, 3)
    with pytest.raises(TypeError, match="dim=1 and axis=0"):
        x.norm(dim=1, axis=0)
    with pytest.raises(TypeError, match="keepdim=True and keepdims=True"):
        x.std(keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match="unbiased=False and correction=1"):
        x.var(correction=1, unbiased=False)
    assert x.var(unbiased=False).item() == pytest.approx(np.var(x.data))


def test_contiguous_copies_only_a_strided_view():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert x.contiguous() is x and x.is_contiguous()
    y = x.T
    assert not y.is_contiguous()
    z = y.contiguous()
    assert z.is_contiguous() and z.data.flags.c_contiguous and z.op == "contiguous"


def test_to_and_dtype_methods():
    x = Tensor([1.5, -2.0], requires_grad=True)
    assert x.to("cpu") is x and x.to(np.float32) is x
    assert x.to(dtype=np.float64).dtype == np.float64 and x.to("cpu", np.float64).requires_grad
    assert x.to(np.float64, copy=True).data is not x.data
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == bool
    np.testing.assert_array_equal(x.long().data, [1, -2])  # toward zero, as PyTorch
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_array_protocol_shares_memory_and_honours_dtype_and_copy():
    x = Tensor(np.arange(3.0))
    assert np.asarray(x) is x.data and np.shares_memory(np.array(x, copy=False), x.data)
    assert not np.shares_memory(np.array(x), x.data)  # np.array copies unless told otherwise
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="needs a copy"):
        np.array(x, dtype=np.float32, copy=False)
    np.testing.assert_array_equal(np.stack([x, x]), [[0, 1, 2], [0, 1, 2]])


def test_from_dlpack_shares_memory():
    a = np.arange(4.0)
    t = mg.from_dlpack(a)
    assert np.shares_memory(t.data, a) and not t.requires_grad


def test_dlpack_to_and_from_torch_shares_memory():
    torch = pytest.importorskip("torch")
    x = mg.randn(2, 3, dtype=np.float64)
    tt = torch.from_dlpack(x)
    tt[0, 0] = 7.0
    assert x.data[0, 0] == 7.0 and tt.dtype == torch.float64
    back = mg.from_dlpack(tt)
    assert np.shares_memory(back.data, x.data)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.t(), ShapeError, "at most 2 dimensions"),
    (lambda x: x.mm(x), ShapeError, "2-D"),
    (lambda x: x.bmm(x[:1]), ShapeError, "same batch size"),
    (lambda x: x.gather(1, np.zeros((3, 1, 4), dtype=np.int64)), ShapeError, "does not fit"),
    (lambda x: x.gather(1, np.zeros((2, 1), dtype=np.int64)), ShapeError, "does not fit"),
    (lambda x: x.gather(1, np.full((2, 1, 4), 3)), IndexError, r"\[0, 3\)"),
    (lambda x: x.gather(3, np.zeros((2, 3, 4), dtype=np.int64)), ShapeError, "dim 3 is out of range"),
    (lambda x: x.gather(0, np.zeros((2, 3, 4))), TypeError, "integers"),
    (lambda x: x.index_select(0, [[0]]), ShapeError, "1-d"),
    (lambda x: x.index_select(2, [4]), IndexError, r"\[0, 4\)"),
    (lambda x: x.masked_fill(np.ones((2, 3, 4)), 0.0), TypeError, "boolean"),
    (lambda x: x.masked_fill(np.ones((5, 2, 3, 4), dtype=bool), 0.0), ShapeError, "does not broadcast"),
    (lambda x: x.repeat(2, 2), ValueError, "at least 3"),
    (lambda x: x.topk(5, dim=1), ValueError, r"k=5 is outside \[0, 3\]"),
    (lambda x: x.norm("nuc"), ValueError, "'nuc' is not supported"),
    (lambda x: x.norm(-1), ValueError, "p must be positive"),
    (lambda x: mg.einsum("ij,jk->ik", x), ShapeError, "2 operand subscript"),
    (lambda x: mg.einsum("ij->ij", x), ShapeError, "do not fit an operand of shape"),
    (lambda x: mg.einsum("ij2->", x), ShapeError, "letters"),
    (lambda x: mg.einsum("ijk->iz", x), ShapeError, "names one no operand has"),
    (lambda x: mg.einsum(x, x), TypeError, "equation"),
    (lambda x: F.pad(x, (1,)), ValueError, "pairs"),
    (lambda x: F.pad(x, (4, 0), mode="reflect"), ValueError, "does not fit dim 2 of size 4"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), ValueError, "mode must be one of"),
    (lambda x: F.pad(x, (1, 1), mode="replicate", value=1.0), ValueError, "constant"),
    (lambda x: F.pad(x, (-3, -3)), ValueError, "crop more"),
])
def test_errors_name_the_problem(call, error, match):
    x = Tensor(np.ones((2, 3, 4)), requires_grad=True)
    with pytest.raises(error, match=match):
        call(x)


def test_einsum_equals_matmul_products_and_checks_three_operands():
    rng = np.random.default_rng(0)
    a, b, c = (Tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3), (3, 4), (4, 5)))
    np.testing.assert_allclose(mg.einsum("ij,jk,kl->il", a, b, c).data, (a @ b @ c).data, rtol=1e-12)
    mt.assert_gradients_match(lambda a, b, c: mg.einsum("ij,jk,kl", a, b, c), [a, b, c])
    mt.assert_gradients_match(lambda a: mg.einsum("ii->", a), [Tensor(rng.standard_normal((3, 3)), requires_grad=True)])


@pytest.mark.parametrize("mode, expected", [
    ("constant", [0, 0, 0, 1, 2, 3, 0]),
    ("reflect", [2, 1, 0, 1, 2, 3, 2]),
    ("replicate", [0, 0, 0, 1, 2, 3, 3]),
    ("circular", [2, 3, 0, 1, 2, 3, 0]),
])
def test_pad_modes_on_a_row(mode, expected):
    x = Tensor(np.arange(4.0)[None, None])
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode=mode).data[0, 0], expected)
    assert F.pad(x, (-1, -2)).data.tolist() == [[[1.0]]]  # negative widths crop


# ---------------------------------------------------------------------------------------------
# stack: a view of a loop's output buffer when the arrays are all its rows in order

@given(T=st.integers(1, 5), shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
       order=st.sampled_from(["in order", "reversed", "a row twice", "all but the last", "unmarked"]))
def test_stack_of_a_step_buffers_rows_is_a_view_exactly_when_they_are_all_its_rows_in_order(T, shape, order):
    rows = {"in order": range(T), "reversed": range(T - 1, -1, -1), "a row twice": [0] * T,
            "all but the last": range(T - 1), "unmarked": range(T)}[order]
    if not len(rows):
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mg.ops, "VIEW_BYTES", 0)
        buf = Tensor(np.random.default_rng(T).standard_normal((T,) + shape), requires_grad=True)
        if order != "unmarked":
            mg.ops.step_rows(buf.data)
        out = mg.stack([buf[t] for t in rows])  # each a view of buf's memory (a 0-d row is a copy)
        np.testing.assert_array_equal(out.data, np.stack([buf.data[t] for t in rows]))
        in_order = order == "in order" or (T == 1 and order in ("reversed", "a row twice"))
        assert np.shares_memory(out.data, buf.data) == (in_order and shape != () and buf.data.size > 0)
        w = np.random.default_rng(1).standard_normal(out.shape)
        (out * w).sum().backward()
        expected = np.zeros(buf.shape)
        for k, t in enumerate(rows):
            expected[t] += w[k]
        np.testing.assert_allclose(buf.grad.data, expected, rtol=1e-12, atol=1e-15)  # repeated rows: any order of sums


def test_stack_copies_small_buffers_and_rows_of_part_of_an_array():
    def stacked_shares(arr):
        x = mg.as_tensor(arr)
        return np.shares_memory(mg.stack([x[t] for t in range(4)]).data, arr)
    assert not stacked_shares(mg.ops.step_rows(np.zeros((4, 3))))  # below VIEW_BYTES a copy is cheaper
    assert stacked_shares(mg.ops.step_rows(np.zeros((4, mg.ops.VIEW_BYTES // 32))))
    part = np.zeros((8, mg.ops.VIEW_BYTES // 32))[:4]  # a view of a larger array cannot be marked
    assert mg.ops.step_rows(part) is part and not stacked_shares(part)
