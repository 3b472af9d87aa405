"""viz: pictures of minigrad graphs — unrolled time steps, shared weights, gradients flowing back.

Graph pictures (need only graphviz):

- ``to_dot(root, ...)`` builds DOT text in pure Python; ``draw`` wraps it in a ``graphviz.Digraph``
  (shown inline by Jupyter); ``render(root, path)`` writes SVG (or any graphviz format), refusing
  drawings too big for ``dot`` before running it.
- ``detail="ops" | "named" | "cells" | "folded"``: every op; each named value with the arithmetic
  feeding it (a scalar graph at a glance); one node per time step; one node per sequence.
- ``animate_backward`` shows the backward pass reaching each node; ``explode_cell`` draws one
  RNN/LSTM/GRU step in scalar Values; ``gradcheck_picture`` draws the op gradcheck blames in red.
- In Jupyter, importing viz makes ``Tensor`` and ``Value`` results show themselves as their
  graphs (``viz.notebook``), and viz's results have ``_repr_svg_``.

Pictures of BPTT: ``gradient_flow`` measures ||dL/dh_t|| and ||dh_T/dh_t||; ``viz.plots`` charts
them and the per-step gradient shares (matplotlib, the ``plot`` extra). Graphs are read only
through minigrad's graph protocol, so ``Value`` and ``Tensor`` graphs work alike; a time step is
the scope ``minigrad.step_scope(t)`` names. The drawing pipeline: ``graph`` (what to draw) ->
``units`` (grouping, collapse) -> ``layout`` (edges, clusters) -> ``style`` -> ``dot`` (text) ->
``render``.
"""
from .anim import animate_backward
from .check import GradcheckPicture, OpFailure, check_ops, gradcheck_picture
from .dot import DETAILS, MAX_NODES, PALETTE, to_dot
from .explode import ExplodedCell, explode_cell
from .flow import GradientFlow, gradient_flow
from .plots import plot_gradient_flow, plot_gradient_shares
from .render import draw, pipe, render, save
from . import notebook

notebook.register()  # inside IPython: Tensors and Values show themselves as their graphs

__all__ = [
    "to_dot", "draw", "render", "pipe", "save", "DETAILS", "PALETTE", "MAX_NODES",
    "animate_backward", "explode_cell", "ExplodedCell", "gradcheck_picture", "check_ops",
    "GradcheckPicture", "OpFailure", "gradient_flow", "GradientFlow",
    "plot_gradient_flow", "plot_gradient_shares",
]
