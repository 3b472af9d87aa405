"""Recurrent cells: one time step ``(x_t, state) -> state``, with PyTorch's parameters.

A cell only knows one step. ``zoo.unroll`` runs any cell over a sequence, and the sequence
layers (``zoo.layers``) stack cells and the loop; none of them repeats the equations.

A step has two halves. The input half, ``x W_ih^T + b_ih``, does not depend on the state, so
``project`` computes it for any number of steps at once (one matrix product over all T*B rows of
a sequence). The recurrence takes that ``ax`` and the state: ``composed_recurrence`` has one code
line per equation of the docstring, built from minigrad ops (about 15 graph nodes per step), and
``tests/test_cells.py`` executes the docstring's lines in numpy against the cell;
``fused_recurrence`` runs the same as one node (``zoo.kernels``, proven equal by
``tests/test_kernels.py``). ``recurrence()`` picks one (``fused=False`` on the cell, or
``zoo.unfused()``, gives every op); ``step(x, state)`` is ``recurrence()(project(x), state)``.
"""
from __future__ import annotations

import math

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn import Module, Parameter, init
from minigrad.function import modified_in_place
from minigrad.ops import step_rows, transposed_for

from . import fusing, kernels, sequence

__all__ = ["CellBase", "RNNCell", "LSTMCell", "GRUCell"]

RECURRENT_INITS = ("uniform", "orthogonal")


