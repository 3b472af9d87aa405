"""``minigrad train charlm`` and ``minigrad sample``: a ``zoo.models.CharLM`` trained on random
windows of a text (the standard library's sources by default), then sampled from its checkpoint
alone."""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigrad as mg
from zoo.models.charlm import KIND, CharLM, CharLMConfig, evaluate_bpc, load_charlm, run_config
from zoo.models.common import CELLS
from zoo.tasks.corpus import load_corpus

from ..flags import add_training_arguments, check_flags, config_from_args
from ..runs import fit, run_dir

__all__ = ["add_train_arguments", "train_from_args", "add_sample_arguments", "sample_from_args", "check_known"]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``minigrad train charlm``."""
    g = parser.add_argument_group("data")
    g.add_argument("--data", metavar="FILE", help="a UTF-8 text file (default: the standard library's sources)")
    g.add_argument("--max-chars", type=int, help="use at most this many characters of the text")
    g.add_argument("--batch-size", "--batch", dest="batch", type=int, default=32,
                   help="windows per batch (default 32)")
    g.add_argument("--seq", type=int, default=64, help="characters per window: BPTT length (default 64)")
    g = parser.add_argument_group("model")
    g.add_argument("--cell", choices=tuple(CELLS), default="lstm", help="recurrent cell (default lstm)")
    g.add_argument("--embed", type=int, default=64, help="embedding size (default 64)")
    g.add_argument("--hidden", type=int, default=256, help="hidden size (default 256)")
    g.add_argument("--layers", type=int, default=1, help="recurrent layers (default 1)")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the head")
    g.add_argument("--forget-bias", type=float, help="LSTM forget-gate bias at init (default: PyTorch's, 0)")
    g = parser.add_argument_group("evaluation and samples")
    g.add_argument("--eval-chars", type=int,
                   help="evaluate on the first N validation characters during training (default: all)")
    g.add_argument("--sample-chars", type=int, default=300, help="characters to sample after training (default 300)")
    g.add_argument("--prime", help='priming string of the samples (default "def ")')
    g.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    add_training_arguments(parser, steps=1000, lr=2e-3, clip=1.0, eval_every=200)


def check_known(text: str, vocab, flag: str) -> None:
    """ValueError naming the characters of ``text`` that ``vocab`` lacks (the model would read
    them as its unknown character, or not at all)."""
    unknown = sorted(set(text) - set(vocab.itos))
    if unknown:
        raise ValueError(f"{flag}: {len(unknown)} character{'s' * (len(unknown) > 1)} not in the model's "
                         f"vocabulary of {len(vocab)}: {', '.join(map(repr, unknown))}")


def train_from_args(args) -> dict:
    """``minigrad train charlm``: train (or resume), print validation bpc and a sample; return numbers."""
    config = config_from_args(args)  # every flag is checked before any work
    out = run_dir(args, KIND)
    corpus = load_corpus(args.data, max_chars=args.max_chars)
    if args.prime is not None:  # the default may hold characters a --data file lacks
        check_known(args.prime, corpus.vocab, "--prime")  # before training, not after it
    prime = "def " if args.prime is None else args.prime
    mg.manual_seed(args.seed)
    model = CharLM(CharLMConfig(len(corpus.vocab), cell=args.cell, embed=args.embed, hidden=args.hidden,
                                layers=args.layers, dropout=args.dropout, forget_bias=args.forget_bias))

    def batches(rng):
        w = corpus.windows(args.batch, args.seq, rng)  # (B, T + 1)
        return w[:, :-1], w[:, 1:]

    def evaluate(m):
        return {"val_bpc": evaluate_bpc(m, corpus, max_chars=args.eval_chars)}

    history = fit(model, batches, config=config, out=out, resume=args.resume, progress=not args.quiet,
                  evaluate=evaluate, desc=KIND,
                  announce=f"{corpus!r}; {model.num_parameters():,} parameters; writing to {out}/",
                  run_config=run_config(model, corpus.vocab, source=corpus.source, batch=args.batch, seq=args.seq))
    last = history.last_eval
    full = args.eval_chars is None and last is not None and last["step"] == history.step
    bpc = last["val_bpc"] if full else evaluate_bpc(model, corpus)
    text = model.sample(corpus.vocab, prime, args.sample_chars, args.temperature,
                        rng=np.random.default_rng(args.seed))
    print(f"validation: {bpc:.3f} bits/char after {history.step} steps in {history.elapsed:.0f} s")
    print(f"sample (temperature {args.temperature:g}):\n{text}")
    return {"val_bpc": bpc, "steps": history.step, "seconds": history.elapsed,
            "checkpoint": str(out / "checkpoint.npz")}


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``minigrad sample``."""
    parser.add_argument("checkpoint", help="a charlm checkpoint (e.g. out/charlm/checkpoint.npz)")
    parser.add_argument("--prime", default="", help="text to start from (default: a newline)")
    parser.add_argument("--chars", type=int, default=500, help="characters to generate (default 500)")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    parser.add_argument("--top-k", type=int, help="sample only among the k likeliest characters")
    parser.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    parser.add_argument("--seed", type=int, help="seed for repeatable samples")


def sample_from_args(args) -> dict:
    """``minigrad sample``: print generated text; return it."""
    check_flags(args)
    model, vocab, _ = load_charlm(args.checkpoint)
    check_known(args.prime, vocab, "--prime")
    started = time.perf_counter()
    text = model.sample(vocab, args.prime, args.chars, 0.0 if args.greedy else args.temperature, args.top_k,
                        rng=np.random.default_rng(args.seed))
    print(text)
    return {"text": text, "seconds": time.perf_counter() - started}
