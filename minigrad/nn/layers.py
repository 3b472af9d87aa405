"""Layers and containers with PyTorch's names, arguments, parameter shapes and default initialisation.

Layers with parameters take ``dtype`` (default: ``minigrad.get_default_dtype()``) and an optional
``numpy.random.Generator`` for their initial values (else the global one, see ``manual_seed``).
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from ..tensors import get_default_dtype
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "Linear", "Embedding", "Dropout", "LayerNorm", "ReLU", "Tanh", "Sigmoid",
    "Sequential", "ModuleList", "ModuleDict",
]


def _empty(shape, dtype) -> Parameter:
    return Parameter(np.zeros(shape, dtype=get_default_dtype() if dtype is None else np.dtype(dtype)))


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features) and b of shape (out_features,).

    Both start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None, generator=None):
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty((out_features, in_features), dtype)
        self.bias = _empty((out_features,), dtype) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        # kaiming_uniform_ with a = sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn as PyTorch does
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: ``forward(indices)`` returns rows of ``weight`` (num_embeddings, embedding_dim).

    ``weight`` starts as N(0, 1); row ``padding_idx`` (if given) starts at zero and never receives
    a gradient, so it stays zero through training.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype=None,
                 generator=None):
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is outside [-{num_embeddings}, {num_embeddings})")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = _empty((num_embeddings, embedding_dim), dtype)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None) -> "Embedding":
        """An Embedding holding a copy of ``embeddings`` (2-D); ``freeze`` keeps it out of training."""
        arr = np.array(embeddings.data if hasattr(embeddings, "data") else embeddings)
        if arr.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {arr.shape}")
        emb = cls(*arr.shape, padding_idx=padding_idx, dtype=arr.dtype, generator=np.random.default_rng(0))
        emb.weight.data[...] = arr
        emb.weight.requires_grad_(not freeze)
        return emb

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the rest by 1/(1-p); identity in eval.

    Masks come from ``generator`` if given, else from the global generator at call time, so
    ``minigrad.manual_seed`` makes them repeat.
    """

    def __init__(self, p: float = 0.5, generator=None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must lie in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing ``normalized_shape`` axes.

    The variance is the biased one (divide by n), as in PyTorch; ``weight`` starts at 1, ``bias`` at 0.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None, generator=None):
        # generator is accepted for a uniform layer signature; the initial values are constants
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = init.ones_(_empty(shape, dtype)) if elementwise_affine else None
        self.bias = _empty(shape, dtype) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"


class ReLU(Module):
    """max(x, 0) as a module (for Sequential)."""

    def forward(self, x):
        return x.relu()


class Tanh(Module):
    """tanh(x) as a module."""

    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)) as a module."""

    def forward(self, x):
        return x.sigmoid()


# ---------------------------------------------------------------------------------------------
# containers: members live in ``_modules``, which Module names by position or key alone


def _check_module(m, what: str) -> Module:
    if not isinstance(m, Module):
        raise TypeError(f"{what} holds Modules, got {type(m).__name__}")
    return m


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (``layers.0.weight``); no forward of its own."""

    def __init__(self, modules=()):
        self._modules = [_check_module(m, "ModuleList") for m in modules]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return type(self)(self._modules[i])
        return self._modules[i]

    def __setitem__(self, i: int, module: Module) -> None:
        self._modules[i] = _check_module(module, "ModuleList")

    def __delitem__(self, i) -> None:
        del self._modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def append(self, module: Module) -> "ModuleList":
        self._modules.append(_check_module(module, "ModuleList"))
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        self._modules.insert(index, _check_module(module, "ModuleList"))


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), Tanh(), Linear(8, 1))``.

    Members are named ``0``, ``1``, ...; pass one ``OrderedDict`` to name them yourself.
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = modules[0].items()
        else:
            items = enumerate(modules)
        self._modules = OrderedDict((str(k), _check_module(m, "Sequential")) for k, m in items)

    def __getitem__(self, i):
        if isinstance(i, slice):  # a slice keeps the members' names, as in PyTorch
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self._modules[str(len(self._modules))] = _check_module(module, "Sequential")
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleDict(Module):
    """A dict of modules, named by their keys (``heads.cls.weight``), in insertion order."""

    def __init__(self, modules=None):
        self._modules = OrderedDict()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._modules[str(key)] = _check_module(module, "ModuleDict")

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m
