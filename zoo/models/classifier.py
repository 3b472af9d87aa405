"""Sequence classification (many-to-one) and sequence tagging (synced many-to-many).

    SequenceClassifier:  x_1 .. x_T  ->  RNN  ->  h at the last real step  ->  Linear  ->  one class
    SequenceTagger:      x_1 .. x_T  ->  RNN  ->  h_1 .. h_T               ->  Linear  ->  a class per step

Inputs are token ids (B, T) int64, embedded; the recurrent stack is ``zoo.RNN``/``LSTM``/``GRU``
chosen by the config's ``cell``. Padded batches pass ``lengths`` (B,): the classifier then reads
each sequence's state at its own last real step (the layers return it as ``h_n``), and the tagger
counts only real steps in its loss.

This file also holds what the conditioned generator, the forecaster and ``zoo.experiments``
share: ``recurrent_layer`` (a layer by cell name), ``final_state`` (the top layer's ``h_n``, both
directions side by side) and the command-line helpers beyond ``zoo.train``'s flags.

``minigrad train classifier --task parity|majority`` and ``minigrad train tagger --task
running_parity|char_class`` train them on ``zoo.tasks``' toy problems.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
from dataclasses import asdict, dataclass

import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from zoo.layers import GRU, LSTM, RNN
from zoo.tasks import char_class_task, majority_task, parity_task, running_parity_task
from zoo.train import CHECKPOINT, Trainer, add_arguments, config_from_args
from zoo.unroll import masked_cross_entropy

__all__ = [
    "CELLS", "recurrent_layer", "final_state", "ClassifierConfig", "SequenceClassifier", "TaggerConfig",
    "SequenceTagger", "accuracy", "add_train_arguments", "train_from_args", "add_tagger_train_arguments",
    "train_tagger_from_args", "add_model_arguments", "run_dir", "sample_batches", "fit_from_args", "write_json",
    "write_svg",
]

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
                    dropout: float = 0.0, bidirectional: bool = False, forget_bias: float | None = 1.0):
    """A batch-first ``zoo.RNN``/``LSTM``/``GRU`` by name. ``forget_bias`` applies to the LSTM only
    (b_if starts at it, so the forget gate starts mostly open; Jozefowicz et al. 2015)."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
    options = {"forget_bias": forget_bias} if cell == "lstm" and forget_bias is not None else {}
    return CELLS[cell](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                       bidirectional=bidirectional, **options)


def final_state(h_n, bidirectional: bool = False) -> mg.Tensor:
    """The top layer's final hidden state (B, H), or (B, 2H) with both directions (forward first).

    ``h_n`` is a layer's second output: (L*K, B, H), or the LSTM's pair (h_n, c_n). With lengths,
    the forward direction's entry is each sequence's state at its last real step, and the backward
    direction's is its state after reading back to step 0, so both summarise the whole sequence.
    """
    h = h_n[0] if isinstance(h_n, tuple) else h_n
    return mg.cat([h[-2], h[-1]], axis=-1) if bidirectional else h[-1]


