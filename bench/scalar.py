"""The scalar-engine workload: the 'hello' RNN (vocabulary h e l o, hidden 8) in ``minigrad.Value``
against the micrograd design (``microengine.MicroValue``), forward + backward, per graph node.

The model is written once, for any class with micrograd's scalar API, so both engines build the
same graph node for node:

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h);  y_t = W_hy h_t + b_y;  L = sum_t logsumexp(y_t) - y_t[target]
"""
from __future__ import annotations

import gc
import time

import numpy as np

import minigrad as mg

from .microengine import MicroValue

VOCAB = "helo"
HIDDEN = 8


def make_params(Val, seed: int = 0) -> dict:
    """The 'hello' RNN's weights as lists of ``Val`` scalars (either engine's class)."""
    rng = np.random.default_rng(seed)
    V, H = len(VOCAB), HIDDEN

    def mat(rows, cols, std):
        return [[Val(float(rng.normal(0.0, std))) for _ in range(cols)] for _ in range(rows)]
    return {"Wxh": mat(H, V, 0.5), "Whh": mat(H, H, 0.3), "bh": [Val(0.0) for _ in range(H)],
            "Why": mat(V, H, 0.5), "by": [Val(0.0) for _ in range(V)]}


def text(T: int) -> str:
    """'hello' repeated, T + 1 characters: T inputs and their next characters."""
    return ("hello" * (T // 5 + 2))[:T + 1]


def hello_loss(Val, p: dict, T: int):
    """Build the unrolled graph for T steps and return its loss (micrograd-style list code)."""
    s = text(T)
    h = [Val(0.0) for _ in range(HIDDEN)]
    loss = Val(0.0)
    for t in range(T):
        x = [1.0 if c == s[t] else 0.0 for c in VOCAB]
        h = [sum((w * xi for w, xi in zip(wx, x)), sum((w * hi for w, hi in zip(wh, h)), b)).tanh()
             for wx, wh, b in zip(p["Wxh"], p["Whh"], p["bh"])]
        y = [sum((w * hi for w, hi in zip(wy, h)), b) for wy, b in zip(p["Why"], p["by"])]
        e = [yi.exp() for yi in y]
        lse = sum(e[1:], e[0]).log()
        loss = loss + lse + y[VOCAB.index(s[t + 1])] * -1.0
    return loss


def grads(p: dict) -> list:
    """Every parameter's gradient, flattened in a fixed order."""
    return [v.grad for k in ("Wxh", "Whh", "Why") for row in p[k] for v in row] + \
           [v.grad for k in ("bh", "by") for v in p[k]]


def count_nodes(loss) -> int:
    """Nodes of the graph under ``loss`` (either engine)."""
    return len(mg.toposort(loss)) if isinstance(loss, mg.Value) else loss.nodes()


def time_per_node(Val, T: int, repeats: int, gc_on: bool = True) -> tuple:
    """(median, min, max) microseconds per node of forward + backward, and the node count."""
    p = make_params(Val)
    nodes = count_nodes(hello_loss(Val, p, T))
    number = max(1, 20000 // nodes)
    samples = []
    was = gc.isenabled()
    gc.collect()  # start clean: earlier runs' cyclic garbage is not this run's cost
    (gc.enable if gc_on else gc.disable)()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                hello_loss(Val, p, T).backward()
            samples.append((time.perf_counter() - t0) / number / nodes * 1e6)
    finally:
        (gc.enable if was else gc.disable)()
    return float(np.median(samples)), float(np.min(samples)), float(np.max(samples)), nodes


def micrograd_max_steps(limit: int = 4096) -> int | None:
    """The longest unroll the micrograd design backpropagates before ``RecursionError`` (None if
    ``limit`` steps still work). Doubling, then bisection; depends on the recursion limit."""
    p = make_params(MicroValue)

    def works(T):
        try:
            hello_loss(MicroValue, p, T).backward()
            return True
        except RecursionError:
            return False
    was = gc.isenabled()
    gc.disable()  # only the answer matters here, not the collector's time
    try:
        lo, hi = 0, 8
        while works(hi):
            if hi >= limit:
                return None
            lo, hi = hi, min(2 * hi, limit)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if works(mid) else (lo, mid)
        return lo
    finally:
        if was:
            gc.enable()
        gc.collect()


def check_agreement(T: int = 4) -> float:
    """Both engines give the same loss, node count and gradients; returns the largest difference."""
    out = []
    for Val in (mg.Value, MicroValue):
        p = make_params(Val)
        loss = hello_loss(Val, p, T)
        loss.backward()
        out.append((loss.data, count_nodes(loss), np.array(grads(p))))
    (l0, n0, g0), (l1, n1, g1) = out
    if n0 != n1:
        raise AssertionError(f"the engines built different graphs: {n0} vs {n1} nodes")
    return max(abs(l0 - l1), float(np.abs(g0 - g1).max()))
