"""The flags of the ``minigrad`` command and how they are checked.

Every flag is checked before any work: its form by argparse (``positive_int``, choices), its range
by ``check_flags`` (``--lr inf``, ``--forget-bias nan``, ``--sample-chars -5``, ...), which
``config_from_args`` runs first, so a training command fails in its first line, not after
training. A bad flag is a ``ValueError`` (or argparse's usage error) naming the flag and the value;
the command prints it as one line (``rnnlab.cli``).

Flag groups shared by the commands: ``add_training_arguments`` (``--steps --minutes --lr --clip
--warmup --schedule --eval-every --seed --out --quiet --ckpt-every --log-every --resume
--overwrite``), which ``config_from_args`` turns into a ``zoo.train.TrainConfig``, and
``add_model_arguments`` (``--cell --hidden --layers --dropout --forget-bias --batch-size``,
optionally ``--embed`` and ``--bidirectional``).
"""
from __future__ import annotations

import argparse
import math

from zoo.models.common import CELLS
from zoo.train import SCHEDULES, TrainConfig

__all__ = ["CLIError", "Parser", "positive_int", "check_flags", "add_training_arguments", "config_from_args",
           "add_model_arguments"]


class CLIError(Exception):
    """Bad input from the command line; the command prints the message as one line and exits with 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (usage stays available through --help)."""

    def error(self, message):
        raise CLIError(f"{self.prog}: {message} (see {self.prog} --help)")


