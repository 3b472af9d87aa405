"""Inline pictures in Jupyter, without a dependency on IPython.

Importing viz inside IPython registers SVG formatters for ``minigrad.Tensor`` and
``minigrad.Value`` (minigrad itself imports nothing of ours), so the result of a computation
shows itself as its graph; a leaf keeps its text repr. viz's own results (``ExplodedCell``,
``GradcheckPicture``) have ``_repr_svg_``, and ``viz.draw`` returns a ``graphviz.Digraph``,
which Jupyter shows by itself. Without graphviz's ``dot`` every one of them falls back to text.
"""
from __future__ import annotations

import sys

from minigrad import Tensor, Value

from .dot import to_dot
from .render import pipe

__all__ = ["inline_svg", "register"]


def inline_svg(dot_text: str):
    """``dot_text`` rendered as SVG text for a notebook, or None (IPython then shows the text
    repr) when ``dot`` is missing or refuses the drawing."""
    try:
        svg = pipe(dot_text, "svg").decode("utf-8")
    except RuntimeError:
        return None
    return svg[svg.index("<svg"):]  # the XML declaration and doctype do not belong inline


def _graph_svg(node):
    """The SVG formatter for Tensors and Values: their graph, or None for a leaf."""
    if not node.parents:
        return None
    return inline_svg(to_dot(node))


def register(shell=None) -> bool:
    """Show ``Tensor`` and ``Value`` results as their graphs in ``shell`` (default: the running
    IPython shell, if IPython is loaded and one runs). Returns whether a shell was found."""
    if shell is None:
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    svg = shell.display_formatter.formatters["image/svg+xml"]
    for cls in (Tensor, Value):
        svg.for_type(cls, _graph_svg)
    return True
