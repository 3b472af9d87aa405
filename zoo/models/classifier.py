"""Sequence classification (many-to-one) and sequence tagging (synced many-to-many).

    SequenceClassifier:  x_1 .. x_T  ->  RNN  ->  h at the last real step  ->  Linear  ->  one class
    SequenceTagger:      x_1 .. x_T  ->  RNN  ->  h_1 .. h_T               ->  Linear  ->  a class per step

Inputs are token ids (B, T) int64, embedded; the recurrent stack is ``zoo.RNN``/``LSTM``/``GRU``
chosen by the config's ``cell``. Padded batches pass ``lengths`` (B,): the classifier then reads
each sequence's state at its own last real step (the layers return it as ``h_n``), and the tagger
counts only real steps in its loss.

``minigrad train classifier --task parity|majority`` and ``minigrad train tagger --task
running_parity|char_class`` train them on ``zoo.tasks``' toy problems.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from zoo.tasks import char_class_task, majority_task, parity_task, running_parity_task
from zoo.train import add_arguments, evaluating
from zoo.unroll import masked_cross_entropy

from .common import (
    CELLS, add_model_arguments, check_config, final_state, fit_from_args, positive_int, recurrent_layer, run_dir,
    run_numbers, sample_batches, write_json,
)

__all__ = [
    "ClassifierConfig", "SequenceClassifier", "TaggerConfig", "SequenceTagger", "accuracy", "add_train_arguments",
    "train_from_args", "add_tagger_train_arguments", "train_tagger_from_args",
]


@dataclass
class ClassifierConfig:
    """Sizes of a ``SequenceClassifier``."""
    vocab_size: int
    num_classes: int
    cell: str = "lstm"          # "rnn" | "lstm" | "gru"
    embed_dim: int = 16
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0        # between recurrent layers and before the head
    bidirectional: bool = False  # a causal tagger (running parity) must stay unidirectional
    forget_bias: float | None = 1.0  # LSTM only

    def __post_init__(self):
        check_config(self, ("vocab_size", "num_classes", "embed_dim", "hidden_size", "num_layers"), {"cell": CELLS})


@dataclass
class TaggerConfig(ClassifierConfig):
    """Sizes of a ``SequenceTagger`` (the same fields as the classifier's)."""


class _TokenRNN(nn.Module):
    """Embedding -> recurrent stack -> dropout -> linear head: the body both models share."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim)
        self.rnn = recurrent_layer(c.cell, c.embed_dim, c.hidden_size, c.num_layers, dropout=c.dropout,
                                   bidirectional=c.bidirectional, forget_bias=c.forget_bias)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size * (2 if c.bidirectional else 1), c.num_classes)

    def encode(self, x, lengths):
        """``(output (B, T, K*H), h_n)`` of the recurrent stack over the embedded ids."""
        ids = _check_ids(x, self.config.vocab_size, type(self).__name__)
        return self.rnn(self.embedding(ids), lengths=lengths)

    def predict(self, x, lengths=None) -> np.ndarray:
        """The most likely class ids (argmax of the logits), without recording a graph."""
        with mg.no_grad():
            logits, _ = self(x, lengths=lengths)
        return logits.data.argmax(axis=-1)


class SequenceClassifier(_TokenRNN):
    """Many-to-one: a class for each sequence, from the final recurrent state.

    ``forward(x (B, T) ids, targets (B,) = None, lengths (B,) = None) -> (logits (B, C), loss)``.
    """

    def forward(self, x, targets=None, lengths=None):
        _, h_n = self.encode(x, lengths)  # h_n: (L*K, B, H), at each sequence's last real step
        logits = self.head(self.drop(final_state(h_n, self.config.bidirectional)))  # (B, C)
        loss = None if targets is None else F.cross_entropy(logits, targets)
        return logits, loss


class SequenceTagger(_TokenRNN):
    """Synced many-to-many: a class for every input step, from that step's top-layer output.

    ``forward(x (B, T) ids, targets (B, T) = None, lengths (B,) = None) -> (logits (B, T, C), loss)``;
    the loss is the mean cross-entropy over real steps (steps past ``lengths`` do not count).
    """

    def forward(self, x, targets=None, lengths=None):
        out, _ = self.encode(x, lengths)  # (B, T, K*H)
        logits = self.head(self.drop(out))  # (B, T, C)
        loss = None
        if targets is not None:
            loss = masked_cross_entropy(logits, targets, lengths=lengths, batch_first=True)
        return logits, loss


def _check_ids(x, vocab_size: int, what: str) -> np.ndarray:
    ids = np.asarray(x.data if isinstance(x, mg.Tensor) else x)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected token ids of shape (B, T) and an integer dtype, got shape "
                         f"{ids.shape} dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{what}: token ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
    return ids


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Fraction of correct predictions (per sequence for a classifier, per step for a tagger)."""
    with evaluating(model):
        hits = sum(int(np.sum(model.predict(x[i:i + batch_size]) == y[i:i + batch_size]))
                   for i in range(0, len(x), batch_size))
    return hits / y.size


# command line ------------------------------------------------------------------------------------
_CLASSIFY_TASKS = {"parity": parity_task, "majority": majority_task}
_TAG_TASKS = {"char_class": char_class_task, "running_parity": running_parity_task}


def _add_task_arguments(parser, tasks: dict, default: str) -> None:
    g = parser.add_argument_group("task")
    g.add_argument("--task", choices=tuple(tasks), default=default, help=f"toy task (default {default})")
    g.add_argument("--length", type=positive_int, default=None, help="sequence length (default: the task's)")
    g.add_argument("--n-train", type=positive_int, default=2000, help="training sequences (default 2000)")
    g.add_argument("--n-test", type=positive_int, default=500, help="held-out test sequences (default 500)")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train classifier`` (parity or majority of a sequence)."""
    _add_task_arguments(parser, _CLASSIFY_TASKS, "parity")
    add_model_arguments(parser, embed=16, bidirectional=True)
    add_arguments(parser, steps=1500, lr=3e-3, eval_every=250)


def add_tagger_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train tagger`` (character classes, or the running parity of a bit string)."""
    _add_task_arguments(parser, _TAG_TASKS, "running_parity")
    add_model_arguments(parser, embed=16, bidirectional=True)
    add_arguments(parser, steps=600, lr=3e-3, eval_every=100)


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train classifier``: train, print the test accuracy, save the run; return the numbers."""
    return _train_token_model(args, SequenceClassifier, ClassifierConfig, _CLASSIFY_TASKS, "classifier")


def train_tagger_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train tagger``: as ``train_from_args``, for the per-step tagger."""
    return _train_token_model(args, SequenceTagger, TaggerConfig, _TAG_TASKS, "tagger")


def _train_token_model(args, model_class, config_class, tasks: dict, kind: str) -> dict:
    kwargs = {"n_train": args.n_train, "n_test": args.n_test, "seed": args.seed}
    if args.length is not None:
        kwargs["length"] = args.length
    task = tasks[args.task](**kwargs)
    config = config_class(vocab_size=len(task.vocab), num_classes=len(task.classes), cell=args.cell,
                          embed_dim=args.embed, hidden_size=args.hidden, num_layers=args.layers,
                          dropout=args.dropout, bidirectional=args.bidirectional,
                          forget_bias=args.forget_bias)
    mg.manual_seed(args.seed)
    model = model_class(config)
    out = run_dir(args, f"{kind}_{args.task}")
    history = fit_from_args(
        args, model, sample_batches(task.train, args.batch_size), out=out, desc=f"{kind} {args.task}",
        evaluate=lambda m: {"test_accuracy": accuracy(m, task.test.x, task.test.y)},
        run_config={"kind": kind, "model": asdict(config), "vocab": task.vocab.to_dict(),
                    "classes": list(task.classes),
                    "task": {"name": args.task, **kwargs, "length": task.info["length"]}})
    result = {"task": args.task, "cell": args.cell, **run_numbers(history),
              "train_accuracy": accuracy(model, task.train.x, task.train.y),
              "test_accuracy": accuracy(model, task.test.x, task.test.y)}
    if kind == "tagger":
        with evaluating(model):
            whole = np.all(model.predict(task.test.x) == task.test.y, axis=1)  # (N,): every step right
        result["test_sequence_accuracy"] = float(whole.mean())
    write_json(out / "results.json", result)
    print(f"{kind} on {args.task} ({args.cell}, {history.step} steps, {history.elapsed:.1f} s): "
          f"test accuracy {result['test_accuracy']:.4f}, train accuracy {result['train_accuracy']:.4f}"
          + (f", whole sequences right {result['test_sequence_accuracy']:.4f}" if kind == "tagger" else ""))
    print(f"checkpoint, metrics and results in {out}/")
    return result
