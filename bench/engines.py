"""The same model programs on two autograd engines: minigrad and PyTorch eager.

Each engine object offers the few things a program needs (parameters, constants, stack, one-hot,
embedding, cross-entropy, optimizers, clipping) and its layer classes (``Embedding``, ``Linear``,
``RNN``, ``LSTM``: zoo's and minigrad.nn's, or torch.nn's). A workload writes its model twice, each
time once for both engines: as a manual cell (``loss_fn(E, p, batch, state) -> (loss, state)`` over
the canonical parameters, so both engines run the same sequence of ops) and from the engine's
modules (what users of each library run; PyTorch's recurrent modules are fused kernels).
``Trainer`` wraps a program with zero-grad, backward, optional clipping and an optimizer step.
"""
from __future__ import annotations

import functools

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn.utils import clip_grad_value_

from .harness import Impl

SEQUENCE = "minigrad fused='sequence'"

__all__ = [
    "SEQUENCE", "MinigradEngine", "TorchEngine", "Trainer", "assemble", "rnn_cell", "lstm_cell", "trainable", "rnn_state",
    "freeze_bias_hh", "rnn_grads",
]


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
    """minigrad as a user runs it: ``zoo`` layers, ``minigrad.nn``, ``F.cross_entropy``, ``minigrad.optim``.

    ``fused``: the zoo layers' setting (the default, one node per step; or the opt-in "sequence").
    """

    name = "minigrad"

    def __init__(self, fused=True):
        import zoo
        self.Embedding, self.Linear = mg.nn.Embedding, mg.nn.Linear
        self.RNN, self.LSTM = functools.partial(zoo.RNN, fused=fused), functools.partial(zoo.LSTM, fused=fused)

    def dtype(self, name: str):
        return np.dtype(name)

    def param(self, a: np.ndarray):
        return mg.Tensor(a, requires_grad=True)

    def const(self, a: np.ndarray):
        return mg.Tensor(a)

    def indices(self, idx: np.ndarray):
        return idx

    def load(self, module, state: dict) -> None:
        # NOTE: load_state_dict keeps the memory order of what it is given; a transposed view would
        # leave a Fortran-ordered parameter, and the optimizer's elementwise updates on it run many
        # times slower. PyTorch state dicts are C-ordered, so give it what users load.
        module.load_state_dict({k: np.ascontiguousarray(v) for k, v in state.items()})

    def stack(self, ts):
        return mg.stack(ts)

    def one_hot(self, idx: np.ndarray, n: int, dtype):
        return mg.one_hot(idx, n, dtype=dtype)

    def embed(self, W, idx: np.ndarray):
        return F.embedding(idx, W)

    def cross_entropy(self, logits, targets: np.ndarray, reduction: str):
        return F.cross_entropy(logits, targets, reduction=reduction)

    def optimizer(self, kind: str, params: dict, **options):
        return {"adagrad": mg.optim.Adagrad, "adam": mg.optim.Adam}[kind](list(params.values()), **options)

    def clip_value(self, params: dict, limit: float) -> None:
        clip_grad_value_(list(params.values()), limit)

    def to_numpy(self, t) -> np.ndarray:
        return t.data

    def grad(self, p) -> np.ndarray:
        return p.grad.data.copy()


class TorchEngine:
    """PyTorch eager: ``torch.nn`` layers (``nn.RNN``/``nn.LSTM`` are fused kernels), ``torch.optim``."""

    name = "torch"

    def __init__(self, torch):
        self.torch = torch
        self.F = torch.nn.functional
        nn = torch.nn
        self.Embedding, self.Linear, self.RNN, self.LSTM = nn.Embedding, nn.Linear, nn.RNN, nn.LSTM

    def dtype(self, name: str):
        return getattr(self.torch, name)

    def param(self, a: np.ndarray):
        return self.torch.tensor(a, requires_grad=True)

    def const(self, a: np.ndarray):
        return self.torch.from_numpy(np.ascontiguousarray(a))

    def indices(self, idx: np.ndarray):
        return self.torch.from_numpy(idx)

    def load(self, module, state: dict) -> None:
        module.load_state_dict({k: self.torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})

    def stack(self, ts):
        return self.torch.stack(ts)

    def one_hot(self, idx: np.ndarray, n: int, dtype):
        return self.F.one_hot(self.torch.from_numpy(idx), n).to(self.dtype(np.dtype(dtype).name))

    def embed(self, W, idx: np.ndarray):
        return self.F.embedding(self.torch.from_numpy(idx), W)

    def cross_entropy(self, logits, targets: np.ndarray, reduction: str):
        return self.F.cross_entropy(logits, self.torch.from_numpy(targets), reduction=reduction)

    def optimizer(self, kind: str, params: dict, **options):
        cls = {"adagrad": self.torch.optim.Adagrad, "adam": self.torch.optim.Adam}[kind]
        return cls(list(params.values()), **options)

    def clip_value(self, params: dict, limit: float) -> None:
        self.torch.nn.utils.clip_grad_value_(list(params.values()), limit)

    def to_numpy(self, t) -> np.ndarray:
        return t.detach().numpy()

    def grad(self, p) -> np.ndarray:
        return p.grad.numpy().copy()


