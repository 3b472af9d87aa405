"""A recorded graph as DOT text, in pure Python (graphviz is needed only to render it).

The pipeline, one file per idea: ``viz.graph`` reads the graph under the root (nodes numbered in
topological order, so the same program gives the same text), ``viz.units`` groups its nodes into
the units drawn at a level of detail, ``viz.layout`` connects the units and nests them in
clusters, ``viz.style`` says how they look, and this module writes the DOT statements.

Scopes become nested clusters; a time step's scope (``minigrad.step_scope(t)``) makes a step
cluster, and the steps of an unrolled graph are drawn one below the other in time order, each
shared weight once outside with a fine edge into every step that uses it. Every pass over the
graph is linear in its size.
"""
from __future__ import annotations

import math
import textwrap

import numpy as np

from minigrad import step_of, step_scope

from .graph import Graph
from .labels import cluster_id, fmt_mag, fmt_shape, fmt_values, quote, record_field
from .layout import View, cluster_tree
from .style import MARK_MARGIN, PALETTE, Shades, cluster_style, edge_style, header, unit_style
from .units import DETAILS, MAX_NODES, STEPPED, fit, has_op

__all__ = ["to_dot", "dot_body", "Drawing", "DETAILS", "PALETTE", "MAX_NODES"]

_RANKDIRS = ("LR", "TB", "RL", "BT")
_PREFIX = {"expr": "x", "array": "a", "cell": "c", "fold": "f", "ellipsis": "e", "hidden": "h"}
_NOTE_WIDTH = 40  # a mark's note is wrapped to lines of this many characters


def _attrs(**kw) -> str:
    parts = [f"{k}={v}" for k, v in kw.items() if v is not None]
    return f" [{' '.join(parts)}]" if parts else ""


def _wrap(note: str) -> str:
    """``note`` with its long lines broken at spaces (a long line would stretch its node)."""
    return "\n".join(textwrap.fill(line, _NOTE_WIDTH, break_on_hyphens=False) if len(line) > _NOTE_WIDTH
                     else line for line in note.split("\n"))


def _ops(n: int) -> str:
    return "1 op" if n == 1 else f"{n} ops"


