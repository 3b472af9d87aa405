"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, require

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), following PyTorch's documented algorithm step for step::

        g <- -g                                  if maximize
        lr_t <- lr / (1 + (t - 1) * lr_decay)
        g <- g + lambda * theta                  if lambda != 0
        sum <- sum + g^2                         (sum starts at initial_accumulator_value)
        theta <- theta - lr_t * g / (sqrt(sum) + eps)

    State per parameter: ``step`` (int) and ``sum``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _check(self, group):
        require(group["lr"] >= 0, f"Invalid learning rate: {group['lr']}")
        require(group["lr_decay"] >= 0, f"Invalid lr_decay value: {group['lr_decay']}")
        require(group["weight_decay"] >= 0, f"Invalid weight_decay value: {group['weight_decay']}")
        require(group["initial_accumulator_value"] >= 0,
                f"Invalid initial_accumulator_value value: {group['initial_accumulator_value']}")
        require(group["eps"] >= 0, f"Invalid epsilon value: {group['eps']}")

    def _init_state(self, p, group):
        return {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def _step_group(self, group):
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        for p, g, state in self._with_grads(group, group["weight_decay"]):
            state["step"] = t = state["step"] + 1
            acc, work = state["sum"], self._buffer(g, 1)
            acc += np.square(g, out=work)
            std = np.sqrt(acc, out=work)
            std += eps
            step = np.divide(g, std, out=work)
            step *= lr / (1 + (t - 1) * lr_decay)
            p.data -= step
