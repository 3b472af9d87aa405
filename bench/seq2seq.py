"""W4: a 2-layer LSTM encoder-decoder on sequence reversal, teacher forcing, Adam.

V=20 (token 0 is the decoder's start symbol), E=64, H=128, 10 source + 10 target steps, B=32,
float32. Each encoder layer's final (h, c) starts the matching decoder layer; the decoder reads
the start symbol then the target shifted by one. Canonical parameters: enc_emb, dec_emb (V, E);
per layer ``{enc,dec}{0,1}_`` Wx (in, 4H), Wh (H, 4H), b (4H,); Wy (H, V), by (V,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engines import assemble, freeze_bias_hh, lstm_cell, rnn_grads, rnn_state, trainable
from .harness import Impl
from .lstm_lm import uniform
from .npref import Adam, embed_backward, head_xent, lstm_backward, lstm_forward

BOS = 0


@dataclass(frozen=True)
class Config:
    """W4's sizes (source and target lengths, layers), dtype and Adam learning rate."""

    V: int = 20
    E: int = 64
    H: int = 128
    Ts: int = 10
    Tt: int = 10
    B: int = 32
    layers: int = 2
    dtype: str = "float32"
    lr: float = 1e-3


W4 = Config()


def _layers(cfg: Config, side: str) -> list:
    return [f"{side}{l}_" for l in range(cfg.layers)]


def init_params(cfg: Config, seed: int = 0) -> dict:
    """The canonical parameters (module docs), PyTorch's default initialisation, in ``cfg.dtype``."""
    rng = np.random.default_rng(seed)
    V, E, H = cfg.V, cfg.E, cfg.H
    p = {"enc_emb": rng.standard_normal((V, E)), "dec_emb": rng.standard_normal((V, E))}
    for side in ("enc", "dec"):
        for l, pre in enumerate(_layers(cfg, side)):
            p[pre + "Wx"] = uniform(rng, (E if l == 0 else H, 4 * H), H)
            p[pre + "Wh"] = uniform(rng, (H, 4 * H), H)
            p[pre + "b"] = uniform(rng, (4 * H,), H)
    p["Wy"], p["by"] = uniform(rng, (H, V), H), uniform(rng, (V,), H)
    return {k: v.astype(cfg.dtype) for k, v in p.items()}


def make_batch(cfg: Config, seed: int = 1) -> tuple:
    """(source, decoder input, target), each (T, B): the target is the source reversed."""
    rng = np.random.default_rng(seed)
    src = rng.integers(1, cfg.V, size=(cfg.Ts, cfg.B))
    tgt = src[::-1].copy()
    dec_in = np.concatenate([np.full((1, cfg.B), BOS), tgt[:-1]])
    return src, dec_in, tgt


class NumpySeq2Seq:
    """Hand-written forward + BPTT + Adam; each LSTM layer time-batched (``npref``)."""

    def __init__(self, cfg: Config, params: dict):
        self.cfg = cfg
        self.p = {k: v.copy() for k, v in params.items()}
        self.opt = Adam(self.p, cfg.lr)

    def loss_and_grads(self, src, dec_in, tgt) -> tuple:
        p, cfg = self.p, self.cfg
        B, H = src.shape[1], cfg.H
        zeros = np.zeros((B, H), dtype=cfg.dtype)
        caches, finals = {}, []
        x = p["enc_emb"][src]
        for pre in _layers(cfg, "enc"):
            Hs, cT, caches[pre] = lstm_forward(x, p[pre + "Wx"], p[pre + "Wh"], p[pre + "b"], zeros, zeros)
            finals.append((Hs[-1], cT))
            x = Hs[1:]
        x = p["dec_emb"][dec_in]
        for pre, (h0, c0) in zip(_layers(cfg, "dec"), finals):
            Hs, _, caches[pre] = lstm_forward(x, p[pre + "Wx"], p[pre + "Wh"], p[pre + "b"], h0, c0)
            x = Hs[1:]
        T = tgt.shape[0]
        g = {}
        loss, dx, g["Wy"], g["by"] = head_xent(x.reshape(T * B, H), p["Wy"], p["by"], tgt.reshape(-1),
                                               1.0 / (T * B))
        dx = dx.reshape(T, B, H)
        dfinals = []
        for pre in reversed(_layers(cfg, "dec")):
            dx, g[pre + "Wx"], g[pre + "Wh"], g[pre + "b"], dh0, dc0 = lstm_backward(dx, None, None, caches[pre])
            dfinals.append((dh0, dc0))
        g["dec_emb"] = embed_backward(dec_in, dx, cfg.V)
        dx = np.zeros((src.shape[0], B, H), dtype=cfg.dtype)  # the top encoder layer's outputs are unused
        for pre, (dhT, dcT) in zip(reversed(_layers(cfg, "enc")), dfinals):
            dx, g[pre + "Wx"], g[pre + "Wh"], g[pre + "b"], _, _ = lstm_backward(dx, dhT, dcT, caches[pre])
        g["enc_emb"] = embed_backward(src, dx, cfg.V)
        return loss, g

    def step(self, *batch) -> float:
        loss, grads = self.loss_and_grads(*batch)
        self.opt.step(grads)
        return loss


