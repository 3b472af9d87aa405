"""The graph protocol shared by ``Value`` and ``Tensor``: one iterative walk, and scopes.

A node is anything with these attributes:

- ``parents``: a tuple of the nodes it was computed from, in operand order (``x*x`` lists ``x`` twice);
- ``op``: the name of the operation that made it (``""`` for leaves);
- ``data``: its forward value; ``grad``: its gradient (or ``None``);
- ``scope``: the ``/``-joined scope labels active when it was created (``""`` outside any scope).

Both engines and ``viz`` walk graphs only through ``toposort``.
"""
from __future__ import annotations

import numbers
import re

from .modes import ModeSetting, Modes, modes

__all__ = ["toposort", "scope", "current_scope", "step_scope", "step_of"]


def current_scope() -> str:
    """The scope path nodes created now are tagged with (``""`` outside any ``scope``)."""
    return modes().scope


class scope(ModeSetting):
    """Tag every node created inside with ``name``; scopes nest as ``outer/inner``.

    Per thread, like every engine mode (``minigrad.modes``).

    >>> with scope("layer0"), scope("t=3"):
    ...     current_scope()
    'layer0/t=3'
    """

    def __init__(self, name: str):
        name = str(name)
        if not name or "/" in name:
            raise ValueError(f"scope name must be non-empty and contain no '/', got {name!r}")
        self.name = name

    field = "scope"

    def value_in(self, current: Modes) -> Modes:
        path = current.scope
        return current.replace(scope=f"{path}/{self.name}" if path else self.name)


# The time-step convention: a step's nodes sit in a scope labelled ``t=<n>`` (at any depth).
# These two functions are the only places that write or read it.
_STEP = re.compile(r"(?:^|/)t=(\d+)(?:/|$)")


def step_scope(t: int) -> str:
    """The scope label of time step ``t``: ``with scope(step_scope(3)):`` tags nodes ``.../t=3``."""
    if type(t) is not int and (isinstance(t, bool) or not isinstance(t, numbers.Integral)) or t < 0:
        raise ValueError(f"a time step must be a non-negative integer, got {t!r}")
    return f"t={int(t)}"


def step_of(scope_path: str) -> int | None:
    """The time step a scope path belongs to (``"layer0/bwd/t=3"`` -> 3), or None outside any step.

    >>> step_of(f"layer0/{step_scope(3)}"), step_of("layer0")
    (3, None)
    """
    m = _STEP.search(scope_path)
    return None if m is None else int(m.group(1))


def toposort(root) -> list:
    """All nodes ``root`` depends on, each once, parents before children, ``root`` last.

    Iterative depth-first search with an explicit stack, so graphs of any depth work without
    touching the recursion limit. Parents are visited in operand order, so the order is a
    deterministic function of the program that built the graph.
    """
    order = []
    # NOTE: nodes hash by identity (Tensor and Value keep object.__hash__), which is cheaper than id()
    seen = {root}
    # The path from root to the node being expanded, and for each node on it an iterator over the
    # parents not yet looked at; a node is emitted once its iterator is exhausted.
    path = [root]
    pending = [iter(root.parents)]
    while pending:
        for p in pending[-1]:
            if p not in seen:
                seen.add(p)
                path.append(p)
                pending.append(iter(p.parents))
                break
        else:
            pending.pop()
            order.append(path.pop())
    return order
