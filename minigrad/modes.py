"""Engine state that context managers change: per thread (and per asyncio task), as in PyTorch.

Every op reads the engine's ``Modes`` (grad recording, anomaly checks, gradient keeping, the
scope path) with one ``ContextVar.get()``. A new thread starts from the defaults, so one
thread's ``no_grad()`` or ``scope("A")`` never reaches another.

``Setting`` is the one way to write a context manager that changes such state (``scope`` and
zoo's fusion cap use it too): ``__enter__`` sets a new value, ``__exit__`` restores the value it
replaced. The undo records live in the context as well, so one instance may be entered by
several threads at once, nested, or used as a decorator.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar

import numpy as np

__all__ = [
    "Modes", "Setting", "ModeSetting", "modes", "AnomalyError",
    "set_grad_enabled", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "is_anomaly_enabled", "keep_grads",
]


class Modes:
    """The engine switches, read on every op. Immutable: a change makes a new object."""

    __slots__ = ("grad", "anomaly", "keep", "scope")

    def __init__(self, grad: bool = True, anomaly: bool = False, keep: bool = False, scope: str = ""):
        self.grad, self.anomaly, self.keep, self.scope = grad, anomaly, keep, scope

    def replace(self, **changes) -> "Modes":
        """A copy with some fields changed."""
        fields = {name: getattr(self, name) for name in self.__slots__}
        fields.update(changes)
        return Modes(**fields)

    def __repr__(self) -> str:
        return "Modes(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


_MODES: ContextVar = ContextVar("minigrad_modes", default=Modes())
modes = _MODES.get  # the current thread's Modes; each op calls it once

# (key, undo) records of the settings entered and not yet exited in this context
_UNDO: ContextVar = ContextVar("minigrad_undo", default=())


def _push(key, undo) -> None:
    _UNDO.set(_UNDO.get() + ((key, undo),))


def _pop(key, who: str) -> None:
    """Run and drop the innermost undo record of ``key`` (settings exit in reverse order of entry)."""
    records = _UNDO.get()
    for k in range(len(records) - 1, -1, -1):
        if records[k][0] is key:
            _UNDO.set(records[:k] + records[k + 1:])
            records[k][1]()
            return
    raise RuntimeError(f"{who}: exited without a matching enter in this thread")


class Setting(contextlib.ContextDecorator):
    """Base of the context managers (and decorators) that change one ``ContextVar``.

    A subclass names the variable in ``var`` and defines ``changed(current) -> new value``.
    """

    var: ContextVar

    def changed(self, current):
        """The value to hold inside the block, given the value outside it."""
        raise NotImplementedError

    def __enter__(self):
        var = self.var
        token = var.set(self.changed(var.get()))
        _push(var, lambda: var.reset(token))
        return self

    def __exit__(self, *exc) -> None:
        _pop(self.var, type(self).__name__)


class ModeSetting(Setting):
    """A ``Setting`` of one field of the engine's ``Modes``."""

    var = _MODES
    field = ""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def changed(self, current: Modes) -> Modes:
        return current.replace(**{self.field: self.mode})


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` by the first op whose forward or backward gives NaN/Inf."""


class set_grad_enabled(ModeSetting):
    """Turn graph recording on or off (``set_grad_enabled(False)`` is ``no_grad()``)."""

    field = "grad"


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


class detect_anomaly(ModeSetting):
    """Inside, the first op whose forward or backward produces NaN/Inf raises ``AnomalyError``
    naming the op, its scope and so its time step. Costs one ``isfinite`` pass per op; use it to
    debug. Covers both engines (``Tensor`` and the scalar ``Value``)."""

    field = "anomaly"
    _errstate = object()  # the key of the numpy error-state undo records

    # numpy's overflow/invalid warnings would fire first and name no op; the checks replace them
    def __enter__(self):
        super().__enter__()
        state = np.errstate(all="ignore") if self.mode else np.errstate()
        state.__enter__()
        _push(self._errstate, lambda: state.__exit__(None, None, None))
        return self

    def __exit__(self, *exc) -> None:
        _pop(self._errstate, type(self).__name__)
        super().__exit__(*exc)


class keep_grads(ModeSetting):
    """Inside, ``backward()`` stores a gradient on every tensor of the graph (not only leaves) and
    keeps the graph, so ``viz`` can draw gradients everywhere. Costs memory; use it to look."""

    field = "keep"


def is_grad_enabled() -> bool:
    """Whether ops currently record a graph (in this thread)."""
    return modes().grad


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active (in this thread)."""
    return modes().anomaly
