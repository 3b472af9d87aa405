"""What each drawn node stands for: graph nodes grouped into units at a level of detail, and the
collapse that keeps a drawing under ``max_nodes``.

Levels (``DETAILS``): ``"ops"`` draws every node; ``"named"`` draws each named node (a
parameter, a labelled ``Value`` such as ``h_1[0]``) with the unnamed arithmetic that feeds only
it, and the entries of a named array (``W_hh[0,1]``, ``W_hh[1,0]``, ...) as one node;
``"cells"`` draws one node per time step of each sequence; ``"folded"`` one node per sequence
with a loop. Too many drawn nodes collapse a level at a time (unrolled scalar graphs to
``named`` first, then cells, fewer steps, folded), and finally to the part nearest the output.
"""
from __future__ import annotations

from collections import deque

from .graph import Graph

__all__ = ["DETAILS", "MAX_NODES", "STEPPED", "Unit", "assign", "weight", "fit"]

DETAILS = ("ops", "named", "cells", "folded")
MAX_NODES = 300
STEPPED = ("cell", "fold", "ellipsis", "hidden")  # units that stand for whole time steps


class Unit:
    """One drawn node: a graph node, or a group of graph nodes (an expression, an array, a cell,
    a fold, an ellipsis of hidden steps, or the hidden rest of a truncated graph)."""

    __slots__ = ("kind", "first", "last", "cluster", "size", "ops", "steps", "outputs")

    def __init__(self, kind: str, first: int, cluster: str):
        self.kind = kind          # "node" | "expr" | "array" | "cell" | "fold" | "ellipsis" | "hidden"
        self.first = first        # topological index of its first graph node (names the DOT node)
        self.last = first         # and of its last: backward completes the unit's gradient there
        self.cluster = cluster    # scope path of the cluster it is drawn in ("" = top level)
        self.size = 0             # graph nodes inside
        self.ops = 0              # of which op results (not leaves)
        self.steps = set()        # time steps inside (units that stand for steps)
        self.outputs = []         # graph nodes inside that feed another node (set by the View)


def has_op(g: Graph, u) -> bool:
    """Whether unit ``u`` is drawn with an op circle beside its value (scalar op results, micrograd's way)."""
    return g.scalar and (u.kind == "expr" or (u.kind == "node" and bool(g.parents[u.first])))


def weight(g: Graph, units: list) -> int:
    """Drawn DOT nodes: a scalar op costs two (its value record and its op circle)."""
    return len(units) + sum(1 for u in units if has_op(g, u))


def _heads(g: Graph) -> list:
    """``head[i]``: the node whose expression node i is drawn in at the ``named`` level.

    Walking consumers before producers, an unnamed node whose consumers all lie in one expression
    of its own scope joins it; every other node (named, shared, an array entry, used by two
    expressions or from another scope, the root) heads an expression of its own."""
    n = len(g)
    head = list(range(n))
    consumer = [None] * n  # head of p's consumers' expression; -1 once they are in two
    for i in range(n - 1, -1, -1):
        c = consumer[i]
        if (c is not None and c >= 0 and g.name(i) is None and not g.shared[i]
                and g.scope[c].path == g.scope[i].path):
            head[i] = c
        h = head[i]
        for p in g.parents[i]:
            if consumer[p] is None:
                consumer[p] = h
            elif consumer[p] != h:
                consumer[p] = -1
    return head


