"""The same model program run on two autograd engines: minigrad and PyTorch eager.

A manual-cell benchmark is one function ``loss_fn(E, p, batch, state) -> (loss, state)`` written
once against a tiny engine interface ``E`` (parameters, constants, stack, one-hot, embedding,
cross-entropy), so minigrad and PyTorch run literally the same sequence of ops. ``Trainer`` wraps
such a program with zero-grad, backward, optional clipping and an optimizer step.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg

from .harness import Impl
from .npref import Adagrad, Adam

__all__ = ["MinigradEngine", "TorchEngine", "Trainer", "assemble", "rnn_cell", "lstm_cell"]


def rnn_cell(x, h, Wxh, Whh, bh):
    """h' = tanh(x W_xh + h W_hh + b_h)."""
    return (x @ Wxh + h @ Whh + bh).tanh()


def lstm_cell(x, h, c, Wx, Wh, b):
    """a = x W_x + h W_h + b;  i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g);
    c' = f c + i g;  h' = o tanh(c').  Gates stacked i, f, g, o (PyTorch's order)."""
    H = h.shape[-1]
    a = x @ Wx + h @ Wh + b
    i = a[:, :H].sigmoid()
    f = a[:, H:2 * H].sigmoid()
    g = a[:, 2 * H:3 * H].tanh()
    o = a[:, 3 * H:].sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return h, c


class MinigradEngine:
    name = "minigrad"

    def param(self, a: np.ndarray):
        return mg.Tensor(a, requires_grad=True)

    def const(self, a: np.ndarray):
        return mg.Tensor(a)

    def stack(self, ts):
        return mg.stack(ts)

    def one_hot(self, idx: np.ndarray, n: int, dtype):
        return mg.one_hot(idx, n, dtype=dtype)

    def embed(self, W, idx: np.ndarray):
        return W[idx]

    def cross_entropy(self, logits, targets: np.ndarray, reduction: str):
        # the loss a user writes from log_softmax while minigrad has no cross_entropy
        onehot = mg.one_hot(targets, logits.shape[-1], dtype=logits.dtype)
        total = -(logits.log_softmax(-1) * onehot).sum()
        return total if reduction == "sum" else total * (1.0 / len(targets))

    def optimizer(self, kind: str, params: dict, **options):
        return _NumpyOptimizerFor(params, {"adagrad": Adagrad, "adam": Adam}[kind], **options)

    def zero_grad(self, params: dict) -> None:
        for p in params.values():
            p.grad = None

    def clip_value(self, params: dict, limit: float) -> None:
        for p in params.values():
            np.clip(p.grad.data, -limit, limit, out=p.grad.data)

    def to_numpy(self, t) -> np.ndarray:
        return t.data

    def grad(self, p) -> np.ndarray:
        return p.grad.data.copy()


class _NumpyOptimizerFor:
    """Applies a numpy reference optimizer to minigrad parameters in place."""

    def __init__(self, params: dict, cls, **options):
        self.params = params
        self.opt = cls({k: p.data for k, p in params.items()}, **options)

    def step(self) -> None:
        self.opt.step({k: p.grad.data for k, p in self.params.items()})


class TorchEngine:
    name = "torch"

    def __init__(self, torch):
        self.torch = torch
        self.F = torch.nn.functional

    def param(self, a: np.ndarray):
        return self.torch.tensor(a, requires_grad=True)

    def const(self, a: np.ndarray):
        return self.torch.from_numpy(np.ascontiguousarray(a))

    def stack(self, ts):
        return self.torch.stack(ts)

    def one_hot(self, idx: np.ndarray, n: int, dtype):
        return self.F.one_hot(self.torch.from_numpy(idx), n).to(getattr(self.torch, np.dtype(dtype).name))

    def embed(self, W, idx: np.ndarray):
        return W[self.torch.from_numpy(idx)]

    def cross_entropy(self, logits, targets: np.ndarray, reduction: str):
        return self.F.cross_entropy(logits, self.torch.from_numpy(targets), reduction=reduction)

    def optimizer(self, kind: str, params: dict, **options):
        cls = {"adagrad": self.torch.optim.Adagrad, "adam": self.torch.optim.Adam}[kind]
        return cls(list(params.values()), **options)

    def zero_grad(self, params: dict) -> None:
        for p in params.values():
            p.grad = None

    def clip_value(self, params: dict, limit: float) -> None:
        self.torch.nn.utils.clip_grad_value_(list(params.values()), limit)

    def to_numpy(self, t) -> np.ndarray:
        return t.detach().numpy()

    def grad(self, p) -> np.ndarray:
        return p.grad.numpy().copy()


class Trainer:
    """One model on one engine: ``step()`` is zero-grad, forward, backward, clip, optimizer step.

    ``params`` maps names to the engine's parameter tensors; ``loss_fn(E, params, batch, state)``
    returns ``(loss, state)``; ``canonical(params, grad)`` maps the engine's gradients to the
    workload's canonical layout (default: the same names and shapes). With ``carry_state`` the
    state a step returns is detached and fed to the next one (truncated BPTT).
    """

    def __init__(self, E, params: dict, loss_fn, batch, optimizer: tuple, clip: float | None = None,
                 carry_state: bool = False, canonical=None):
        self.E, self.params, self.loss_fn, self.batch = E, params, loss_fn, batch
        self.clip, self.carry_state = clip, carry_state
        kind, options = optimizer
        self.opt = E.optimizer(kind, params, **options)
        self.canonical = canonical or (lambda ps, grad: {k: grad(p) for k, p in ps.items()})
        self.state = None

    def loss_and_grads(self) -> tuple:
        E = self.E
        E.zero_grad(self.params)
        loss, _ = self.loss_fn(E, self.params, self.batch, None)
        loss.backward()
        grads = self.canonical(self.params, E.grad)
        E.zero_grad(self.params)
        return loss.item(), grads

    def step(self) -> float:
        E = self.E
        E.zero_grad(self.params)
        loss, state = self.loss_fn(E, self.params, self.batch, self.state)
        loss.backward()
        if self.clip is not None:
            E.clip_value(self.params, self.clip)
        self.opt.step()
        if self.carry_state:
            self.state = tuple(E.to_numpy(s) for s in state)
        return loss.item()

    def impl(self, name: str, note: str = "") -> Impl:
        return Impl(name, self.step, self.loss_and_grads, note)


def assemble(params: dict, batch, loss_fn, optimizer: tuple, numpy_impls: list, torch=None, fused=None,
             clip: float | None = None, carry_state: bool = False, notes: tuple = ("", "")) -> list:
    """A workload's implementations in display order: minigrad running ``loss_fn``, the numpy
    references, then (with torch) ``fused(torch) -> Trainer`` and PyTorch running ``loss_fn``.
    Every engine starts from its own copy of ``params``."""
    def manual(E):
        p = {k: E.param(v) for k, v in params.items()}
        return Trainer(E, p, loss_fn, batch, optimizer, clip, carry_state)

    impls = [manual(MinigradEngine()).impl("minigrad", notes[0]), *numpy_impls]
    if torch is not None:
        impls += [fused(torch).impl("torch fused", notes[1]), manual(TorchEngine(torch)).impl("torch manual cell")]
    return impls
