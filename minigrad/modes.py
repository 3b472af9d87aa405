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

    def replace(self, grad=None, anomaly=None, keep=None, scope=None) -> "Modes":
        """A copy with the fields given (not None) changed."""
        return Modes(self.grad if grad is None else grad, self.anomaly if anomaly is None else anomaly,
                     self.keep if keep is None else keep, self.scope if scope is None else scope)

    def __repr__(self) -> str:
        return "Modes(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"


_MODES: ContextVar = ContextVar("minigrad_modes", default=Modes())
modes = _MODES.get  # the current thread's Modes; each op calls it once

# The undo records of the settings entered and not yet exited in this context, innermost first,
# as a linked list of (key, undo, rest): ``key`` is a Setting with the value it saved, or another
# context manager's key with the object to exit.
_UNDO: ContextVar = ContextVar("minigrad_undo", default=None)


def _push(key, undo) -> None:
    _UNDO.set((key, undo, _UNDO.get()))


def _pop(key, who: str) -> None:
    """Undo and drop the innermost record of ``key`` (settings exit in reverse order of entry)."""
    records = _UNDO.get()
    if records is not None and records[0] is key:  # the usual case: the innermost record
        _UNDO.set(records[2])
        _undo(records)
        return
    skipped = []
    while records is not None and records[0] is not key:
        skipped.append(records[:2])
        records = records[2]
    if records is None:
        raise RuntimeError(f"{who}: exited without a matching enter in this thread")
    rest = records[2]
    for k, u in reversed(skipped):
        rest = (k, u, rest)
    _UNDO.set(rest)
    _undo(records)


def _undo(record) -> None:
    key, undo = record[0], record[1]
    if isinstance(key, Setting):
        key.var.set(key.restored(key.var.get(), undo))
    else:
        undo.__exit__(None, None, None)


class Setting(contextlib.ContextDecorator):
    """Base of the context managers (and decorators) that change one ``ContextVar``.

    A subclass names the variable in ``var`` and defines ``changed(current) -> new value``; one
    that changes only part of the value also defines ``saved`` and ``restored``, so that leaving
    blocks out of order restores only each block's own part.
    """

    var: ContextVar

    def changed(self, current):
        """The value to hold inside the block, given the value outside it."""
        raise NotImplementedError

    def saved(self, current):
        """What to keep at entry for ``restored``: by default the whole value."""
        return current

    def restored(self, current, saved):
        """The value after the block, given the value now and what ``saved`` kept."""
        return saved

    def __enter__(self):
        var = self.var
        current = var.get()
        var.set(self.changed(current))
        _UNDO.set((self, self.saved(current), _UNDO.get()))
        return self

    def __exit__(self, *exc) -> None:
        _pop(self, type(self).__name__)


class ModeSetting(Setting):
    """A ``Setting`` of one field of the engine's ``Modes``.

    An instance remembers the ``Modes`` it made of the last few it was entered under, so a scope
    entered at every time step allocates nothing after the first sequence, and leaving a block
    in which nothing else changed restores the very object it replaced.
    """

    var = _MODES
    field = ""
    _made = None  # outer Modes -> the Modes this setting made of it

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def changed(self, current: Modes) -> Modes:
        made = self._made
        if made is None:
            made = self._made = {}
        inner = made.get(current)
        if inner is None:
            if len(made) >= 8:  # a handful of outer modes recur; anything beyond is forgotten
                made.clear()
            inner = made[current] = self.value_in(current)
        return inner

    def value_in(self, current: Modes) -> Modes:
        """The ``Modes`` inside the block, built afresh from the one outside."""
        return current.replace(**{self.field: self.mode})

    def saved(self, current: Modes) -> Modes:
        return current

    def restored(self, current: Modes, saved: Modes) -> Modes:
        if self._made.get(saved) is current:  # nothing else changed inside: the outer object itself
            return saved
        return current.replace(**{self.field: getattr(saved, self.field)})


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
        _push(self._errstate, state)
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
