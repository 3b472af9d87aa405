"""How much of a recurrent layer the zoo records as one node: the ``fused`` option and its cap.

Every cell, layer and model takes ``fused``:

* ``True`` (default): each time step's recurrence is one fused node (``zoo.kernels``);
* ``False``: every primitive op of the cell's equations;
* ``"sequence"`` (opt-in, layers only): each layer and direction is one node with hand-written
  BPTT (``zoo.sequence``): faster where the per-step graph's cost per node shows (batch 1), but
  the graph has no time steps.

With ``True`` and ``False`` every step is in the graph, tagged ``layer{l}/{fwd|bwd}/t={t}``.
``fusion(mode)`` (also ``unfused()``) caps it inside a block, per thread. ``resolve`` is the one
place a ``fused`` value meets the cap; loops call it once per forward.
"""
from __future__ import annotations

from contextvars import ContextVar

from minigrad.modes import Setting

__all__ = ["fusion", "unfused", "check", "resolve", "SEQUENCE"]

SEQUENCE = "sequence"
_LEVEL = {False: 0, True: 1, SEQUENCE: 2}  # check() lets only these through (1 and 0 do not pass)
_CAP: ContextVar = ContextVar("zoo_fusion", default=SEQUENCE)


def check(fused):
    """``fused`` if it is True, False or "sequence"; a ValueError naming it otherwise."""
    if fused is True or fused is False or (isinstance(fused, str) and fused == SEQUENCE):
        return fused
    raise ValueError(f"fused must be True (one node per time step), False (every op) or 'sequence' "
                     f"(one node per layer), got {fused!r}")


def resolve(fused):
    """``fused`` lowered by the innermost ``fusion`` block: False, True or "sequence"."""
    cap = _CAP.get()
    return fused if _LEVEL[fused] <= _LEVEL[cap] else cap


class fusion(Setting):
    """Cap how far zoo cells and layers fuse, inside a ``with`` block (or a decorated function).

    ``fusion(False)`` (also ``unfused()``): every cell step is recorded op by op, the graph viz
    draws in detail. ``fusion(True)``: at most one fused node per step (an opt-in
    ``fused="sequence"`` layer steps too). ``fusion("sequence")``: no cap, the default.
    A block overrides the blocks around it; a model's own setting is never raised.
    """

    var = _CAP

    def __init__(self, mode=True):
        self.mode = check(mode)

    def changed(self, current):
        return self.mode


def unfused() -> fusion:
    """``fusion(False)``: inside, zoo cells and layers record the fully unrolled per-op graph."""
    return fusion(False)
