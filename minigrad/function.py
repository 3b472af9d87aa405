"""``Function`` (the base of every primitive) and the backward driver.

A primitive is a subclass with ``forward(*arrays, **options) -> array`` and
``backward(grad) -> one gradient (or None) per input``, side by side. The instance is the
context: ``forward`` keeps on ``self`` exactly what ``backward`` needs.

Besides an array, a gradient may be sent in two forms the engine completes itself:

- ``Deferred(left, right)``: the factors of ``left.T @ right`` (a weight's gradient ``dA^T H``
  over a batch of rows). The engine collects every ``Deferred`` an input is sent and forms them
  as one matrix product, over all the rows stacked, when that input's gradient is complete. A
  weight used at every time step of a recurrence then gets its gradient from one large product
  instead of T small ones, with no special code in the model.
- ``At(index, value)``: zero except ``value`` at ``index`` (a slice's gradient). The engine adds
  it into one buffer for the input, so T steps that each read one slice x[t] of a (T, ...) input
  cost one buffer, not T full-size zero arrays.

A backward may also write a gradient straight into that buffer: ``gradient_slot(self, i, t)``
lends it row t of input i's buffer. The T steps' gradients are then rows of one array, so nothing
is copied into the buffer, and ``Deferred`` factors that are such rows are multiplied in place.
"""
from __future__ import annotations

import threading

import numpy as np

from .graph import toposort
from .modes import AnomalyError, modes

__all__ = ["Function", "Deferred", "At", "ShapeError", "run_backward", "modified_in_place", "gradient_slot",
           "dense_gradient", "PLACEMENT_OPTIONS"]


class ShapeError(ValueError):
    """A shape problem an op detected itself; its message already names the op and the shapes."""


class Deferred:
    """A gradient the engine forms later: ``left.T @ right``, or ``left.sum(0)`` if ``right`` is None.

    ``left`` (N, M) and ``right`` (N, K) are N rows of the two factors (for a linear map
    ``a = h @ W.T``: dL/da and h, so ``W``'s gradient is ``dL/da.T @ h``). All the ``Deferred``
    sent to one input, by any number of nodes, are stacked row-wise and multiplied as one
    product: ``sum_k left_k.T @ right_k == concat(left).T @ concat(right)``. Left factors that
    are adjacent rows of one array (``gradient_slot``'s rows) are used in place; the others and
    the right factors are copied in chunks of at most ``CHUNK_BYTES``. Sums (``right`` None) are
    reduced likewise, one reduction per run of adjacent rows.
    """

    __slots__ = ("left", "right")

    def __init__(self, left: np.ndarray, right: np.ndarray | None = None):
        self.left, self.right = left, right

    def value(self) -> np.ndarray:
        """The gradient as an array (what the engine forms for a single term)."""
        if self.right is None:
            return np.add.reduce(self.left, 0)
        return np.dot(self.left.T, self.right)


class At:
    """A gradient that is zero except ``value`` at ``index`` (a basic or advanced numpy index).

    Repeated positions of an advanced index accumulate, as in ``np.add.at``.
    """

    __slots__ = ("index", "value")

    def __init__(self, index, value: np.ndarray):
        self.index, self.value = index, value

    def add_to(self, buf: np.ndarray) -> None:
        """``buf[index] += value``, in place."""
        index = self.index
        if type(index) is not int and _is_advanced(index):  # NOTE: a step's slice x[t] is the common case
            np.add.at(buf, index, self.value)
        else:
            buf[index] += self.value

    def dense(self, shape: tuple, dtype) -> np.ndarray:
        """The gradient as a full array of ``shape``."""
        out = np.zeros(shape, dtype=dtype)
        self.add_to(out)
        return out


def _is_advanced(index) -> bool:
    items = index if type(index) is tuple else (index,)
    for i in items:
        if isinstance(i, (np.ndarray, list)):
            return True
    return False


