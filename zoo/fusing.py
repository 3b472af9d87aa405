"""How much of a recurrent step the zoo records as one node: the ``fused`` option and its cap.

Every cell, layer and model takes ``fused`` (default ``True``): each time step's recurrence is
one fused node (``zoo.kernels``); ``False`` records every primitive op of the cell's equations.
Either way every step is in the graph, tagged ``layer{l}/{fwd|bwd}/t={t}``. ``fusion(False)``
(also ``unfused()``) caps it inside a block, per thread: what viz draws in detail. ``resolve`` is
the one place a ``fused`` value meets the cap; loops call it once per forward.
"""
from __future__ import annotations

from contextvars import ContextVar

from minigrad.modes import Setting

__all__ = ["fusion", "unfused", "check", "resolve"]

_CAP: ContextVar = ContextVar("zoo_fusion", default=True)


def check(fused) -> bool:
    """``fused`` if it is True or False; a ValueError naming it otherwise (also 1, 0, "cell")."""
    # NOTE: by identity, so that 1 and 0 do not pass for True and False
    if fused is True or fused is False:
        return fused
    raise ValueError(f"fused must be True (one node per time step) or False (every op), got {fused!r}")


def resolve(fused: bool) -> bool:
    """Whether to fuse now: ``fused`` lowered by the innermost ``fusion`` block."""
    return fused and _CAP.get()


class fusion(Setting):
    """Cap how far zoo cells and layers fuse, inside a ``with`` block (or a decorated function).

    ``fusion(False)`` (also ``unfused()``): every cell step is recorded op by op, the graph viz
    draws in detail. ``fusion(True)``: the default, one fused node per step. A block overrides
    the blocks around it; a model's own ``fused=False`` is never raised.
    """

    var = _CAP

    def __init__(self, mode: bool = True):
        self.mode = check(mode)

    def changed(self, current: bool) -> bool:
        return self.mode


def unfused() -> fusion:
    """``fusion(False)``: inside, zoo cells and layers record the fully unrolled per-op graph."""
    return fusion(False)