class _Writer:
    """Turns a view into DOT lines."""

    def __init__(self, view: View, values: int, shade: bool, marks: dict, ids: bool):
        self.view, self.g, self.values, self.ids = view, view.g, values, ids
        self.entries = {}  # array unit -> its entries
        for i, k in enumerate(view.unit_of):
            if view.units[k].kind == "array":
                self.entries.setdefault(k, []).append(i)
        self.mags = [self._unit_mag(k) for k in range(len(view.units))]
        self.shades = Shades(self.mags) if shade else None
        # a marked node hidden inside a group marks that unit
        self.marks = {}
        if marks:
            for i, v in enumerate(self.g.nodes):
                note = marks.get(id(v))
                if note is not None:
                    k = view.unit_of[i]
                    self.marks[k] = f"{self.marks[k]}\n{note}" if k in self.marks else note
        self.marks = {k: _wrap(note) for k, note in self.marks.items()}

    def _unit_mag(self, k: int):
        """The gradient magnitude drawn for unit ``k``: its node's, an expression's result's, or
        the 2-norm over an array's entries or over a cell's ``outputs``; None for the rest."""
        g, u = self.g, self.view.units[k]
        if u.kind in ("node", "expr"):
            return g.mag(u.last)
        if u.kind not in ("cell", "array"):
            return None
        ms = [g.mag(i) for i in (self.entries[k] if u.kind == "array" else u.outputs)]
        ms = [m for m in ms if m is not None]
        return math.sqrt(sum(m * m for m in ms)) if ms else None

    def _has_op(self, k: int) -> bool:
        return has_op(self.g, self.view.units[k])

    def node_id(self, k: int, entry: bool = False) -> str:
        """DOT name of unit ``k``; ``entry`` gives the op circle that edges enter for scalar ops."""
        u = self.view.units[k]
        if entry and self._has_op(k):
            return f"o{u.first}"
        return _PREFIX.get(u.kind, "n") + str(u.first)

    def node(self, nid: str, **attrs) -> str:
        """A node statement; with ``ids`` its SVG element gets the DOT name as id."""
        if self.ids:
            attrs["id"] = nid
        return f"{nid}{_attrs(**attrs)}"

    def _look(self, k: int, base: str) -> dict:
        return unit_style(self.shades, self.mags[k], k in self.marks, base)

    def _box(self, k: int, nid: str, text: str, base: str, **extra) -> str:
        """Unit ``k`` showing ``text``; a marked unit also shows its note. (The note sits inside
        the label, not in an xlabel: graphviz 2.43 can abort placing xlabels in clusters.)"""
        if k in self.marks:
            text = f"{text}\n{self.marks[k]}"
            extra["margin"] = MARK_MARGIN
        return self.node(nid, label=quote(text), **{**extra, **self._look(k, base)})

    def unit_lines(self, k: int) -> list:
        """The DOT statements drawing unit ``k``."""
        u = self.view.units[k]
        g = self.g
        nid = self.node_id(k)
        if u.kind in ("node", "expr"):
            return self._scalar(k, nid) if g.scalar else self._tensor(k, nid)
        if u.kind == "array":
            return self._array(k, nid)
        if u.kind == "cell":
            text = f"{step_scope(g.scope[u.first].step)}\n{u.ops} ops"
            m = self.mags[k]
            if m is not None:
                text += f"\n|grad| {fmt_mag(m)}"
            return [self._box(k, nid, text, "solid", shape="box3d")]
        if u.kind == "fold":
            seq = g.scope[u.first].seq
            name = seq.rsplit("/", 1)[-1] if seq else "cell"
            ts = sorted(u.steps)
            text = f"{name}\n{step_scope(ts[0])}…{ts[-1]}\n{u.ops} ops in {len(ts)} steps"
            return [self._box(k, nid, text, "solid", shape="box3d", peripheries=2)]
        if u.kind == "ellipsis":
            ts = sorted(u.steps)
            text = f"… {len(ts)} steps …\n{step_scope(ts[0])}…{ts[-1]}"
            return [self._box(k, nid, text, "solid", shape="plaintext")]
        return [self._box(k, nid, f"… {u.size:,} more nodes", "dashed", shape="note")]

    def _scalar(self, k: int, nid: str) -> list:
        """micrograd's picture: a record ``label | data | grad`` and a small circle for the op;
        an expression also says how many ops it stands for."""
        u = self.view.units[k]
        i = u.last
        v = self.g.nodes[i]
        fields = []
        name = self.g.name(i)
        if name is not None:
            fields.append(record_field(name))
        if u.kind == "expr":
            fields.append(record_field(_ops(u.ops)))
        fields.append(record_field(f"data {v.data:.4f}"))
        fields.append(record_field(f"grad {v.grad:.4f}"))
        if k in self.marks:
            fields.append(record_field(self.marks[k]))
        label = '"{ ' + " | ".join(fields) + ' }"'
        lines = [self.node(nid, label=label, shape="record", **self._look(k, "solid"))]
        if self._has_op(k):
            oid = self.node_id(k, entry=True)
            lines.append(self.node(oid, label=quote(v.op), shape='circle', margin='0.02'))
            lines.append(f"{oid} -> {nid}")
        return lines

    def _tensor(self, k: int, nid: str) -> list:
        """One box per tensor: op (or name), shape, small values, gradient norm; an expression
        shows the tensor it ends in and how many ops it stands for."""
        g = self.g
        u = self.view.units[k]
        i = u.last
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
        if u.kind == "expr":
            head += f" ({_ops(u.ops)})"
        text = [head, fmt_shape(v.data.shape)]
        if 0 < v.data.size <= self.values:
            text.append(fmt_values(v.data))
        if self.mags[k] is not None:
            text.append(f"|grad| {fmt_mag(self.mags[k])}")
        # parameters: square and bold; ops: rounded; constants: dashed
        base = "solid" if param else "dashed" if leaf else "rounded"
        return [self._box(k, nid, "\n".join(text), base, shape="box", penwidth="1.8" if param else None)]

    def _array(self, k: int, nid: str) -> list:
        """The entries of one named array as one node: ``W_hh[·,·]``, how many, their values
        when few, the norm of their gradients."""
        g = self.g
        u = self.view.units[k]
        members = self.entries[k]
        name = g.name(u.first)
        prefix = g.array[u.first][1]
        rank = name[len(prefix) + 1:-1].count(",") + 1
        text = [f"{prefix}[{','.join('·' * rank)}]", f"{len(members)} scalars" if g.scalar else f"{len(members)} entries"]
        if len(members) <= self.values:
            order = sorted(members, key=lambda i: [int(n) for n in g.name(i)[len(prefix) + 1:-1].split(",")])
            text.append(fmt_values(np.array([np.asarray(g.nodes[i].data).item() for i in order])))
        if self.mags[k] is not None:
            text.append(f"|grad| {fmt_mag(self.mags[k])}")
        if g.scalar:
            if k in self.marks:
                text.append(self.marks[k])
            label = '"{ ' + " | ".join(record_field(t) for t in text) + ' }"'
            return [self.node(nid, label=label, shape="record", penwidth="1.8", **self._look(k, "solid"))]
        return [self._box(k, nid, "\n".join(text), "solid", shape="box", penwidth="1.8")]

    def edge_line(self, k: int, a: int, b: int, label: str, kind: str) -> str:
        """The DOT statement of edge ``k`` from unit ``a`` to unit ``b``."""
        attrs = {"id": f"e{k}"} if self.ids else {}
        if label:
            attrs["label"] = quote(label)
        units = self.view.units
        elided = units[a].kind in ("ellipsis", "hidden") or units[b].kind in ("ellipsis", "hidden")
        attrs.update(edge_style(self.shades, self.mags[b], kind, elided))
        if kind == "into step":
            attrs["lhead"] = cluster_id(self.view.step(b))
        return f"{self.node_id(a)} -> {self.node_id(b, entry=True)}{_attrs(**attrs)}"


