"""``to_torch(module)``: the equivalent ``torch.nn`` module, weights loaded, so training continues in PyTorch.

    import zoo
    theirs = zoo.to_torch(lstm)          # a torch.nn.LSTM with the same sizes, options and weights

Covered: ``zoo.RNN/LSTM/GRU`` and their cells, ``minigrad.nn``'s ``Linear``, ``Embedding``,
``LayerNorm``, ``Dropout``, ``ReLU``, ``Tanh``, ``Sigmoid``, ``Sequential``, ``ModuleList``,
``ModuleDict``, and ``zoo.models.CharLM`` (as ``TorchCharLM``, a small ``torch.nn.Module`` with
CharLM's forward). The result has the parameters' dtype and the module's train/eval mode. Anything
else raises ``TypeError`` naming the part PyTorch lacks. Our parameter names are PyTorch's, so the
weights go across by a strict ``load_state_dict`` with no renaming.

Needs torch, imported only when ``to_torch`` is called (``import zoo`` never imports it).
"""
from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np

from minigrad import nn

from .cells import GRUCell, LSTMCell, RNNCell
from .layers import GRU, LSTM, RNN

__all__ = ["to_torch"]

# options of our recurrent layers and cells that only set initial values: the weights carry them
_INIT_ONLY = {"forget_bias", "recurrent_init"}


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("zoo.to_torch needs PyTorch (pip install torch)") from None
    return torch


def to_torch(module):
    """The ``torch.nn`` module equivalent to ``module``, with a copy of its weights and its
    train/eval mode (see the module docstring for what is covered)."""
    torch = _torch()
    return _convert(module, "", torch)


def _name(path: str, module) -> str:
    return f"'{path}' ({type(module).__name__})" if path else type(module).__name__


def _dtype(module, torch):
    """The torch dtype of the module's parameters (torch's default for a module without any)."""
    params = module.parameters()
    dt = params[0].dtype if params else np.dtype(np.float32)
    return torch.from_numpy(np.zeros(0, dtype=dt)).dtype


def _recurrent_options(module, path: str) -> dict:
    options = dict(module.cell_options if hasattr(module, "cell_options") else {})
    nonlinearity = options.pop("nonlinearity", getattr(module, "nonlinearity", "tanh"))
    unknown = set(options) - _INIT_ONLY
    if unknown:
        raise TypeError(f"to_torch: {_name(path, module)} uses option(s) {sorted(unknown)}, "
                        "which torch.nn's recurrent layers lack")
    return {"nonlinearity": nonlinearity} if isinstance(module, (RNN, RNNCell)) else {}


def _fresh(module, path: str, torch):
    """A torch module of the same configuration, before the weights are copied in."""
    tnn = torch.nn
    dtype = _dtype(module, torch)
    # exact types: a subclass may compute something else, and then it is not covered
    kind = type(module)
    CharLM = _charlm_model()
    if kind in (RNN, LSTM, GRU):
        cls = {RNN: tnn.RNN, LSTM: tnn.LSTM, GRU: tnn.GRU}[kind]
        return cls(module.input_size, module.hidden_size, num_layers=module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, dropout=module.dropout, bidirectional=module.bidirectional,
                   dtype=dtype, **_recurrent_options(module, path))
    if kind in (RNNCell, LSTMCell, GRUCell):
        cls = {RNNCell: tnn.RNNCell, LSTMCell: tnn.LSTMCell, GRUCell: tnn.GRUCell}[kind]
        return cls(module.input_size, module.hidden_size, bias=module.bias, dtype=dtype,
                   **_recurrent_options(module, path))
    if kind is nn.Linear:
        return tnn.Linear(module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype)
    if kind is nn.Embedding:
        return tnn.Embedding(module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx, dtype=dtype)
    if kind is nn.LayerNorm:
        return tnn.LayerNorm(module.normalized_shape, eps=module.eps, elementwise_affine=module.weight is not None,
                             bias=module.bias is not None, dtype=dtype)
    if kind is nn.Dropout:
        return tnn.Dropout(module.p)
    if kind in (nn.ReLU, nn.Tanh, nn.Sigmoid):
        return {nn.ReLU: tnn.ReLU, nn.Tanh: tnn.Tanh, nn.Sigmoid: tnn.Sigmoid}[kind]()
    if kind is nn.Sequential:
        return tnn.Sequential(OrderedDict((k, _convert(m, _join(path, k), torch)) for k, m in module._modules.items()))
    if kind is nn.ModuleList:
        return tnn.ModuleList([_convert(m, _join(path, str(i)), torch) for i, m in enumerate(module)])
    if kind is nn.ModuleDict:
        return tnn.ModuleDict({k: _convert(m, _join(path, k), torch) for k, m in module.items()})
    if kind is CharLM:
        parts = {k: _convert(getattr(module, k), _join(path, k), torch) for k in ("embedding", "rnn", "drop", "head")}
        return _charlm_class()(module.config, **parts)
    raise TypeError(_unsupported(module, path))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _charlm_model():
    # imported here: ``import zoo`` (which imports this module) need not load every model
    from .models.charlm import CharLM
    return CharLM


def _supported(module) -> bool:
    return type(module) in (RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell, nn.Linear, nn.Embedding, nn.LayerNorm,
                            nn.Dropout, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Sequential, nn.ModuleList,
                            nn.ModuleDict, _charlm_model())


def _unsupported(module, path: str) -> str:
    """Say which part has no PyTorch equivalent: the innermost such sub-module, else the model itself."""
    bad = [(n, m) for n, m in module.named_modules() if n and not _supported(m)]
    innermost = [(n, m) for n, m in bad if not any(b.startswith(n + ".") for b, _ in bad)]
    if innermost:
        name, part = innermost[0]
        return (f"to_torch: {_name(path, module)} has a part torch.nn lacks: {_name(_join(path, name), part)}")
    return (f"to_torch: {'part ' if path else ''}{_name(path, module)} has no torch.nn equivalent (its forward "
            "is its own); covered are "
            "zoo.RNN/LSTM/GRU and their cells, nn.Linear, Embedding, LayerNorm, Dropout, ReLU, Tanh, Sigmoid, "
            "Sequential, ModuleList, ModuleDict and zoo.models.CharLM")


def _convert(module, path: str, torch):
    theirs = _fresh(module, path, torch)
    state = module.state_dict()
    if state:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return theirs.train(module.training)


@functools.cache
def _charlm_class():
    """``TorchCharLM``, defined on first use so that importing zoo never imports torch."""
    torch = _torch()

    class TorchCharLM(torch.nn.Module):
        """``zoo.models.CharLM`` in PyTorch: embedding -> recurrent stack (batch first) -> dropout ->
        linear head; ``forward(x, targets=None) -> (logits, loss)`` and ``run(x, state)`` as CharLM's."""

        def __init__(self, config, embedding, rnn, drop, head):
            super().__init__()
            self.config = config
            self.embedding, self.rnn, self.drop, self.head = embedding, rnn, drop, head

        def run(self, x, state=None):
            """Logits (B, T, V) for ids ``x`` (B, T) and the state after the last step."""
            out, state = self.rnn(self.embedding(x), state)  # (B, T, H)
            return self.head(self.drop(out)), state

        def forward(self, x, targets=None):
            logits, _ = self.run(x)
            if targets is None:
                return logits, None
            V = self.config.vocab_size
            return logits, torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    return TorchCharLM
