"""Backpropagation through time made visible: per-step gradient shares, and truncated BPTT.

Every BPTT derivation ends with ``dL/dW = sum over t of (dL/dW at step t)``: a shared weight's
gradient is the sum of what each time step contributed. ``gradient_shares`` returns those terms
as data, read off the recorded graph. ``truncated_bptt`` runs a long sequence in chunks of k steps,
carrying the state forward but cutting the graph between chunks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad.edges import edge_gradients
from minigrad.nn import Module

__all__ = ["GradientShares", "gradient_shares", "detach_state", "truncated_bptt", "TBPTTResult"]


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
    step found in the graph.

    A use of a parameter inside step t's scope (``minigrad.step_of``) is step t's share. A use
    outside any step whose result is read by steps - the input projection of all steps at once,
    ``x W_ih^T`` over (T, B, D) - is split by the step that read each part of its result: its
    backward is linear in the gradient it receives, so running it on what step t sent gives step
    t's share. Whatever remains is ``other`` (e.g. an output layer applied to all steps at once).
    An opt-in sequence node (``fused="sequence"``: one node per layer and direction) splits its
    own contribution by step (its ``step_grads``).
    """
    if isinstance(params, Module):
        named = list(params.named_parameters())
    elif isinstance(params, dict):
        named = list(params.items())
    else:
        named = [(str(i), p) for i, p in enumerate(params)]
    uses = edge_gradients(loss, [p for _, p in named])
    order = mg.toposort(loss)
    T = 1 + max((t for t in map(mg.step_of, (n.scope for n in order)) if t is not None), default=-1)
    T = max([T] + [n.grad_fn.T for n in order if hasattr(n.grad_fn, "step_grads")])
    readers = _Readers(order)
    split_nodes = {}  # id(sequence node) -> its gradient split by step, per input
    shares = GradientShares()
    for (name, p), per in zip(named, uses):
        steps = np.zeros((T,) + p.shape, dtype=p.dtype)
        other = np.zeros(p.shape, dtype=p.dtype)
        for node, g in per:
            t = mg.step_of(node.scope)
            if t is not None:
                steps[t] += g
                continue
            if hasattr(node.grad_fn, "step_grads"):
                if id(node) not in split_nodes:
                    split_nodes[id(node)] = node.grad_fn.step_grads(node.grad.data)
                by_step = _rows_for(split_nodes[id(node)], node, p)
                if by_step is not None:
                    steps[:len(by_step)] += by_step
                    continue
            split = _split_by_reader(node, p, T, readers)
            if split is None:
                other += g
            else:
                steps += split[0]
                other += split[1]
        shares.steps[name], shares.other[name] = steps, other
    return shares


def _rows_for(per_input: tuple, node, p):
    """What a sequence node sent to ``p``, by step (T, *p.shape); None for an input it does not
    split (the input sequence, which is not shared across steps)."""
    rows = [per_input[i] for i, q in enumerate(node.parents) if q is p]
    if any(r is None for r in rows):
        return None
    return sum(rows[1:], rows[0])


class _Readers:
    """The nodes that read each node (the graph's edges reversed), built on first use."""

    def __init__(self, order: list):
        self.order, self.of = order, None

    def __call__(self, node) -> list:
        if self.of is None:
            self.of = {}
            for n in self.order:
                for q in {id(q): q for q in n.parents}.values():
                    self.of.setdefault(id(q), []).append(n)
        return self.of.get(id(node), [])


def _split_by_reader(node, p, T: int, readers) -> tuple | None:
    """What ``node`` (outside any step) sent to ``p``, split by the step of the nodes that read
    ``node``'s result: ``(by step (T, *p.shape), the part read outside any step)``, or None when
    no step reads it."""
    by_step = {}
    for r in readers(node):
        if r.grad is not None:
            by_step.setdefault(mg.step_of(r.scope), []).append(r)
    if set(by_step) <= {None}:
        return None
    slots = [i for i, q in enumerate(node.parents) if q is p]
    out = np.zeros((T + 1,) + p.shape, dtype=p.dtype)  # row T: read outside any step
    piece = np.zeros(node.shape, dtype=node.dtype)
    for t, rs in by_step.items():
        piece[...] = 0
        for r in rs:  # what step t's readers sent to node: the part of node.grad that is step t's
            for q, g in zip(r.parents, r.grad_fn.backward(r.grad.data)):
                if q is node and g is not None:
                    if type(g) is mg.At:
                        g.add_to(piece)
                    else:
                        piece += g if type(g) is not mg.Deferred else g.value()
        grads = node.grad_fn.input_grads(piece, node.parents)
        for i in slots:
            out[T if t is None else t] += grads[i]
    return out[:T], out[T]


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