def to_dot(root, **options) -> str:
    """DOT text for the graph that computed ``root`` (a ``Value`` or a ``Tensor``).

    Options (all keyword):

    - ``detail``: ``"ops"`` (every primitive), ``"named"`` (each named node with the unnamed
      arithmetic feeding only it, and each named array's entries ``W[0,1]``... as one node: the
      level that makes a scalar graph readable), ``"cells"`` (one node per cell application per
      time step) or ``"folded"`` (one node per recurrent cell with a ``×T`` loop edge).
    - ``names``: ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) or a Module, to
      label parameters; otherwise ``Value.label`` / ``Tensor.name`` are used (a Module's
      parameters carry their PyTorch names there).
    - ``keep_steps``: draw only the first and last ``k`` steps of each sequence, the rest as
      one ellipsis node.
    - ``max_nodes`` (300): larger graphs are collapsed automatically, with a note in the picture
      (graphviz's layout time grows fast with size: see ``viz.render.MAX_STATEMENTS``).
    - ``values`` (6): tensors with at most this many elements show their values.
    - ``shade``: fill nodes and edges by gradient magnitude on a log scale, with a legend; by
      default on whenever intermediate nodes carry gradients (``with minigrad.keep_grads():``).
    - ``rankdir``: by default "TB" for unrolled graphs (time steps one below the other, each
      step's ops flowing down inside it) and "LR" otherwise (micrograd's left-to-right);
      ``title``; ``marks``: ``{node: note}`` draws those nodes red with the note.

    Every label is cut to a sane length (``viz.labels.clip``).
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
        g = Graph(root, names)
        unit_of, units, drawn, self.note = fit(g, detail, keep_steps, max_nodes)
        self.view = View(g, unit_of, units, into_steps=drawn == "named")
        if shade is None:
            shade = g.has_grads()
        self.writer = _Writer(self.view, values, bool(shade),
                              {id(n): str(t) for n, t in (marks or {}).items()}, ids)
        self.lines = self._lines(rankdir or ("TB" if g.steps else "LR"), title, g.scalar and bool(g.steps))

    @property
    def text(self) -> str:
        """The whole DOT text (what ``to_dot`` returns)."""
        return "digraph minigrad {\n" + "".join(self.lines) + "}\n"

    def _lines(self, rankdir: str, title, newrank: bool) -> list:
        units, w = self.view.units, self.writer
        members = {}
        for k, u in enumerate(units):
            members.setdefault(u.cluster, []).append(k)
        for ks in members.values():  # steps in time order, after the single nodes
            ks.sort(key=lambda k: (1, min(units[k].steps, default=0)) if units[k].kind in STEPPED else (0, 0))
        children = cluster_tree(units)
        body = [header(rankdir, newrank, any(e[3] == "into step" for e in self.view.edges))]

        # Recursion depth is the scope nesting depth (a handful), not the graph's size.
        def emit(path: str, depth: int) -> None:
            pad = "\t" * depth
            for k in members.get(path, ()):
                body.extend(f"{pad}{line}\n" for line in w.unit_lines(k))
            for child in children[path]:
                last = child.rsplit("/", 1)[-1]
                style = cluster_style(step_of(last) is not None)
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
            body.append(f"\t\t{w.node('legend', shape='plaintext', label=w.shades.legend())}\n")
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
            if u.kind in ("node", "expr"):
                v = g.nodes[u.last]
                leaf = "leaf" if getattr(v, "requires_grad", True) else "const"
                what = (g.name(u.last) or v.op or leaf) + (f" in {v.scope}" if v.scope else "")
            else:
                what = f"{u.kind} ({u.size} nodes)" + (f" in {g.scope[u.first].path}" if g.scope[u.first].path else "")
            m = w.mags[k]
            frames.append((what + ("" if m is None else f": |grad| {fmt_mag(m)}"), ids))
        return frames