def _check_ids(x, vocab_size: int, what: str) -> np.ndarray:
    ids = np.asarray(x.data if isinstance(x, mg.Tensor) else x)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected token ids of shape (B, T) and an integer dtype, got shape "
                         f"{ids.shape} dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{what}: token ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
    return ids


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


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Fraction of correct predictions (per sequence for a classifier, per step for a tagger)."""
    was_training = model.training
    model.eval()
    try:
        hits = sum(int(np.sum(model.predict(x[i:i + batch_size]) == y[i:i + batch_size]))
                   for i in range(0, len(x), batch_size))
    finally:
        model.train(was_training)
    return hits / y.size


# command line ------------------------------------------------------------------------------------
# What `minigrad train classifier|tagger|conditioned|forecaster` and `minigrad experiment` share
# beyond zoo.train's flags lives here, with the first of those models.

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser, *, cell: str = "lstm", hidden: int = 64,
                        batch_size: int = 64) -> None:
    """``--cell --hidden --layers --dropout --forget-bias --batch-size``."""
    g = parser.add_argument_group("model")
    g.add_argument("--cell", choices=tuple(CELLS), default=cell, help=f"recurrent cell (default {cell})")
    g.add_argument("--hidden", type=_positive_int, default=hidden, help=f"hidden size (default {hidden})")
    g.add_argument("--layers", type=_positive_int, default=1, help="stacked recurrent layers (default 1)")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the head")
    g.add_argument("--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias at init (default 1.0)")
    g.add_argument("--batch-size", type=_positive_int, default=batch_size,
                   help=f"examples per training step (default {batch_size})")


def run_dir(args: argparse.Namespace, name: str) -> pathlib.Path:
    """``<--out>/<name>``, created (a clear error if that is impossible)."""
    path = pathlib.Path(args.out) / name
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder '{path}': {e.strerror}") from None
    return path


def sample_batches(examples, batch_size: int):
    """``batches(rng)`` for the trainer: ``batch_size`` distinct examples (all, if there are fewer)."""
    return lambda rng: examples.sample(min(batch_size, len(examples)), rng)


def fit_from_args(args: argparse.Namespace, model, batches, *, out: pathlib.Path, run_config: dict,
                  evaluate=None, desc: str, tokens=None):
    """Train ``model`` as ``zoo.train``'s flags in ``args`` say; with ``--resume``, continue the
    checkpoint in ``out`` (which must come from the same model and task settings). Returns the History."""
    options = dict(config=config_from_args(args), evaluate=evaluate, progress=not args.quiet, desc=desc,
                   tokens=tokens)
    if not args.resume:
        return Trainer(model, batches, out_dir=out, run_config=run_config, **options).fit()
    path = out / CHECKPOINT
    if not path.is_file():
        raise ValueError(f"--resume: there is no checkpoint at '{path}'")
    saved = mg.load(path).get("config")
    if saved != json.loads(json.dumps(run_config)):
        differ = sorted(k for k in set(run_config) | set(saved or {}) if (saved or {}).get(k) != run_config.get(k))
        raise ValueError(f"--resume: the checkpoint at '{path}' was trained with other settings "
                         f"({', '.join(differ)} differ); pass the options of the original run")
    return Trainer.resume(path, model, batches, **options).fit()


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (a reader never sees half a file)."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_svg(fig, path) -> pathlib.Path:
    """Save a matplotlib figure as SVG, atomically and reproducibly (no date, fixed ids, text as text)."""
    import matplotlib

    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with matplotlib.rc_context({"svg.hashsalt": "minigrad", "svg.fonttype": "none"}):
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    os.replace(tmp, path)
    return path


_CLASSIFY_TASKS = {"parity": parity_task, "majority": majority_task}
_TAG_TASKS = {"char_class": char_class_task, "running_parity": running_parity_task}


def _add_task_arguments(parser, tasks: dict, default: str) -> None:
    g = parser.add_argument_group("task")
    g.add_argument("--task", choices=tuple(tasks), default=default, help=f"toy task (default {default})")
    g.add_argument("--length", type=_positive_int, default=None, help="sequence length (default: the task's)")
    g.add_argument("--n-train", type=_positive_int, default=2000, help="training sequences (default 2000)")
    g.add_argument("--n-test", type=_positive_int, default=500, help="held-out test sequences (default 500)")
    g.add_argument("--embed", type=_positive_int, default=16, help="token embedding size (default 16)")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train classifier`` (parity or majority of a sequence)."""
    _add_task_arguments(parser, _CLASSIFY_TASKS, "parity")
    add_model_arguments(parser)
    add_arguments(parser, steps=1500, lr=3e-3, eval_every=250)


def add_tagger_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train tagger`` (character classes, or the running parity of a bit string)."""
    _add_task_arguments(parser, _TAG_TASKS, "running_parity")
    parser.add_argument("--bidirectional", action="store_true", help="read the sequence both ways")
    add_model_arguments(parser)
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
                          dropout=args.dropout, bidirectional=getattr(args, "bidirectional", False),
                          forget_bias=args.forget_bias)
    mg.manual_seed(args.seed)
    model = model_class(config)
    out = run_dir(args, f"{kind}-{args.task}")
    history = fit_from_args(
        args, model, sample_batches(task.train, args.batch_size), out=out, desc=f"{kind} {args.task}",
        evaluate=lambda m: {"test_accuracy": accuracy(m, task.test.x, task.test.y)},
        run_config={"kind": kind, "model": asdict(config), "vocab": task.vocab.to_dict(),
                    "classes": list(task.classes),
                    "task": {"name": args.task, **kwargs, "length": task.info["length"]}})
    result = {"task": args.task, "cell": args.cell, "steps": history.step,
              "train_seconds": round(history.elapsed, 2),
              "final_loss": float(np.mean(history.losses[-20:])) if history.losses else None,
              "train_accuracy": accuracy(model, task.train.x, task.train.y),
              "test_accuracy": accuracy(model, task.test.x, task.test.y)}
    if kind == "tagger":
        model.eval()
        result["test_sequence_accuracy"] = float(np.all(model.predict(task.test.x) == task.test.y, axis=1).mean())
    write_json(out / "results.json", result)
    print(f"{kind} on {args.task} ({args.cell}, {history.step} steps, {history.elapsed:.1f} s): "
          f"test accuracy {result['test_accuracy']:.4f}, train accuracy {result['train_accuracy']:.4f}"
          + (f", whole sequences right {result['test_sequence_accuracy']:.4f}" if kind == "tagger" else ""))
    print(f"checkpoint, metrics and results in {out}/")
    return result
