"""The graph to draw: every node under a root, flattened once to indices in topological order.

The graph is read through minigrad's graph protocol alone (``parents``, ``op``, ``data``,
``grad``, ``scope`` and ``minigrad.toposort``), so ``Value`` and ``Tensor`` graphs are read by
the same code. This is where it is decided, node by node, which time step a node belongs to
(``minigrad.step_of`` of its scope), which leaves are shared parameters drawn once outside the
steps, and which nodes recorded outside the steps are drawn inside the one step that uses them.
"""
from __future__ import annotations

import math
import re

import numpy as np

from minigrad import step_of, toposort

__all__ = ["Graph", "Scope"]

# A leaf named like an array entry (``W_hh[0,1]``, ``x[2]``): the scalar engine's way of naming
# the entries of a parameter. The entries of one array are drawn together at the coarser levels.
_ENTRY = re.compile(r"(.+)\[(\d+(?:, ?\d+)*)\]\Z", re.S)


class Scope:
    """A scope path split once: the cell it belongs to (path through its first time step), the
    sequence (path before it) and the step number; ``cell`` is None outside time steps."""

    __slots__ = ("path", "cell", "seq", "step")

    def __init__(self, path: str):
        self.path = path
        self.cell = self.seq = self.step = None
        parts = path.split("/") if path else []
        for k, part in enumerate(parts):
            t = step_of(part)
            if t is not None:
                self.seq = "/".join(parts[:k])
                self.cell = "/".join(parts[:k + 1])
                self.step = t
                break


class Graph:
    """The graph under ``root``: ``nodes`` in topological order (root last), ``parents[i]`` as
    indices, each node's ``scope`` (a ``Scope``), and per node whether it is a ``shared``
    parameter, was ``adopted`` into a step, or is an entry of a named ``array``."""

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
                scopes[v.scope] = Scope(v.scope)
        self.scope = [scopes[v.scope] for v in nodes]
        self.array = [self._array_of(i) for i in range(len(nodes))]
        self._place(scopes)
        # A named leaf keeps its own node when cells are collapsed (unless its step is hidden).
        self.named_leaf = [not ps and self.name(i) is not None for i, ps in enumerate(self.parents)]
        steps = {}
        for s in scopes.values():
            if s.cell is not None:
                steps.setdefault(s.seq, set()).add(s.step)
        self.steps = {seq: sorted(ts) for seq, ts in steps.items()}

    def _place(self, scopes: dict) -> None:
        """Decide ``shared`` and ``adopted``, walking consumers before producers.

        ``user[p]`` is the cell (path; None outside the steps) of p's first consumer, ``mixed[p]``
        whether another consumer sits in another cell. A leaf used by two or more cells is a shared
        parameter: drawn once, outside the clusters. A node recorded outside the steps, in a scope
        enclosing the one cell that uses it (a step's input slice x[t], an initial state), is drawn
        in that cell; parameters stay outside. The entries of one array are placed together: used
        by two or more cells between them, they are all shared (each step of the scalar 'hello'
        RNN reads another column of W_xh, and W_xh is still one parameter)."""
        n = len(self.nodes)
        user = {}
        mixed = [False] * n
        self.shared = [False] * n
        self.adopted = [False] * n
        for i in range(n - 1, -1, -1):
            s, cell = self.scope[i], user.get(i)
            param = not self.parents[i] and getattr(self.nodes[i], "requires_grad", False)
            if mixed[i]:
                self.shared[i] = not self.parents[i]
            elif cell is not None and s.cell is None and not param and _encloses(s.path, cell):
                if cell not in scopes:
                    scopes[cell] = Scope(cell)
                self.scope[i] = scopes[cell]
                self.adopted[i] = True
            cell = self.scope[i].cell
            for p in self.parents[i]:
                if p not in user:
                    user[p] = cell
                elif user[p] != cell:
                    mixed[p] = True
        cells = {}
        for i, key in enumerate(self.array):
            if key is not None:
                cells.setdefault(key, set()).add(None if self.shared[i] else self.scope[i].cell)
        for i, key in enumerate(self.array):
            if key is not None and len(cells[key]) > 1:
                self.shared[i] = True
                if self.adopted[i]:
                    self.adopted[i] = False
                    self.scope[i] = scopes[self.nodes[i].scope]

    def _array_of(self, i: int):
        """(scope path, array name) for a leaf named like an array entry, else None."""
        name = self.name(i) if not self.parents[i] else None
        m = None if name is None else _ENTRY.match(name)
        return None if m is None else (self.nodes[i].scope, m.group(1))

    def __len__(self) -> int:
        return len(self.nodes)

    def recurrent(self, p: int, i: int) -> bool:
        """Whether the edge p -> i carries state from one step of a sequence to a later one."""
        a, b = self.scope[p], self.scope[i]
        return a.cell is not None and b.cell is not None and a.seq == b.seq and a.step != b.step

    def name(self, i: int):
        """The node's name: from ``names=``, else ``Value.label`` or ``Tensor.name``; None without one."""
        v = self.nodes[i]
        return self.names.get(id(v)) or getattr(v, "label", None) or getattr(v, "name", None) or None

    def mag(self, i: int):
        """The gradient's magnitude (|g| for scalars, the 2-norm for arrays), or None without one."""
        g = self.nodes[i].grad
        if g is None:
            return None
        if not isinstance(g, (np.ndarray, np.generic, int, float)):
            g = g.data  # a Tensor's gradient is a Tensor (numpy scalars have a .data too: a buffer)
        if not isinstance(g, np.ndarray):
            return abs(float(g))
        return _norm(g)

    def has_grads(self) -> bool:
        """Whether any op result carries a gradient (a scalar one that is not 0)."""
        for i, v in enumerate(self.nodes):
            if self.parents[i] and v.grad is not None and (not self.scalar or v.grad != 0):
                return True
        return False


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
