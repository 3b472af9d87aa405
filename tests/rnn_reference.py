"""Plain-numpy recurrent nets for the zoo's tests, independent of minigrad.

``forward`` runs a cell over time; ``bptt`` is backpropagation through time derived by hand,
step by step, returning every parameter's gradient, its per-step shares, and dL/dh_t, dL/dc_t.
``numeric_grad`` takes central finite differences of any numpy function. Row-vector convention
as in the code under test: a = x @ W.T + b, batch first within a step.
"""
from __future__ import annotations

import numpy as np

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def random_params(kind: str, D: int, H: int, rng, bias: bool = True) -> dict:
    G = GATES[kind]
    p = {"weight_ih": rng.uniform(-0.8, 0.8, (G * H, D)), "weight_hh": rng.uniform(-0.8, 0.8, (G * H, H))}
    if bias:
        p["bias_ih"] = rng.uniform(-0.5, 0.5, G * H)
        p["bias_hh"] = rng.uniform(-0.5, 0.5, G * H)
    return p


def _affine(x, p, which):
    b = p.get(f"bias_{which}")
    a = x @ p[f"weight_{which}"].T
    return a if b is None else a + b


def forward(kind: str, p: dict, xs: np.ndarray, h0: np.ndarray, c0: np.ndarray | None = None):
    """Run over xs (T, B, D) from h0 (and c0). Returns (hs (T, B, H), cs (T, B, H) or None, cache)."""
    H = h0.shape[-1]
    h, c = h0, c0
    hs, cs, cache = [], [], []
    for x in xs:
        ai, ah = _affine(x, p, "ih"), _affine(h, p, "hh")
        if kind.startswith("rnn"):
            a = ai + ah
            new = np.tanh(a) if kind == "rnn_tanh" else np.maximum(a, 0)
            cache.append(dict(x=x, h_prev=h, a=a, h=new))
            h = new
        elif kind == "lstm":
            a = ai + ah
            i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            cache.append(dict(x=x, h_prev=h, c_prev=c, i=i, f=f, g=g, o=o, tc=tc))
            h, c = o * tc, c_new
            cs.append(c)
        else:
            r = sigmoid(ai[:, :H] + ah[:, :H])
            z = sigmoid(ai[:, H:2 * H] + ah[:, H:2 * H])
            ghn = ah[:, 2 * H:]
            n = np.tanh(ai[:, 2 * H:] + r * ghn)
            cache.append(dict(x=x, h_prev=h, r=r, z=z, n=n, ghn=ghn))
            h = (1 - z) * n + z * h
        hs.append(h)
    return np.stack(hs), (np.stack(cs) if kind == "lstm" else None), cache


def bptt(kind: str, p: dict, cache: list, dh_out: np.ndarray, dh_n=None, dc_n=None) -> dict:
    """Backpropagation through time, by hand.

    ``dh_out[t]`` is dL/dh_t from the outputs (T, B, H); ``dh_n``/``dc_n`` from the final state.
    Returns the gradients of the parameters, of x (T, B, D) and of h0 (and c0), plus
    ``shares[name]`` (T, *shape): the step-t term of each parameter's gradient, and ``dh``/``dc``
    (T, B, H): the total dL/dh_t and dL/dc_t (from the output at t and from step t+1).
    """
    T, B, H = dh_out.shape
    W_ih, W_hh = p["weight_ih"], p["weight_hh"]
    shares = {name: np.zeros((T,) + p[name].shape) for name in p}
    dx = np.zeros((T, B, W_ih.shape[1]))
    dH = np.zeros((T, B, H))
    dC = np.zeros((T, B, H))
    dh_next = np.zeros((B, H)) if dh_n is None else dh_n
    dc_next = np.zeros((B, H)) if dc_n is None else dc_n
    for t in range(T - 1, -1, -1):
        s = cache[t]
        dh = dh_out[t] + dh_next
        dH[t] = dh
        if kind.startswith("rnn"):
            da = dh * (1 - s["h"] ** 2) if kind == "rnn_tanh" else dh * (s["a"] > 0)
            dai = dah = da
            dh_direct = 0
        elif kind == "lstm":
            i, f, g, o, tc = s["i"], s["f"], s["g"], s["o"], s["tc"]
            dc = dc_next + dh * o * (1 - tc ** 2)
            dC[t] = dc
            do, di, dg, df = dh * tc, dc * g, dc * i, dc * s["c_prev"]
            dai = dah = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
            dc_next = dc * f
            dh_direct = 0
        else:
            r, z, n = s["r"], s["z"], s["n"]
            dn = dh * (1 - z)
            dz = dh * (s["h_prev"] - n)
            dan = dn * (1 - n ** 2)
            dar = dan * s["ghn"] * r * (1 - r)
            daz = dz * z * (1 - z)
            dai = np.concatenate([dar, daz, dan], axis=1)
            dah = np.concatenate([dar, daz, dan * r], axis=1)
            dh_direct = dh * z
        shares["weight_ih"][t] = dai.T @ s["x"]
        shares["weight_hh"][t] = dah.T @ s["h_prev"]
        if "bias_ih" in p:
            shares["bias_ih"][t] = dai.sum(axis=0)
            shares["bias_hh"][t] = dah.sum(axis=0)
        dx[t] = dai @ W_ih
        dh_next = dh_direct + dah @ W_hh
    grads = {name: shares[name].sum(axis=0) for name in p}
    grads.update(x=dx, h0=dh_next, shares=shares, dh=dH, dc=dC)
    if kind == "lstm":
        grads["c0"] = dc_next
    return grads


def numeric_grad(f, arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function ``f()`` with respect to ``arr`` (perturbed in place)."""
    grad = np.zeros_like(arr)
    flat, gflat = arr.reshape(-1), grad.reshape(-1)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + eps
        up = f()
        flat[j] = old - eps
        down = f()
        flat[j] = old
        gflat[j] = (up - down) / (2 * eps)
    return grad
