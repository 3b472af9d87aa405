"""RMSprop, plain or centered, with optional momentum."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, require

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e; centered form from Graves, 2013), following PyTorch's
    documented algorithm step for step::

        g <- -g                                     if maximize
        g <- g + lambda * theta                     if lambda != 0
        v <- alpha * v + (1 - alpha) * g^2
        v~ <- v
        g_ave <- alpha * g_ave + (1 - alpha) * g    if centered,  and then  v~ <- v - g_ave^2
        b <- mu * b + g / (sqrt(v~) + eps);  theta <- theta - lr * b          if mu > 0
        theta <- theta - lr * g / (sqrt(v~) + eps)                            otherwise

    State per parameter: ``step`` (int), ``square_avg`` (v), ``momentum_buffer`` (b) when
    momentum > 0 and ``grad_avg`` when centered.

    NOTE: centered, ``v - g_ave^2`` is >= 0 in exact arithmetic but can round to a tiny negative
    number; it is clamped at 0 where PyTorch would produce NaN.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _check(self, group):
        require(group["lr"] >= 0, f"Invalid learning rate: {group['lr']}")
        require(group["eps"] >= 0, f"Invalid epsilon value: {group['eps']}")
        require(group["momentum"] >= 0, f"Invalid momentum value: {group['momentum']}")
        require(group["weight_decay"] >= 0, f"Invalid weight_decay value: {group['weight_decay']}")
        require(group["alpha"] >= 0, f"Invalid alpha value: {group['alpha']}")

    def _init_state(self, p, group):
        state = {"step": 0, "square_avg": np.zeros_like(p.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.data)
        return state

    def _step_group(self, group):
        lr, alpha, eps, mu, centered = (group["lr"], group["alpha"], group["eps"], group["momentum"],
                                        group["centered"])
        for p, g, state in self._with_grads(group, group["weight_decay"]):
            state["step"] += 1
            v, work = state["square_avg"], self._buffer(g, 1)
            v *= alpha
            v += np.multiply(np.square(g, out=work), 1 - alpha, out=work)
            if centered:
                g_ave = state["grad_avg"]
                # g_ave <- g_ave + (1 - alpha) (g - g_ave): PyTorch's lerp form
                g_ave += np.multiply(np.subtract(g, g_ave, out=work), 1 - alpha, out=work)
                avg = np.subtract(v, np.square(g_ave, out=work), out=work)
                np.maximum(avg, 0.0, out=avg)
                avg = np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(v, out=work)
            avg += eps
            if mu > 0:
                buf = state["momentum_buffer"]
                buf *= mu
                buf += np.divide(g, avg, out=work)
                p.data -= np.multiply(buf, lr, out=work)
            else:
                step = np.divide(g, avg, out=work)
                step *= lr
                p.data -= step
