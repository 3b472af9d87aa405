"""Adam (optionally AMSGrad) and AdamW (Adam with decoupled weight decay)."""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, require

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), following PyTorch's documented algorithm step for step::

        g <- -g                                 if maximize
        theta <- theta * (1 - lr * lambda)      if decoupled_weight_decay (AdamW)
        g <- g + lambda * theta                 otherwise, if lambda != 0
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)                  if amsgrad (then v_max replaces v below)
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        b1, b2 = group["betas"]
        require(group["lr"] >= 0, f"Invalid learning rate: {group['lr']}")
        require(group["eps"] >= 0, f"Invalid epsilon value: {group['eps']}")
        require(0 <= b1 < 1, f"Invalid beta parameter at index 0: {b1}")
        require(0 <= b2 < 1, f"Invalid beta parameter at index 1: {b2}")
        require(group["weight_decay"] >= 0, f"Invalid weight_decay value: {group['weight_decay']}")

    def _init_state(self, p, group):
        state = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _step_group(self, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        amsgrad, decoupled = group["amsgrad"], group["decoupled_weight_decay"]
        for p, g, state in self._with_grads(group, 0.0 if decoupled else wd):
            state["step"] = t = state["step"] + 1
            if decoupled and wd != 0:
                p.data *= 1 - lr * wd
            m, v, work = state["exp_avg"], state["exp_avg_sq"], self._buffer(g, 1)
            # m <- m + (1 - beta1) (g - m): PyTorch's lerp form of the moving average
            m += np.multiply(np.subtract(g, m, out=work), 1 - b1, out=work)
            v *= b2
            v += np.multiply(np.square(g, out=work), 1 - b2, out=work)
            if amsgrad:
                v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            denom = np.sqrt(v, out=work)
            denom /= math.sqrt(1 - b2 ** t)
            denom += eps
            step = np.divide(m, denom, out=work)
            step *= lr / (1 - b1 ** t)
            p.data -= step


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the parameters shrink by
    ``lr * weight_decay`` each step instead of the decay entering the gradient; default 0.01."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
