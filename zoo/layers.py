"""Sequence layers ``RNN``, ``LSTM``, ``GRU``: PyTorch's interface, built from cells and ``unroll``.

Shapes (T: time, B: batch, D: input size, H: hidden size, L: layers, K: 2 if bidirectional else 1)::

    input   (T, B, D)  or (B, T, D) with batch_first  or (T, D) unbatched
    h0, c0  (L*K, B, H)                               or (L*K, H) unbatched
    output  (T, B, K*H) or (B, T, K*H)                or (T, K*H)
    h_n, c_n like h0

Parameters carry PyTorch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), so state dicts
move both ways with ``torch.nn.RNN/LSTM/GRU``.

Every layer and direction runs ``zoo.unroll``: the input half of all steps is one matrix product
over (T*B, D), then one fused node per step (default) or every op of the cell's equations
(``fused=False``, or inside ``zoo.unfused()``), tagged ``layer{l}/{fwd|bwd}/t={t}``. The weight
gradients of all steps are formed as one product each by the engine (``minigrad.Deferred``).
Opt-in, ``fused="sequence"`` runs each layer and direction as one node with hand-written BPTT
(``zoo.sequence``; with ``return_states`` or inside ``detect_anomaly()`` it steps). All compute
the same numbers (to round-off) and the same gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn import Module
from minigrad.tensors import as_array

from . import fusing
from .cells import GRUCell, LSTMCell, RNNCell
from .unroll import _lengths_array, _mask_array, sequence_mask, shared_scope, unroll

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "StepStates"]

DIRECTIONS = ("fwd", "bwd")


@dataclass
class StepStates:
    """The per-step states of every layer, returned with ``return_states=True``.

    ``h[l][k][t]`` is layer l's hidden state after input step t in direction k (0 forward,
    1 backward), shape (B, H); ``c`` likewise for the LSTM (``None`` otherwise). The tensors keep
    their gradients after ``backward()``, so ``h[l][k][t].grad`` is dL/dh_t: everything that
    reaches h_t from the output at t and from later steps.
    """

    h: list
    c: list | None = None

    def grads(self, which: str = "h", layer: int = 0, direction: int = 0) -> np.ndarray:
        """dL/dh_t (or dL/dc_t) for all t as one (T, B, H) array; zero where no gradient arrived."""
        steps = (self.h if which == "h" else self.c)[layer][direction]
        return np.stack([np.zeros(s.shape, s.dtype) if s.grad is None else s.grad.data for s in steps])


class RNNBase(Module):
    """The machinery ``RNN``, ``LSTM`` and ``GRU`` share; a subclass only names its cell."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 dtype=None, generator=None, fused=True, **cell_options):
        super().__init__()
        self.fused = fusing.check(fused)  # a bad value fails here, not at the first step
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, int(num_layers)
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.cell_options = cell_options
        # Each (layer, direction) gets a freshly initialised cell whose parameters the layer keeps
        # under PyTorch's names, in PyTorch's order; ``cell`` binds a stepping cell to them.
        for layer in range(self.num_layers):
            for k in range(self.directions):
                cell = self.cell_class(input_size if layer == 0 else hidden_size * self.directions, hidden_size,
                                       bias, dtype=dtype, generator=generator, **cell_options)
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    if getattr(cell, name) is not None:
                        setattr(self, self._param_name(name, layer, k), getattr(cell, name))

    @property
    def directions(self) -> int:
        """2 if bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @staticmethod
    def _param_name(name: str, layer: int, direction: int) -> str:
        return f"{name}_l{layer}" + ("_reverse" if direction else "")

    def cell(self, layer: int, direction: int = 0):
        """The cell of one layer and direction, stepping with this layer's parameters (shared).

        Bound once and kept; bound again only if a parameter attribute was replaced since.
        """
        params = tuple(getattr(self, self._param_name(n, layer, direction), None)
                       for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        bound = self.__dict__.setdefault("_bound", _BoundCells()).cells
        ids = tuple(map(id, params))
        cached = bound.get((layer, direction))
        if cached is not None and cached[0] == ids and cached[1].fused == self.fused:
            return cached[1]
        options = {k: v for k, v in self.cell_options.items() if k in self.cell_class.step_options}
        cell = self.cell_class.bind(*params, fused=self.fused, **options)
        bound[layer, direction] = (ids, cell)
        return cell

    def forward(self, input, hx=None, *, lengths=None, mask=None, return_states: bool = False):
        """Run the whole stack over a sequence.

        ``hx``: initial state (``h0``, or ``(h0, c0)`` for the LSTM), zeros if omitted.
        ``lengths`` (B,) or ``mask`` (T, B) (or (B, T) with batch_first): real steps of a padded
        batch; padded steps leave the state unchanged, their outputs are zero, and ``h_n`` is each
        sequence's state at its last real step. Returns ``(output, h_n)`` (LSTM:
        ``(output, (h_n, c_n))``), plus ``StepStates`` as a third item with ``return_states``.
        """
        x = input if isinstance(input, mg.Tensor) else mg.Tensor(np.asarray(input))
        self._check_input(x)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        time_axis = 1 if self.batch_first and not unbatched else 0
        T, B = x.shape[time_axis], x.shape[1 - time_axis]
        if T == 0:
            raise ValueError(f"{type(self).__name__}: the input has no time steps (shape {input.shape})")
        step_mask = self._step_mask(lengths, mask, T, B, unbatched)
        if step_mask is not None and step_mask.all():
            step_mask = None
        states0 = self._initial_states(hx, B, unbatched, x.dtype)
        fused = fusing.resolve(self.fused)  # the one resolution of this forward
        if fused == fusing.SEQUENCE and (return_states or mg.is_anomaly_enabled()):
            fused = True  # per-step states need per-step nodes, and anomaly mode names the step
        xs = x.transpose(0, 1) if time_axis else x  # (T, B, D): unroll runs time-major
        finals, kept = [], []
        for layer in range(self.num_layers):
            with shared_scope(f"layer{layer}"):
                if layer > 0 and self.dropout and self.training:
                    with shared_scope("dropout"):
                        xs = F.dropout(xs, self.dropout, training=True)
                outs = []
                for k in range(self.directions):
                    cell, state0 = self.cell(layer, k), states0[layer * self.directions + k]
                    with shared_scope(DIRECTIONS[k]):
                        if fused == fusing.SEQUENCE and not return_states:  # opt-in: one node, no steps
                            out, state = cell.fused_sequence(xs, state0, mask=step_mask, reverse=k == 1)
                            outs.append(out)
                            finals.append(state)
                            continue
                        run = unroll(cell, xs, state0, mask=step_mask, reverse=k == 1, keep_states=return_states,
                                     fused=bool(fused))
                        outs.append(mg.stack(run.outputs))  # (T, B, H)
                    finals.append(run.state)
                    kept.append(run.states)
                xs = outs[0] if len(outs) == 1 else mg.cat(outs, axis=-1)  # forward first, as PyTorch
        output = xs.transpose(0, 1) if time_axis else xs
        is_lstm = isinstance(finals[0], tuple)
        if is_lstm:
            h_n = (mg.stack([s[0] for s in finals]), mg.stack([s[1] for s in finals]))
        else:
            h_n = mg.stack(finals)
        if unbatched:
            output = output.reshape(T, -1)
            h_n = tuple(s.reshape(s.shape[0], -1) for s in h_n) if is_lstm else h_n.reshape(h_n.shape[0], -1)
        if not return_states:
            return output, h_n
        return output, h_n, self._step_states(kept, is_lstm)

    def _step_states(self, kept: list, is_lstm: bool) -> StepStates:
        K = self.directions
        grid = [kept[layer * K:(layer + 1) * K] for layer in range(self.num_layers)]
        if not is_lstm:
            return StepStates(h=grid)
        return StepStates(h=[[[s[0] for s in run] for run in row] for row in grid],
                          c=[[[s[1] for s in run] for run in row] for row in grid])

    # checks ---------------------------------------------------------------------------------------
    def _check_input(self, x: mg.Tensor) -> None:
        name = type(self).__name__
        batched = "(B, T, D)" if self.batch_first else "(T, B, D)"
        if x.ndim not in (2, 3):
            raise ValueError(f"{name}: expected input of rank 3 {batched} or rank 2 (T, D) unbatched, "
                             f"got shape {x.shape} (rank {x.ndim})")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with D=input_size={self.input_size} features "
                             f"(last axis), got shape {x.shape}")
        if x.dtype.kind != "f" or x.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"{name}: input dtype {x.dtype} differs from the parameters' {self.weight_ih_l0.dtype}")

    def _step_mask(self, lengths, mask, T: int, B: int, unbatched: bool):
        if lengths is not None and mask is not None:
            raise ValueError("pass lengths or mask, not both")
        if lengths is not None:
            lengths = _lengths_array(np.atleast_1d(as_array(lengths)))
            if lengths.shape != (B,):
                raise ValueError(f"lengths must have shape (B,) = ({B},), got {lengths.shape}")
            if lengths.size and lengths.max() > T:
                raise ValueError(f"lengths {lengths.tolist()} exceed the sequence length T={T} of the input")
            return sequence_mask(lengths, T)
        if mask is not None:
            if unbatched:
                return _mask_array(mask, (T,))[:, None]
            m = _mask_array(mask, (B, T) if self.batch_first else (T, B))
            return m.T if self.batch_first else m
        return None

    def _initial_states(self, hx, B: int, unbatched: bool, dtype) -> list:
        """One initial state per (layer, direction), taken apart from the stacked ``hx``."""
        n = self.num_layers * self.directions
        if hx is None:
            cell = self.cell(0)
            return [cell.initial_state(B, dtype) for _ in range(n)]
        expected = (n, self.hidden_size) if unbatched else (n, B, self.hidden_size)
        parts = self._state_parts(hx)
        checked = []
        for label, s in parts:
            s = s if isinstance(s, mg.Tensor) else mg.Tensor(np.asarray(s))
            if s.shape != expected:
                raise ValueError(f"{type(self).__name__}: expected {label} of shape {expected} "
                                 f"(num_layers*directions, {'' if unbatched else 'B, '}H), got {s.shape}")
            if s.dtype != dtype:
                raise TypeError(f"{type(self).__name__}: {label} has dtype {s.dtype}, the input {dtype}")
            checked.append(s.reshape(n, 1, self.hidden_size) if unbatched else s)
        if len(checked) == 1:
            return [checked[0][i] for i in range(n)]
        return [tuple(s[i] for s in checked) for i in range(n)]

    def _state_parts(self, hx) -> list:
        """(name, tensor) for each stacked initial-state tensor this layer takes."""
        if isinstance(hx, (tuple, list)):
            raise ValueError(f"{type(self).__name__}: hx must be one tensor h0, got a {type(hx).__name__}")
        return [("h0", hx)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        s += "".join(f", {k}={v!r}" for k, v in self.cell_options.items() if (k, v) != ("nonlinearity", "tanh"))
        return s if self.fused is True else s + f", fused={self.fused!r}"


class RNN(RNNBase):
    """A stack of Elman layers (``RNNCell``, tanh or relu); returns ``(output, h_n)``."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **options):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         nonlinearity=nonlinearity, **options)


class LSTM(RNNBase):
    """A stack of LSTM layers (``LSTMCell``); ``hx`` is ``(h0, c0)``; returns ``(output, (h_n, c_n))``.

    Options beyond PyTorch's: ``forget_bias`` and ``recurrent_init`` (see ``LSTMCell``).
    """

    cell_class = LSTMCell

    def _state_parts(self, hx) -> list:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"LSTM: hx must be a pair (h0, c0), got {type(hx).__name__}")
        return [("h0", hx[0]), ("c0", hx[1])]


class GRU(RNNBase):
    """A stack of GRU layers (``GRUCell``); returns ``(output, h_n)``."""

    cell_class = GRUCell


class _BoundCells:
    """A layer's bound cells by (layer, direction), each with the ids of the parameters it holds.

    A plain object, so parameter discovery does not walk it: the cells' parameters are the layer's.
    """

    __slots__ = ("cells",)

    def __init__(self):
        self.cells = {}