class CellBase(Module):
    """What every cell shares: parameters, their initialisation, and checks on inputs and states.

    Parameters as PyTorch's (G gates stacked in row blocks; H = hidden size, D = input size)::

        weight_ih (G*H, D)   weight_hh (G*H, H)   bias_ih (G*H,)   bias_hh (G*H,)

    all drawn from U(-1/sqrt(H), 1/sqrt(H)). ``recurrent_init="orthogonal"`` makes each gate's
    H x H block of ``weight_hh`` a random orthogonal matrix instead (it keeps the recurrence from
    shrinking or blowing up gradients early in training). Subclasses set ``gates`` and define
    ``composed_recurrence`` (the equations in minigrad ops) and ``fused_recurrence`` (the kernel);
    ``step`` does no checking; ``forward`` checks, then steps.

    ``fused`` (default True): the recurrence of a step is one node; ``False`` records every op of
    the equations (the graph viz draws in detail), as does any cell inside ``zoo.unfused()``.
    """

    gates = 1
    # constructor options that change what ``step`` computes (``bind`` needs them again)
    step_options: tuple = ()

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 recurrent_init: str = "uniform", dtype=None, generator=None, fused=True):
        super().__init__()
        self.fused = fusing.check(fused)  # a bad value fails here, not at the first step
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        if recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"recurrent_init must be one of {RECURRENT_INITS}, got {recurrent_init!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        self.recurrent_init = recurrent_init
        dt = mg.get_default_dtype() if dtype is None else np.dtype(dtype)
        gh = self.gates * hidden_size
        self.weight_ih = Parameter(np.zeros((gh, input_size), dt))
        self.weight_hh = Parameter(np.zeros((gh, hidden_size), dt))
        self.bias_ih = Parameter(np.zeros(gh, dt)) if bias else None
        self.bias_hh = Parameter(np.zeros(gh, dt)) if bias else None
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """Draw every parameter again (from ``generator``, or minigrad's global one)."""
        gen = mg.random.generator(generator)
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            if p is not None:
                init.uniform_(p, -k, k, generator=gen)
        if self.recurrent_init == "orthogonal":
            H = self.hidden_size
            blocks = [init.orthogonal_(mg.zeros(H, H, dtype=self.weight_hh.dtype), generator=gen)
                      for _ in range(self.gates)]
            self.weight_hh.data[...] = np.concatenate([b.data for b in blocks])

    # the step ---------------------------------------------------------------------------------
    def project(self, x: mg.Tensor) -> mg.Tensor:
        """The input half of a step, ``x W_ih^T + b_ih``, for inputs of shape (..., D): one node,
        so a whole sequence (T, B, D) is projected by one matrix product."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, fused: bool | None = None, ax: mg.Tensor | None = None):
        """The rest of a step, ``(ax, state, t=None) -> state`` with ``ax = project(x)``: the fused
        kernel, or the equations op by op when the cell says ``fused=False`` or ``zoo.unfused()``
        is active. With ``t``, ``ax`` is every step's input half (T, B, G*H) and step t's is used.
        A loop calls this once and steps with the result; a caller that has resolved the choice
        already (a layer, for all its cells) passes it as ``fused``.

        A loop passes the ``ax`` (T, B, G*H) it projected, which nothing but its steps reads. The
        fused steps then keep no copy of it, as the hand-written loop keeps none: each forms its
        gates in its own row of ``ax`` (``inplace``; the RNN's gates are h' itself), and the gated
        cells write h' into row t of one (T, B, H) buffer, so that a stack of the outputs is a view
        (``minigrad.ops.step_rows``). ``ax`` is marked modified in place: its data holds the
        gates after the forward, and a node recorded before that reads ax could not backward.
        The steps read W_hh^T from one C-ordered copy made here when that is faster for ax's
        batch (``minigrad.ops.transposed_for``)."""
        if not (fusing.resolve(self.fused) if fused is None else fusing.check(fused)):
            return self._composed_at
        if ax is None or ax.ndim != 3:
            return self.fused_recurrence
        T, B = ax.shape[:2]
        w_t, step = transposed_for(B, self.weight_hh.data), self.fused_recurrence
        modified_in_place(ax)
        if self.gates == 1:  # the RNN's gates are h'
            step_rows(ax.data)
            # NOTE: a closure passing positional arguments: a partial's keywords cost more per step
            return lambda ax, state, t=None: step(ax, state, t, w_t, True)
        out = step_rows(np.empty((T, B, self.hidden_size), dtype=ax.dtype))  # rows for h'
        return lambda ax, state, t=None: step(ax, state, t, w_t, True, out)

    def _composed_at(self, ax: mg.Tensor, state, t: int | None = None):
        return self.composed_recurrence(ax if t is None else ax[t], state)

    def step(self, x: mg.Tensor, state):
        """One time step on checked inputs: ``x`` (B, D) and ``state`` -> the new state."""
        return self.recurrence()(self.project(x), state)

    def composed_recurrence(self, ax: mg.Tensor, state):
        """The step's equations given ``ax = W_ih x + b_ih``, one minigrad op at a time."""
        raise NotImplementedError

    def fused_recurrence(self, ax: mg.Tensor, state, t: int | None = None, w_t=None, inplace: bool = False,
                         out=None):
        """The step given ``ax`` (or every step's, and ``t``) as one graph node with a
        hand-derived backward (``zoo.kernels``; ``w_t``, ``inplace`` and ``out`` as there; the
        RNN has no ``out``: in place, h' is its gates)."""
        raise NotImplementedError

    def fused_sequence(self, xs: mg.Tensor, state, *, mask=None, reverse: bool = False) -> tuple:
        """The cell over a whole sequence ``xs`` (T, B, D) as one node (``zoo.sequence``, opt-in):
        ``(outputs (T, B, H), state)``; ``mask`` (T, B) bool marks real steps, ``reverse`` runs
        from the last step to the first. What ``unroll`` computes, without the steps in the graph."""
        raise NotImplementedError

    def output(self, state) -> mg.Tensor:
        """The part of the state a layer emits at each step: ``h``."""
        return state

    def initial_state(self, batch: int | None, dtype=None):
        """The zero state for ``batch`` sequences (``None`` means unbatched: shape (H,))."""
        shape = (self.hidden_size,) if batch is None else (batch, self.hidden_size)
        return mg.zeros(shape, dtype=self.weight_hh.dtype if dtype is None else dtype)

    def forward(self, x, state=None):
        """One checked step: ``x`` (B, D) or unbatched (D,); ``state`` defaults to zeros."""
        x = _as_tensor(x)
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input of shape (B, {self.input_size}) or ({self.input_size},), "
                             f"got {x.shape}")
        if x.dtype != self.weight_ih.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the parameters' {self.weight_ih.dtype}")
        batch = x.shape[0] if x.ndim == 2 else None
        if state is None:
            state = self.initial_state(batch, x.dtype)
        else:
            state = self._check_state(state, batch)
        if batch is not None:
            return self.step(x, state)
        one = self.step(x.reshape(1, -1), _map(lambda s: s.reshape(1, -1), state))
        return _map(lambda s: s.reshape(-1), one)

    def _check_state(self, state, batch):
        expected = (self.hidden_size,) if batch is None else (batch, self.hidden_size)
        s = _as_tensor(state)
        if s.shape != expected:
            raise ValueError(f"{type(self).__name__}: expected hidden state of shape {expected}, got {s.shape}")
        if s.dtype != self.weight_hh.dtype:
            raise TypeError(f"{type(self).__name__}: hidden state dtype {s.dtype} differs from the parameters' "
                            f"{self.weight_hh.dtype}")
        return s

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def _hh(self, h: mg.Tensor) -> mg.Tensor:
        """W_hh h + b_hh for a batch of row vectors, one node."""
        return F.linear(h, self.weight_hh, self.bias_hh)

    @classmethod
    def bind(cls, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, fused=True, **options) -> "CellBase":
        """A cell that steps with these existing parameters (shared, not copied).

        The sequence layers own their parameters under PyTorch's names (``weight_ih_l0``, ...) and
        bind a cell to each layer and direction, so the equations live only here.
        """
        cell = cls.__new__(cls)
        gh, d = weight_ih.shape
        cell.input_size, cell.hidden_size, cell.bias = d, gh // cls.gates, bias_ih is not None
        cell.recurrent_init = "uniform"
        cell.fused = fusing.check(fused)  # a bad value fails here, not at the first step
        cell._configure(**options)
        # NOTE: object.__setattr__: the parameters keep the names their owner gave them
        for name, p in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (weight_ih, weight_hh, bias_ih, bias_hh)):
            object.__setattr__(cell, name, p)
        return cell

    def _configure(self) -> None:
        """Set cell-specific options (nonlinearity, forget-gate bias) on a bound cell."""

    def extra_repr(self) -> str:
        extra = "" if self.bias else ", bias=False"
        if self.recurrent_init != "uniform":
            extra += f", recurrent_init={self.recurrent_init!r}"
        if self.fused is not True:
            extra += f", fused={self.fused!r}"
        return f"{self.input_size}, {self.hidden_size}{extra}"


