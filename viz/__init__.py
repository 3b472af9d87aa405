"""viz: pictures of minigrad graphs — unrolled time steps, shared weights, gradients flowing back.

``to_dot`` builds DOT text in pure Python; ``draw`` wraps it in a ``graphviz.Digraph`` (shown
inline by Jupyter); ``render`` writes SVG (or any graphviz format) with the ``dot`` binary.
Graphs are read only through minigrad's graph protocol, so ``Value`` and ``Tensor`` graphs work alike.
"""
from .dot import DETAILS, PALETTE, to_dot
from .render import draw, pipe, render, save

__all__ = ["to_dot", "draw", "render", "pipe", "save", "DETAILS", "PALETTE"]