class Function:
    """Base of all differentiable primitives. Subclasses set ``op`` and define forward/backward.

    ``needs_input_grad[i]`` tells ``backward`` whether input ``i`` wants a gradient, so work for
    constants can be skipped. ``options`` holds the keyword options ``forward`` was called with.
    ``backward`` returns, per input, an array of the input's shape, a ``Deferred`` product or an
    ``At`` slice of that shape, or None (no gradient, or one written into a row ``gradient_slot``
    lent). The options ``out`` and ``inplace`` (``PLACEMENT_OPTIONS``, PyTorch's names) only
    choose where ``forward`` writes its result: code that runs a recorded forward again drops them.
    """

    op = "function"
    needs_input_grad: tuple = ()
    options: dict = {}
    # whether ``backward`` reads the forward's output (as tanh's does): if not, the output may be
    # changed in place later (its memory reused) without making this node's backward raise
    reads_output = True
    _epoch = 0  # the in-place epoch when the node was recorded (see ``modified_in_place``)

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def input_grads(self, grad, inputs: tuple) -> tuple:
        """``backward(grad)`` with every ``Deferred`` and ``At`` formed: one array (or None) per
        input (``inputs``: the node's parents, whose shapes the ``At`` gradients take)."""
        return tuple(dense_gradient(g, x.data) for g, x in zip(self.backward(grad), inputs))

    @classmethod
    def apply(cls, *inputs, **options):
        """Run ``forward`` on the inputs' arrays and, if any input requires grad, record the node."""
        fn = _new_object(cls)
        # NOTE: one and two inputs are spelled out: this is the engine's hottest path
        n = len(inputs)
        try:
            if n == 2:
                a, b = inputs
                out = fn.forward(a.data, b.data, **options)
                needs = (a.requires_grad, b.requires_grad)
            elif n == 1:
                a = inputs[0]
                out = fn.forward(a.data, **options)
                needs = (a.requires_grad,)
            else:
                a = inputs[0]
                out = fn.forward(*[t.data for t in inputs], **options)
                needs = tuple([t.requires_grad for t in inputs])
        except ShapeError:
            raise
        except ValueError as e:  # numpy's message names the shapes but not our op
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ValueError(f"{cls.op}: {e} (input shapes {shapes})") from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        m = modes()
        if m.anomaly:
            _check_finite(out, f"forward of '{cls.op}'", m.scope)
        # NOTE: the result is made by the inputs' class (Tensor), which this module does not import
        if m.grad and True in needs:
            fn.needs_input_grad = needs
            if options:
                fn.options = options
            fn._epoch = _EPOCH  # backward checks that no input was modified in place since
            return a._node(out, m.scope, fn, inputs)
        return a._const(out, m.scope)


_new_object = object.__new__

# keyword options that choose only where a forward writes: into an ``out`` array, or into an input
PLACEMENT_OPTIONS = frozenset({"out", "inplace"})

# The version counter. Every in-place op bumps the global epoch and stamps the tensor it changed
# with it (``_stamp``); every recorded node keeps the epoch of its recording. A node whose epoch
# is the current one cannot have seen a later change, so backward pays one comparison per node,
# and looks at its tensors only after some in-place op ran.
_EPOCH = 0
_EPOCH_LOCK = threading.Lock()


def modified_in_place(t) -> None:
    """Record that ``t``'s data was just changed in place: ``t._version`` counts up, and a
    backward through any node recorded before that reads ``t``, or made it and reads its output
    (``Function.reads_output``), raises."""
    global _EPOCH
    with _EPOCH_LOCK:
        _EPOCH += 1
        t._stamp = _EPOCH
    t._version += 1