def assign(g: Graph, detail: str, keep) -> tuple:
    """Map every graph node to a unit for this level of detail and number of kept steps.
    Returns (unit_of, units): ``unit_of[i]`` indexes ``units``."""
    hidden = {}
    if keep is not None and detail != "folded":
        for seq, ts in g.steps.items():
            if len(ts) > 2 * keep:
                hidden[seq] = set(ts[keep:len(ts) - keep])
    head = _heads(g) if detail == "named" else None
    size = {}
    if head is not None:
        for h in head:
            size[h] = size.get(h, 0) + 1
    keys = {}
    units = []
    unit_of = [0] * len(g)
    for i in range(len(g)):
        s = g.scope[i]
        array = g.array[i] if detail != "ops" else None
        if g.shared[i]:
            key, kind, cluster = (("array", array), "array", "") if array else (i, "node", "")
        elif s.cell is not None and s.seq in hidden and s.step in hidden[s.seq]:
            key, kind, cluster = ("ellipsis", s.seq), "ellipsis", s.seq
        elif detail == "ops":
            key, kind, cluster = i, "node", s.path
        elif array is not None:
            cluster = s.path if detail == "named" or s.cell is None else s.seq
            key, kind = ("array", array, cluster), "array"
        elif detail == "named" and size[head[i]] > 1:
            key, kind, cluster = ("expr", head[i]), "expr", s.path
        elif s.cell is None or detail == "named":
            key, kind, cluster = i, "node", s.path
        elif g.named_leaf[i] or (g.adopted[i] and detail == "cells"):  # a node beside the cells
            key, kind, cluster = i, "node", s.seq
        elif detail == "cells":
            key, kind, cluster = ("cell", s.cell), "cell", s.seq
        else:
            key, kind, cluster = ("fold", s.seq), "fold", s.seq
        u = keys.get(key)
        if u is None:
            u = keys[key] = len(units)
            units.append(Unit(kind, i, cluster))
        unit = units[u]
        unit.size += 1
        unit.last = i
        unit.ops += bool(g.parents[i])
        if kind in STEPPED:
            unit.steps.add(s.step)
        unit_of[i] = u
    return unit_of, units


def _truncate(g: Graph, unit_of: list, units: list, budget: int) -> tuple:
    """Keep the units nearest the root (breadth-first over parents) up to ``budget`` drawn nodes;
    everything else becomes one 'hidden' unit."""
    kept = {}
    cost = 0
    root = len(g) - 1
    queue = deque([root])
    visited = {root}
    while queue:
        i = queue.popleft()
        u = unit_of[i]
        if u not in kept:
            c = weight(g, [units[u]])
            if cost + c > budget:
                break
            kept[u] = None
            cost += c
        for p in g.parents[i]:
            if p not in visited:
                visited.add(p)
                queue.append(p)
    order = sorted(kept, key=lambda u: units[u].first)
    remap = {u: k for k, u in enumerate(order)}
    new_units = [units[u] for u in order]
    hidden = Unit("hidden", 0, "")
    new_units.append(hidden)
    new_of = []
    for i in range(len(g)):
        k = remap.get(unit_of[i])
        if k is None:
            k = len(order)
            hidden.size += 1
            hidden.last = i
        new_of.append(k)
    return new_of, new_units


def fit(g: Graph, detail: str, keep, max_nodes: int) -> tuple:
    """Units for the requested view, collapsed step by step until at most ``max_nodes`` are drawn.
    Returns (unit_of, units, detail drawn, note) where note says what was collapsed ('' if nothing)."""
    unit_of, units = assign(g, detail, keep)
    total = weight(g, units)
    if total <= max_nodes:
        return unit_of, units, detail, ""
    head = f"{len(g):,} graph nodes ({total:,} to draw) > max_nodes={max_nodes}"
    tries = []
    if g.steps:
        if detail == "ops" and g.scalar:
            tries.append(("named", keep))
        longest = max(len(ts) for ts in g.steps.values())
        if detail in ("ops", "named"):
            tries.append(("cells", keep))
        if detail != "folded":
            for k in (8, 4, 2, 1):
                if 2 * k < longest and (keep is None or k < keep):
                    tries.append(("cells", k))
            tries.append(("folded", None))
    for d, k in tries:
        unit_of, units = assign(g, d, k)
        if weight(g, units) <= max_nodes:
            steps = "" if k is None or d == "folded" else f", first and last {k} steps"
            return unit_of, units, d, f"{head}: drawn with detail='{d}'{steps}"
    d = tries[-1][0] if tries else detail
    unit_of, units = _truncate(g, unit_of, units, max_nodes - 1)
    shown = weight(g, units) - 1
    return unit_of, units, d, f"{head}: showing the {shown:,} drawn nodes nearest the output"