def positive_int(text: str) -> int:
    """An argparse type: a positive integer (the error names what was given)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive(v) -> bool:
    return v >= 1


def _at_least_0(v) -> bool:
    return v >= 0


def _finite(v) -> bool:
    return math.isfinite(v)


# dest -> (test of a value that is not None, what the flag must be); only the flags a command has
# are checked. NOTE: written so that NaN fails every test (NaN compares false).
_RULES = {
    "steps": (_at_least_0, ">= 0 (0: save the untrained model)"),
    "minutes": (lambda v: 0 < v < math.inf, "positive"),
    "lr": (lambda v: 0 < v < math.inf, "a positive finite number"),
    "clip": (lambda v: 0 <= v < math.inf, ">= 0 (0: no clipping)"),
    "warmup": (_at_least_0, ">= 0"),
    "eval_every": (_at_least_0, ">= 0 (0: only at the end)"),
    "log_every": (_at_least_0, ">= 0"),
    "ckpt_every": (_positive, "a positive integer"),
    "seed": (_at_least_0, ">= 0"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "forget_bias": (_finite, "a finite number"),
    "temperature": (lambda v: 0 <= v < math.inf, ">= 0 and finite (0: greedy)"),
    "sample_chars": (_at_least_0, ">= 0"),
    "chars": (_at_least_0, ">= 0"),
    "top_k": (_positive, "a positive integer"),
    "beam": (_positive, "at least 1"),
    "alpha": (lambda v: 0 <= v < math.inf, ">= 0 and finite"),
    "noise": (lambda v: 0 <= v < math.inf, ">= 0 and finite"),
    "test_fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
    "teacher_forcing": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    **{name: (_positive, "a positive integer") for name in (
        "hidden", "embed", "layers", "batch", "batch_size", "seq", "max_chars", "eval_chars", "length",
        "max_digits", "n_train", "n_test", "attention_size", "window", "series_length", "components",
        "max_number")},
}


def check_flags(args: argparse.Namespace) -> None:
    """ValueError naming the first flag in ``args`` whose value is out of its range."""
    for dest, (ok, what) in _RULES.items():
        value = getattr(args, dest, None)
        if value is not None and not ok(value):
            raise ValueError(f"--{dest.replace('_', '-')} must be {what}, got {value}")


def add_training_arguments(parser, *, steps: int = 1000, lr: float = 2e-3, clip: float = 1.0,
                           eval_every: int = 200, log_every: int = 10, out: str = "out", checkpoints: bool = True,
                           steps_help: str | None = None) -> None:
    """Add the trainer's flags to an ``argparse`` parser (defaults may be set per model):
    ``--steps --minutes --lr --clip --warmup --schedule --eval-every --seed --out --quiet
    --ckpt-every --log-every --resume --overwrite``; ``config_from_args`` turns them into a
    ``TrainConfig``.

    ``checkpoints=False`` is for a command that trains without an ``out_dir`` (no checkpoint, no
    metrics log): it leaves out ``--ckpt-every``, ``--log-every``, ``--resume`` and
    ``--overwrite``, which it could not honour. ``steps_help`` says what the default number of
    steps is when ``steps`` alone would not tell (it depends on another flag)."""
    g = parser.add_argument_group("training")
    g.add_argument("--steps", type=int,
                   help=f"optimizer steps (default {steps_help or steps}; with --minutes alone, unlimited; "
                        "0 saves the untrained model)")
    g.add_argument("--minutes", type=float, help="wall-clock budget in minutes (whichever limit comes first)")
    g.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr:g})")
    g.add_argument("--clip", type=float, default=clip, help=f"gradient-norm clip, 0 for none (default {clip:g})")
    g.add_argument("--warmup", type=int, default=0, help="linear warm-up steps (default 0)")
    g.add_argument("--schedule", choices=SCHEDULES, default="constant", help="learning rate after warm-up")
    g.add_argument("--eval-every", type=int, default=eval_every,
                   help=f"steps between evaluations, 0 for only at the end (default {eval_every})")
    g.add_argument("--seed", type=int, default=0, help="seed for initialisation and data (default 0)")
    written = "the checkpoint, metrics" if checkpoints else "the results"
    g.add_argument("--out", default=out, help=f"folder for {written} and pictures (default {out})")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(default_steps=steps)
    if not checkpoints:
        parser.set_defaults(ckpt_every=None, log_every=log_every, resume=False, overwrite=False)
        return
    g.add_argument("--ckpt-every", type=int, help="steps between checkpoints (default: only at the end and on Ctrl-C)")
    g.add_argument("--log-every", type=int, default=log_every,
                   help=f"steps between metrics lines (default {log_every})")
    again = g.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the checkpoint in --out (the same model and task flags; these training "
                            "flags apply)")
    again.add_argument("--overwrite", action="store_true",
                       help="replace a checkpoint already in --out (without it, a new run refuses to)")


def config_from_args(args) -> TrainConfig:
    """The ``TrainConfig`` that ``add_training_arguments``' flags describe, after ``check_flags``
    has checked every flag in ``args`` (ValueError naming a bad flag)."""
    check_flags(args)
    steps = args.steps if args.steps is not None else (None if args.minutes is not None else args.default_steps)
    schedule = "constant" if steps == 0 else args.schedule  # no step: no schedule to run (cosine needs one)
    return TrainConfig(steps=steps, max_seconds=None if args.minutes is None else 60.0 * args.minutes,
                       lr=args.lr, clip_norm=args.clip or None, warmup=args.warmup, schedule=schedule,
                       eval_every=args.eval_every, ckpt_every=args.ckpt_every, log_every=args.log_every,
                       seed=args.seed)


def add_model_arguments(parser: argparse.ArgumentParser, *, cell: str = "lstm", hidden: int = 64,
                        batch_size: int = 64, embed: int | None = None, bidirectional: bool = False) -> None:
    """``--cell --hidden --layers --dropout --forget-bias --batch-size``, with ``--embed`` for a
    model that embeds tokens (``embed`` is its default size) and ``--bidirectional`` for one that
    may read its input both ways."""
    g = parser.add_argument_group("model")
    g.add_argument("--cell", choices=tuple(CELLS), default=cell, help=f"recurrent cell (default {cell})")
    if embed is not None:
        g.add_argument("--embed", type=positive_int, default=embed, help=f"token embedding size (default {embed})")
    g.add_argument("--hidden", type=positive_int, default=hidden, help=f"hidden size (default {hidden})")
    g.add_argument("--layers", type=positive_int, default=1, help="stacked recurrent layers (default 1)")
    if bidirectional:
        g.add_argument("--bidirectional", action="store_true", help="read the sequence both ways")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the head")
    g.add_argument("--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias at init (default 1.0)")
    g.add_argument("--batch-size", type=positive_int, default=batch_size,
                   help=f"examples per training step (default {batch_size})")