def _check_unmodified(fn, t) -> None:
    """RuntimeError if one of ``t``'s parents, or ``t`` (made by ``fn``) when ``fn`` reads its
    output, changed in place after ``fn`` was recorded: ``fn``'s saved arrays are not what the
    forward used, so its gradient would be wrong."""
    epoch = fn._epoch
    # NOTE: runs for every node recorded before the last in-place op: the message is built only on failure
    for i, p in enumerate(t.parents):
        if getattr(p, "_stamp", 0) > epoch:
            _refuse_modified(fn, t, f"its input {i}", p)
    if fn.reads_output and getattr(t, "_stamp", 0) > epoch:
        _refuse_modified(fn, t, "its output", t)


def _refuse_modified(fn, t, what: str, x) -> None:
    named = f" named '{x.name}'" if x.name else ""
    where = f" (scope '{t.scope}')" if t.scope else ""
    raise RuntimeError(
        f"backward through op '{fn.op}'{where}: {what}, a tensor of shape {x.data.shape}{named}, "
        f"was modified by an in-place operation (it is at version {x._version}) after the op "
        "used it, so the gradient would be wrong. Call backward() before modifying it, or "
        "modify a copy (y = y * 2 instead of y.mul_(2)).")


class _Released:
    """Stands in for a node's Function once backward has freed its saved buffers."""

    __slots__ = ("op",)

    def __init__(self, op: str):
        self.op = op


# one shared marker per op name
_RELEASED: dict = {}


def _released(fn) -> _Released:
    marker = _RELEASED.get(fn.op)
    if marker is None:
        marker = _RELEASED[fn.op] = _Released(fn.op)
    return marker


def _check_finite(arr, what: str, where: str) -> None:
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        raise AnomalyError(f"{what} produced {kind}" + (f" in scope '{where}'" if where else ""))


def dense_gradient(g, like: np.ndarray):
    """A gradient a backward returned for an input like the array ``like``, as an array (or None):
    a ``Deferred`` product formed, an ``At`` slice written into zeros of ``like``'s shape and dtype."""
    if type(g) is Deferred:
        return g.value()
    if type(g) is At:
        return g.dense(like.shape, like.dtype)
    return g


class _Terms:
    """An input's gradient while it is still arriving: ``Deferred`` terms plus a dense part.

    ``owned``: the dense part is an array this pass allocated, so it may be added into.
    ``lent``: the rows of the dense part lent by ``gradient_slot`` (None once it lends no more).
    """

    __slots__ = ("products", "sums", "dense", "owned", "lent")

    def __init__(self, dense=None):
        self.products, self.sums, self.dense, self.owned, self.lent = [], [], dense, False, None

    def value(self) -> np.ndarray:
        """The finished gradient: the products formed over stacked rows, the sums reduced."""
        total = self.dense
        if self.products:
            part = _product(self.products)
            total = part if total is None else total + part
        if self.sums:
            part = _sum(self.sums)
            total = part if total is None else total + part
        return total

    def writable(self) -> np.ndarray:
        """The dense part, to add into: a copy if rows of it were lent, as ``Deferred`` factors
        may still read them (they must see only what their backward wrote)."""
        if self.lent:
            self.dense, self.lent = np.array(self.dense), None
        return self.dense


# The stacked factors of one product are formed in chunks of at most this many bytes: one product
# over all rows is what makes many small ones fast, but a copy of all of them at once would add
# the size of every step's dL/da to the peak memory of a backward pass.
CHUNK_BYTES = 4 << 20


def _product(terms: list) -> np.ndarray:
    """sum_k left_k.T @ right_k as few products as adjacency and the chunk budget allow."""
    total = None
    runs, loose = _adjacent(terms)
    for buf, t, run in runs:  # the left factors are one array already: only the right ones are copied
        for chunk in _chunks(run, "right"):
            part = np.dot(_span(buf, t, len(chunk)).T, _stacked(chunk, "right"))
            total = part if total is None else np.add(total, part, out=total)
            t += len(chunk)
    for chunk in _chunks(loose, "left"):
        part = np.dot(_stacked(chunk, "left").T, _stacked(chunk, "right"))
        total = part if total is None else np.add(total, part, out=total)
    return total


