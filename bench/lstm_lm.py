"""W3: an LSTM character language model, embedding -> LSTM -> linear -> cross-entropy, Adam.

V=65, E=64, H=256, T=35, B=32, float32, loss averaged over the T*B predictions, zero initial
state. Canonical parameters: emb (V, E), Wx (E, 4H), Wh (H, 4H), b (4H,), Wy (H, V), by (V,),
gates stacked i, f, g, o.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engines import assemble, freeze_bias_hh, lstm_cell, rnn_grads, rnn_state, trainable
from .harness import Impl
from .npref import Adam, embed_backward, head_xent, lstm_backward, lstm_forward
from .rnn_lm import make_batch

NAMES = ("emb", "Wx", "Wh", "b", "Wy", "by")


@dataclass(frozen=True)
class Config:
    """W3's sizes, dtype and Adam learning rate."""

    V: int = 65
    E: int = 64
    H: int = 256
    T: int = 35
    B: int = 32
    dtype: str = "float32"
    lr: float = 2e-3


W3 = Config()


def uniform(rng, shape, H) -> np.ndarray:
    """PyTorch's recurrent/linear default: U(-1/sqrt(H), 1/sqrt(H))."""
    k = 1.0 / np.sqrt(H)
    return rng.uniform(-k, k, shape)


def init_params(cfg: Config, seed: int = 0) -> dict:
    """The canonical parameters (module docs), PyTorch's default initialisation, in ``cfg.dtype``."""
    rng = np.random.default_rng(seed)
    V, E, H = cfg.V, cfg.E, cfg.H
    p = {"emb": rng.standard_normal((V, E)), "Wx": uniform(rng, (E, 4 * H), H),
         "Wh": uniform(rng, (H, 4 * H), H), "b": uniform(rng, (4 * H,), H),
         "Wy": uniform(rng, (H, V), H), "by": uniform(rng, (V,), H)}
    return {k: v.astype(cfg.dtype) for k, v in p.items()}


class NumpyLSTMLM:
    """Hand-written forward + BPTT + Adam, time-batched (``npref.lstm_forward``/``lstm_backward``)."""

    def __init__(self, cfg: Config, params: dict):
        self.cfg = cfg
        self.p = {k: v.copy() for k, v in params.items()}
        self.opt = Adam(self.p, cfg.lr)

    def loss_and_grads(self, inputs, targets) -> tuple:
        p, cfg = self.p, self.cfg
        T, B = inputs.shape
        zeros = np.zeros((B, cfg.H), dtype=cfg.dtype)
        Hs, _, cache = lstm_forward(p["emb"][inputs], p["Wx"], p["Wh"], p["b"], zeros, zeros)
        loss, dH, dWy, dby = head_xent(Hs[1:].reshape(T * B, cfg.H), p["Wy"], p["by"], targets.reshape(-1),
                                       1.0 / (T * B))
        dX, dWx, dWh, db, _, _ = lstm_backward(dH.reshape(T, B, cfg.H), None, None, cache)
        demb = embed_backward(inputs, dX, cfg.V)
        return loss, dict(zip(NAMES, (demb, dWx, dWh, db, dWy, dby)))

    def step(self, inputs, targets) -> float:
        loss, grads = self.loss_and_grads(inputs, targets)
        self.opt.step(grads)
        return loss


def manual_loss(cfg: Config):
    """Embed the whole sequence, unroll the LSTM cell over it, head and loss on all steps."""

    def loss_fn(E, p, batch, state):
        inputs, targets = batch
        T, B = inputs.shape
        X = E.embed(p["emb"], inputs)
        h = c = E.const(np.zeros((B, cfg.H), dtype=cfg.dtype))
        hs = []
        for t in range(T):
            h, c = lstm_cell(X[t], h, c, p["Wx"], p["Wh"], p["b"])
            hs.append(h)
        logits = E.stack(hs).reshape(T * B, cfg.H) @ p["Wy"] + p["by"]
        return E.cross_entropy(logits, targets.reshape(-1), "mean"), (h, c)

    return loss_fn


def module_model(cfg: Config, params: dict):
    """The model from an engine's modules: ``Embedding``, ``LSTM`` layer (zoo's, or PyTorch's fused
    ``nn.LSTM``), ``Linear`` head, cross-entropy."""

    def build(E):
        dt = E.dtype(cfg.dtype)
        emb, lstm = E.Embedding(cfg.V, cfg.E, dtype=dt), E.LSTM(cfg.E, cfg.H, dtype=dt)
        head = E.Linear(cfg.H, cfg.V, dtype=dt)
        E.load(emb, {"weight": params["emb"]})
        E.load(lstm, rnn_state(params, [""], "lstm"))
        E.load(head, {"weight": params["Wy"].T, "bias": params["by"]})
        freeze_bias_hh(lstm)

        def loss_fn(E, p, batch, state):
            inputs, targets = batch
            T, B = inputs.shape
            out, hc = lstm(emb(E.indices(inputs)))
            logits = head(out.reshape(T * B, cfg.H))
            return E.cross_entropy(logits, targets.reshape(-1), "mean"), hc

        def canonical(p, grad):
            return {"emb": grad(p["emb.weight"]), **rnn_grads(p, grad, "lstm", [""], "lstm"),
                    "Wy": grad(p["head.weight"]).T, "by": grad(p["head.bias"])}

        return trainable(emb=emb, lstm=lstm, head=head), loss_fn, canonical

    return build


def make_impls(cfg: Config = W3, torch=None) -> list:
    """Every implementation of the workload, on the same initial weights and the same batch."""
    params = init_params(cfg)
    batch = make_batch(cfg)
    ref = NumpyLSTMLM(cfg, params)
    return assemble(params, batch, manual_loss(cfg), module_model(cfg, params), ("adam", {"lr": cfg.lr}),
                    [Impl("numpy time-batched", lambda: ref.step(*batch), lambda: ref.loss_and_grads(*batch))],
                    torch, notes=("nn.Embedding + zoo.LSTM + nn.Linear + F.cross_entropy + optim", "nn.LSTM"))
