"""The 'hello' model of the classic lecture (Karpathy's char-rnn): vocabulary ``h e l o``, inputs
"hell", targets "ello", a tiny vanilla RNN that learns to spell "hello" from "h".

With x_t the one-hot input at step t::

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)      W_xh = weight_ih_l0, W_hh = weight_hh_l0,
    y_t = W_hy h_t + b_y                           b_h = bias_ih_l0 + bias_hh_l0, W_hy, b_y = head
    L   = (1/T) sum_t -log softmax(y_t)[target_t]

written twice: ``HelloRNN`` with tensors (``zoo.RNN`` and a linear head) and ``scalar_hello``,
which rebuilds the same computation from the model's weights in scalar ``Value``s (one node per
multiply, add and tanh, each step in its ``mg.step_scope(t)``), small enough to draw as a scalar
graph. ``tests/test_hello.py`` checks that both give the same loss and gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import Value, nn

from ..layers import RNN
from ..tasks.toy import hello_data
from ..tasks.vocab import CharVocab
from .common import check_config

__all__ = ["HelloConfig", "HelloRNN", "ScalarHello", "scalar_hello"]


@dataclass
class HelloConfig:
    """The vocabulary, hidden size and word of a ``HelloRNN``."""
    vocab: str = "helo"
    hidden: int = 3
    text: str = "hello"

    def __post_init__(self):
        check_config(self, ("hidden",))
        unknown = sorted(set(self.text) - set(self.vocab))
        if len(self.text) < 2 or unknown:
            raise ValueError(f"HelloConfig: text must have two or more characters of the vocabulary "
                             f"{self.vocab!r}, got {self.text!r}")


class HelloRNN(nn.Module):
    """The tensor form: one-hot inputs -> ``RNN`` (tanh) -> linear head.

    ``forward(x, targets=None) -> (logits, loss)`` with ids ``x`` (T,) or (B, T); logits (T, V)
    or (B, T, V); loss the mean cross-entropy.
    """

    def __init__(self, config: HelloConfig = HelloConfig()):
        super().__init__()
        self.config = config
        self.vocab = CharVocab(config.vocab)
        V = len(self.vocab)
        self.rnn = RNN(V, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, V)

    def run(self, x, h=None) -> tuple:
        """Logits (B, T, V) for ids ``x`` (B, T) and the final hidden state (1, B, H)."""
        V = len(self.vocab)
        onehot = mg.one_hot(np.asarray(x), V, dtype=self.head.weight.dtype)  # (B, T, V)
        out, h = self.rnn(onehot, h)
        return self.head(out), h

    def forward(self, x, targets=None):
        x = np.asarray(x)
        logits, _ = self.run(x[None] if x.ndim == 1 else x)
        if x.ndim == 1:
            logits = logits.reshape(*logits.shape[1:])
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, len(self.vocab)), np.asarray(targets).reshape(-1))

    @mg.no_grad()
    def generate(self, start: str = "h", length: int | None = None) -> str:
        """Greedy continuation of ``start``: ``length`` more characters (default: to the text's length)."""
        if length is None:
            length = len(self.config.text) - len(start)
        ids = self.vocab.encode(start)
        logits, h = self.run(ids[None])
        out = []
        for _ in range(length):
            nxt = int(logits.data[0, -1].argmax())
            out.append(nxt)
            logits, h = self.run(np.array([[nxt]]), h)
        return start + self.vocab.decode(out)


@dataclass
class ScalarHello:
    """The scalar-Value form of one forward pass: ``loss``, ``logits[t][v]``, and ``params`` (name ->
    object array of Values shaped like the model's parameter of that name)."""
    loss: Value
    logits: list
    params: dict

    def grads(self) -> dict:
        """Each parameter's gradient as a float64 array (after ``loss.backward()``)."""
        return {name: np.array([v.grad for v in arr.flat], dtype=np.float64).reshape(arr.shape)
                for name, arr in self.params.items()}


_SYMBOLS = {"rnn.weight_ih_l0": "W_xh", "rnn.weight_hh_l0": "W_hh", "rnn.bias_ih_l0": "b_ih",
            "rnn.bias_hh_l0": "b_hh", "head.weight": "W_hy", "head.bias": "b_y"}


def _values(name: str, arr: np.ndarray) -> np.ndarray:
    values = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(arr.shape):
        values[index] = Value(float(arr[index]), label=f"{_SYMBOLS[name]}[{','.join(map(str, index))}]")
    return values


def scalar_hello(model: HelloRNN, text: str | None = None) -> ScalarHello:
    """The model's loss on ``text`` (default: its config's) computed in scalar Values from its weights."""
    data = hello_data(text or model.config.text, model.config.vocab)
    params = {name: _values(name, p.data) for name, p in model.named_parameters()}
    W_xh, W_hh = params["rnn.weight_ih_l0"], params["rnn.weight_hh_l0"]
    b_ih, b_hh = params["rnn.bias_ih_l0"], params["rnn.bias_hh_l0"]
    W_hy, b_y = params["head.weight"], params["head.bias"]
    H, V = W_hh.shape[0], W_hy.shape[0]
    h = [Value(0.0, label="h_init")] * H
    logits, total = [], Value(0.0)
    for t, (x, target) in enumerate(zip(data.x.tolist(), data.y.tolist())):
        with mg.scope(mg.step_scope(t)):
            new = []
            for i in range(H):
                # W_xh @ onehot(x) is column x of W_xh: the zero terms are left out of the graph
                a = W_xh[i, x] + b_ih[i] + b_hh[i]
                for j in range(H):
                    a = a + W_hh[i, j] * h[j]
                new.append(a.tanh())
                new[-1].label = f"h_{t}[{i}]"
            h = new
            y = []
            for v in range(V):
                s = b_y[v]
                for j in range(H):
                    s = s + W_hy[v, j] * h[j]
                s.label = f"y_{t}[{v}]"
                y.append(s)
            # cross-entropy through log-sum-exp, shifted by the largest logit (a constant) for stability
            m = max(s.data for s in y)
            lse = sum(((s - m).exp() for s in y), Value(0.0)).log() + m
            total = total + (lse - y[target])
            logits.append(y)
    loss = total * (1.0 / len(data.x))
    loss.label = "L"
    return ScalarHello(loss, logits, params)
