"""W4: a 2-layer LSTM encoder-decoder on sequence reversal, teacher forcing, Adam.

V=20 (token 0 is the decoder's start symbol), E=64, H=128, 10 source + 10 target steps, B=32,
float32. Each encoder layer's final (h, c) starts the matching decoder layer; the decoder reads
the start symbol then the target shifted by one. Canonical parameters: enc_emb, dec_emb (V, E);
per layer ``{enc,dec}{0,1}_`` Wx (in, 4H), Wh (H, 4H), b (4H,); Wy (H, V), by (V,).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engines import TorchEngine, Trainer, assemble, lstm_cell
from .harness import Impl
from .lstm_lm import torch_lstm, torch_lstm_grads, uniform
from .npref import Adam, embed_backward, head_xent, lstm_backward, lstm_forward

BOS = 0


@dataclass(frozen=True)
class Config:
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


def torch_fused(torch, cfg: Config, params: dict, batch) -> Trainer:
    """Two ``nn.Embedding`` + two 2-layer ``nn.LSTM`` + the same head and loss."""
    E = TorchEngine(torch)
    mods, p = {}, {}
    for side in ("enc", "dec"):
        emb = torch.nn.Embedding.from_pretrained(torch.from_numpy(params[side + "_emb"].copy()), freeze=False)
        lstm = torch_lstm(torch, params, _layers(cfg, side), cfg.E, cfg.H, cfg.dtype)
        mods[side] = (emb, lstm)
        p[side + "_emb"] = emb.weight
        p.update({f"{side}.{k}": v for k, v in lstm.named_parameters() if v.requires_grad})
    p["Wy"], p["by"] = E.param(params["Wy"]), E.param(params["by"])

    def loss_fn(E, p, batch, state):
        src, dec_in, tgt = batch
        T, B = tgt.shape
        (enc_emb, enc), (dec_emb, dec) = mods["enc"], mods["dec"]
        _, hc = enc(enc_emb(torch.from_numpy(src)))
        out, _ = dec(dec_emb(torch.from_numpy(dec_in)), hc)
        logits = out.reshape(T * B, cfg.H) @ p["Wy"] + p["by"]
        return E.cross_entropy(logits, tgt.reshape(-1), "mean"), ()

    def canonical(p, grad):
        g = {k: grad(p[k]) for k in ("enc_emb", "dec_emb", "Wy", "by")}
        for side in ("enc", "dec"):
            g.update(torch_lstm_grads(p, grad, side, _layers(cfg, side)))
        return g

    return Trainer(E, p, loss_fn, batch, ("adam", {"lr": cfg.lr}), canonical=canonical)


def make_impls(cfg: Config = W4, torch=None) -> list:
    """Every implementation of the workload, on the same initial weights and the same batch."""
    params = init_params(cfg)
    batch = make_batch(cfg)
    ref = NumpySeq2Seq(cfg, params)
    return assemble(params, batch, manual_loss(cfg), ("adam", {"lr": cfg.lr}),
                    [Impl("numpy time-batched", lambda: ref.step(*batch), lambda: ref.loss_and_grads(*batch))],
                    torch, lambda torch: torch_fused(torch, cfg, params, batch),
                    notes=("Tensor-op LSTM cells unrolled, layer by layer", "2-layer nn.LSTM x2"))
