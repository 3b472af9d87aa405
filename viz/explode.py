"""One recurrent step exploded into scalar ``Value``s: every gate's arithmetic as its own node.

The scalar step is written from the cells' equations (PyTorch's gate order and bias layout), run
on the cell's own parameters, and cross-checked against the cell's ``Tensor`` step: values and
gradients must agree. The root is ``L = sum(h')`` (plus ``sum(c')`` for an LSTM), so the
picture shows how each weight reaches the loss through the gates. Each gate is computed inside a
scope, so the drawing clusters it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minigrad import Tensor, Value, scope

from .dot import to_dot
from .notebook import inline_svg

__all__ = ["ExplodedCell", "explode_cell"]

_KINDS = {"RNNCell": "rnn", "LSTMCell": "lstm", "GRUCell": "gru"}


@dataclass
class ExplodedCell:
    """``root``: the scalar loss ``L``; ``outputs``: name -> list of output Values (``h'``, ``c'``);
    ``errors``: name -> largest |scalar - tensor| difference (``value h'``, ``grad weight_hh``, ...)."""

    root: Value
    outputs: dict
    errors: dict = field(default_factory=dict)

    @property
    def max_error(self) -> float:
        """The largest of ``errors``."""
        return max(self.errors.values(), default=0.0)

    def _repr_svg_(self):
        """Jupyter's picture: the scalar graph, titled with how well it matches the Tensor cell."""
        return inline_svg(to_dot(self.root, title=f"largest |scalar - Tensor| difference: {self.max_error:.1e}"))


def _leaves(name: str, arr: np.ndarray) -> list:
    """Values labelled like the array's entries: ``x[0]``, ``weight_hh[2,1]``."""
    flat = [Value(float(v)) for v in arr.reshape(-1)]
    for idx, v in zip(np.ndindex(arr.shape), flat):
        v.label = f"{name}[{','.join(map(str, idx))}]"
    return flat


def _sum(terms: list) -> Value:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _affine(W, b, v, rows, cols: int) -> list:
    """Rows of ``W @ v + b`` (W a flat list of Values, row-major with ``cols`` columns)."""
    out = []
    for r in rows:
        terms = [W[r * cols + k] * v[k] for k in range(cols)]
        out.append(_sum(terms + ([b[r]] if b is not None else [])))
    return out


def _labelled(name: str, values: list) -> list:
    for j, v in enumerate(values):
        v.label = f"{name}[{j}]"
    return values


def explode_cell(cell, x=None, state=None, seed: int = 0) -> ExplodedCell:
    """Run one step of ``cell`` (a zoo ``RNNCell``, ``LSTMCell`` or ``GRUCell``) in scalar Values.

    ``x`` (D,) and ``state`` (h (H,), or (h, c) for the LSTM) default to small random numbers
    from ``seed``. Backward is run on both versions and ``errors`` records their largest
    disagreements; the Tensor step runs in float64 on copies of the parameters, so the cell's own
    gradients are untouched. Keep H and D small (2 or 3): the graph has O(G*H*(D+H)) nodes.
    """
    kind = _KINDS.get(type(cell).__name__)
    if kind is None:
        raise TypeError(f"explode_cell knows RNNCell, LSTMCell and GRUCell, got {type(cell).__name__}")
    H, D = cell.hidden_size, cell.input_size
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, D) if x is None else np.asarray(x, dtype=np.float64).reshape(D)
    if state is None:
        state = tuple(rng.uniform(-0.5, 0.5, H) for _ in range(2 if kind == "lstm" else 1))
    else:
        state = tuple(np.asarray(s, dtype=np.float64).reshape(H) for s in (state if kind == "lstm" else (state,)))
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    arrays = {n: None if getattr(cell, n) is None else np.asarray(getattr(cell, n).data, np.float64) for n in names}

    P = {n: None if a is None else _leaves(n, a) for n, a in arrays.items()}
    xv = _leaves("x", x)
    sv = [_leaves(n, s) for n, s in zip(("h", "c"), state)]
    outputs = _scalar_step(kind, cell, P, xv, sv, H, D)
    terms = [v for vs in outputs.values() for v in vs]
    root = _sum(terms)
    root.label = "L"
    root.backward()

    result = ExplodedCell(root, outputs)
    _cross_check(result, cell, arrays, x, state, P, xv, sv)
    return result


