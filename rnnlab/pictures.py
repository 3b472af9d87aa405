"""The ready-made pictures of ``minigrad render NAME -o PATH`` (also ``python -m rnnlab.pictures``):
small recurrent graphs built with the zoo and drawn by viz, a scalar RNN in micrograd's style, the
BPTT charts, the backward animation, an exploded cell and gradcheck's red culprit.

``--list`` names them. Every flag is checked before anything is built, the output's suffix too
(graphs: svg png pdf dot gv; charts: svg png pdf; the animation: an .html page, or a folder of
SVG frames for a path without a suffix); bad input is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys

import numpy as np

import minigrad as mg
import viz
from viz.anim import animate_backward
from viz.check import gradcheck_picture
from viz.explode import explode_cell
from viz.flow import gradient_flow
from viz.plots import plot_gradient_flow, plot_gradient_shares
from zoo import gradient_shares, unfused
from zoo.cells import GRUCell, LSTMCell, RNNCell
from zoo.models.common import CELLS
from zoo.models.seq2seq import Seq2Seq, Seq2SeqConfig

from .cli import guarded
from .flags import CLIError, Parser, check_flags, positive_int

__all__ = ["EXAMPLES", "FUSED", "recurrent_layer", "scalar_rnn", "flows", "BadSquare", "make", "parser", "main"]

# --fused: how each recurrent layer is recorded (the zoo layers' ``fused=``): every primitive op,
# or the zoo's fused cell steps
FUSED = {"ops": False, "cells": True}
GRAPH_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv", "")  # "": svg
CHART_SUFFIXES = (".svg", ".png", ".pdf", "")
PAGE_SUFFIXES = (".html", ".htm", "")  # "": a folder of SVG frames


def recurrent_layer(kind: str, steps: int = 4, hidden: int = 3, inputs: int = 2, batch: int = 1,
                    seed: int = 0, fused=False, **layer_options):
    """A zoo ``RNN``/``LSTM``/``GRU`` run over ``steps`` random inputs with a toy loss (mean of the
    outputs squared), backward run inside ``keep_grads()``. ``fused=False`` records every op of
    every step (the zoo's default, ``fused=True``, records its fused kernels). Returns (loss, model)."""
    mg.manual_seed(seed)
    model = CELLS[kind](inputs, hidden, fused=fused, **layer_options)
    x = mg.randn(steps, batch, inputs)
    out, _ = model(x)
    loss = (out * out).mean()
    with mg.keep_grads():
        loss.backward()
    return loss, model


def scalar_rnn(steps: int = 4, hidden: int = 3, seed: int = 0) -> mg.Value:
    """A tanh RNN with one input and ``hidden`` units written in scalar ``Value``s, unrolled over
    ``steps`` (one scope per step), loss ``L = sum(h_T)``, after backward."""
    rng = np.random.default_rng(seed)
    w_x = [mg.Value(rng.normal(0, 0.8), label=f"w_x[{i}]") for i in range(hidden)]
    w_h = [[mg.Value(rng.normal(0, 0.5), label=f"w_h[{i},{j}]") for j in range(hidden)] for i in range(hidden)]
    b = [mg.Value(0.1, label=f"b[{i}]") for i in range(hidden)]
    h = None
    with mg.scope("rnn"):
        for t in range(steps):
            with mg.scope(mg.step_scope(t)):
                x = mg.Value(round(float(rng.normal()), 2), label=f"x_{t}")
                new = []
                for i in range(hidden):
                    a = w_x[i] * x + b[i]
                    if h is not None:
                        for j in range(hidden):
                            a = a + w_h[i][j] * h[j]
                    v = a.tanh()
                    v.label = f"h_{t}[{i}]"
                    new.append(v)
                h = new
    loss = h[0]
    for v in h[1:]:
        loss = loss + v
    loss.label = "L"
    loss.backward()
    return loss


def flows(steps: int = 20, hidden: int = 16, batch: int = 8, seed: int = 0) -> dict:
    """Gradient flow of a zoo RNN (tanh), LSTM (forget bias 1) and GRU on one random sequence, the
    loss read at the last step only. Returns {name: GradientFlow}."""
    x = mg.randn(steps, batch, 4, dtype=np.float64, generator=np.random.default_rng(seed))
    out = {}
    for kind, name, opts in (("rnn", "RNN", {}), ("lstm", "LSTM", {"forget_bias": 1.0}), ("gru", "GRU", {})):
        mg.manual_seed(seed)
        model = CELLS[kind](4, hidden, dtype=np.float64, **opts)
        output, _, states = model(x, return_states=True)
        loss = (output[-1] * output[-1]).mean()
        out[name] = gradient_flow(loss, states.h[0][0])
    return out


def _graph(kind: str):
    def build(args, path):
        loss, model = recurrent_layer(kind, steps=args.steps or 4, hidden=args.hidden or 3,
                                      seed=args.seed, fused=FUSED[args.fused])
        return viz.render(loss, path, names=model, detail=args.detail, keep_steps=args.keep_steps,
                          max_nodes=args.max_nodes, title=f"{kind.upper()} unrolled over {args.steps or 4} steps")
    return build


def _seq2seq(args, path):
    mg.manual_seed(args.seed)
    steps = args.steps or 3
    config = Seq2SeqConfig(src_vocab_size=8, tgt_vocab_size=8, cell=args.cell, embed_size=3,
                           hidden_size=args.hidden or 3)
    model = Seq2Seq(config)
    rng = np.random.default_rng(args.seed)
    src = rng.integers(3, 8, size=(1, steps))
    tgt = rng.integers(3, 8, size=(1, steps + 1))
    with contextlib.nullcontext() if FUSED[args.fused] else unfused():
        _, loss = model(src, [steps], tgt[:, :-1], tgt[:, 1:])
    with mg.keep_grads():
        loss.backward()
    return viz.render(loss, path, names=model, detail=args.detail, keep_steps=args.keep_steps,
                      max_nodes=args.max_nodes, title=f"seq2seq ({args.cell}, attention), {steps} steps each way")


def _scalar(args, path):
    root = scalar_rnn(steps=args.steps or 4, hidden=args.hidden or 3, seed=args.seed)
    return viz.render(root, path, detail=args.detail, keep_steps=args.keep_steps, max_nodes=args.max_nodes)


def _flow(args, path):
    return plot_gradient_flow(flows(steps=args.steps or 20, hidden=args.hidden or 16, seed=args.seed), path)


def _shares(args, path):
    mg.manual_seed(args.seed)
    model = CELLS[args.cell](4, args.hidden or 8, dtype=np.float64)
    x = mg.randn(args.steps or 12, 2, 4, dtype=np.float64)
    out, _ = model(x)
    shares = gradient_shares((out[-1] * out[-1]).mean(), model)
    return plot_gradient_shares(shares, "weight_hh_l0", path)


def _anim(args, path):
    mg.manual_seed(args.seed)
    model = CELLS[args.cell](2, args.hidden or 3, fused=FUSED[args.fused])
    out, _ = model(mg.randn(args.steps or 4, 1, 2))
    return animate_backward((out * out).mean(), path, names=model, detail=args.detail,
                            keep_steps=args.keep_steps, max_nodes=args.max_nodes)


def _explode(args, path):
    mg.manual_seed(args.seed)
    cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[args.cell](2, args.hidden or 2)
    e = explode_cell(cell, seed=args.seed)
    title = (f"one {type(cell).__name__} step in scalars; matches the Tensor cell to "
             f"{e.max_error:.1e} (values and gradients)")
    return viz.render(e.root, path, title=title, max_nodes=args.max_nodes)


class BadSquare(mg.Function):
    """x² with a deliberately wrong backward (the factor 2 is missing), to show gradcheck's picture."""

    op = "bad_square"

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return (grad * self.x,)


def _gradcheck(args, path):
    rng = np.random.default_rng(args.seed)
    W = mg.Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="W")
    x = mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="x")
    gradcheck_picture(lambda x, W: BadSquare.apply((x @ W).tanh()).sum(), [x, W], path)
    return path


