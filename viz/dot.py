"""A recorded graph as DOT text, in pure Python (graphviz is needed only to render it).

The graph is read through minigrad's graph protocol alone (``parents``, ``op``, ``data``,
``grad``, ``scope`` and ``minigrad.graph.toposort``), so ``Value`` and ``Tensor`` graphs are drawn
by the same code. Nodes are numbered in topological order, so the same program gives the same text.

Scopes become nested clusters; a scope component ``t=<n>`` marks a time step, and the steps of an
unrolled graph are drawn one below the other in time order. Every pass over the graph is linear in
its size, and a graph with more drawn nodes than ``max_nodes`` is collapsed (cells, fewer steps,
folded, then the part nearest the output) with a note saying so.
"""
from __future__ import annotations

import math
import re
from collections import deque

import numpy as np

from minigrad.graph import toposort

from .labels import cluster_id, fmt_mag, fmt_shape, fmt_values, quote, record_field

__all__ = ["to_dot", "dot_body", "Drawing", "DETAILS", "PALETTE", "MAX_NODES"]

DETAILS = ("ops", "cells", "folded")
MAX_NODES = 300
# ColorBrewer's 9-class YlOrRd, light (small gradient) to dark (large gradient).
PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
           "#800026")
_NONFINITE = "#7b3294"  # NaN/Inf gradients: a colour outside the ramp, so they cannot pass for large
_MARK = "#d7191c"       # nodes marked by the caller (e.g. the op gradcheck blames)
_STEP = re.compile(r"t=(\d+)\Z")
_RANKDIRS = ("LR", "TB", "RL", "BT")


class _Scope:
    """A scope path split once: the cell it belongs to (path through its first ``t=<n>``), the
    sequence (path before it) and the step number; ``cell`` is None outside time steps."""

    __slots__ = ("path", "cell", "seq", "step")

    def __init__(self, path: str):
        self.path = path
        self.cell = self.seq = self.step = None
        parts = path.split("/") if path else []
        for k, part in enumerate(parts):
            m = _STEP.match(part)
            if m:
                self.seq = "/".join(parts[:k])
                self.cell = "/".join(parts[:k + 1])
                self.step = int(m.group(1))
                break


class _Graph:
    """The graph under ``root`` flattened to indices in topological order."""

    def __init__(self, root, names):
        if not hasattr(root, "parents") or not hasattr(root, "data"):
            raise TypeError("viz draws graphs of minigrad Values or Tensors (objects with parents, op, "
                            f"data, grad and scope); got {type(root).__name__}")
        self.nodes = nodes = toposort(root)
        index = {id(v): i for i, v in enumerate(nodes)}
        self.parents = [[index[id(p)] for p in v.parents] for v in nodes]
        self.scalar = not isinstance(root.data, np.ndarray)
        self.names = _name_lookup(names)
        scopes = {}
        for v in nodes:
            if v.scope not in scopes:
                scopes[v.scope] = _Scope(v.scope)
        n = len(nodes)
        self.scope = [scopes[v.scope] for v in nodes]
        # Walking consumers before producers: ``user[p]`` is the cell (path; None outside the
        # steps) of p's first consumer, ``mixed[p]`` whether another consumer sits in another cell.
        # A leaf used by two or more cells is a shared parameter: drawn once, outside the clusters.
        # A node recorded outside the steps, in a scope enclosing the one cell that uses it (a
        # step's input slice x[t], an initial state), is drawn in that cell; parameters stay outside.
        user = {}
        mixed = [False] * n
        self.shared = [False] * n
        self.adopted = [False] * n
        for i in range(n - 1, -1, -1):
            s, cell = self.scope[i], user.get(i)
            param = not self.parents[i] and getattr(nodes[i], "requires_grad", False)
            if mixed[i]:
                self.shared[i] = not self.parents[i]
            elif cell is not None and s.cell is None and not param and _encloses(s.path, cell):
                if cell not in scopes:
                    scopes[cell] = _Scope(cell)
                self.scope[i] = scopes[cell]
                self.adopted[i] = True
            cell = self.scope[i].cell
            for p in self.parents[i]:
                if p not in user:
                    user[p] = cell
                elif user[p] != cell:
                    mixed[p] = True
        # A named leaf keeps its own node when cells are collapsed (unless its step is hidden).
        self.named_leaf = [not ps and self.name(i) is not None for i, ps in enumerate(self.parents)]
        steps = {}
        for s in scopes.values():
            if s.cell is not None:
                steps.setdefault(s.seq, set()).add(s.step)
        self.steps = {seq: sorted(ts) for seq, ts in steps.items()}

    def __len__(self) -> int:
        return len(self.nodes)

    def recurrent(self, p: int, i: int) -> bool:
        """Whether the edge p -> i carries state from one step of a sequence to a later one."""
        a, b = self.scope[p], self.scope[i]
        return a.cell is not None and b.cell is not None and a.seq == b.seq and a.step != b.step

    def name(self, i: int):
        v = self.nodes[i]
        return self.names.get(id(v)) or getattr(v, "label", None) or getattr(v, "name", None) or None

    def mag(self, i: int):
        """The gradient's magnitude (|g| for scalars, the 2-norm for arrays), or None without one."""
        g = self.nodes[i].grad
        if g is None:
            return None
        g = getattr(g, "data", g)
        if not isinstance(g, np.ndarray):
            return abs(float(g))
        return _norm(g)


