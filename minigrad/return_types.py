"""Named pairs that ops return, as PyTorch's ``torch.return_types``: ``values, indices = x.max(1)``
unpacks them, and ``x.topk(2).values`` names the part."""
from __future__ import annotations

from collections import namedtuple

__all__ = ["max", "min", "topk", "sort"]

max = namedtuple("max", ["values", "indices"])
max.__doc__ = "``Tensor.max(dim)``'s result: the largest values (differentiable) and their int64 indices."

min = namedtuple("min", ["values", "indices"])
min.__doc__ = "``Tensor.min(dim)``'s result: the smallest values (differentiable) and their int64 indices."

topk = namedtuple("topk", ["values", "indices"])
topk.__doc__ = "``Tensor.topk``'s result: the k values (differentiable) and their int64 indices."

sort = namedtuple("sort", ["values", "indices"])
sort.__doc__ = "``Tensor.sort``'s result: the sorted values (differentiable) and their int64 indices."