# name -> (builder(args, path) -> path, default suffix, the suffixes it can write, description)
EXAMPLES = {
    "rnn": (_graph("rnn"), ".svg", GRAPH_SUFFIXES,
            "a tanh RNN layer unrolled (--steps, --detail, --keep-steps, --fused)"),
    "lstm": (_graph("lstm"), ".svg", GRAPH_SUFFIXES, "an LSTM layer unrolled (try --steps 3 --detail cells)"),
    "gru": (_graph("gru"), ".svg", GRAPH_SUFFIXES, "a GRU layer unrolled"),
    "seq2seq": (_seq2seq, ".svg", GRAPH_SUFFIXES, "an encoder-decoder with attention (--cell, --steps, --detail)"),
    "scalar-rnn": (_scalar, ".svg", GRAPH_SUFFIXES, "a 3-unit RNN over 4 steps in scalar Values, micrograd style"),
    "flow": (_flow, ".svg", CHART_SUFFIXES, "||dL/dh_t|| and ||dh_T/dh_t|| for RNN, LSTM and GRU (matplotlib)"),
    "shares": (_shares, ".svg", CHART_SUFFIXES, "each step's share of weight_hh_l0's gradient (--cell; matplotlib)"),
    "anim": (_anim, ".html", PAGE_SUFFIXES, "the backward pass as an HTML page with a slider (--cell)"),
    "explode": (_explode, ".svg", GRAPH_SUFFIXES,
                "one cell step in scalar Values, checked against the Tensor cell (--cell)"),
    "gradcheck": (_gradcheck, ".svg", GRAPH_SUFFIXES, "a graph with a wrong backward: gradcheck's culprit drawn red"),
}