def _encloses(path: str, cell: str) -> bool:
    """Whether scope ``path`` encloses the time step with scope path ``cell``."""
    return not path or cell.startswith(path + "/")


def _norm(g: np.ndarray) -> float:
    """2-norm without overflow or underflow; NaN/Inf pass through."""
    if g.size <= 4096:
        return math.hypot(*g.reshape(-1).tolist())  # exact scaling, and ~1 µs for small arrays
    with np.errstate(invalid="ignore", over="ignore"):
        flat = np.abs(np.asarray(g, dtype=np.float64).reshape(-1))
        top = float(flat.max())
        if top == 0 or not math.isfinite(top):
            return top
        scaled = flat / top
        return top * math.sqrt(float(scaled @ scaled))


def _name_lookup(names) -> dict:
    """``{id(node): name}`` from a ``{name: node}`` mapping or anything with ``named_parameters()``."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        names = dict(names.named_parameters())
    try:
        items = list(names.items())
    except AttributeError:
        raise TypeError("names= takes a mapping {name: tensor} (e.g. dict(model.named_parameters())) "
                        f"or a Module; got {type(names).__name__}") from None
    return {id(v): str(k) for k, v in items}


class _Unit:
    """One drawn node: a graph node, or a cell/fold/ellipsis/hidden group of graph nodes."""

    __slots__ = ("kind", "first", "last", "cluster", "size", "ops", "steps", "outputs")

    def __init__(self, kind: str, first: int, cluster: str):
        self.kind = kind          # "node" | "cell" | "fold" | "ellipsis" | "hidden"
        self.first = first        # topological index of its first graph node (names the DOT node)
        self.last = first         # and of its last: backward completes the unit's gradient there
        self.cluster = cluster    # scope path of the cluster it is drawn in ("" = top level)
        self.size = 0             # graph nodes inside
        self.ops = 0              # of which op results (not leaves)
        self.steps = set()
        self.outputs = []         # graph nodes whose values leave the group (its gradient magnitude)


class _View:
    """Graph nodes mapped onto drawn units, with the edges between units."""

    def __init__(self, g: _Graph, unit_of: list, units: list):
        self.g, self.unit_of, self.units = g, unit_of, units
        self.edges = []       # (src unit, dst unit, label, kind: "", "state" or "shared")
        seen = set()
        outs = set()
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
                    self.edges.append((up, ui, "", kind))
        root = len(g) - 1
        top = units[unit_of[root]]
        if top.kind != "node" and root not in outs:
            top.outputs.append(root)
        self.order = self._step_order()

    def _step(self, k: int):
        """The time step unit ``k`` is drawn in (its cell path), or None."""
        u, g = self.units[k], self.g
        if u.kind == "ellipsis":
            return u.cluster + "/…"
        if u.kind == "cell" or (u.kind == "node" and not g.shared[u.first]):
            return g.scope[u.first].cell
        return None

    def _step_order(self) -> list:
        """Layout-only edges (drawn invisible) from the last units of each step to the first units
        of the next one, so dot ranks each step after the step whose state it takes.

        Without them the units of a step that do not wait for the state (its input x[t]) are
        ranked beside the previous step, and consecutive steps end up side by side instead of one
        below the other. Returns [(unit, unit)]."""
        step = [self._step(k) for k in range(len(self.units))]
        members, pairs = {}, {}
        feeding, fed = set(), set()  # units feeding their own step; units fed by a step
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
                fed.add(b)
        real = {(a, b) for a, b, _, _ in self.edges}
        return [(a, b) for s, t in pairs for a in members[s] if a not in feeding
                for b in members[t] if b not in fed and (a, b) not in real]


def _weight(g: _Graph, units: list) -> int:
    """Drawn DOT nodes: a scalar op costs two (its value record and its op circle)."""
    if not g.scalar:
        return len(units)
    return len(units) + sum(1 for u in units if u.kind == "node" and g.parents[u.first])


def _assign(g: _Graph, detail: str, keep) -> tuple:
    """Map every graph node to a unit for this level of detail and number of kept steps."""
    hidden = {}
    if keep is not None and detail != "folded":
        for seq, ts in g.steps.items():
            if len(ts) > 2 * keep:
                hidden[seq] = set(ts[keep:len(ts) - keep])
    keys = {}
    units = []
    unit_of = [0] * len(g)
    for i in range(len(g)):
        s = g.scope[i]
        if g.shared[i]:
            key, kind, cluster = i, "node", ""
        elif s.cell is None:
            key, kind, cluster = i, "node", s.path
        elif s.seq in hidden and s.step in hidden[s.seq]:
            key, kind, cluster = ("ellipsis", s.seq), "ellipsis", s.seq
        elif detail == "ops":
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
            units.append(_Unit(kind, i, cluster))
        unit = units[u]
        unit.size += 1
        unit.last = i
        unit.ops += bool(g.parents[i])
        if kind != "node":
            unit.steps.add(s.step)
        unit_of[i] = u
    return unit_of, units


def _truncate(g: _Graph, unit_of: list, units: list, budget: int) -> tuple:
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
            c = _weight(g, [units[u]])
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
    hidden = _Unit("hidden", 0, "")
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


def _fit(g: _Graph, detail: str, keep, max_nodes: int) -> tuple:
    """Units for the requested view, collapsed step by step until at most ``max_nodes`` are drawn.
    Returns (unit_of, units, note) where note says what was collapsed ('' if nothing)."""
    unit_of, units = _assign(g, detail, keep)
    total = _weight(g, units)
    if total <= max_nodes:
        return unit_of, units, ""
    head = f"{len(g):,} graph nodes ({total:,} to draw) > max_nodes={max_nodes}"
    tries = []
    if g.steps:
        longest = max(len(ts) for ts in g.steps.values())
        if detail == "ops":
            tries.append(("cells", keep))
        if detail != "folded":
            for k in (8, 4, 2, 1):
                if 2 * k < longest and (keep is None or k < keep):
                    tries.append(("cells", k))
            tries.append(("folded", None))
    for d, k in tries:
        unit_of, units = _assign(g, d, k)
        if _weight(g, units) <= max_nodes:
            steps = "" if k is None or d == "folded" else f", first and last {k} steps"
            return unit_of, units, f"{head}: drawn with detail='{d}'{steps}"
    unit_of, units = _truncate(g, unit_of, units, max_nodes - 1)
    shown = _weight(g, units) - 1
    return unit_of, units, f"{head}: showing the {shown:,} drawn nodes nearest the output"


# drawing -------------------------------------------------------------------------------------
class _Shades:
    """Log-scale binning of gradient magnitudes onto PALETTE."""

    def __init__(self, mags):
        logs = [math.log10(m) for m in mags if m is not None and 0 < m < math.inf]
        self.lo = min(logs) if logs else 0.0
        self.hi = max(logs) if logs else 0.0
        self.zero = any(m == 0 for m in mags if m is not None)
        self.nonfinite = any(m is not None and not math.isfinite(m) for m in mags)

    def bin(self, m: float) -> int:
        span = self.hi - self.lo
        if span < 1e-12:
            return len(PALETTE) // 2
        k = int((math.log10(m) - self.lo) / span * len(PALETTE))
        return min(max(k, 0), len(PALETTE) - 1)

    def fill(self, m):
        """(fillcolor, fontcolor) for magnitude ``m``; None for no gradient."""
        if m is None or m == 0:
            return None
        if not math.isfinite(m):
            return _NONFINITE, "white"
        k = self.bin(m)
        return PALETTE[k], "white" if k >= 6 else "black"

    def legend(self) -> str:
        """An HTML-like label: one swatch per bin, each labelled with its mid magnitude."""
        cells = []
        n = len(PALETTE) if self.hi - self.lo >= 1e-12 else 1
        for k in range(n):
            if n == 1:
                color, mid = PALETTE[len(PALETTE) // 2], 10 ** self.lo
            else:
                color, mid = PALETTE[k], 10 ** (self.lo + (k + 0.5) * (self.hi - self.lo) / n)
            font = "white" if n > 1 and k >= 6 else "black"
            cells.append(f'<TD BGCOLOR="{color}"><FONT COLOR="{font}">{mid:.1e}</FONT></TD>')
        if self.zero:
            cells.append('<TD BGCOLOR="white">0</TD>')
        if self.nonfinite:
            cells.append(f'<TD BGCOLOR="{_NONFINITE}"><FONT COLOR="white">nan/inf</FONT></TD>')
        return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"><TR>'
                + "".join(cells) + "</TR></TABLE>>")


def _has_grads(g: _Graph) -> bool:
    for i, v in enumerate(g.nodes):
        if g.parents[i] and v.grad is not None and (not g.scalar or v.grad != 0):
            return True
    return False


def _attrs(**kw) -> str:
    parts = [f"{k}={v}" for k, v in kw.items() if v is not None]
    return f" [{' '.join(parts)}]" if parts else ""


class _Writer:
    """Turns a view into DOT lines."""

    def __init__(self, view: _View, values: int, shade: bool, marks: dict, ids: bool):
        self.view, self.g, self.values, self.ids = view, view.g, values, ids
        self.mags = [self._unit_mag(u) for u in view.units]
        self.shades = _Shades(self.mags) if shade else None
        # a marked node hidden inside a cell or an ellipsis marks that unit
        self.marks = {}
        if marks:
            for i, v in enumerate(self.g.nodes):
                note = marks.get(id(v))
                if note is not None:
                    k = view.unit_of[i]
                    self.marks[k] = f"{self.marks[k]}\n{note}" if k in self.marks else note

    def _unit_mag(self, u: _Unit):
        g = self.g
        if u.kind == "node":
            return g.mag(u.first)
        if u.kind != "cell":
            return None
        ms = [g.mag(i) for i in u.outputs]
        ms = [m for m in ms if m is not None]
        return math.sqrt(sum(m * m for m in ms)) if ms else None

    def node_id(self, k: int, entry: bool = False) -> str:
        """DOT name of unit ``k``; ``entry`` gives the op circle that edges enter for scalar ops."""
        u = self.view.units[k]
        if u.kind == "node":
            if entry and self.g.scalar and self.g.parents[u.first]:
                return f"o{u.first}"
            return f"n{u.first}"
        return {"cell": "c", "fold": "f", "ellipsis": "e", "hidden": "h"}[u.kind] + str(u.first)

    def _node(self, nid: str, **attrs) -> str:
        """A node statement; with ``ids`` its SVG element gets the DOT name as id."""
        if self.ids:
            attrs["id"] = nid
        return f"{nid}{_attrs(**attrs)}"

    def _look(self, k: int, base: str) -> dict:
        """Style attributes of unit ``k``: gradient fill when shading, red when marked."""
        attrs = {"style": None if base == "solid" else quote(base)}
        fill = None if self.shades is None else self.shades.fill(self.mags[k])
        if fill is not None:
            attrs = {"style": quote("filled" if base == "solid" else base + ",filled"),
                     "fillcolor": quote(fill[0]), "fontcolor": None if fill[1] == "black" else fill[1]}
        if k in self.marks:
            attrs.update(color=quote(_MARK), fontcolor=quote(_MARK), penwidth="2.5")
        return attrs

    def _box(self, k: int, nid: str, text: str, base: str, **extra) -> str:
        """Unit ``k`` showing ``text``; a marked unit also shows its note. (The note sits inside
        the label, not in an xlabel: graphviz 2.43 can abort placing xlabels in clusters.)"""
        if k in self.marks:
            text = f"{text}\n{self.marks[k]}"
        return self._node(nid, label=quote(text), **{**extra, **self._look(k, base)})

    def unit_lines(self, k: int) -> list:
        u = self.view.units[k]
        g = self.g
        nid = self.node_id(k)
        if u.kind == "node":
            return self._scalar(k, nid) if g.scalar else self._tensor(k, nid)
        if u.kind == "cell":
            step = g.scope[u.first].cell.rsplit("/", 1)[-1]
            text = f"{step}\n{u.ops} ops"
            m = self.mags[k]
            if m is not None:
                text += f"\n|grad| {fmt_mag(m)}"
            return [self._box(k, nid, text, "solid", shape="box3d")]
        if u.kind == "fold":
            seq = g.scope[u.first].seq
            name = seq.rsplit("/", 1)[-1] if seq else "cell"
            ts = sorted(u.steps)
            text = f"{name}\nt={ts[0]}…{ts[-1]}\n{u.ops} ops in {len(ts)} steps"
            return [self._box(k, nid, text, "solid", shape="box3d", peripheries=2)]
        if u.kind == "ellipsis":
            ts = sorted(u.steps)
            text = f"… {len(ts)} steps …\nt={ts[0]}…{ts[-1]}"
            return [self._box(k, nid, text, "solid", shape="plaintext")]
        return [self._box(k, nid, f"… {u.size:,} more nodes", "dashed", shape="note")]

    def _scalar(self, k: int, nid: str) -> list:
        """micrograd's picture: a record ``label | data | grad`` and a small circle for the op."""
        i = self.view.units[k].first
        v = self.g.nodes[i]
        fields = []
        name = self.g.name(i)
        if name is not None:
            fields.append(record_field(name))
        fields.append(record_field(f"data {v.data:.4f}"))
        fields.append(record_field(f"grad {v.grad:.4f}"))
        if k in self.marks:
            fields.append(record_field(self.marks[k]))
        label = '"{ ' + " | ".join(fields) + ' }"'
        lines = [self._node(nid, label=label, shape="record", **self._look(k, "solid"))]
        if self.g.parents[i]:
            oid = f"o{i}"
            lines.append(self._node(oid, label=quote(v.op), shape='circle', margin='0.02'))
            lines.append(f"{oid} -> {nid}")
        return lines

    def _tensor(self, k: int, nid: str) -> list:
        """One box per tensor: op (or name), shape, small values, gradient norm."""
        g = self.g
        i = self.view.units[k].first
        v = g.nodes[i]
        name = g.name(i)
        leaf = not g.parents[i] and not v.op  # an op without parents is a freed graph's end
        param = leaf and bool(getattr(v, "requires_grad", False))
        if leaf:
            head = name or ("leaf" if param else "const")
        else:
            head = v.op if name is None else f"{name} = {v.op}"
            if not g.parents[i]:
                head += " (freed)"
        text = [head, fmt_shape(v.data.shape)]
        if 0 < v.data.size <= self.values:
            text.append(fmt_values(v.data))
        if self.mags[k] is not None:
            text.append(f"|grad| {fmt_mag(self.mags[k])}")
        # parameters: square and bold; ops: rounded; constants: dashed
        base = "solid" if param else "dashed" if leaf else "rounded"
        return [self._box(k, nid, "\n".join(text), base, shape="box", penwidth="1.8" if param else None)]

    def edge_line(self, k: int, a: int, b: int, label: str, kind: str) -> str:
        attrs = {"id": f"e{k}"} if self.ids else {}
        if label:
            attrs["label"] = quote(label)
        units = self.view.units
        if units[a].kind in ("ellipsis", "hidden") or units[b].kind in ("ellipsis", "hidden"):
            attrs.update(style="dashed", color='"#888888"')
        elif self.shades is not None:
            m = self.mags[b]
            fill = self.shades.fill(m)
            if fill is not None:
                frac = self.shades.bin(m) / (len(PALETTE) - 1)
                # the lightest swatches vanish on white, so edges use the darker two thirds
                color = fill[0] if fill[0] == _NONFINITE else PALETTE[2 + round(6 * frac)]
                attrs["color"] = quote(color)
                attrs["penwidth"] = f"{0.6 + 2.4 * frac:.2f}"
        if kind == "shared":
            # T edges per shared weight: drawn fine, so the path through time stands out
            attrs["penwidth"] = "0.60"
        return f"{self.node_id(a)} -> {self.node_id(b, entry=True)}{_attrs(**attrs)}"