def _sum(terms: list) -> np.ndarray:
    """sum_k left_k.sum(0): one reduction per run of adjacent rows, one per other term."""
    runs, loose = _adjacent(terms)
    total = None
    for part in [_span(buf, t, len(run)) for buf, t, run in runs] + [d.left for d in loose]:
        part = np.add.reduce(part, 0)
        total = part if total is None else np.add(total, part, out=total)
    return total


def _adjacent(terms: list) -> tuple:
    """(runs, rest): runs ``(buffer, t, terms)`` of two or more terms whose left factors are the
    rows t, t+1, ... that ``gradient_slot`` lent of one buffer, and the other terms."""
    state = getattr(_PASSES, "state", None)
    rows = None if state is None else state.rows
    if not rows:
        return [], terms
    run = _one_run(terms, rows)
    if run is not None:
        return [run], []
    by_buffer, rest = {}, []
    for d in terms:
        # NOTE: the registry holds each lent row, so no other array can have its id meanwhile
        lent = rows.get(id(d.left))  # (row, buffer, t)
        if lent is None or d.left.ndim != 2:
            rest.append(d)
        else:
            by_buffer.setdefault(id(lent[1]), []).append((lent[2], lent[1], d))
    runs = []
    for group in by_buffer.values():
        group.sort(key=_first)
        start = 0
        for k in range(1, len(group) + 1):
            if k == len(group) or group[k][0] != group[k - 1][0] + 1:
                if k - start > 1:
                    runs.append((group[start][1], group[start][0], [d for _, _, d in group[start:k]]))
                else:
                    rest.append(group[start][2])
                start = k
    return runs, rest


def _one_run(terms: list, rows: dict):
    """The common case of ``_adjacent``, as ``(buffer, t, terms)``: the terms' left factors are
    the lent rows of one buffer, one per step, from the last to the first (a backward pass sends
    a shared weight's terms from the last step to the first) or, for a loop run backwards
    in time, from the first to the last; None otherwise."""
    if len(terms) < 2:
        return None
    first, second = rows.get(id(terms[0].left)), rows.get(id(terms[1].left))
    if first is None or second is None or first[0].ndim != 2:
        return None
    _, buf, t = first
    step = second[2] - t
    if step != 1 and step != -1:
        return None
    for d in terms:
        lent = rows.get(id(d.left))
        if lent is None or lent[1] is not buf or lent[2] != t:
            return None
        t += step
    return (buf, t + 1, terms[::-1]) if step < 0 else (buf, first[2], terms)


def _first(item: tuple):
    return item[0]


def _span(buf: np.ndarray, t: int, n: int) -> np.ndarray:
    """Rows t .. t+n-1 of a lent buffer as one (rows, width) view."""
    return buf[t:t + n].reshape(-1, buf.shape[-1])


def _chunks(terms: list, side: str):
    """Consecutive groups of terms whose ``side`` factors total at most ``CHUNK_BYTES`` (or one term)."""
    start = 0
    while start < len(terms):
        size, stop = 0, start
        while stop < len(terms) and (stop == start or size + getattr(terms[stop], side).nbytes <= CHUNK_BYTES):
            size += getattr(terms[stop], side).nbytes
            stop += 1
        yield terms[start:stop]
        start = stop


def _stacked(chunk: list, side: str) -> np.ndarray:
    if len(chunk) == 1:
        return getattr(chunk[0], side)
    return np.concatenate([getattr(d, side) for d in chunk])


