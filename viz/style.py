"""How drawn things look: gradient shading on a log scale, marks, node and edge styles, and the
graph-wide defaults. Functions here return DOT attributes as ``{name: value}`` (``None`` = unset)."""
from __future__ import annotations

import math

from .labels import quote

__all__ = ["PALETTE", "Shades", "header", "cluster_style", "unit_style", "edge_style", "MARK_MARGIN"]

# ColorBrewer's 9-class YlOrRd, light (small gradient) to dark (large gradient).
PALETTE = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
           "#800026")
_NONFINITE = "#7b3294"  # NaN/Inf gradients: a colour outside the ramp, so they cannot pass for large
_MARK = "#d7191c"       # nodes marked by the caller (e.g. the op gradcheck blames)
# A marked node's note is its widest line and sits at the bottom, where a rounded box curves in
# and the thick red pen is drawn: more room around the label keeps the note inside the box.
MARK_MARGIN = '"0.25,0.12"'

# NOTE: dot's layout time grows steeply with nodes, clusters and long edges (an unrolled 20-step
# LSTM: 80 s by default); capping its network-simplex and crossing-minimisation iterations
# (nslimit, mclimit) brings that to a few seconds with little visible change.
_HEADER = ('\tgraph [rankdir={rankdir} fontname="Helvetica" fontsize=11 nodesep=0.25 ranksep=0.3 '
           'nslimit=2 mclimit=0.5{newrank}{compound}]\n'
           '\tnode [fontname="Helvetica" fontsize=10 height=0.3]\n'
           "\tedge [arrowsize=0.6]\n")


def header(rankdir: str, newrank: bool, compound: bool) -> str:
    """The graph-wide defaults.

    ``newrank``: rank the whole graph at once. dot's default ranks each cluster on its own and
    then breaks the layout-only edges between step clusters whenever a step goes on after its
    state update (the scalar 'hello' RNN's readout and loss term), leaving the steps in a
    diagonal staircase; with newrank they stack. ``compound``: edges may end at a cluster's
    border (``lhead``)."""
    return _HEADER.format(rankdir=rankdir, newrank=" newrank=true" if newrank else "",
                          compound=" compound=true" if compound else "")


class Shades:
    """Log-scale binning of gradient magnitudes onto PALETTE."""

    def __init__(self, mags):
        logs = [math.log10(m) for m in mags if m is not None and 0 < m < math.inf]
        self.lo = min(logs) if logs else 0.0
        self.hi = max(logs) if logs else 0.0
        self.zero = any(m == 0 for m in mags if m is not None)
        self.nonfinite = any(m is not None and not math.isfinite(m) for m in mags)

    def bin(self, m: float) -> int:
        """The palette index of magnitude ``m`` (finite, > 0)."""
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


def cluster_style(step: bool) -> str:
    """The ``style`` of a cluster: time steps filled light grey, other scopes just outlined."""
    return '"rounded,filled" fillcolor="#f5f5f5"' if step else "rounded"


def unit_style(shades, mag, marked: bool, base: str) -> dict:
    """Style of a drawn unit with outline ``base`` ("solid", "rounded", "dashed"): filled by its
    gradient magnitude ``mag`` when ``shades`` is on, red when marked."""
    attrs = {"style": None if base == "solid" else quote(base)}
    fill = None if shades is None else shades.fill(mag)
    if fill is not None:
        attrs = {"style": quote("filled" if base == "solid" else base + ",filled"),
                 "fillcolor": quote(fill[0]), "fontcolor": None if fill[1] == "black" else fill[1]}
    if marked:
        attrs.update(color=quote(_MARK), fontcolor=quote(_MARK), penwidth="2.5")
    return attrs


def edge_style(shades, mag, kind: str, elided: bool) -> dict:
    """Style of an edge into a unit of gradient magnitude ``mag``: dashed grey to or from elided
    steps, else coloured and thickened by the gradient when shading; shared-weight edges fine."""
    attrs = {}
    if elided:
        attrs.update(style="dashed", color='"#888888"')
    elif shades is not None:
        fill = shades.fill(mag)
        if fill is not None:
            frac = shades.bin(mag) / (len(PALETTE) - 1) if math.isfinite(mag) else 1.0
            # the lightest swatches vanish on white, so edges use the darker two thirds
            color = fill[0] if fill[0] == _NONFINITE else PALETTE[2 + round(6 * frac)]
            attrs["color"] = quote(color)
            attrs["penwidth"] = f"{0.6 + 2.4 * frac:.2f}"
    if kind in ("shared", "into step"):
        # T edges per shared weight: drawn fine, so the path through time stands out
        attrs["penwidth"] = "0.60"
    return attrs
