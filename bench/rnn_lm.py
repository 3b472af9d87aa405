"""W1 and W2: a vanilla-RNN character language model, Karpathy's min-char-rnn setup.

    h_t = tanh(x_t W_xh + h_{t-1} W_hh + b_h);  y_t = h_t W_hy + b_y;  L = xent(y_t, target_t)

with one-hot inputs x_t, trained by Adagrad with gradients clipped to [-5, 5] (as min-char-rnn
does). W1 is min-char-rnn itself (V=65, H=100, T=25, batch 1, float64, loss summed over steps,
hidden state carried from one chunk to the next); W2 is the same model at V=65, H=256, T=50,
batch 32 in float32 with the loss averaged. Canonical parameters: Wxh (V, H), Whh (H, H),
bh (H,), Why (H, V), by (V,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engines import assemble, freeze_bias_hh, rnn_cell, rnn_grads, rnn_state, trainable
from .harness import Impl
from .npref import Adagrad, clip_, head_xent, softmax_xent

NAMES = ("Wxh", "Whh", "bh", "Why", "by")
CLIP = 5.0


@dataclass(frozen=True)
class Config:
    """One char-RNN workload: sizes, dtype, loss reduction, state carrying, Adagrad settings, init."""

    V: int
    H: int
    T: int
    B: int
    dtype: str
    reduction: str  # "sum" (min-char-rnn) or "mean"
    carry_state: bool  # min-char-rnn feeds the last hidden state into the next chunk
    lr: float = 0.1
    eps: float = 1e-8
    init_std: float | None = 0.01  # min-char-rnn's randn * 0.01; None: PyTorch's U(-1/sqrt(H), 1/sqrt(H))


W1 = Config(V=65, H=100, T=25, B=1, dtype="float64", reduction="sum", carry_state=True)
W2 = Config(V=65, H=256, T=50, B=32, dtype="float32", reduction="mean", carry_state=False, init_std=None)


def init_params(cfg: Config, seed: int = 0) -> dict:
    """The canonical parameters (module docs) in ``cfg.dtype``, initialised as ``cfg.init_std`` says."""
    rng = np.random.default_rng(seed)
    V, H = cfg.V, cfg.H
    shapes = {"Wxh": (V, H), "Whh": (H, H), "bh": (H,), "Why": (H, V), "by": (V,)}
    if cfg.init_std is None:
        k = 1.0 / np.sqrt(H)
        params = {n: rng.uniform(-k, k, s) for n, s in shapes.items()}
    else:
        params = {n: rng.standard_normal(s) * cfg.init_std for n, s in shapes.items()}
        params["bh"][:] = 0.0
        params["by"][:] = 0.0
    return {n: p.astype(cfg.dtype) for n, p in params.items()}


def make_batch(cfg, seed: int = 1) -> tuple:
    """Integer inputs and next-character targets, both (T, B), for any config with V, T, B."""
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, cfg.V, size=(cfg.T + 1, cfg.B))
    return seq[:-1], seq[1:]


def _scale(cfg: Config) -> float:
    return 1.0 if cfg.reduction == "sum" else 1.0 / (cfg.T * cfg.B)


# numpy references ------------------------------------------------------------------------------
class NumpyRNN:
    """Hand-written forward + BPTT + Adagrad, per-step (``batched=False``) or time-batched.

    The per-step loop is min-char-rnn's: every step does its own input product, output layer,
    softmax and weight-gradient products. The time-batched form runs only the recurrence per
    step: one product projects all inputs, one output layer and softmax cover all steps, and
    each weight gradient is one product over all steps.
    """

    def __init__(self, cfg: Config, params: dict, batched: bool):
        self.cfg, self.batched = cfg, batched
        self.p = {k: v.copy() for k, v in params.items()}
        self.opt = Adagrad(self.p, cfg.lr, cfg.eps)
        self.eye = np.eye(cfg.V, dtype=cfg.dtype)
        self.h = np.zeros((cfg.B, cfg.H), dtype=cfg.dtype)

    def loss_and_grads(self, inputs, targets, h0=None) -> tuple:
        h0 = np.zeros_like(self.h) if h0 is None else h0
        run = self._batched if self.batched else self._loop
        return run(inputs, targets, h0)

    def step(self, inputs, targets) -> float:
        loss, grads, hT = self.loss_and_grads(inputs, targets, self.h if self.cfg.carry_state else None)
        clip_(grads, CLIP)
        self.opt.step(grads)
        self.h = hT
        return loss

    def _loop(self, inputs, targets, h0) -> tuple:
        Wxh, Whh, bh, Why, by = (self.p[n] for n in NAMES)
        T, B = inputs.shape
        scale = _scale(self.cfg)
        xs, hs, dys = [], [h0], []
        loss = 0.0
        for t in range(T):
            x = self.eye[inputs[t]]
            h = np.tanh(np.dot(x, Wxh) + np.dot(hs[-1], Whh) + bh)
            lt, dy = softmax_xent(np.dot(h, Why) + by, targets[t], scale)
            xs.append(x)
            hs.append(h)
            dys.append(dy)
            loss += lt
        dWxh, dWhh, dbh, dWhy, dby = (np.zeros_like(self.p[n]) for n in NAMES)
        dhnext = np.zeros_like(h0)
        for t in range(T - 1, -1, -1):
            dy, h = dys[t], hs[t + 1]
            dWhy += np.dot(h.T, dy)
            dby += dy.sum(axis=0)
            dh = np.dot(dy, Why.T) + dhnext
            da = (1.0 - h * h) * dh
            dbh += da.sum(axis=0)
            dWxh += np.dot(xs[t].T, da)
            dWhh += np.dot(hs[t].T, da)
            dhnext = np.dot(da, Whh.T)
        return loss, dict(zip(NAMES, (dWxh, dWhh, dbh, dWhy, dby))), hs[-1]

    def _batched(self, inputs, targets, h0) -> tuple:
        Wxh, Whh, bh, Why, by = (self.p[n] for n in NAMES)
        T, B = inputs.shape
        V, H = self.cfg.V, self.cfg.H
        X = self.eye[inputs.reshape(-1)]  # (T*B, V)
        Hs = np.empty((T + 1, B, H), dtype=h0.dtype)
        Hs[0] = h0
        A = np.dot(X, Wxh).reshape(T, B, H)
        A += bh
        for t in range(T):
            a = A[t]
            a += np.dot(Hs[t], Whh)
            np.tanh(a, out=Hs[t + 1])
        loss, dHout, dWhy, dby = head_xent(Hs[1:].reshape(T * B, H), Why, by, targets.reshape(-1),
                                           _scale(self.cfg))
        dHout = dHout.reshape(T, B, H)
        dA = np.empty((T, B, H), dtype=h0.dtype)
        dh = np.zeros_like(h0)
        WhhT = Whh.T
        for t in range(T - 1, -1, -1):
            dh += dHout[t]
            h = Hs[t + 1]
            np.multiply(1.0 - h * h, dh, out=dA[t])
            dh = np.dot(dA[t], WhhT)
        dA2 = dA.reshape(T * B, H)
        dWhh = np.dot(Hs[:-1].reshape(T * B, H).T, dA2)
        dWxh = np.dot(X.T, dA2)
        dbh = dA2.sum(axis=0)
        return loss, dict(zip(NAMES, (dWxh, dWhh, dbh, dWhy, dby))), Hs[-1].copy()


# minigrad and PyTorch --------------------------------------------------------------------------
def manual_loss(cfg: Config):
    """The model as a user writes it in an autograd engine: the cell unrolled over T steps, the
    output layer on all steps at once, a cross-entropy; ``backward()`` does BPTT."""

    def loss_fn(E, p, batch, state):
        inputs, targets = batch
        T, B = inputs.shape
        X = E.one_hot(inputs, cfg.V, cfg.dtype)
        h = E.const(np.zeros((B, cfg.H), dtype=cfg.dtype) if state is None else state[0])
        hs = []
        for t in range(T):
            h = rnn_cell(X[t], h, p["Wxh"], p["Whh"], p["bh"])
            hs.append(h)
        logits = E.stack(hs).reshape(T * B, cfg.H) @ p["Why"] + p["by"]
        return E.cross_entropy(logits, targets.reshape(-1), cfg.reduction), (h,)

    return loss_fn


def module_model(cfg: Config, params: dict):
    """The model from an engine's modules: ``RNN`` layer (zoo's, or PyTorch's fused ``nn.RNN``),
    ``Linear`` head, cross-entropy."""

    def build(E):
        dt = E.dtype(cfg.dtype)
        rnn, head = E.RNN(cfg.V, cfg.H, dtype=dt), E.Linear(cfg.H, cfg.V, dtype=dt)
        E.load(rnn, rnn_state(params, [""], "rnn"))
        E.load(head, {"weight": params["Why"].T, "bias": params["by"]})
        freeze_bias_hh(rnn)

        def loss_fn(E, p, batch, state):
            inputs, targets = batch
            T, B = inputs.shape
            h0 = np.zeros((1, B, cfg.H), dtype=cfg.dtype) if state is None else state[0][None]
            out, hT = rnn(E.one_hot(inputs, cfg.V, cfg.dtype), E.const(h0))
            logits = head(out.reshape(T * B, cfg.H))
            return E.cross_entropy(logits, targets.reshape(-1), cfg.reduction), (hT[0],)

        def canonical(p, grad):
            return {**rnn_grads(p, grad, "rnn", [""], "rnn"), "Why": grad(p["head.weight"]).T,
                    "by": grad(p["head.bias"])}

        return trainable(rnn=rnn, head=head), loss_fn, canonical

    return build


def _optimizer(cfg: Config) -> tuple:
    return "adagrad", {"lr": cfg.lr, "eps": cfg.eps}


def make_impls(cfg: Config, torch=None) -> list:
    """Every implementation of the workload, on the same initial weights and the same batch."""
    params = init_params(cfg)
    batch = make_batch(cfg)

    def numpy_impl(name, batched, note=""):
        model = NumpyRNN(cfg, params, batched)
        return Impl(name, lambda: model.step(*batch), lambda: model.loss_and_grads(*batch)[:2], note)

    return assemble(params, batch, manual_loss(cfg), module_model(cfg, params), _optimizer(cfg),
                    [numpy_impl("numpy time-batched", True),
                     numpy_impl("numpy per-step loop", False, "min-char-rnn style")],
                    torch, CLIP, cfg.carry_state, ("zoo.RNN + nn.Linear + F.cross_entropy + optim", "nn.RNN"))
