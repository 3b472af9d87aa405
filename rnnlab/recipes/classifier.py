"""``minigrad train classifier --task parity|majority`` and ``minigrad train tagger --task
running_parity|char_class``: ``zoo.models.SequenceClassifier`` and ``SequenceTagger`` on
``zoo.tasks``' toy problems."""
from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

import minigrad as mg
from zoo.models.classifier import ClassifierConfig, SequenceClassifier, SequenceTagger, TaggerConfig, accuracy
from zoo.tasks import char_class_task, majority_task, parity_task, running_parity_task
from zoo.train import evaluating

from ..files import write_json
from ..flags import add_model_arguments, add_training_arguments, config_from_args, positive_int
from ..runs import fit, run_dir, run_numbers, sample_batches

__all__ = ["add_train_arguments", "train_from_args", "add_tagger_train_arguments", "train_tagger_from_args"]

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
    add_training_arguments(parser, steps=1500, lr=3e-3, eval_every=250)


def add_tagger_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train tagger`` (character classes, or the running parity of a bit string)."""
    _add_task_arguments(parser, _TAG_TASKS, "running_parity")
    add_model_arguments(parser, embed=16, bidirectional=True)
    add_training_arguments(parser, steps=600, lr=3e-3, eval_every=100)


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train classifier``: train, print the test accuracy, save the run; return the numbers."""
    return _train_token_model(args, SequenceClassifier, ClassifierConfig, _CLASSIFY_TASKS, "classifier")


def train_tagger_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train tagger``: as ``train_from_args``, for the per-step tagger."""
    return _train_token_model(args, SequenceTagger, TaggerConfig, _TAG_TASKS, "tagger")


def _train_token_model(args, model_class, config_class, tasks: dict, kind: str) -> dict:
    train = config_from_args(args)  # every flag is checked before any work
    out = run_dir(args, f"{kind}_{args.task}")
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
    history = fit(
        model, sample_batches(task.train, args.batch_size), config=train, out=out, resume=args.resume,
        progress=not args.quiet, desc=f"{kind} {args.task}",
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
