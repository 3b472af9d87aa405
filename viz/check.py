"""gradcheck in the picture: when ``minigrad.gradcheck`` fails, find the op to blame and draw it red.

``minigrad.gradcheck`` compares whole-function gradients. To say *which* op is wrong, each op of
the graph is checked on its own: its ``Function`` class is run again on the parents' data (in
float64) and its ``backward`` is compared with central differences along random directions. An
op whose local check fails is marked on the drawing with both numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minigrad import gradcheck as _gradcheck
from minigrad import toposort
from minigrad.function import PLACEMENT_OPTIONS, dense_gradient

from .dot import to_dot
from .notebook import inline_svg
from .render import save

__all__ = ["OpFailure", "check_ops", "GradcheckPicture", "gradcheck_picture"]


@dataclass
class OpFailure:
    """One op whose backward disagrees with finite differences for input ``input``."""

    node: object
    input: int
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return f"{self.node.op} {self.note.replace(chr(10), ' ')}"

    @property
    def note(self) -> str:
        """What the drawing writes under the op: both numbers, one a line."""
        return f"input {self.input}: backward gives {self.analytic:.6g},\nfinite differences {self.numeric:.6g}"


def _run(cls, arrays, options):
    fn = cls.__new__(cls)
    return fn, fn.forward(*arrays, **options)


def check_ops(root, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4, seed: int = 0) -> list:
    """Check every op under ``root`` on its own (see the module docs); returns the ``OpFailure``s.

    The graph must still hold its ops: check before ``backward()``, or after one run inside
    ``minigrad.keep_grads()``. Ops whose float64 forward does not give float64 (casts) are skipped.
    """
    rng = np.random.default_rng(seed)
    failures = []
    for node in toposort(root):
        fn = getattr(node, "grad_fn", None)
        if fn is None:
            continue
        cls = type(fn)
        if not hasattr(cls, "forward") or not hasattr(cls, "backward"):
            raise RuntimeError(f"the graph's op '{node.op}' was freed by backward(); check before backward, "
                               "or run backward inside minigrad.keep_grads()")
        # on copies, without the options that would write into the graph's memory: a step formed
        # in place (zoo.unroll) is checked at the values its inputs hold now
        options = {k: v for k, v in getattr(fn, "options", {}).items() if k not in PLACEMENT_OPTIONS}
        arrays = [np.array(p.data, np.float64) if p.data.dtype.kind == "f" else p.data for p in node.parents]
        inst, out = _run(cls, arrays, options)
        if np.asarray(out).dtype != np.float64:
            continue
        inst.needs_input_grad = tuple(p.requires_grad for p in node.parents)
        inst.options = options
        w = rng.standard_normal(np.shape(out))
        grads = inst.backward(w)
        for i, (p, g) in enumerate(zip(node.parents, grads)):
            if g is None or not p.requires_grad or arrays[i].dtype.kind != "f":
                continue
            v = rng.standard_normal(arrays[i].shape)
            up = [a + eps * v if k == i else a for k, a in enumerate(arrays)]
            down = [a - eps * v if k == i else a for k, a in enumerate(arrays)]
            numeric = (np.sum(w * _run(cls, up, options)[1]) - np.sum(w * _run(cls, down, options)[1])) / (2 * eps)
            analytic = float(np.sum(np.asarray(dense_gradient(g, arrays[i])) * v))
            if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
                failures.append(OpFailure(node, i, analytic, float(numeric)))
    return failures


@dataclass
class GradcheckPicture:
    """``passed``: what ``minigrad.gradcheck`` said; ``failures``: the ops blamed; ``dot``: the drawing."""

    passed: bool
    failures: list
    dot: str

    def _repr_svg_(self):
        """Jupyter's picture: the drawing."""
        return inline_svg(self.dot)


def gradcheck_picture(fn, inputs, path=None, *, gradcheck_options: dict | None = None,
                      **options) -> GradcheckPicture:
    """Run ``minigrad.gradcheck(fn, inputs)``; draw the graph of ``fn(*inputs)`` with each op whose
    own check fails in red (its note gives both numbers) and the verdict as the title.

    ``fn`` returns a Tensor (non-scalar outputs are summed for the drawing); inputs are float64
    as gradcheck needs. Writes ``path`` (svg, or the suffix's format) if given; ``options`` are
    ``to_dot``'s.
    """
    passed = _gradcheck(fn, inputs, raise_exception=False, **(gradcheck_options or {}))
    out = fn(*inputs)
    root = out if out.data.size == 1 else out.sum()
    failures = check_ops(root)
    if passed:
        title = "gradcheck passed"
    elif failures:
        title = f"gradcheck FAILED: {len(failures)} op(s) disagree with finite differences (red)"
    else:
        title = "gradcheck FAILED, but every op passes on its own (look for non-differentiable points)"
    marks = {}
    for f in failures:
        marks[f.node] = f"{marks[f.node]}\n{f.note}" if f.node in marks else f.note
    dot = to_dot(root, marks=marks, title=title, **options)
    if path is not None:
        save(dot, path)
    return GradcheckPicture(bool(passed), failures, dot)
