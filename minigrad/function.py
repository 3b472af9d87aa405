"""``Function`` (the base of every primitive), the backward driver, and the grad-mode switches.

A primitive is a subclass with ``forward(*arrays, **options) -> array`` and
``backward(grad) -> one gradient (or None) per input``, side by side. The instance is the
context: ``forward`` keeps on ``self`` exactly what ``backward`` needs.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import graph as _graph
from .tensor import Tensor

__all__ = [
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "detect_anomaly", "keep_grads", "AnomalyError", "ShapeError",
]

# Engine switches, read on every op; changed only through the context managers below.
_GRAD_ENABLED = True
_ANOMALY = False
_KEEP_GRADS = False


class ShapeError(ValueError):
    """A shape problem an op detected itself; its message already names the op and the shapes."""


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` by the first op whose forward or backward gives NaN/Inf."""


class Function:
    """Base of all differentiable primitives. Subclasses set ``op`` and define forward/backward.

    ``needs_input_grad[i]`` tells ``backward`` whether input ``i`` wants a gradient, so work for
    constants can be skipped. ``options`` holds the keyword options ``forward`` was called with.
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

    @classmethod
    def apply(cls, *inputs: Tensor, **options) -> Tensor:
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
                out = fn.forward(*[t.data for t in inputs], **options)
                needs = tuple([t.requires_grad for t in inputs])
        except ShapeError:
            raise
        except ValueError as e:  # numpy's message names the shapes but not our op
            shapes = ", ".join(str(t.shape) for t in inputs)
            raise ValueError(f"{cls.op}: {e} (input shapes {shapes})") from None
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if _ANOMALY:
            _check_finite(out, f"forward of '{cls.op}'", _graph._SCOPE)
        if _GRAD_ENABLED and True in needs:
            fn.needs_input_grad = needs
            if options:
                fn.options = options
            return _new_node(out, fn, inputs)
        return _new_const(out)


_new_object = object.__new__
_new_node = Tensor._node
_new_const = Tensor._const


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


def _accumulate(t: Tensor, g: np.ndarray) -> None:
    """Add ``g`` into ``t.grad`` without writing into any array another branch may hold."""
    if g.shape != t.data.shape:
        raise RuntimeError(
            f"gradient of shape {g.shape} reached a tensor of shape {t.data.shape} (op '{t.op}'): "
            "a Function.backward returned a wrongly shaped gradient")
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        t.grad = Tensor._const(np.array(g, copy=True))
    else:
        t.grad.data = np.asarray(t.grad.data + g)  # NOTE: 0-d array + 0-d array gives a numpy scalar


def run_backward(root: Tensor, grad: np.ndarray, retain_graph: bool = False) -> None:
    """Propagate ``grad`` from ``root`` to every leaf that requires grad, in reverse topological order.

    Leaves (and tensors marked with ``retain_grad``, or every tensor inside ``keep_grads()``)
    accumulate into ``.grad``. Unless ``retain_graph`` (or ``keep_grads()``), each node's saved
    buffers and parent links are dropped as soon as its gradient has been passed on, so a
    training loop never holds two graphs.
    """
    keep = _KEEP_GRADS
    free = not (retain_graph or keep)
    anomaly = _ANOMALY
    pending = {root: grad}
    # Tensors whose pending gradient is an array this pass allocated: only those are added into
    # in place; any other array may be shared with another branch (lesson 6).
    owned = set()
    pop = pending.pop
    for t in reversed(_graph.toposort(root)):
        fn = t._ctx
        g = pop(t, None)
        if fn is None:  # a leaf: only leaves that require grad are ever sent a gradient
            if g is not None:
                if t._hooks:
                    g = _run_hooks(t, g)
                _accumulate(t, g)
            continue
        if g is not None:
            if t._hooks:
                g = _run_hooks(t, g)
            if type(fn) is _Released:
                raise RuntimeError(
                    f"backward through op '{fn.op}' (scope '{t.scope}') a second time: its saved "
                    "buffers were freed by an earlier backward(). Pass retain_graph=True to the "
                    "first backward() if you need to call it twice, or detach() state you carry "
                    "across steps.")
            if keep or t._retain:
                _accumulate(t, g)
            if fn.backward_into is not None and not anomaly:
                _backward_into(fn, t.parents[0], g, pending, owned)
            else:
                grads = fn.backward(g)
                if anomaly:
                    for i, pg in enumerate(grads):
                        if pg is not None:
                            _check_finite(pg, f"backward of '{fn.op}' (gradient for input {i})", t.scope)
                for p, pg in zip(t.parents, grads):
                    if pg is not None and p.requires_grad:
                        prev = pending.get(p)
                        if prev is None:
                            pending[p] = pg
                        elif p in owned:
                            prev += pg
                        else:
                            total = pending[p] = prev + pg
                            if type(total) is np.ndarray:  # NOTE: 0-d + 0-d gives an immutable numpy scalar
                                owned.add(p)
        if free and type(fn) is not _Released:
            t._ctx = _RELEASED.get(fn.op) or _released(fn)
            t.parents = ()


def _backward_into(fn, p: Tensor, g: np.ndarray, pending: dict, owned: set) -> None:
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
    elif p not in owned:
        buf = pending[p] = np.array(buf, dtype=p.data.dtype)
        owned.add(p)
    fn.backward_into(g, buf)


def _run_hooks(t: Tensor, g: np.ndarray) -> np.ndarray:
    for hook in list(t._hooks.values()):
        out = hook(Tensor._const(g))
        if out is not None:
            out = out.data if isinstance(out, Tensor) else np.asarray(out)
            if out.shape != g.shape:
                raise ValueError(f"hook {hook!r} returned a gradient of shape {out.shape}, expected {g.shape}")
            g = out
    return g


# grad-mode switches ---------------------------------------------------------------------------
class _Switch(contextlib.ContextDecorator):
    """A context manager that sets one engine flag and restores it; also usable as a decorator.

    Entering saves onto a stack, so one instance serves nested and recursive uses.
    """

    _flag = ""

    def __init__(self, mode: bool = True):
        self.mode = mode
        self._saved = []

    def __enter__(self):
        self._saved.append(globals()[self._flag])
        globals()[self._flag] = self.mode
        return self

    def __exit__(self, *exc):
        globals()[self._flag] = self._saved.pop()


class set_grad_enabled(_Switch):
    """Turn graph recording on or off (``set_grad_enabled(False)`` is ``no_grad()``)."""

    _flag = "_GRAD_ENABLED"


class no_grad(set_grad_enabled):
    """Inside, ops record no graph and results do not require grad (inference, optimizer steps).

    A context manager (``with no_grad():``) or a decorator (``@no_grad()``).
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable recording inside a ``no_grad`` region."""

    def __init__(self):
        super().__init__(True)


class detect_anomaly(_Switch):
    """Inside, the first op whose forward or backward produces NaN/Inf raises ``AnomalyError``
    naming the op and its scope. Costs one ``isfinite`` pass per op; use it to debug."""

    _flag = "_ANOMALY"

    def __init__(self, mode: bool = True):
        super().__init__(mode)
        self._errstates = []

    # numpy's overflow/invalid warnings would fire first and name no op; the checks here replace them
    def __enter__(self):
        state = np.errstate(all="ignore") if self.mode else np.errstate()
        state.__enter__()
        self._errstates.append(state)
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self._errstates.pop().__exit__(*exc)


class keep_grads(_Switch):
    """Inside, ``backward()`` stores a gradient on every tensor of the graph (not only leaves) and
    keeps the graph, so ``viz`` can draw gradients everywhere. Costs memory; use it to look."""

    _flag = "_KEEP_GRADS"

    def __init__(self, mode: bool = True):
        super().__init__(mode)


def is_grad_enabled() -> bool:
    """Whether ops currently record a graph."""
    return _GRAD_ENABLED
