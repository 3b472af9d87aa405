"""Hand-written numpy building blocks of the references: loss, LSTM layer, optimizers.

Row-vector layout throughout (``x @ W``, ``W`` of shape (in, out)); LSTM gates stacked i, f, g, o
along the last axis, as PyTorch stacks them. Everything runs in the dtype of the arrays given.
Forward functions return what backward needs; backward functions return gradients, never
writing into arrays the caller still holds.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "sigmoid", "softmax_xent", "head_xent", "embed_backward", "lstm_forward", "lstm_backward",
    "Adagrad", "Adam", "clip_",
]


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-x) as 0.5 * (1 + tanh(x / 2)): the same function, and it never overflows."""
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def softmax_xent(logits: np.ndarray, targets: np.ndarray, scale: float) -> tuple:
    """Cross-entropy of ``logits`` (N, V) against integer ``targets`` (N,), summed and times ``scale``.

    Returns ``(loss, dlogits)``; ``logits`` is overwritten (it becomes the softmax).
    """
    n = np.arange(len(targets))
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits, out=logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -float(np.log(p[n, targets]).sum()) * scale
    p[n, targets] -= 1.0
    p *= scale
    return loss, p


def head_xent(Hout: np.ndarray, Wy, by, targets: np.ndarray, scale: float) -> tuple:
    """Output layer and cross-entropy on all N = T*B rows at once, with its backward.

    Hout (N, H) -> ``(loss, dHout, dWy, dby)``.
    """
    logits = np.dot(Hout, Wy)
    logits += by
    loss, dY = softmax_xent(logits, targets, scale)
    return loss, np.dot(dY, Wy.T), np.dot(Hout.T, dY), dY.sum(axis=0)


def embed_backward(idx: np.ndarray, dX: np.ndarray, V: int) -> np.ndarray:
    """Gradient of an embedding table (V, E) from dX (..., E) at integer positions ``idx`` (...)."""
    g = np.zeros((V, dX.shape[-1]), dtype=dX.dtype)
    np.add.at(g, idx.reshape(-1), dX.reshape(-1, dX.shape[-1]))
    return g


def lstm_forward(X: np.ndarray, Wx, Wh, b, h0, c0) -> tuple:
    """One LSTM layer over a whole sequence, time-batched.

    X (T, B, D) -> ``(Hs, cT, cache)``: hidden states Hs (T+1, B, H) with Hs[0] = h0, the final
    cell state, and what backward needs. The input projection of all steps
    is one product; only ``h @ Wh`` and the gates run per step:
        a = x W_x + h W_h + b;  i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
        c' = f * c + i * g;  h' = o * tanh(c')
    """
    T, B, D = X.shape
    H = Wh.shape[0]
    G = np.dot(X.reshape(T * B, D), Wx).reshape(T, B, 4 * H)  # gate pre-activations, then gates
    G += b
    Hs = np.empty((T + 1, B, H), dtype=X.dtype)
    Cs = np.empty((T + 1, B, H), dtype=X.dtype)
    tC = np.empty((T, B, H), dtype=X.dtype)  # tanh(c_t), needed by backward
    Hs[0], Cs[0] = h0, c0
    for t in range(T):
        a = G[t]
        a += np.dot(Hs[t], Wh)
        sigmoid(a[:, :2 * H], out=a[:, :2 * H])
        np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
        sigmoid(a[:, 3 * H:], out=a[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = np.multiply(f, Cs[t], out=Cs[t + 1])
        c += i * g
        np.tanh(c, out=tC[t])
        np.multiply(o, tC[t], out=Hs[t + 1])
    return Hs, Cs[T], (X, Wx, Wh, G, Cs, tC, Hs)


def lstm_backward(dH: np.ndarray, dhT, dcT, cache) -> tuple:
    """Backward of ``lstm_forward``: dH (T, B, H) is dL/dh_t from above for t = 1..T.

    ``dhT``/``dcT`` are gradients arriving at the final state (or None). Returns
    ``(dX, dWx, dWh, db, dh0, dc0)``; weight gradients are single products over all steps.
    """
    X, Wx, Wh, G, Cs, tC, Hs = cache
    T, B, D = X.shape
    H = Wh.shape[0]
    dA = np.empty_like(G)
    dh = np.zeros((B, H), dtype=X.dtype) if dhT is None else dhT.copy()
    dc = np.zeros((B, H), dtype=X.dtype) if dcT is None else dcT.copy()
    WhT = Wh.T
    for t in range(T - 1, -1, -1):
        dh += dH[t]
        a, da = G[t], dA[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = tC[t]
        # dc += dh * o * (1 - tanh(c)^2)
        dc += dh * o * (1.0 - tc * tc)
        np.multiply(dh * tc, o * (1.0 - o), out=da[:, 3 * H:])
        np.multiply(dc * g, i * (1.0 - i), out=da[:, :H])
        np.multiply(dc * Cs[t], f * (1.0 - f), out=da[:, H:2 * H])
        np.multiply(dc * i, 1.0 - g * g, out=da[:, 2 * H:3 * H])
        dc *= f
        dh = np.dot(da, WhT)
    dA2 = dA.reshape(T * B, 4 * H)
    dWh = np.dot(Hs[:-1].reshape(T * B, H).T, dA2)
    dWx = np.dot(X.reshape(T * B, D).T, dA2)
    db = dA2.sum(axis=0)
    dX = np.dot(dA2, Wx.T).reshape(T, B, D)
    return dX, dWx, dWh, db, dh, dc


def clip_(grads: dict, limit: float) -> None:
    """Clip every gradient elementwise into [-limit, limit], in place (min-char-rnn does this)."""
    for g in grads.values():
        np.clip(g, -limit, limit, out=g)


class Adagrad:
    """PyTorch's Adagrad (no decay): s += g^2;  p -= lr * g / (sqrt(s) + eps). Updates in place."""

    def __init__(self, params: dict, lr: float, eps: float):
        self.params, self.lr, self.eps = params, lr, eps
        self.sums = {k: np.zeros_like(p) for k, p in params.items()}
        self.tmp = {k: np.empty_like(p) for k, p in params.items()}

    def step(self, grads: dict) -> None:
        for k, p in self.params.items():
            g, s, tmp = grads[k], self.sums[k], self.tmp[k]
            s += np.multiply(g, g, out=tmp)
            np.sqrt(s, out=tmp)
            tmp += self.eps
            np.divide(g, tmp, out=tmp)
            tmp *= self.lr
            p -= tmp


class Adam:
    """PyTorch's Adam (no weight decay, no amsgrad), bias-corrected as its documentation writes it:
    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)."""

    def __init__(self, params: dict, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: np.zeros_like(p) for k, p in params.items()}
        self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.tmp = {k: np.empty_like(p) for k, p in params.items()}
        self.t = 0

    def step(self, grads: dict) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        for k, p in self.params.items():
            g, m, v, tmp = grads[k], self.m[k], self.v[k], self.tmp[k]
            m *= b1
            m += np.multiply(g, 1.0 - b1, out=tmp)
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.divide(v, c2, out=tmp)
            np.sqrt(tmp, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / c1
            p -= tmp
