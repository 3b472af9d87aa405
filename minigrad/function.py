"""``Function`` (the base of every primitive) and the backward driver.

A primitive is a subclass with ``forward(*arrays, **options) -> array`` and
``backward(grad) -> one gradient (or None) per input``, side by side. The instance is the
context: ``forward`` keeps on ``self`` exactly what ``backward`` needs.

A gradient may also be a ``Deferred`` product: the factors of ``left.T @ right`` (a weight's
gradient ``dA^T H`` over a batch of rows). The engine collects every ``Deferred`` an input is
sent and forms them as one matrix product, over all the rows stacked, when that input's
gradient is complete. A weight used at every time step of a recurrence then gets its gradient
from one large product instead of T small ones, with no special code in the model.
"""
from __future__ import annotations

import numpy as np

from .graph import toposort
from .modes import AnomalyError, modes

__all__ = ["Function", "Deferred", "ShapeError", "run_backward"]


class ShapeError(ValueError):
    """A shape problem an op detected itself; its message already names the op and the shapes."""


class Deferred:
    """A gradient the engine forms later: ``left.T @ right``, or ``left.sum(0)`` if ``right`` is None.

    ``left`` (N, M) and ``right`` (N, K) are N rows of the two factors (for a linear map
    ``a = h @ W.T``: dL/da and h, so ``W``'s gradient is ``dL/da.T @ h``). All the ``Deferred``
    sent to one input, by any number of nodes, are stacked row-wise and multiplied once:
    ``sum_k left_k.T @ right_k == concat(left).T @ concat(right)``.
    """

    __slots__ = ("left", "right")

    def __init__(self, left: np.ndarray, right: np.ndarray | None = None):
        self.left, self.right = left, right

    def value(self) -> np.ndarray:
        """The gradient as an array (what the engine forms for a single term)."""
        if self.right is None:
            return np.add.reduce(self.left, 0)
        return np.dot(self.left.T, self.right)


class Function:
    """Base of all differentiable primitives. Subclasses set ``op`` and define forward/backward.

    ``needs_input_grad[i]`` tells ``backward`` whether input ``i`` wants a gradient, so work for
    constants can be skipped. ``options`` holds the keyword options ``forward`` was called with.
    ``backward`` returns, per input, an array of the input's shape, a ``Deferred`` product of
    that shape, or None.
    """

    op = "function"
    needs_input_grad: tuple = ()
    options: dict = {}
    # Optional fast path for single-input ops whose gradient touches part of the input:
    # ``backward_into(grad, buffer)`` adds the input's gradient into ``buffer`` in place.
    backward_into = None

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def input_grads(self, grad) -> tuple:
        """``backward(grad)`` with every ``Deferred`` formed: one array (or None) per input."""
        return tuple(g.value() if type(g) is Deferred else g for g in self.backward(grad))

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
            return a._node(out, fn, inputs, m.scope)
        return a._const(out, m.scope)


_new_object = object.__new__


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


class _Terms:
    """An input's gradient while it is still arriving: ``Deferred`` terms plus a dense sum."""

    __slots__ = ("products", "sums", "dense")

    def __init__(self):
        self.products, self.sums, self.dense = [], [], None

    def add(self, g) -> None:
        if type(g) is Deferred:
            (self.sums if g.right is None else self.products).append(g)
        elif self.dense is None:
            self.dense = g
        else:
            self.dense = self.dense + g  # NOTE: never in place: the first array may be shared

    def value(self, stacked: dict) -> np.ndarray:
        """The finished gradient: each kind of term stacked row-wise and reduced once.

        ``stacked`` caches concatenated factors for the pass: a bias and its weight are sent the
        same left factors (dL/da), which are then stacked once.
        """
        total = self.dense
        if self.products:
            p = self.products
            part = (p[0].value() if len(p) == 1 else
                    np.dot(_stack([d.left for d in p], stacked).T, _stack([d.right for d in p], stacked)))
            total = part if total is None else total + part
        if self.sums:
            s = self.sums
            part = s[0].value() if len(s) == 1 else np.add.reduce(_stack([d.left for d in s], stacked), 0)
            total = part if total is None else total + part
        return total


