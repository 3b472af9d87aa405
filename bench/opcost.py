"""The engine's fixed cost per recorded op: a chain of N tiny ops, forward then backward, divided by N.

At batch 1 (W1) and in the scalar engine this cost decides the speed, not arithmetic. Each op is
timed in minigrad, in plain numpy doing the same forward and backward arithmetic by hand (the
floor any numpy engine pays), and in PyTorch eager when installed.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg

from .harness import time_interleaved

N = 500
# label -> kind; the chain is y <- y * w, tanh(y) or y @ w, N times
OPS = {
    "mul (4,)*(4,)": "mul",
    "tanh (4,)": "tanh",
    "matmul (1,16)@(16,16)": "matmul",
}


def _arrays(kind: str) -> tuple:
    rng = np.random.default_rng(0)
    if kind == "matmul":
        y = rng.uniform(-0.5, 0.5, (1, 16))
        w = np.eye(16) + rng.uniform(-0.01, 0.01, (16, 16))
    else:
        y = rng.uniform(0.5, 1.0, 4)
        w = np.full(4, 1.0001)
    return y, w


def _engine(tensor, kind: str):
    """The chain in an autograd engine; ``tensor(array)`` makes a leaf that requires grad."""
    y0, w0 = _arrays(kind)
    x, w = tensor(y0), tensor(w0)

    def run():
        y = x
        for _ in range(N):
            y = y * w if kind == "mul" else y.tanh() if kind == "tanh" else y @ w
        y.sum().backward()
        x.grad = w.grad = None
    return run


def _numpy(kind: str):
    """The same arithmetic by hand: forward keeping what backward needs, then the chain rule."""
    x, w = _arrays(kind)

    def run():
        saved, y = [], x
        for _ in range(N):
            if kind == "mul":
                saved.append(y)
                y = y * w
            elif kind == "tanh":
                y = np.tanh(y)
                saved.append(y)
            else:
                saved.append(y)
                y = np.dot(y, w)
        g, gw = np.ones_like(y), np.zeros_like(w)
        wT = w.T
        for s in reversed(saved):
            if kind == "mul":
                gw = gw + g * s
                g = g * w
            elif kind == "tanh":
                g = g * (1.0 - s * s)
            else:
                gw = gw + np.dot(s.T, g)
                g = np.dot(g, wT)
        return g, gw
    return run


def measure(repeats: int, torch=None) -> list:
    """Rows of (op, {engine: (median, min, max) microseconds per op})."""
    rows = []
    for label, kind in OPS.items():
        fns = {"minigrad": _engine(lambda a: mg.Tensor(a, requires_grad=True), kind),
               "numpy by hand": _numpy(kind)}
        if torch is not None:
            fns["torch"] = _engine(lambda a: torch.tensor(a, requires_grad=True), kind)
        timings = time_interleaved(fns, repeats, min_time=0.02)
        rows.append((label, {n: (t.median / N * 1e6, t.min / N * 1e6, t.max / N * 1e6) for n, t in timings.items()}))
    return rows
