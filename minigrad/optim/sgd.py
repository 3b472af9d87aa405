"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, require

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""SGD, following PyTorch's documented algorithm step for step.

    With gradient :math:`g_t`, learning rate :math:`\gamma`, momentum :math:`\mu`, dampening
    :math:`\tau` and weight decay :math:`\lambda`::

        g <- -g                              if maximize
        g <- g + lambda * theta              if lambda != 0
        b <- g  (first step),  b <- mu * b + (1 - tau) * g  (later steps)     if mu != 0
        g <- g + mu * b  if nesterov  else  g <- b                            if mu != 0
        theta <- theta - lr * g

    State per parameter (only with momentum): ``momentum_buffer``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _check(self, group):
        require(group["lr"] >= 0, f"Invalid learning rate: {group['lr']}")
        require(group["momentum"] >= 0, f"Invalid momentum value: {group['momentum']}")
        require(group["weight_decay"] >= 0, f"Invalid weight_decay value: {group['weight_decay']}")
        require(not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
                "Nesterov momentum requires a momentum > 0 and zero dampening")

    def _step_group(self, group):
        lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
        nesterov = group["nesterov"]
        for p, d, state in self._with_grads(group, group["weight_decay"]):
            work = self._buffer(d, 1)
            if mu != 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.copy()
                else:
                    buf *= mu
                    if damp != 0:
                        buf += np.multiply(d, 1 - damp, out=work)
                    else:
                        buf += d
                if nesterov:
                    d = np.add(d, np.multiply(buf, mu, out=work), out=work)
                else:
                    d = buf
            p.data -= np.multiply(d, lr, out=work)