def _stack(rows: list, cache: dict) -> np.ndarray:
    key = tuple(map(id, rows))
    out = cache.get(key)
    if out is None:
        out = cache[key] = np.concatenate(rows)
    return out


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
    stacked: dict = {}
    pop = pending.pop
    for t in reversed(toposort(root)):
        fn = t._ctx
        g = pop(t, None)
        if g is not None:
            fresh = t in owned
            if type(g) is _Terms:
                g, fresh = g.value(stacked), True
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
            if keep or t._retain:
                _accumulate(t, g, False)
            if fn.backward_into is not None and not anomaly:
                _backward_into(fn, t.parents[0], g, pending, owned)
            else:
                grads = fn.backward(g) if not anomaly else _checked_grads(fn, g, t.scope)
                for p, pg in zip(t.parents, grads):
                    if pg is not None and p.requires_grad:
                        prev = pending.get(p)
                        if prev is None:
                            if type(pg) is Deferred:
                                prev = pending[p] = _Terms()
                                prev.add(pg)
                            else:
                                pending[p] = pg
                        elif type(prev) is _Terms:
                            prev.add(pg)
                        elif type(pg) is Deferred:
                            terms = pending[p] = _Terms()
                            terms.add(prev)
                            terms.add(pg)
                            owned.discard(p)
                        elif p in owned:
                            prev += pg
                        else:
                            total = pending[p] = prev + pg
                            if type(total) is np.ndarray:  # NOTE: 0-d + 0-d gives an immutable numpy scalar
                                owned.add(p)
        elif fn is None:
            continue
        if free and type(fn) is not _Released:
            t._ctx = _RELEASED.get(fn.op) or _released(fn)
            t.parents = ()


def _checked_grads(fn, g: np.ndarray, where: str) -> tuple:
    """``fn.input_grads(g)``, raising AnomalyError for the first gradient holding NaN/Inf."""
    grads = fn.input_grads(g)
    for i, pg in enumerate(grads):
        if pg is not None:
            _check_finite(np.asarray(pg), f"backward of '{fn.op}' (gradient for input {i})", where)
    return grads


def _backward_into(fn, p, g: np.ndarray, pending: dict, owned: set) -> None:
    """Let a single-input op add its gradient into the parent's buffer in place.

    Indexing uses this: unrolling slices x[t] out of a (T, ...) input T times, and a dense
    gradient per slice would cost T full-size arrays (quadratic in T); one owned buffer is linear.
    """
    if not p.requires_grad:
        return
    buf = pending.get(p)
    if buf is None:
        buf = pending[p] = np.zeros(p.data.shape, dtype=p.data.dtype)
        owned.add(p)
    elif type(buf) is _Terms:  # the dense part of a gradient that also has Deferred terms
        if buf.dense is None:
            buf.dense = np.zeros(p.data.shape, dtype=p.data.dtype)
            owned.add(p)
        elif p not in owned:
            buf.dense = np.array(buf.dense, dtype=p.data.dtype)
            owned.add(p)
        fn.backward_into(g, buf.dense)
        return
    elif p not in owned:
        buf = pending[p] = np.array(buf, dtype=p.data.dtype)
        owned.add(p)
    fn.backward_into(g, buf)


def _run_hooks(t, g: np.ndarray) -> np.ndarray:
    for hook in list(t._hooks.values()):
        out = hook(t._const(g, t.scope))
        if out is not None:
            out = out.data if isinstance(out, type(t)) else np.asarray(out)
            if out.shape != g.shape:
                raise ValueError(f"hook {hook!r} returned a gradient of shape {out.shape}, expected {g.shape}")
            g = out
    return g
