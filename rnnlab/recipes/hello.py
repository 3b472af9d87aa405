"""``minigrad train hello``: the lecture's 'hello' RNN (``zoo.models.HelloRNN``) learns to spell
its word from the first letter."""
from __future__ import annotations

import argparse
import dataclasses

import minigrad as mg
from zoo.models.hello import HelloConfig, HelloRNN
from zoo.tasks.toy import hello_data

from ..flags import add_training_arguments, config_from_args
from ..runs import fit, run_dir

__all__ = ["add_train_arguments", "train_from_args"]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``minigrad train hello``."""
    parser.add_argument("--hidden", type=int, default=3, help="hidden units (default 3, as in the lecture)")
    parser.add_argument("--text", default="hello", help='the word to learn, in letters h e l o (default "hello")')
    add_training_arguments(parser, steps=200, lr=0.05, clip=0.0, eval_every=50, log_every=10)


def train_from_args(args) -> dict:
    """``minigrad train hello``: train (or resume), print what the model spells from the first letter."""
    train = config_from_args(args)  # every flag is checked before any work
    config = HelloConfig(hidden=args.hidden, text=args.text)
    out = run_dir(args, "hello")
    data = hello_data(config.text, config.vocab)
    mg.manual_seed(args.seed)
    model = HelloRNN(config)
    start = config.text[0]
    history = fit(model, lambda rng: (data.x, data.y), config=train, out=out, resume=args.resume,
                  progress=not args.quiet, desc="hello", evaluate=lambda m: {"spells": m.generate(start)},
                  announce=None if args.resume else f"before training: {start!r} -> {model.generate(start)!r}",
                  run_config={"kind": "hello", "model": dataclasses.asdict(config)})
    spelled = model.generate(start)
    loss = history.losses[-1] if history.losses else None
    shown = "" if loss is None else f"loss {loss:.4f}, "
    print(f"after {history.step} steps: {shown}{start!r} -> {spelled!r}")
    return {"loss": loss, "spelled": spelled, "learned": spelled == config.text}
