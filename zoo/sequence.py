"""Opt-in sequence kernels: a whole layer and direction as one node, with BPTT written by hand.

``fused="sequence"`` on a layer (or inside ``zoo.fusion("sequence")``) runs each layer and
direction as one node (``rnn_sequence``, ``lstm_sequence``, ``gru_sequence``) instead of one node
per time step. It exists for speed where the per-step graph's fixed cost per node still shows -
batch 1, many short steps - and it hides time: the graph has no steps to draw, and anomaly
mode names no step. The default unrolled graph computes the same numbers; the tests hold the two
equal (values and every gradient), so this is hand-written BPTT checked against the graph.

The input projection of all T steps is one matrix product ``(T*B, D) @ W_ih^T``; only
``h @ W_hh^T`` and the gates run per step, into preallocated buffers; backward runs the recurrence
of the deltas per step and forms each weight gradient as one product over all steps
(``dA^T @ H_prev``). Reverse direction, masks (padded steps keep the state, output zero) and
initial states are handled inside. Each cell's step and derivative factors are
``zoo.kernels``' (``_lstm_step_``, ``_lstm_factors``, ``_gru_step_``, ``_gru_factors``).

A kernel returns ``(T + k, B, H)`` holding the T outputs, h_n (and c_n); without a mask that
array is the state buffer itself, so the outputs and h_n are views, not copies (``_rows``).
``step_grads`` splits the node's gradient by time step for ``zoo.gradient_shares``.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import Function, ShapeError
from minigrad.ops import dot_t, transposed_for

from .kernels import _activation, _dtanh_, _gru_factors, _gru_step_, _lstm_factors, _lstm_step_, _refuse

__all__ = ["RNNSequence", "LSTMSequence", "GRUSequence", "rnn_sequence", "lstm_sequence", "gru_sequence"]


def _check(op: str, G: int, X, states, w_ih, w_hh, biases) -> None:
    """Raise ShapeError (TypeError for mixed dtypes) naming ``op`` and every input unless they fit:
    X (T, B, D), each state (B, H), weight_ih (G*H, D), weight_hh (G*H, H), biases (G*H,)."""
    dt = X.dtype
    fits = X.ndim == 3 and w_hh.ndim == 2
    same = w_ih.dtype == dt and w_hh.dtype == dt
    if fits:
        GH, H = w_hh.shape
        fits = GH == G * H and w_ih.shape == (GH, X.shape[-1])
        for s in states:
            fits, same = fits and s.shape == (X.shape[1], H), same and s.dtype == dt
        for b in biases:
            fits, same = fits and b.shape == (GH,), same and b.dtype == dt
    if fits and same:
        return
    arrays = (X, *states, w_ih, w_hh, *biases)
    names = ("X",) + ("h0", "c0")[:len(states)] + ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[:2 + len(biases)]
    _refuse(op, names, arrays, fits, f"X (T, B, D), {' and '.join(names[1:1 + len(states)])} (B, H), "
                                     f"weight_ih ({G}H, D), weight_hh ({G}H, H), biases ({G}H,)")


def _affine_grads(need, x, h, w_ih, da_i, da_h) -> list:
    """Gradients of ``a_i = x W_ih^T + b_ih`` and ``a_h = h W_hh^T + b_hh`` given dL/da_i, dL/da_h,
    except h's (the recurrence carries that step by step).

    x (N, D), h (N, H), deltas (N, G*H): the T*B rows of a sequence. Returns [dx, dW_ih, dW_hh],
    plus [db_ih, db_hh] when ``need`` covers biases. The RNN and LSTM pass one array as both
    deltas (a_i and a_h enter the gates as one sum); then the two bias gradients are one sum,
    returned twice (the engine copies a leaf's first gradient).
    """
    grads = [np.dot(da_i, w_ih) if need[0] else None, np.dot(da_i.T, x) if need[1] else None,
             np.dot(da_h.T, h) if need[2] else None]
    if len(need) > 3:
        one = da_h is da_i
        db_i = da_i.sum(axis=0) if need[3] or (one and need[4]) else None
        db_h = (db_i if one else da_h.sum(axis=0)) if need[4] else None
        grads += [db_i if need[3] else None, db_h]
    return grads



# ---------------------------------------------------------------------------------------------
# the kernels

_ALL, _SOME, _NONE = 0, 1, 2  # how many of the batch's sequences are real at a step


def _rows(T: int, reverse: bool, masked: bool) -> tuple:
    """Where a sequence kernel's packed output (T + k, B, H) keeps the outputs and h_n.

    Without a mask the state buffer is the packed output: its T + 1 rows hold h0 and the state
    after each step (so the outputs and h_n are views of it, not copies); with a mask the outputs
    (zero at padded steps) differ from the states and take the first T rows, h_n row T. The LSTM's
    c_n is always row T + 1.
    """
    if masked:
        return slice(0, T), T
    return (slice(0, T), 0) if reverse else (slice(1, T + 1), T)


class _Sequence(Function):
    """What the sequence kernels share: checks, the step plan (direction and mask), the packed
    output, and the weight gradients as products over all steps.

    Buffers are in time order. The state buffer ``S`` (T+1, B, H) holds the initial state and the
    state after each step: running forward, step t reads ``S[t]`` and writes ``S[t+1]``; in
    reverse it reads ``S[t+1]`` and writes ``S[t]``. So the outputs and the states entering the
    steps are both contiguous slices, time-aligned with the input.

    A subclass sets ``G`` and ``n_states`` and defines ``forward`` (``_begin``, its steps over
    ``plan``, ``_pack``) and ``_deltas`` (the recurrence of the deltas); backward does the rest.
    """

    G = 1  # gates
    n_states = 1  # h, or h and c

    def _begin(self, X, states, w_ih, w_hh, biases, reverse: bool, mask) -> np.ndarray:
        """Check and plan; returns the state buffer S (T+1, B, H) with the initial state in place.

        ``plan`` lists the steps in the order they run as (t, row written, row read, kind), kind
        saying whether all, some or none of the sequences are real at step t.
        """
        _check(self.op, self.G, X, states, w_ih, w_hh, biases)
        T, B, D = X.shape
        H = w_hh.shape[1]
        if T == 0:
            raise ShapeError(f"{self.op}: the input has no time steps (shape {X.shape})")
        self.T, self.B, self.H, self.dtype = T, B, H, X.dtype
        self.w_ih, self.w_hh = w_ih, w_hh
        self.X2 = X.reshape(T * B, D)
        new, prev = (0, 1) if reverse else (1, 0)
        self.new = slice(new, new + T)  # S[self.new]: the state after each step, S[self.prev]: before
        self.prev = slice(prev, prev + T)
        self.init, self.final = (T, 0) if reverse else (0, T)
        if mask is None:
            kinds = [_ALL] * T
            self.m = self.pad = None
        else:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (T, B):
                raise ShapeError(f"{self.op}: mask of shape {mask.shape}, expected (T, B) = {(T, B)}")
            kinds = [_ALL if a else _SOME if s else _NONE for a, s in zip(mask.all(axis=1), mask.any(axis=1))]
            self.m = mask.astype(X.dtype)[:, :, None]  # (T, B, 1): broadcasts over the hidden units
            self.pad = ~mask[:, :, None]
        order = range(T - 1, -1, -1) if reverse else range(T)
        self.plan = [(t, t + new, t + prev, kinds[t]) for t in order]
        self.packed = np.empty((T + self.n_states, B, H), dtype=X.dtype)
        S = self.packed[:T + 1] if mask is None else np.empty((T + 1, B, H), dtype=X.dtype)
        S[self.init] = states[0]
        self.S = S
        return S

    def _project(self, bias) -> np.ndarray:
        """Input projection of all steps at once: (T, B, G*H) = X W_ih^T (+ bias)."""
        A = np.dot(self.X2, self.w_ih.T)
        if bias is not None:
            A += bias
        return A.reshape(self.T, self.B, A.shape[-1])

    def _pack(self, C=None) -> np.ndarray:
        """The packed output (see ``_rows``); with a mask, the outputs are written in now."""
        T, P = self.T, self.packed
        if self.m is not None:
            np.multiply(self.S[self.new], self.m, out=P[:T])
            P[T] = self.S[self.final]
        if C is not None:
            P[T + 1] = C[self.final]
        return P

    def _output_grad(self, g: np.ndarray) -> tuple:
        """dL/dh_t from the outputs (T, B, H), and the gradient that arrived at h_n on its own.

        Without a mask the last output and h_n are one row of the packed output, so its
        gradient already holds both; padded steps' outputs were zeros and send nothing.
        """
        if self.m is None:
            return g[self.new], np.zeros_like(g[0])
        return g[:self.T] * self.m, g[self.T].copy()

    def _masked(self, *arrays) -> None:
        """Zero padded rows in place: a padded step's new state is not used, so nothing flows into it."""
        if self.m is not None:
            for a in arrays:
                a *= self.m if a.ndim == 3 else self.m[..., None]

    def _carry(self, a: np.ndarray, fill) -> np.ndarray:
        """``a`` on real rows, ``fill`` on padded ones (the factor a carried gradient passes through)."""
        return a if self.m is None else np.where(self.pad, a.dtype.type(fill), a)

    def _back(self, da: np.ndarray, dh: np.ndarray, keep: np.ndarray, t: int, kind: int) -> None:
        """dh <- da @ W_hh: dL/dh_{t-1} from step t's deltas (RNN, LSTM). A padded row's state
        passed through the step unchanged, and so does its gradient."""
        if kind == _SOME:
            np.multiply(dh, self.pad[t], out=keep)
            np.dot(da, self.w_hh, out=dh)
            dh += keep
        else:
            np.dot(da, self.w_hh, out=dh)

    def _deltas(self, g) -> tuple:
        """dL/da_i and dL/da_h (T, B, G*H) (one array for both where the gates add a_i and a_h),
        and the initial states' gradients."""
        raise NotImplementedError

    # backward ------------------------------------------------------------------------------------
    def backward(self, g):
        dA_i, dA_h, dstates = self._deltas(g)
        T, B = self.T, self.B
        Ai = dA_i.reshape(T * B, dA_i.shape[-1])
        Ah = Ai if dA_h is dA_i else dA_h.reshape(T * B, dA_h.shape[-1])
        need = self.needs_input_grad
        k = 1 + self.n_states  # inputs: X, the initial states, then the weights and biases
        dX, *rest = _affine_grads((need[0],) + need[k:], self.X2, self.S[self.prev].reshape(T * B, self.H),
                                  self.w_ih, Ai, Ah)
        dstates = [d if n else None for d, n in zip(dstates, need[1:k])]
        return (None if dX is None else dX.reshape(T, B, self.X2.shape[1]), *dstates, *rest)

    def step_grads(self, g) -> tuple:
        """Each input's gradient split by time step (what ``backward`` sums over steps), for
        ``zoo.gradient_shares``: per input an array (T, *input.shape) whose row t is what step t
        contributed (index t is the input step, in either direction), or None for the input
        sequence, which is not shared across steps."""
        dA_i, dA_h, dstates = self._deltas(g)
        T, B = self.T, self.B
        Ai, Ah = dA_i.reshape(T, B, dA_i.shape[-1]), dA_h.reshape(T, B, dA_h.shape[-1])
        per_step = [None]
        first = next((t for t, _, _, kind in self.plan if kind != _NONE), None)
        for d in dstates:  # the initial state is read by the first step that is computed
            rows = np.zeros((T,) + d.shape, dtype=d.dtype)
            if first is not None:
                rows[first] = d
            per_step.append(rows)
        per_step.append(np.matmul(Ai.transpose(0, 2, 1), self.X2.reshape(T, B, self.X2.shape[1])))
        per_step.append(np.matmul(Ah.transpose(0, 2, 1), self.S[self.prev]))
        if len(self.needs_input_grad) > len(per_step):
            per_step += [Ai.sum(axis=1), Ah.sum(axis=1)]
        return tuple(per_step)


class RNNSequence(_Sequence):
    """An Elman layer over a whole sequence as one node: ``h_t = act(x_t W_ih^T + h_{t-1} W_hh^T + b)``.

    Inputs ``(X (T, B, D), h0 (B, H), weight_ih, weight_hh[, bias_ih, bias_hh])``; options
    ``nonlinearity``, ``reverse``, ``mask`` ((T, B) bool or None). Returns the outputs and h_n
    packed in (T + 1, B, H) (see ``_rows``). Backward: da_t = dh_t * act'(a_t), dh_{t-1} = da_t W_hh.
    """

    op = "rnn_sequence"

    def forward(self, X, h0, w_ih, w_hh, *biases, nonlinearity="tanh", reverse=False, mask=None):
        act, self.dact = _activation(self.op, nonlinearity)
        S = self._begin(X, (h0,), w_ih, w_hh, biases, reverse, mask)
        A = self._project(biases[0] + biases[1] if biases else None)  # (T, B, H)
        w_t = transposed_for(self.B, w_hh)
        pad = self.pad
        for t, new, prev, kind in self.plan:
            s = S[new]
            if kind == _NONE:
                s[...] = S[prev]
                continue
            dot_t(S[prev], w_hh, w_t, out=s)
            s += A[t]
            act(s, out=s)
            if kind == _SOME:
                np.copyto(s, S[prev], where=pad[t])
        return self._pack()

    def _deltas(self, g):
        dA = self.dact(self.S[self.new], np.empty((self.T, self.B, self.H), dtype=self.dtype))  # act'(a_t)
        self._masked(dA)
        dY, dh = self._output_grad(g)
        keep = np.empty_like(dh)
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:  # nothing was computed; the masked factors are zero
                continue
            dh += dY[t]
            dA[t] *= dh
            self._back(dA[t], dh, keep, t, kind)
        return dA, dA, (dh,)


class LSTMSequence(_Sequence):
    """An LSTM layer over a whole sequence as one node (the equations of ``zoo.kernels.LSTMStep``).

    Inputs ``(X, h0, c0, weight_ih, weight_hh[, bias_ih, bias_hh])``; options ``reverse``,
    ``mask``. Returns the outputs, h_n and c_n packed in (T + 2, B, H) (see ``_rows``).
    """

    op = "lstm_sequence"
    G, n_states = 4, 2

    def forward(self, X, h0, c0, w_ih, w_hh, *biases, reverse=False, mask=None):
        S = self._begin(X, (h0, c0), w_ih, w_hh, biases, reverse, mask)
        T, B, H = self.T, self.B, self.H
        A = self._project(biases[0] + biases[1] if biases else None)  # (T, B, 4H), becomes the gates
        C = np.empty((T + 1, B, H), dtype=self.dtype)  # the cell states, laid out as S
        C[self.init] = c0
        ah = np.empty((B, 4 * H), dtype=self.dtype)
        ig = np.empty((B, H), dtype=self.dtype)
        tc = np.empty((B, H), dtype=self.dtype)  # tanh(c'); backward computes it again rather than keep T of them
        w_t = transposed_for(B, w_hh)
        pad = self.pad
        for t, new, prev, kind in self.plan:
            if kind == _NONE:
                S[new], C[new], A[t] = S[prev], C[prev], 0
                continue
            a = A[t]
            a += dot_t(S[prev], w_hh, w_t, out=ah)
            _lstm_step_(a, C[prev], C[new], ig)
            np.tanh(C[new], out=tc)
            np.multiply(a[:, 3 * H:], tc, out=S[new])  # h' = o * tanh(c')
            if kind == _SOME:
                np.copyto(S[new], S[prev], where=pad[t])
                np.copyto(C[new], C[prev], where=pad[t])
        self.C, self.A = C, A
        return self._pack(C)

    def _deltas(self, g):
        T, B, H = self.T, self.B, self.H
        A = self.A
        # dA starts as each gate's factor (_lstm_factors) for all steps at once, and is multiplied
        # by dc_t (gates i, f, g) or dh_t (gate o) step by step
        dA = _lstm_factors(A, self.C[self.prev], np.empty((T, B, 4, H), dtype=self.dtype))
        Kc = np.tanh(self.C[self.new])
        dA[:, :, 3] *= Kc  # do_t = dh_t * tanh(c_t)
        _dtanh_(Kc, Kc)
        Kc *= A[..., 3 * H:]  # dc_t gets dh_t * o_t * (1 - tanh(c_t)^2)
        self._masked(Kc, dA)
        F = self._carry(A[..., H:2 * H], 1)  # dc_{t-1} = dc_t * f_t
        dY, dh = self._output_grad(g)
        dc = g[T + 1].copy()
        dA2 = dA.reshape(T, B, 4 * H)
        tmp = np.empty_like(dh)
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:  # nothing was computed; the masked factors are zero
                continue
            dh += dY[t]
            np.multiply(dh, Kc[t], out=tmp)
            dc += tmp
            dA[t, :, :3] *= dc[:, None, :]
            dA[t, :, 3] *= dh
            dc *= F[t]
            self._back(dA2[t], dh, tmp, t, kind)
        return dA2, dA2, (dh, dc)


class GRUSequence(_Sequence):
    """A GRU layer over a whole sequence as one node (the equations of ``zoo.kernels.GRUStep``).

    Inputs ``(X, h0, weight_ih, weight_hh[, bias_ih, bias_hh])``; options ``reverse``, ``mask``.
    Returns the outputs and h_n packed in (T + 1, B, H) (see ``_rows``).
    """

    op = "gru_sequence"
    G = 3

    def forward(self, X, h0, w_ih, w_hh, *biases, reverse=False, mask=None):
        S = self._begin(X, (h0,), w_ih, w_hh, biases, reverse, mask)
        T, B, H = self.T, self.B, self.H
        b_ih, b_hh = biases if biases else (None, None)
        AI = self._project(b_ih)  # (T, B, 3H): W_i* x + b_i*
        GATES = np.empty_like(AI)  # r, z, n
        AHN = np.empty((T, B, H), dtype=self.dtype)  # W_hn h + b_hn, for r's delta
        ah = np.empty((B, 3 * H), dtype=self.dtype)
        w_t = transposed_for(B, w_hh)
        pad = self.pad
        for t, new, prev, kind in self.plan:
            if kind == _NONE:
                S[new], GATES[t], AHN[t] = S[prev], 0, 0
                continue
            dot_t(S[prev], w_hh, w_t, out=ah)
            if b_hh is not None:
                ah += b_hh
            AHN[t] = ah[:, 2 * H:]
            _gru_step_(AI[t], ah, S[prev], GATES[t], S[new])
            if kind == _SOME:
                np.copyto(S[new], S[prev], where=pad[t])
        self.AI, self.AHN = GATES, AHN
        return self._pack()

    def _deltas(self, g):
        T, B, H = self.T, self.B, self.H
        AI = self.AI
        # dL/da_i = dh_t * KI[t], KI the factors of all steps (_gru_factors); dL/da_h is the same
        # but for r scaling the n gate's recurrent term. KI becomes dL/da_i once all dh_t are known.
        KI = _gru_factors(AI, self.AHN, self.S[self.prev], np.empty((T, B, 3, H), dtype=self.dtype),
                          np.empty((T, B, H), dtype=self.dtype))
        self._masked(KI)
        r = AI[..., :H]
        Z = self._carry(AI[..., H:2 * H], 1)  # the direct path h -> h' carries dh * z
        dY, carry = self._output_grad(g)
        DH = np.empty((T, B, H), dtype=self.dtype)  # dL/dh_t in total
        dAH = np.empty((T, B, 3, H), dtype=self.dtype)
        dAH2 = dAH.reshape(T, B, 3 * H)
        direct = np.empty_like(carry)
        w_hh = self.w_hh
        for t, _, _, kind in reversed(self.plan):
            if kind == _NONE:
                DH[t], dAH[t] = 0, 0
                continue
            dh = np.add(carry, dY[t], out=DH[t])
            np.multiply(dh[:, None, :], KI[t], out=dAH[t])
            dAH[t, :, 2] *= r[t]
            np.multiply(dh, Z[t], out=direct)
            np.dot(dAH2[t], w_hh, out=carry)
            carry += direct
        KI *= DH[:, :, None, :]
        return KI.reshape(T, B, 3 * H), dAH2, (carry,)


# ---------------------------------------------------------------------------------------------
# functional forms

def _params(w_ih, w_hh, b_ih, b_hh) -> tuple:
    if (b_ih is None) != (b_hh is None):
        raise ValueError("pass both biases (bias_ih and bias_hh) or neither")
    return (w_ih, w_hh) if b_ih is None else (w_ih, w_hh, b_ih, b_hh)


def _unpack(packed: mg.Tensor, states: int, reverse: bool, mask) -> tuple:
    """The outputs (T, B, H), h_n (and c_n) as slices of a sequence kernel's packed node (``_rows``)."""
    T = packed.shape[0] - states
    outputs, h_n = _rows(T, reverse, mask is not None)
    return (packed[outputs], packed[h_n]) + ((packed[T + 1],) if states == 2 else ())


def rnn_sequence(X, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh", *,
                 reverse: bool = False, mask=None) -> tuple:
    """An Elman layer over X (T, B, D) from h0 (B, H) as one node -> (outputs (T, B, H), h_n).

    ``reverse`` runs from the last step to the first; ``mask`` (T, B) bool marks real steps:
    elsewhere the state is kept and the output is zero.
    """
    packed = RNNSequence.apply(X, h0, *_params(w_ih, w_hh, b_ih, b_hh), nonlinearity=nonlinearity,
                               reverse=reverse, mask=mask)
    return _unpack(packed, 1, reverse, mask)


def lstm_sequence(X, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse: bool = False, mask=None) -> tuple:
    """An LSTM layer over X (T, B, D) as one node -> (outputs (T, B, H), h_n, c_n); see ``rnn_sequence``."""
    packed = LSTMSequence.apply(X, h0, c0, *_params(w_ih, w_hh, b_ih, b_hh), reverse=reverse, mask=mask)
    return _unpack(packed, 2, reverse, mask)


def gru_sequence(X, h0, w_ih, w_hh, b_ih=None, b_hh=None, *, reverse: bool = False, mask=None) -> tuple:
    """A GRU layer over X (T, B, D) as one node -> (outputs (T, B, H), h_n); see ``rnn_sequence``."""
    packed = GRUSequence.apply(X, h0, *_params(w_ih, w_hh, b_ih, b_hh), reverse=reverse, mask=mask)
    return _unpack(packed, 1, reverse, mask)
