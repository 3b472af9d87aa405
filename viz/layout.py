"""Units in place: the edges between them, the clusters they sit in, and the layout-only edges
that stack time steps one below the other."""
from __future__ import annotations

from minigrad import step_of

from .graph import Graph

__all__ = ["View", "cluster_tree"]


class View:
    """Graph nodes mapped onto drawn units, with the edges between units: ``edges`` as
    (src unit, dst unit, label, kind), ``order`` the layout-only ones.

    Kinds: "" (data), "state" (from one step to a later one), "shared" (from a shared
    parameter), "into step" (``into_steps``: a shared parameter's one edge into a step, drawn to
    the step's border instead of one edge to each unit in it that reads the parameter)."""

    def __init__(self, g: Graph, unit_of: list, units: list, into_steps: bool = False):
        self.g, self.unit_of, self.units = g, unit_of, units
        self.edges = []
        seen = set()
        outs = set()
        entered = set()  # (shared unit, step) pairs drawn as one edge into the step
        for i, ps in enumerate(g.parents):
            ui = unit_of[i]
            for p in ps:
                up = unit_of[p]
                src = units[up]
                if src.kind != "node" and p not in outs:
                    outs.add(p)
                    src.outputs.append(p)
                if up == ui:
                    if src.kind == "fold" and g.scope[p].step != g.scope[i].step:
                        if (up, up) not in seen:
                            seen.add((up, up))
                            self.edges.append((up, up, f"×{len(src.steps)}", ""))
                    continue
                if (src.kind == "node" and units[ui].kind == "node") or (up, ui) not in seen:
                    seen.add((up, ui))  # between two single nodes every edge is drawn: x*x keeps both
                    kind = "state" if g.recurrent(p, i) else "shared" if g.shared[p] else ""
                    step = self.step(ui) if into_steps and kind == "shared" else None
                    if step is not None and units[ui].kind in ("node", "expr", "array"):
                        if (up, step) in entered:
                            continue
                        entered.add((up, step))
                        kind = "into step"
                    self.edges.append((up, ui, "", kind))
        root = len(g) - 1
        top = units[unit_of[root]]
        if top.kind != "node" and root not in outs:
            top.outputs.append(root)
        self.order = self._step_order()

    def step(self, k: int):
        """The time step unit ``k`` is drawn in (its cell path), or None."""
        u, g = self.units[k], self.g
        if u.kind == "ellipsis":
            return u.cluster + "/…"
        if u.kind in ("fold", "hidden") or (u.kind in ("node", "array") and g.shared[u.first]):
            return None
        return g.scope[u.first].cell

    def _step_order(self) -> list:
        """Layout-only edges (drawn invisible) from the last units of each step to the first units
        of the next one, so dot ranks each step after the step whose state it takes.

        Without them the units of a step that do not wait for the state (its input x[t]) are
        ranked beside the previous step, and so is the state's update when a step goes on after
        it (a readout and a loss term, as in the scalar 'hello' RNN): consecutive steps end up
        side by side instead of one below the other. A first unit that takes the state from a
        last unit already comes after it and gets no edge. Returns [(unit, unit)]."""
        step = [self.step(k) for k in range(len(self.units))]
        members, pairs = {}, {}
        feeding, fed = set(), set()  # units feeding, and units fed by, another unit of their step
        state = []
        for k, s in enumerate(step):
            if s is not None:
                members.setdefault(s, []).append(k)
        for a, b, _, kind in self.edges:
            if a == b or step[a] is None or step[b] is None:
                continue
            if step[a] == step[b]:
                feeding.add(a)
                fed.add(b)
            elif kind == "state":
                pairs[step[a], step[b]] = None
                state.append((a, b))
        fed.update(b for a, b in state if a not in feeding)
        real = {(a, b) for a, b, _, _ in self.edges}
        return [(a, b) for s, t in pairs for a in members[s] if a not in feeding
                for b in members[t] if b not in fed and (a, b) not in real]


def cluster_tree(units: list) -> dict:
    """{cluster path: [child paths]} including every prefix, children in order of first use
    except that time steps come in time order (topological order often meets the last first)."""
    children = {"": []}
    for u in units:
        path = u.cluster
        missing = []
        while path not in children:
            missing.append(path)
            path = path.rsplit("/", 1)[0] if "/" in path else ""
        for p in reversed(missing):
            parent = p.rsplit("/", 1)[0] if "/" in p else ""
            children[parent].append(p)
            children[p] = []
    for kids in children.values():
        kids.sort(key=_step_key)
    return children


def _step_key(path: str) -> int:
    t = step_of(path.rsplit("/", 1)[-1])
    return -1 if t is None else t