def _scalar_step(kind: str, cell, P: dict, x: list, s: list, H: int, D: int) -> dict:
    """The cell's equations, one scalar at a time (see zoo.cells for the Tensor version)."""
    h = s[0]
    Wi, Wh, bi, bh = P["weight_ih"], P["weight_hh"], P["bias_ih"], P["bias_hh"]

    def pre(k: int) -> tuple:
        rows = range(k * H, (k + 1) * H)
        return _affine(Wi, bi, x, rows, D), _affine(Wh, bh, h, rows, H)

    def gate(k: int, name: str, fn) -> list:
        """``name = fn(W_ih x + b_ih + W_hh h + b_hh)`` over the rows of gate ``k``, in its scope."""
        with scope(name):
            a, b = pre(k)
            return _labelled(name, [fn(p + q) for p, q in zip(a, b)])

    if kind == "rnn":
        return {"h'": gate(0, "h'", Value.tanh if getattr(cell, "nonlinearity", "tanh") == "tanh" else Value.relu)}
    if kind == "lstm":
        c = s[1]
        i, f, g, o = (gate(k, name, fn) for k, (name, fn) in enumerate(
            (("i", Value.sigmoid), ("f", Value.sigmoid), ("g", Value.tanh), ("o", Value.sigmoid))))
        with scope("c'"):
            c2 = _labelled("c'", [f[j] * c[j] + i[j] * g[j] for j in range(H)])
        with scope("h'"):
            h2 = _labelled("h'", [o[j] * c2[j].tanh() for j in range(H)])
        return {"h'": h2, "c'": c2}
    r, z = gate(0, "r", Value.sigmoid), gate(1, "z", Value.sigmoid)
    with scope("n"):
        a, b = pre(2)
        n = _labelled("n", [(p + rj * q).tanh() for p, q, rj in zip(a, b, r)])
    with scope("h'"):
        h2 = _labelled("h'", [(1 - z[j]) * n[j] + z[j] * h[j] for j in range(H)])
    return {"h'": h2}


def _cross_check(result: ExplodedCell, cell, arrays: dict, x, state, P: dict, xv: list, sv: list) -> None:
    """The same step with the cell's Tensor code in float64; record the largest differences."""
    params = {n: None if a is None else Tensor(a, requires_grad=True) for n, a in arrays.items()}
    options = {k: getattr(cell, k) for k in getattr(cell, "step_options", ())}
    twin = type(cell).bind(params["weight_ih"], params["weight_hh"], params["bias_ih"], params["bias_hh"],
                           **options)
    xt = Tensor(x[None, :], requires_grad=True)
    st = [Tensor(s[None, :], requires_grad=True) for s in state]
    out = twin.step(xt, st[0] if len(st) == 1 else tuple(st))
    outs = out if isinstance(out, tuple) else (out,)
    _sum([o.sum() for o in outs]).backward()
    errs = result.errors
    for (name, vs), o in zip(result.outputs.items(), outs):
        errs[f"value {name}"] = _diff([v.data for v in vs], o.data)
    errs["grad x"] = _diff([v.grad for v in xv], xt.grad.data)
    for s_name, vs, t in zip(("h", "c"), sv, st):
        errs[f"grad {s_name}"] = _diff([v.grad for v in vs], t.grad.data)
    for n, t in params.items():
        if t is not None:
            errs[f"grad {n}"] = _diff([v.grad for v in P[n]], t.grad.data)


def _diff(scalars: list, arr: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(scalars, dtype=np.float64) - np.asarray(arr).reshape(-1))))
