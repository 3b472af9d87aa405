"""Gradient along each edge: how much every use of a tensor contributed to its gradient.

A tensor used by several ops (a recurrent weight, used once per time step) gets the sum of one
contribution per use. ``backward`` only keeps the sum; ``edge_gradients`` recovers the terms.
"""
from __future__ import annotations

import numpy as np

from .graph import toposort
from .modes import keep_grads

__all__ = ["edge_gradients"]


def edge_gradients(root: Tensor, tensors, gradient=None) -> list:
    """Backpropagate from ``root`` and split each tensor's gradient by the ops that used it.

    Returns one list per tensor in ``tensors``: ``(consumer, contribution)`` pairs, one per op
    node that took the tensor as an input (in the graph's topological order), where
    ``contribution`` is the array that node's backward sent to the tensor (summed if the node
    used it more than once). For every tensor the contributions add up to the gradient this
    backward pass delivered (before hooks registered on the tensor itself).

    This *is* a backward pass: leaves accumulate into ``.grad`` as usual. It runs inside
    ``keep_grads()``, so the graph is kept and every node keeps its ``.grad``; pass a freshly
    built graph. ``gradient`` is as for ``Tensor.backward``.
    """
    tensors = list(tensors)
    slot_of = {id(t): k for k, t in enumerate(tensors)}
    with keep_grads():
        root.backward(gradient)
    found = [[] for _ in tensors]
    for node in toposort(root):
        fn = node.grad_fn
        if fn is None or node.grad is None:
            continue
        slots = [(i, slot_of[id(p)]) for i, p in enumerate(node.parents) if id(p) in slot_of]
        if not slots:
            continue
        # NOTE: Function.backward only reads what forward saved, so running it again gives the
        # same per-input gradients the backward pass just used.
        grads = fn.input_grads(node.grad.data, node.parents)
        per_tensor: dict = {}
        for i, k in slots:
            if grads[i] is not None:
                per_tensor[k] = grads[i] if k not in per_tensor else per_tensor[k] + grads[i]
        for k, g in per_tensor.items():
            found[k].append((node, np.asarray(g, dtype=tensors[k].dtype)))
    return found