class RNNCell(CellBase):
    """The Elman cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = tanh or relu.

    Equations (x: input, h: state; column vectors)::

        h' = act(W_ih @ x + b_ih + W_hh @ h + b_hh)
    """

    gates = 1
    step_options = ("nonlinearity",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 recurrent_init: str = "uniform", dtype=None, generator=None, fused=True):
        self._configure(nonlinearity)
        super().__init__(input_size, hidden_size, bias, recurrent_init=recurrent_init, dtype=dtype,
                         generator=generator, fused=fused)

    def _configure(self, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def act(self, a: mg.Tensor) -> mg.Tensor:
        """The nonlinearity, tanh or relu."""
        return a.tanh() if self.nonlinearity == "tanh" else a.relu()

    def composed_recurrence(self, ax, h):
        h = self.act(ax + self._hh(h))
        return h

    def fused_recurrence(self, ax, h, t=None, w_t=None, inplace=False):
        return kernels.rnn_step(ax, h, self.weight_hh, self.bias_hh, self.nonlinearity, t, w_t, inplace)

    def fused_sequence(self, xs, h, *, mask=None, reverse=False):
        return sequence.rnn_sequence(xs, h, *self._weights(), self.nonlinearity, reverse=reverse, mask=mask)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else ", nonlinearity='relu'"
        return super().extra_repr() + extra


class LSTMCell(CellBase):
    """Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    Equations (x: input, (h, c): state; column vectors; W_ii, W_if, W_ig, W_io are the four row
    blocks of ``weight_ih`` in that order, likewise W_h* of ``weight_hh`` and b_i*, b_h*)::

        i  = sigmoid(W_ii @ x + b_ii + W_hi @ h + b_hi)
        f  = sigmoid(W_if @ x + b_if + W_hf @ h + b_hf)
        g  = tanh(W_ig @ x + b_ig + W_hg @ h + b_hg)
        o  = sigmoid(W_io @ x + b_io + W_ho @ h + b_ho)
        c' = f * c + i * g
        h' = o * tanh(c')

    ``forget_bias`` (e.g. 1.0, Jozefowicz et al. 2015) sets b_if to it and b_hf to 0 at
    initialisation, so the forget gate starts mostly open and gradients flow back through c.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, forget_bias: float | None = None,
                 recurrent_init: str = "uniform", dtype=None, generator=None, fused=True):
        self._configure(forget_bias)
        if forget_bias is not None and not bias:
            raise ValueError("LSTMCell: forget_bias needs bias=True")
        super().__init__(input_size, hidden_size, bias, recurrent_init=recurrent_init, dtype=dtype,
                         generator=generator, fused=fused)

    def _configure(self, forget_bias: float | None = None) -> None:
        self.forget_bias = forget_bias

    def reset_parameters(self, generator=None) -> None:
        super().reset_parameters(generator)
        if self.forget_bias is not None:
            H = self.hidden_size
            self.bias_ih.data[H:2 * H] = self.forget_bias
            self.bias_hh.data[H:2 * H] = 0

    def output(self, state) -> mg.Tensor:
        return state[0]

    def initial_state(self, batch: int | None, dtype=None):
        return super().initial_state(batch, dtype), super().initial_state(batch, dtype)

    def _check_state(self, state, batch):
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"LSTMCell: the state must be a pair (h, c), got {type(state).__name__}")
        return tuple(super(LSTMCell, self)._check_state(s, batch) for s in state)

    def composed_recurrence(self, ax, state):
        h, c = state
        H = self.hidden_size
        a = ax + self._hh(h)  # (B, 4H): the pre-activations of i, f, g, o side by side
        i = a[..., 0 * H:1 * H].sigmoid()
        f = a[..., 1 * H:2 * H].sigmoid()
        g = a[..., 2 * H:3 * H].tanh()
        o = a[..., 3 * H:4 * H].sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        return h, c

    def fused_recurrence(self, ax, state, t=None, w_t=None, inplace=False, out=None):
        h, c = state
        return kernels.lstm_step(ax, h, c, self.weight_hh, self.bias_hh, t, w_t, inplace, out)

    def fused_sequence(self, xs, state, *, mask=None, reverse=False):
        h, c = state
        out, h_n, c_n = sequence.lstm_sequence(xs, h, c, *self._weights(), reverse=reverse, mask=mask)
        return out, (h_n, c_n)

    def extra_repr(self) -> str:
        extra = "" if self.forget_bias is None else f", forget_bias={self.forget_bias}"
        return super().extra_repr() + extra


class GRUCell(CellBase):
    """Gated recurrent unit (Cho et al. 2014), in PyTorch's variant: the reset gate scales the whole
    recurrent term ``W_hn h + b_hn`` of the candidate (cuDNN's form).

    Equations (x: input, h: state; column vectors; W_ir, W_iz, W_in are the three row blocks of
    ``weight_ih`` in that order, likewise W_h* of ``weight_hh`` and b_i*, b_h*)::

        r  = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
        z  = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
        n  = tanh(W_in @ x + b_in + r * (W_hn @ h + b_hn))
        h' = (1 - z) * n + z * h
    """

    gates = 3

    def composed_recurrence(self, ax, h):
        H = self.hidden_size
        # ax (B, 3H): W_ir x + b_ir, W_iz x + b_iz, W_in x + b_in
        ah = self._hh(h)  # (B, 3H): the same with W_h*, b_h* and h
        r = (ax[..., 0 * H:1 * H] + ah[..., 0 * H:1 * H]).sigmoid()
        z = (ax[..., 1 * H:2 * H] + ah[..., 1 * H:2 * H]).sigmoid()
        n = (ax[..., 2 * H:3 * H] + r * ah[..., 2 * H:3 * H]).tanh()
        h = (1 - z) * n + z * h
        return h

    def fused_recurrence(self, ax, h, t=None, w_t=None, inplace=False, out=None):
        return kernels.gru_step(ax, h, self.weight_hh, self.bias_hh, t, w_t, inplace, out)

    def fused_sequence(self, xs, h, *, mask=None, reverse=False):
        return sequence.gru_sequence(xs, h, *self._weights(), reverse=reverse, mask=mask)


# helpers ----------------------------------------------------------------------------------------
def _check_size(name: str, n) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _as_tensor(x) -> mg.Tensor:
    return x if isinstance(x, mg.Tensor) else mg.Tensor(np.asarray(x))


def _map(fn, state):
    """Apply ``fn`` to each tensor of a state (a tensor, or a tuple such as the LSTM's (h, c))."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)