def _cluster_tree(units: list) -> dict:
    """{cluster path: [child paths]} including every prefix, children in order of first use."""
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
    # time steps in time order (topological order often meets the last step first)
    for kids in children.values():
        kids.sort(key=_step_key)
    return children


def _step_key(path: str) -> int:
    m = _STEP.match(path.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else -1


def to_dot(root, **options) -> str:
    """DOT text for the graph that computed ``root`` (a ``Value`` or a ``Tensor``).

    Options (all keyword):

    - ``detail``: ``"ops"`` (every primitive), ``"cells"`` (one node per cell application per
      time step) or ``"folded"`` (one node per recurrent cell with a ``×T`` loop edge).
    - ``names``: ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) or a Module, to
      label parameters; otherwise ``Value.label`` / ``Tensor.name`` are used.
    - ``keep_steps``: draw only the first and last ``k`` steps of each sequence, the rest as
      one ellipsis node.
    - ``max_nodes`` (300): larger graphs are collapsed automatically, with a note in the picture
      (graphviz needs seconds for a few hundred nodes of an unrolled graph, minutes for a thousand).
    - ``values`` (6): tensors with at most this many elements show their values.
    - ``shade``: fill nodes and edges by gradient magnitude on a log scale, with a legend; by
      default on whenever intermediate nodes carry gradients (``with minigrad.keep_grads():``).
    - ``rankdir``: by default "TB" for unrolled graphs (time steps one below the other, each
      step's ops flowing down inside it) and "LR" otherwise (micrograd's left-to-right);
      ``title``; ``marks``: ``{node: note}`` draws those nodes red with the note.
    """
    return Drawing(root, **options).text


def dot_body(root, **options) -> list:
    """The lines between ``digraph minigrad {`` and ``}``; the options are ``to_dot``'s."""
    return Drawing(root, **options).lines


class Drawing:
    """A graph laid out for drawing: its DOT ``lines``, and (for the backward animation) the order
    in which the backward pass reaches each drawn element. Options are ``to_dot``'s; ``ids=True``
    gives every node and edge an SVG id (its DOT name, ``e<k>`` for edges)."""

    def __init__(self, root, *, detail: str = "ops", names=None, keep_steps: int | None = None,
                 max_nodes: int = MAX_NODES, values: int = 6, shade: bool | None = None,
                 rankdir: str | None = None,
                 title: str | None = None, marks: dict | None = None, ids: bool = False):
        if detail not in DETAILS:
            raise ValueError(f"detail must be one of {DETAILS}, got {detail!r}")
        if keep_steps is not None and (not isinstance(keep_steps, int) or keep_steps < 1):
            raise ValueError(f"keep_steps must be a positive int or None, got {keep_steps!r}")
        if not isinstance(max_nodes, int) or max_nodes < 2:
            raise ValueError(f"max_nodes must be an int >= 2, got {max_nodes!r}")
        if rankdir is not None and rankdir not in _RANKDIRS:
            raise ValueError(f"rankdir must be one of {_RANKDIRS} or None, got {rankdir!r}")
        g = _Graph(root, names)
        unit_of, units, self.note = _fit(g, detail, keep_steps, max_nodes)
        self.view = _View(g, unit_of, units)
        if shade is None:
            shade = _has_grads(g)
        self.writer = _Writer(self.view, values, bool(shade),
                              {id(n): str(t) for n, t in (marks or {}).items()}, ids)
        self.lines = self._lines(rankdir or ("TB" if g.steps else "LR"), title)

    @property
    def text(self) -> str:
        """The whole DOT text (what ``to_dot`` returns)."""
        return "digraph minigrad {\n" + "".join(self.lines) + "}\n"

    def _lines(self, rankdir: str, title) -> list:
        units, w = self.view.units, self.writer
        members = {}
        for k, u in enumerate(units):
            members.setdefault(u.cluster, []).append(k)
        for ks in members.values():  # cells in time order, after the single nodes
            ks.sort(key=lambda k: (0, 0) if units[k].kind == "node" else (1, min(units[k].steps, default=0)))
        children = _cluster_tree(units)
        # NOTE: dot's layout time grows steeply with nodes, clusters and long edges (an unrolled
        # 20-step LSTM: 80 s by default); capping its network-simplex and crossing-minimisation
        # iterations (nslimit, mclimit) brings that to a few seconds with little visible change.
        body = [f'\tgraph [rankdir={rankdir} fontname="Helvetica" fontsize=11 nodesep=0.25 ranksep=0.3 '
                'nslimit=2 mclimit=0.5]\n',
                '\tnode [fontname="Helvetica" fontsize=10 height=0.3]\n',
                "\tedge [arrowsize=0.6]\n"]

        # Recursion depth is the scope nesting depth (a handful), not the graph's size.
        def emit(path: str, depth: int) -> None:
            pad = "\t" * depth
            for k in members.get(path, ()):
                body.extend(f"{pad}{line}\n" for line in w.unit_lines(k))
            for child in children[path]:
                last = child.rsplit("/", 1)[-1]
                style = '"rounded,filled" fillcolor="#f5f5f5"' if _STEP.match(last) else "rounded"
                body.append(f"{pad}subgraph {cluster_id(child)} {{\n")
                body.append(f'{pad}\tgraph [label={quote(last)} style={style} color="#999999" '
                            'fontcolor="#555555"]\n')
                emit(child, depth + 1)
                body.append(f"{pad}}}\n")

        emit("", 1)
        body.extend(f"\t{w.edge_line(k, *edge)}\n" for k, edge in enumerate(self.view.edges))
        body.extend(f"\t{w.node_id(a)} -> {w.node_id(b, entry=True)} [style=invis]\n" for a, b in self.view.order)
        if w.shades is not None:
            body.append("\tsubgraph cluster_legend {\n")
            body.append('\t\tgraph [label="|grad| (log scale)" style=rounded color="#999999"]\n')
            body.append(f"\t\t{w._node('legend', shape='plaintext', label=w.shades.legend())}\n")
            body.append("\t}\n")
        caption = [t for t in (title, self.note) if t]
        if any(v.op and not ps for v, ps in zip(self.view.g.nodes, self.view.g.parents)):
            caption.append("backward() freed part of this graph: run it inside minigrad.keep_grads() "
                           "(or with retain_graph=True) to draw the whole graph")
        if caption:
            body.append(f"\tgraph [label={quote(chr(10).join(caption))} labelloc=t]\n")
        return body

    def backward_frames(self) -> list:
        """[(caption, element ids)] in the order backward completes each drawn unit's gradient
        (reverse topological order); an edge lights up with the node it feeds, since the
        gradient flows along it when that node's backward runs."""
        units, w, g = self.view.units, self.writer, self.view.g
        into = {}
        for k, (a, b, _, _) in enumerate(self.view.edges):
            into.setdefault(b, []).append(f"e{k}")
        frames = []
        for k in sorted(range(len(units)), key=lambda k: -units[k].last):
            u = units[k]
            ids = [w.node_id(k)]
            if w.node_id(k, entry=True) != ids[0]:
                ids.append(w.node_id(k, entry=True))
            ids += into.get(k, [])
            if u.kind == "node":
                v = g.nodes[u.first]
                leaf = "leaf" if getattr(v, "requires_grad", True) else "const"
                what = (g.name(u.first) or v.op or leaf) + (f" in {v.scope}" if v.scope else "")
            else:
                what = f"{u.kind} ({u.size} nodes)" + (f" in {g.scope[u.first].path}" if g.scope[u.first].path else "")
            m = w.mags[k]
            frames.append((what + ("" if m is None else f": |grad| {fmt_mag(m)}"), ids))
        return frames