def _accumulate(t, g: np.ndarray, fresh: bool) -> None:
    """Add ``g`` into ``t.grad`` without writing into any array another branch may hold.

    ``fresh``: ``g`` was allocated by this pass and nothing else holds it, so it needs no copy.
    """
    if g.shape != t.data.shape:
        raise RuntimeError(
            f"gradient of shape {g.shape} reached a tensor of shape {t.data.shape} (op '{t.op}'): "
            "a Function.backward returned a wrongly shaped gradient")
    if g.dtype != t.data.dtype:
        g, fresh = g.astype(t.data.dtype), True
    if t.grad is None:
        t.grad = t._const(g if fresh and type(g) is np.ndarray else np.array(g, copy=True), t.scope)
    else:
        t.grad.data = np.asarray(t.grad.data + g)  # NOTE: 0-d array + 0-d array gives a numpy scalar


def run_backward(root, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad`` from ``root`` to every leaf that requires grad, in reverse topological order.

    Leaves (and tensors marked with ``retain_grad``, or every tensor inside ``keep_grads()``)
    accumulate into ``.grad``. Unless ``retain_graph`` (or ``keep_grads()``), each node's saved
    buffers and parent links are dropped as soon as its gradient has been passed on, so a
    training loop never holds two graphs. In reverse topological order a node comes after every
    node that uses it, so its gradient is complete when it is reached: that is when ``Deferred``
    terms are formed, before hooks, ``retain_grad`` and ``keep_grads`` see the gradient.
    """
    m = modes()
    keep, anomaly = m.keep, m.anomaly
    free = not (retain_graph or keep)
    pending = {root: grad}
    # Tensors whose pending gradient is an array this pass allocated: only those are added into
    # in place; any other array may be shared with another branch (lesson 6).
    owned = set()
    here = _Pass(pending)
    outer = getattr(_PASSES, "state", None)
    # no rows lent under anomaly mode: its checks see each gradient a backward returns
    _PASSES.state = None if anomaly else here
    try:
        _backward_pass(root, pending, owned, here, keep, anomaly, free)
    finally:
        _PASSES.state = outer


def _backward_pass(root, pending: dict, owned: set, here: _Pass, keep, anomaly, free) -> None:
    pop = pending.pop
    for t in reversed(toposort(root)):
        fn = t._ctx
        g = pop(t, None)
        if g is not None:
            if type(g) is _Terms:
                g, fresh = g.value(), True
            else:
                fresh = t in owned
            if t._hooks:
                hooked = _run_hooks(t, g)
                fresh, g = fresh and hooked is g, hooked
            if fn is None:  # a leaf: only leaves that require grad are ever sent a gradient
                _accumulate(t, g, fresh)
                continue
            if type(fn) is _Released:
                raise RuntimeError(
                    f"backward through op '{fn.op}' (scope '{t.scope}') a second time: its saved "
                    "buffers were freed by an earlier backward(). Pass retain_graph=True to the "
                    "first backward() if you need to call it twice, or detach() state you carry "
                    "across steps.")
            if fn._epoch != _EPOCH:
                _check_unmodified(fn, t)
            if keep or t._retain:
                _accumulate(t, g, False)
            if not anomaly:
                here.node = t
                grads = fn.backward(g)
            else:
                grads = _checked_grads(fn, g, t)
            for p, pg in zip(t.parents, grads):
                if pg is not None and p.requires_grad:
                    prev = pending.get(p)
                    if prev is None and type(pg) is np.ndarray:  # NOTE: the common case, first
                        pending[p] = pg
                    else:
                        _send(pending, owned, p, prev, pg)
        elif fn is None:
            continue
        if free and type(fn) is not _Released:
            t._ctx = _RELEASED.get(fn.op) or _released(fn)
            t.parents = ()


def _send(pending: dict, owned: set, p, prev, g) -> None:
    """Add gradient ``g`` (an array, ``Deferred`` or ``At``) to what ``p`` has been sent (``prev``)."""
    kind = type(g)
    if kind is Deferred:
        if type(prev) is not _Terms:
            terms = pending[p] = _Terms(prev)
            terms.owned = p in owned
            owned.discard(p)
            prev = terms
        (prev.sums if g.right is None else prev.products).append(g)
    elif kind is At:
        g.add_to(_owned_dense(pending, owned, p, prev))
    elif prev is None:
        pending[p] = g
    elif type(prev) is _Terms:
        if prev.dense is None:
            prev.dense = g
        elif prev.owned and not prev.lent:
            prev.dense += g
        else:
            prev.dense, prev.owned, prev.lent = prev.dense + g, True, None
    elif p in owned:
        prev += g
    else:
        total = pending[p] = prev + g
        if type(total) is np.ndarray:  # NOTE: 0-d + 0-d gives an immutable numpy scalar
            owned.add(p)


def _owned_dense(pending: dict, owned: set, p, prev) -> np.ndarray:
    """The dense part of ``p``'s pending gradient as an array this pass owns (zeros if none yet)."""
    shape, dtype = p.data.shape, p.data.dtype
    if type(prev) is _Terms:
        if prev.dense is None:
            prev.dense = np.zeros(shape, dtype=dtype)
        elif not prev.owned:
            prev.dense = np.array(prev.dense, dtype=dtype)
        prev.owned = True
        return prev.writable()
    if prev is None:
        prev = pending[p] = np.zeros(shape, dtype=dtype)
    elif p not in owned:
        prev = pending[p] = np.array(prev, dtype=dtype)
    owned.add(p)
    return prev


class _Pass:
    """What ``gradient_slot`` reads of the backward pass running in this thread."""

    __slots__ = ("pending", "node", "rows")

    def __init__(self, pending: dict):
        self.pending, self.node = pending, None  # node: the one whose backward runs now
        self.rows = {}  # id(row) -> (row, buffer, t) for every row lent in this pass


_PASSES = threading.local()


def gradient_slot(fn: Function, i: int, t: int):
    """Row ``t`` of input ``i``'s gradient buffer (zeros), lent to ``fn.backward`` to write its
    gradient for ``x[t]`` into; or None.

    For a backward whose node read row t of input ``i`` (a step reading x[t] of every step's
    (T, ...) input). Given a row, it writes its gradient there and returns None for input ``i``
    (the gradient is sent); given None (no backward pass is running this node, anomaly mode, or
    row t was lent already), it returns the gradient as usual. What else reaches the buffer goes
    to a copy of it, so a lent row holds exactly this node's gradient and may be a ``Deferred``
    factor.
    """
    state = getattr(_PASSES, "state", None)
    node = None if state is None else state.node
    if node is None or node._ctx is not fn:
        return None
    p = node.parents[i]
    shape = p.data.shape
    if not p.requires_grad or type(t) is not int or not 0 <= t < (shape[0] if shape else 0):
        return None
    pending = state.pending
    prev = pending.get(p)
    if prev is None:
        prev = pending[p] = _Terms(np.zeros(shape, dtype=p.data.dtype))
        prev.owned, prev.lent = True, set()
    elif type(prev) is not _Terms or prev.lent is None or t in prev.lent:
        return None
    prev.lent.add(t)
    row = prev.dense[t]
    state.rows[id(row)] = (row, prev.dense, t)
    return row


def _checked_grads(fn, g: np.ndarray, t) -> tuple:
    """``fn.input_grads``, raising AnomalyError for the first gradient holding NaN/Inf."""
    grads = fn.input_grads(g, t.parents)
    for i, pg in enumerate(grads):
        if pg is not None:
            _check_finite(np.asarray(pg), f"backward of '{fn.op}' (gradient for input {i})", t.scope)
    return grads


def _run_hooks(t, g: np.ndarray) -> np.ndarray:
    for hook in list(t._hooks.values()):
        out = hook(t._const(g, t.scope))
        if out is not None:
            out = np.asarray(out)  # a Tensor gives its array (Tensor.__array__)
            if out.shape != g.shape:
                raise ValueError(f"hook {hook!r} returned a gradient of shape {out.shape}, expected {g.shape}")
            g = out
    return g
