"""Backpropagation through time made visible: per-step gradient shares, and truncated BPTT.

Every BPTT derivation ends with ``dL/dW = sum over t of (dL/dW at step t)``: a shared weight's
gradient is the sum of what each time step contributed. ``gradient_shares`` returns those terms
as data, read off the recorded graph. ``truncated_bptt`` runs a long sequence in chunks of k steps,
carrying the state forward but cutting the graph between chunks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad.edges import edge_gradients
from minigrad.nn import Module

__all__ = ["GradientShares", "gradient_shares", "step_of_scope", "detach_state", "truncated_bptt", "TBPTTResult"]

_STEP = re.compile(r"(?:^|/)t=(\d+)(?:/|$)")


def step_of_scope(scope: str) -> int | None:
    """The time step a node belongs to, read from its scope (``"layer0/bwd/t=3"`` -> 3), or None."""
    m = _STEP.search(scope)
    return None if m is None else int(m.group(1))


@dataclass
class GradientShares:
    """Each parameter's gradient split by time step.

    ``steps[name]`` has shape (T, *param.shape): row t is what the ops of step t (nodes in a
    ``t=<t>`` scope) contributed to dL/d(param). ``other[name]`` is what ops outside any step
    contributed (for instance an output layer applied to all steps at once). For every name,
    ``steps[name].sum(0) + other[name]`` equals the gradient backward delivered.
    """

    steps: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)

    def total(self, name: str) -> np.ndarray:
        """The gradient the shares add up to."""
        return self.steps[name].sum(axis=0) + self.other[name]

    def norms(self, name: str) -> np.ndarray:
        """The Frobenius norm of each step's share, (T,): how much each step moved the weight."""
        s = self.steps[name]
        return np.sqrt((s.reshape(len(s), -1) ** 2).sum(axis=1))


def gradient_shares(loss: mg.Tensor, params) -> GradientShares:
    """Backpropagate ``loss`` and return every parameter's gradient split by time step.

    ``params``: a ``Module`` (its named parameters), a dict name -> tensor, or a list of tensors
    (named by position). The backward pass runs as usual (``.grad`` accumulates) with the graph kept;
    pass a loss whose graph has not been through backward yet. T is one more than the largest
    step found among the parameters' consumers.

    Works in every fusion mode: a per-op or per-step graph is split by the nodes' ``t=<t>``
    scopes; a fused sequence node (one per layer and direction) splits its own contribution by
    step (its ``step_grads``), onto the input step each term belongs to.
    """
    if isinstance(params, Module):
        named = list(params.named_parameters())
    elif isinstance(params, dict):
        named = list(params.items())
    else:
        named = [(str(i), p) for i, p in enumerate(params)]
    uses = edge_gradients(loss, [p for _, p in named])
    split = {}  # id(node) -> per input, its gradient split by step, for nodes that span many steps
    T = 0
    for per in uses:
        for node, _ in per:
            fn = node.grad_fn
            if hasattr(fn, "step_grads"):
                if id(node) not in split:
                    split[id(node)] = fn.step_grads(node.grad.data)
                T = max(T, fn.T)
            elif step_of_scope(node.scope) is not None:
                T = max(T, step_of_scope(node.scope) + 1)
    shares = GradientShares()
    for (name, p), per in zip(named, uses):
        steps = np.zeros((T,) + p.shape, dtype=p.dtype)
        other = np.zeros(p.shape, dtype=p.dtype)
        for node, g in per:
            by_step = _steps_of(split.get(id(node)), node, p)
            t = step_of_scope(node.scope)
            if by_step is not None:
                steps[:len(by_step)] += by_step
            elif t is None:
                other += g
            else:
                steps[t] += g
        shares.steps[name], shares.other[name] = steps, other
    return shares


def _steps_of(per_input, node, p):
    """What a node spanning many steps sent to ``p``, by step (T, *p.shape); None if it has no
    such split for ``p`` (e.g. the input sequence, which is not shared across steps)."""
    if per_input is None:
        return None
    rows = [per_input[i] for i, q in enumerate(node.parents) if q is p]
    if any(r is None for r in rows):
        return None
    return sum(rows[1:], rows[0])


# truncated BPTT -----------------------------------------------------------------------------------
def detach_state(state):
    """The same state cut off from the graph (a tensor, or nested tuples/lists of them; None stays)."""
    if state is None:
        return None
    if isinstance(state, mg.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor or a tuple/list of them, got {type(state).__name__}")


@dataclass
class TBPTTResult:
    """What ``truncated_bptt`` returns: each chunk's loss value, and the state after the last chunk
    (detached)."""

    losses: list
    state: object


def truncated_bptt(forward, inputs, k: int, state=None, *, targets=None, time_axis: int = 0,
                   step=None, progress=None) -> TBPTTResult:
    """Truncated backpropagation through time, BPTT(k, k): chunks of ``k`` steps, state carried across.

    For each chunk ``[s, s+k)`` along ``time_axis`` of ``inputs`` (and ``targets``, if given):
    ``loss, state = forward(x_chunk, state)`` (or ``forward(x_chunk, state, y_chunk)``), then
    ``loss.backward()``, then ``step()`` if given (an optimizer step plus ``zero_grad``), then the
    state is detached, so the next chunk's backward stops at the chunk boundary. Without ``step``
    the gradients of all chunks accumulate in ``.grad``: their sum. With ``k >= T`` this is full
    BPTT. ``progress`` (e.g. ``tqdm``) wraps the chunk iterator if given.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"truncated_bptt: k must be a positive integer, got {k!r}")
    T = inputs.shape[time_axis]
    if targets is not None and targets.shape[time_axis] != T:
        raise ValueError(f"truncated_bptt: inputs have {T} steps along axis {time_axis}, "
                         f"targets {targets.shape[time_axis]} (shapes {inputs.shape} and {targets.shape})")
    lead = (slice(None),) * time_axis
    starts = range(0, T, k)
    losses = []
    for s in (progress(starts) if progress is not None else starts):
        chunk = lead + (slice(s, s + k),)
        if targets is None:
            loss, state = forward(inputs[chunk], state)
        else:
            loss, state = forward(inputs[chunk], state, targets[chunk])
        loss.backward()
        if step is not None:
            step()
        state = detach_state(state)
        losses.append(float(loss.item()))
    return TBPTTResult(losses, state)
