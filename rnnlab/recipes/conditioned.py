"""``minigrad train conditioned``: a ``zoo.models.ConditionedGenerator`` learns to spell numbers in
English from feature vectors (``zoo.tasks.number_spelling_task``)."""
from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

import minigrad as mg
from zoo.models.conditioned import CONDITIONS, ConditionedConfig, ConditionedGenerator
from zoo.tasks import FEATURE_ENCODINGS, number_spelling_task, number_to_words

from ..files import write_json
from ..flags import add_model_arguments, add_training_arguments, config_from_args, positive_int
from ..runs import fit, run_dir, run_numbers

__all__ = ["add_train_arguments", "train_from_args"]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train conditioned`` (spell out numbers from feature vectors)."""
    g = parser.add_argument_group("task")
    g.add_argument("--max-number", type=positive_int, default=999, help="numbers 0..N to spell (default 999)")
    g.add_argument("--encoding", choices=FEATURE_ENCODINGS, default="digits",
                   help="feature vector of a number (default digits: one-hot per decimal digit)")
    g.add_argument("--level", choices=("word", "char"), default="word", help="write words or characters")
    g.add_argument("--test-fraction", type=float, default=0.1, help="numbers held out of training (default 0.1)")
    g.add_argument("--condition", choices=CONDITIONS, default="both",
                   help="the features set the initial state, enter every step, or both (default)")
    g.add_argument("--temperature", type=float, default=0.8, help="temperature of the samples shown at the end")
    add_model_arguments(parser, cell="gru", hidden=128, embed=32)
    add_training_arguments(parser, steps=600, lr=3e-3, eval_every=100)


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train conditioned``: train, print exact-match accuracy on held-out numbers and a
    few spellings (greedy and sampled), save the run; return the numbers."""
    train = config_from_args(args)  # every flag is checked before any work: --test-fraction, --temperature, ...
    out = run_dir(args, f"conditioned_{args.level}")
    task = number_spelling_task(args.max_number, args.test_fraction, args.encoding, args.level, args.seed)
    config = ConditionedConfig(feature_size=task.feature_size, vocab_size=len(task.vocab), cell=args.cell,
                               condition=args.condition, embed_dim=args.embed, hidden_size=args.hidden,
                               num_layers=args.layers, dropout=args.dropout, forget_bias=args.forget_bias,
                               max_length=task.max_target_length + 2)
    mg.manual_seed(args.seed)
    model = ConditionedGenerator(config)

    def spell(features) -> list:
        return task.vocab.decode_batch(model.generate(features))

    def batch(rng):
        b = task.sample(min(args.batch_size, len(task.train)), rng)
        return b.features, b.tgt_in, b.tgt_out, b.tgt_mask

    history = fit(
        model, batch, config=train, out=out, resume=args.resume, progress=not args.quiet,
        desc=f"conditioned {args.cell}", tokens=lambda b: int(b[3].sum()),
        evaluate=lambda m: {"test_exact_match": task.evaluate(spell)},
        run_config={"kind": "conditioned", "model": asdict(config), "vocab": task.vocab.to_dict(),
                    "task": {"max_number": args.max_number, "encoding": args.encoding, "level": args.level,
                             "test_fraction": args.test_fraction, "seed": args.seed}})
    result = {"cell": args.cell, "condition": args.condition, **run_numbers(history),
              "train_exact_match": task.evaluate(spell, split="train"),
              "test_exact_match": task.evaluate(spell)}
    write_json(out / "results.json", result)
    print(f"conditioned generator ({args.cell}, condition={args.condition}, {history.step} steps, "
          f"{history.elapsed:.1f} s): exact match {result['test_exact_match']:.4f} on {len(task.test)} held-out "
          f"numbers, {result['train_exact_match']:.4f} on the training numbers")
    shown = np.asarray(task.test[:6])
    sampled = task.vocab.decode_batch(model.generate(task.features(shown), temperature=args.temperature,
                                                     generator=np.random.default_rng(args.seed)))
    for n, greedy, sample in zip(shown.tolist(), spell(task.features(shown)), sampled):
        mark = "ok" if greedy == number_to_words(n) else "WRONG"
        print(f"  {n:>6} -> {greedy!r} [{mark}]   sampled at T={args.temperature:g}: {sample!r}")
    print(f"checkpoint, metrics and results in {out}/")
    return result
