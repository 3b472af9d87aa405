"""Named example pictures for ``python -m viz``: small recurrent graphs built with the zoo, a scalar
RNN, and the BPTT charts. The zoo is imported inside the builders only (viz never needs it)."""
from __future__ import annotations

import pathlib

import numpy as np

import minigrad as mg

from .render import render

__all__ = ["EXAMPLES", "FUSED", "recurrent_layer", "scalar_rnn", "flows", "BadSquare", "make"]

LAYERS = ("rnn", "lstm", "gru")


def _layer_class(kind: str):
    from zoo.layers import GRU, LSTM, RNN

    return {"rnn": RNN, "lstm": LSTM, "gru": GRU}[kind]


# --fused: how much of each layer the zoo records as one node (zoo.layers' ``fused=``)
FUSED = {"ops": False, "cell": "cell", "sequence": True}


def recurrent_layer(kind: str, steps: int = 4, hidden: int = 3, inputs: int = 2, batch: int = 1,
                    seed: int = 0, fused=False, **layer_options):
    """A zoo ``RNN``/``LSTM``/``GRU`` run over ``steps`` random inputs with a toy loss (mean of the
    outputs squared), backward run inside ``keep_grads()``. ``fused=False`` records every op of
    every step (the zoo's default fuses the whole sequence into one node). Returns (loss, model)."""
    mg.manual_seed(seed)
    model = _layer_class(kind)(inputs, hidden, fused=fused, **layer_options)
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
            with mg.scope(f"t={t}"):
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
    from .flow import gradient_flow

    x = mg.randn(steps, batch, 4, dtype=np.float64, generator=np.random.default_rng(seed))
    out = {}
    for kind, name, opts in (("rnn", "RNN", {}), ("lstm", "LSTM", {"forget_bias": 1.0}), ("gru", "GRU", {})):
        mg.manual_seed(seed)
        model = _layer_class(kind)(4, hidden, dtype=np.float64, **opts)
        output, _, states = model(x, return_states=True)
        loss = (output[-1] * output[-1]).mean()
        out[name] = gradient_flow(loss, states.h[0][0])
    return out


def _graph(kind: str):
    def build(args, path):
        loss, model = recurrent_layer(kind, steps=args.steps or 4, hidden=args.hidden or 3,
                                      seed=args.seed, fused=FUSED[args.fused])
        return render(loss, path, names=model, detail=args.detail, keep_steps=args.keep_steps,
                      max_nodes=args.max_nodes, title=f"{kind.upper()} unrolled over {args.steps or 4} steps")
    return build


def _seq2seq(args, path):
    from zoo.kernels import fusion
    from zoo.models.seq2seq import Seq2Seq, Seq2SeqConfig

    mg.manual_seed(args.seed)
    steps = args.steps or 3
    config = Seq2SeqConfig(src_vocab_size=8, tgt_vocab_size=8, cell=args.cell, embed_size=3,
                           hidden_size=args.hidden or 3)
    model = Seq2Seq(config)
    rng = np.random.default_rng(args.seed)
    src = rng.integers(3, 8, size=(1, steps))
    tgt = rng.integers(3, 8, size=(1, steps + 1))
    with fusion(FUSED[args.fused]):
        _, loss = model(src, [steps], tgt[:, :-1], tgt[:, 1:])
    with mg.keep_grads():
        loss.backward()
    return render(loss, path, names=model, detail=args.detail, keep_steps=args.keep_steps,
                  max_nodes=args.max_nodes, title=f"seq2seq ({args.cell}, attention), {steps} steps each way")


def _scalar(args, path):
    root = scalar_rnn(steps=args.steps or 4, hidden=args.hidden or 3, seed=args.seed)
    return render(root, path, detail=args.detail, keep_steps=args.keep_steps, max_nodes=args.max_nodes)


def _flow(args, path):
    from .plots import plot_gradient_flow

    return plot_gradient_flow(flows(steps=args.steps or 20, hidden=args.hidden or 16, seed=args.seed), path)


def _shares(args, path):
    from zoo.bptt import gradient_shares

    from .plots import plot_gradient_shares

    mg.manual_seed(args.seed)
    model = _layer_class(args.cell)(4, args.hidden or 8, dtype=np.float64)
    x = mg.randn(args.steps or 12, 2, 4, dtype=np.float64)
    out, _ = model(x)
    shares = gradient_shares((out[-1] * out[-1]).mean(), model)
    return plot_gradient_shares(shares, "weight_hh_l0", path)


def _anim(args, path):
    from .anim import animate_backward

    mg.manual_seed(args.seed)
    model = _layer_class(args.cell)(2, args.hidden or 3, fused=FUSED[args.fused])
    out, _ = model(mg.randn(args.steps or 4, 1, 2))
    return animate_backward((out * out).mean(), path, names=model, detail=args.detail,
                            keep_steps=args.keep_steps, max_nodes=args.max_nodes)


def _explode(args, path):
    from zoo.cells import GRUCell, LSTMCell, RNNCell

    from .explode import explode_cell

    mg.manual_seed(args.seed)
    cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[args.cell](2, args.hidden or 2)
    e = explode_cell(cell, seed=args.seed)
    title = (f"one {type(cell).__name__} step in scalars; matches the Tensor cell to "
             f"{e.max_error:.1e} (values and gradients)")
    return render(e.root, path, title=title, max_nodes=args.max_nodes)


class BadSquare(mg.Function):
    """x² with a deliberately wrong backward (the factor 2 is missing), to show gradcheck's picture."""

    op = "bad_square"

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return (grad * self.x,)


def _gradcheck(args, path):
    from .check import gradcheck_picture

    rng = np.random.default_rng(args.seed)
    W = mg.Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="W")
    x = mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="x")
    gradcheck_picture(lambda x, W: BadSquare.apply((x @ W).tanh()).sum(), [x, W], path)
    return path


# name -> (builder(args, path) -> path, default suffix, description)
EXAMPLES = {
    "rnn": (_graph("rnn"), ".svg", "a tanh RNN layer unrolled (--steps, --detail, --keep-steps, --fused)"),
    "lstm": (_graph("lstm"), ".svg", "an LSTM layer unrolled (try --steps 3 --detail cells)"),
    "gru": (_graph("gru"), ".svg", "a GRU layer unrolled"),
    "seq2seq": (_seq2seq, ".svg", "an encoder-decoder with attention (--cell, --steps, --detail)"),
    "scalar-rnn": (_scalar, ".svg", "a 3-unit RNN over 4 steps in scalar Values, micrograd style"),
    "flow": (_flow, ".svg", "||dL/dh_t|| and ||dh_T/dh_t|| for RNN, LSTM and GRU (matplotlib)"),
    "shares": (_shares, ".svg", "each step's share of weight_hh_l0's gradient (--cell; matplotlib)"),
    "anim": (_anim, ".html", "the backward pass as an HTML page with a slider (--cell)"),
    "explode": (_explode, ".svg", "one cell step in scalar Values, checked against the Tensor cell (--cell)"),
    "gradcheck": (_gradcheck, ".svg", "a graph with a wrong backward: gradcheck's culprit drawn red"),
}


def make(name: str, args, path=None) -> pathlib.Path:
    """Build example ``name`` with the parsed command-line ``args``; returns the written path."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")
    build, suffix, _ = EXAMPLES[name]
    path = pathlib.Path(path or f"{name}{suffix}")
    return pathlib.Path(build(args, path))