def _suffixes(allowed: tuple) -> str:
    named = " ".join(s for s in allowed if s)
    if allowed is PAGE_SUFFIXES:
        return f"{named}, or no suffix for a folder of SVG frames"
    return f"{named} (no suffix: svg)"


def make(name: str, args, path=None) -> pathlib.Path:
    """Build example ``name`` with the parsed command-line ``args``; returns the written path.
    ValueError, before anything is built, for an unknown name or a suffix it cannot write."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")
    build, suffix, allowed, _ = EXAMPLES[name]
    path = pathlib.Path(path or f"{name}{suffix}")
    if path.suffix.lower() not in allowed:
        raise ValueError(f"cannot write {name} as '{path}': its output can be {_suffixes(allowed)}")
    return pathlib.Path(build(args, path))


def parser(prog: str = "python -m rnnlab.pictures") -> argparse.ArgumentParser:
    """The argument parser of ``minigrad render`` (its errors are one-line ``CLIError``s)."""
    p = Parser(prog=prog, description="Render one of the ready-made pictures (--list names them).")
    p.add_argument("name", nargs="?", help="example to render (see --list)")
    p.add_argument("-o", "--output", help="file to write (default: NAME.svg, or NAME.html for anim)")
    p.add_argument("--list", action="store_true", help="list the examples and exit")
    p.add_argument("--steps", type=positive_int, help="time steps to unroll (default: the example's)")
    p.add_argument("--hidden", type=positive_int, help="hidden units (default: the example's)")
    p.add_argument("--detail", choices=viz.DETAILS, default="ops", help="level of detail of graph pictures")
    p.add_argument("--keep-steps", type=positive_int, help="draw only the first and last K steps")
    p.add_argument("--max-nodes", type=positive_int, default=viz.MAX_NODES,
                   help=f"collapse bigger graphs (default {viz.MAX_NODES})")
    p.add_argument("--cell", choices=tuple(CELLS), default="lstm",
                   help="cell for seq2seq/shares/anim/explode (default lstm)")
    p.add_argument("--fused", choices=tuple(FUSED), default="ops",
                   help="record each layer op by op (default) or as the zoo's fused cell steps")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs (default 0)")
    return p


def main(argv=None, prog: str = "python -m rnnlab.pictures") -> int:
    """Render one example (or list them) and print the path written; returns the exit status.
    Bad input raises ``CLIError``/``ValueError`` (``rnnlab.cli.guarded`` prints it as one line)."""
    args = parser(prog).parse_args(argv)
    try:
        check_flags(args)
        if args.list or not args.name:
            width = max(map(len, EXAMPLES))
            for name, (_, _, _, about) in EXAMPLES.items():
                print(f"{name:<{width}}  {about}")
            return 0
        written = make(args.name, args, args.output)
    # a bad flag or suffix; graphviz's dot or matplotlib missing, dot failing: one line naming the command
    except (ValueError, RuntimeError, ImportError) as e:
        raise CLIError(f"{prog}: {e}") from None
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(guarded(lambda: main(sys.argv[1:]), prog="python -m rnnlab.pictures"))