def trainable(**modules) -> dict:
    """``{"module.param": tensor}`` of every parameter that requires grad, in definition order."""
    return {f"{m}.{k}": v for m, mod in modules.items() for k, v in mod.named_parameters() if v.requires_grad}


def rnn_state(params: dict, prefixes: list, kind: str) -> dict:
    """A PyTorch-named state dict for an ``RNN``/``LSTM`` stack holding canonical weights ``{prefix}W*``.

    ``bias_hh`` is zero: the canonical model has one bias per layer (see ``freeze_bias_hh``).
    """
    names = {"rnn": ("Wxh", "Whh", "bh"), "lstm": ("Wx", "Wh", "b")}[kind]
    state = {}
    for layer, pre in enumerate(prefixes):
        wx, wh, b = (params[pre + n] for n in names)
        state.update({f"weight_ih_l{layer}": wx.T, f"weight_hh_l{layer}": wh.T, f"bias_ih_l{layer}": b,
                      f"bias_hh_l{layer}": np.zeros_like(b)})
    return state


def freeze_bias_hh(module) -> None:
    """Keep the second bias of each layer at zero and untrained: two trained biases receive the same
    gradient and both move, which would make the updates differ from the one-bias references."""
    for name, p in module.named_parameters():
        if name.startswith("bias_hh"):
            p.requires_grad_(False)


def rnn_grads(p: dict, grad, module: str, prefixes: list, kind: str) -> dict:
    """Canonical gradients of a stack loaded with ``rnn_state``, from ``p`` (see ``trainable``)."""
    names = {"rnn": ("Wxh", "Whh", "bh"), "lstm": ("Wx", "Wh", "b")}[kind]
    out = {}
    for layer, pre in enumerate(prefixes):
        out[pre + names[0]] = grad(p[f"{module}.weight_ih_l{layer}"]).T
        out[pre + names[1]] = grad(p[f"{module}.weight_hh_l{layer}"]).T
        out[pre + names[2]] = grad(p[f"{module}.bias_ih_l{layer}"])
    return out


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
        self.opt.zero_grad()
        loss, _ = self.loss_fn(E, self.params, self.batch, None)
        loss.backward()
        grads = self.canonical(self.params, E.grad)
        self.opt.zero_grad()
        return loss.item(), grads

    def step(self) -> float:
        E = self.E
        self.opt.zero_grad()
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


def assemble(params: dict, batch, manual_loss, module_model, optimizer: tuple, numpy_impls: list, torch=None,
             clip: float | None = None, carry_state: bool = False, notes: tuple = ("", "")) -> list:
    """A workload's implementations in display order: minigrad with its modules (the headline: the
    default unrolled graph), with the opt-in sequence kernels and with a manual cell, the numpy
    references, then PyTorch's fused modules and manual cell.

    ``manual_loss`` is a ``loss_fn`` over the canonical parameters; ``module_model(E)`` builds the
    engine's modules on the canonical weights and returns ``(params, loss_fn, canonical)``. Every
    implementation starts from its own copy of ``params``.
    """
    def manual(E):
        p = {k: E.param(v) for k, v in params.items()}
        return Trainer(E, p, manual_loss, batch, optimizer, clip, carry_state)

    def modules(E):
        p, loss_fn, canonical = module_model(E)
        return Trainer(E, p, loss_fn, batch, optimizer, clip, carry_state, canonical)

    impls = [modules(MinigradEngine()).impl("minigrad", notes[0] + " (default: one node per step)"),
             modules(MinigradEngine("sequence")).impl(SEQUENCE, "fused='sequence': one node per layer (opt-in)"),
             manual(MinigradEngine()).impl("minigrad manual cell", "the cell as Tensor ops"), *numpy_impls]
    if torch is not None:
        E = TorchEngine(torch)
        impls += [modules(E).impl("torch fused", notes[1]), manual(E).impl("torch manual cell")]
    return impls