def manual_loss(cfg: Config):
    """Both stacks unrolled with the LSTM cell, layer by layer; head and loss on all target steps."""

    def run_stack(E, p, X, prefixes, states):
        finals = []
        for pre, (h, c) in zip(prefixes, states):
            hs = []
            for t in range(len(X)):
                h, c = lstm_cell(X[t], h, c, p[pre + "Wx"], p[pre + "Wh"], p[pre + "b"])
                hs.append(h)
            finals.append((h, c))
            X = hs
        return X, finals

    def loss_fn(E, p, batch, state):
        src, dec_in, tgt = batch
        T, B = tgt.shape
        zero = E.const(np.zeros((B, cfg.H), dtype=cfg.dtype))
        _, finals = run_stack(E, p, E.embed(p["enc_emb"], src), _layers(cfg, "enc"), [(zero, zero)] * cfg.layers)
        hs, _ = run_stack(E, p, E.embed(p["dec_emb"], dec_in), _layers(cfg, "dec"), finals)
        logits = E.stack(hs).reshape(T * B, cfg.H) @ p["Wy"] + p["by"]
        return E.cross_entropy(logits, tgt.reshape(-1), "mean"), ()

    return loss_fn


def module_model(cfg: Config, params: dict):
    """The model from an engine's modules: two ``Embedding`` and two 2-layer ``LSTM`` (zoo's, or
    PyTorch's fused ``nn.LSTM``), ``Linear`` head, cross-entropy."""

    def build(E):
        dt = E.dtype(cfg.dtype)
        mods = {}
        for side in ("enc", "dec"):
            emb, lstm = E.Embedding(cfg.V, cfg.E, dtype=dt), E.LSTM(cfg.E, cfg.H, cfg.layers, dtype=dt)
            E.load(emb, {"weight": params[side + "_emb"]})
            E.load(lstm, rnn_state(params, _layers(cfg, side), "lstm"))
            freeze_bias_hh(lstm)
            mods[side + "_emb"], mods[side] = emb, lstm
        head = mods["head"] = E.Linear(cfg.H, cfg.V, dtype=dt)
        E.load(head, {"weight": params["Wy"].T, "bias": params["by"]})

        def loss_fn(E, p, batch, state):
            src, dec_in, tgt = batch
            T, B = tgt.shape
            _, hc = mods["enc"](mods["enc_emb"](E.indices(src)))
            out, _ = mods["dec"](mods["dec_emb"](E.indices(dec_in)), hc)
            logits = head(out.reshape(T * B, cfg.H))
            return E.cross_entropy(logits, tgt.reshape(-1), "mean"), ()

        def canonical(p, grad):
            g = {"enc_emb": grad(p["enc_emb.weight"]), "dec_emb": grad(p["dec_emb.weight"]),
                 "Wy": grad(p["head.weight"]).T, "by": grad(p["head.bias"])}
            for side in ("enc", "dec"):
                g.update(rnn_grads(p, grad, side, _layers(cfg, side), "lstm"))
            return g

        return trainable(**mods), loss_fn, canonical

    return build


def make_impls(cfg: Config = W4, torch=None) -> list:
    """Every implementation of the workload, on the same initial weights and the same batch."""
    params = init_params(cfg)
    batch = make_batch(cfg)
    ref = NumpySeq2Seq(cfg, params)
    return assemble(params, batch, manual_loss(cfg), module_model(cfg, params), ("adam", {"lr": cfg.lr}),
                    [Impl("numpy time-batched", lambda: ref.step(*batch), lambda: ref.loss_and_grads(*batch))],
                    torch, notes=("nn.Embedding + 2-layer zoo.LSTM x2 + nn.Linear + F.cross_entropy + optim",
                                  "2-layer nn.LSTM x2"))
