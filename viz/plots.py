"""Charts of BPTT with matplotlib (the optional ``plot`` extra), written as SVG.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global backend), and the SVG
is made reproducible: fixed id salt, no date, text kept as text.
"""
from __future__ import annotations

import io
import pathlib

import numpy as np

from .render import write_atomic

__all__ = ["plot_gradient_flow", "plot_gradient_shares", "share_projections"]

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _matplotlib():
    try:
        import matplotlib
        import matplotlib.ticker  # noqa: F401  (makes matplotlib.ticker available)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("viz charts need matplotlib: pip install 'minigrad[plot]' "
                          "(the graph pictures need only graphviz)") from None
    return matplotlib, Figure


def _save(fig, path, matplotlib) -> None:
    """Write ``fig`` in the format of ``path``'s suffix (SVG unless it says png or pdf)."""
    fmt = pathlib.Path(path).suffix.lstrip(".").lower()
    fmt = fmt if fmt in ("png", "pdf") else "svg"
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "minigrad", "svg.fonttype": "none"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=120)
    write_atomic(path, buf.getvalue())


def _positive(a) -> np.ndarray:
    """Values for a log axis: zeros and non-finite values become gaps."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def plot_gradient_flow(flows: dict, path, title: str | None = None):
    """One log-scale chart of ||dL/dh_t|| (solid) and ||dh_T/dh_t|| (dashed) against t, one colour
    per model; ``flows`` maps a model name to a ``viz.flow.GradientFlow``. Returns the path."""
    matplotlib, Figure = _matplotlib()
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for k, (name, f) in enumerate(flows.items()):
        color = _COLORS[k % len(_COLORS)]
        ax.plot(f.steps, _positive(f.loss_grad), "-o", color=color, ms=3, label=f"{name}: ‖dL/dh_t‖")
        ax.plot(f.steps, _positive(f.jacobian), "--", color=color, label=f"{name}: ‖dh_T/dh_t‖")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("time step t (the loss is read at the end)")
    ax.set_ylabel("gradient norm (log scale)")
    ax.set_title(title or "How far back does the gradient reach?")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncols=2)
    _save(fig, path, matplotlib)
    return path


def share_projections(shares, name: str) -> tuple:
    """What the shares chart draws: (||share_t|| for each t, each share's component along the total
    gradient, the component of the part outside any step, ||total gradient||). The components add
    up to the norm: sum(along) + outside == norm."""
    steps = np.asarray(shares.steps[name], dtype=np.float64)
    other = np.asarray(shares.other[name], dtype=np.float64).reshape(-1)
    flat = steps.reshape(len(steps), -1)
    total = flat.sum(axis=0) + other
    norm = float(np.linalg.norm(total))
    unit = total / norm if norm > 0 else total
    return np.linalg.norm(flat, axis=1), flat @ unit, float(other @ unit), norm


def plot_gradient_shares(shares, name: str, path, title: str | None = None):
    """Each time step's share of the gradient of the shared parameter ``name`` (``shares`` as
    returned by ``zoo.bptt.gradient_shares``: ``steps[name]`` (T, ...), ``other[name]``).

    Top: ||share_t||. Bottom: each share projected on the total gradient's direction; these bars
    add up to ||grad|| exactly, which the chart states. Returns the path.
    """
    matplotlib, Figure = _matplotlib()
    norms, proj, rest, norm = share_projections(shares, name)
    ts = np.arange(len(norms))
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.bar(ts, norms, color=_COLORS[0])
    top.set_ylabel(f"‖share of d{name}‖")
    top.set_title(title or f"Where does the gradient of {name} come from?")
    bottom.bar(ts, proj, color=np.where(proj >= 0, _COLORS[2], _COLORS[1]))
    bottom.axhline(0, color="black", lw=0.6)
    bottom.set_ylabel("along the total gradient")
    bottom.set_xlabel("time step t")
    bottom.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    note = f"Σ_t = {proj.sum():.4g}" + (f" + outside steps {rest:.4g}" if rest else "") + f" = ‖grad‖ = {norm:.4g}"
    bottom.text(0.01, 0.95, note, transform=bottom.transAxes, va="top", fontsize=9)
    for ax in (top, bottom):
        ax.grid(True, axis="y", alpha=0.3)
    _save(fig, path, matplotlib)
    return path
