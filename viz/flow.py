"""Gradient flow through time, measured on the recorded graph: how much of the loss's gradient
reaches each hidden state, and how strongly the last state depends on each earlier one.

These are the numbers behind the vanishing-gradient picture (Bengio et al. 1994; Pascanu et al.
2013): for a tanh RNN ``dh_T/dh_t`` is a product of ``T - t`` Jacobians ``diag(1 - h^2) W_hh``,
which shrinks geometrically when ``W_hh`` is small; the LSTM's cell state carries gradients
through ``f`` instead, and a forget gate biased open (Gers et al. 2000) keeps them alive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minigrad import toposort

__all__ = ["GradientFlow", "gradient_flow"]


@dataclass
class GradientFlow:
    """Per-step gradient norms, index t = time step.

    ``loss_grad[t]`` = ||dL/dh_t|| (Frobenius over batch and units), everything reaching h_t from
    the loss. ``jacobian[t]`` = ||dh_T/dh_t||_F, root-mean-square over the batch: how much the last
    state still depends on step t's.
    """

    loss_grad: np.ndarray
    jacobian: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        """0, 1, ..., T-1."""
        return np.arange(len(self.loss_grad))

    def decay(self) -> float:
        """``jacobian[0] / jacobian[-1]``: the fraction of dependence that survives the whole sequence."""
        return float(self.jacobian[0] / self.jacobian[-1])


def gradient_flow(loss, states, last=None) -> GradientFlow:
    """Measure ||dL/dh_t|| and ||dh_T/dh_t|| for the hidden states ``states`` (h_0..h_{T-1}, graph
    nodes in time order, e.g. ``zoo`` layers' ``return_states=True``) of the graph under ``loss``.

    Runs one backward pass from ``loss`` and one per hidden unit from ``last`` (default
    ``states[-1]``), keeping the graph. Afterwards ``states[t].grad`` holds dL/dh_t; every other
    tensor's ``.grad`` is as it was before the call.
    """
    states = list(states)
    if not states:
        raise ValueError("gradient_flow needs at least one state tensor")
    for t, s in enumerate(states):
        if not getattr(s, "requires_grad", False):
            raise ValueError(f"gradient_flow: state {t} does not require grad, so no gradient can reach it")
    last = states[-1] if last is None else last
    tracked = {id(s): s for s in states}
    tracked[id(last)] = last
    before = [(n, n.grad, None if n.grad is None else n.grad.data) for n in toposort(loss)]
    for s in tracked.values():
        s.retain_grad()

    def run(root, grad) -> list:
        for s in tracked.values():
            s.grad = None
        root.backward(grad, retain_graph=True)
        return [s.grad for s in states]

    try:
        to_loss = run(loss, None)
        loss_grad = np.array([0.0 if g is None else _fro(g.data) for g in to_loss])
        H = last.shape[-1]
        batch = max(last.data.size // H, 1)
        sq = np.zeros(len(states))
        for i in range(H):
            e = np.zeros(last.shape, dtype=last.dtype)
            e[..., i] = 1
            for t, g in enumerate(run(last, e)):
                if g is not None:
                    sq[t] += _fro(g.data) ** 2
        jacobian = np.sqrt(sq / batch)
    finally:
        for n, g, data in before:
            n.grad = g
            if g is not None:
                g.data = data
    for s, g in zip(states, to_loss):
        s.grad = g
    return GradientFlow(loss_grad, jacobian)


def _fro(a: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))
