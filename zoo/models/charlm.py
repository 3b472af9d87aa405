"""CharLM: a character-level language model (Karpathy's char-rnn), trainable on any UTF-8 text.

    ids (B, T) -> embedding (B, T, E) -> RNN/LSTM/GRU stack (B, T, H) -> dropout -> linear head (B, T, V)

Trained on random windows of the text with next-character targets; evaluated in bits per
character over the whole validation text, read in order with the state carried from one window to
the next; sampled one character at a time (temperature, top-k or greedy) after a priming string.
A checkpoint holds the model's config and the vocabulary, so ``minigrad sample CKPT`` needs
nothing else.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

from ..tasks.corpus import Corpus, bits_per_char, load_corpus, sequential_batches
from ..tasks.vocab import CharVocab, vocab_from_dict
from ..train import CHECKPOINT, Trainer, add_arguments, config_from_args, evaluating
from .common import CELLS, check_config, check_sampling, load_model, recurrent_layer, run_dir, sample_tokens

__all__ = ["CharLMConfig", "CharLM", "evaluate_bpc", "add_train_arguments", "train_from_args",
           "add_sample_arguments", "sample_from_args", "load_charlm", "KIND"]

KIND = "charlm"  # the run_config's "kind": what a checkpoint holds
MIN_ROW = 16     # evaluation rows of a short text hold at least this many characters


@dataclass
class CharLMConfig:
    """Sizes of a ``CharLM``."""
    vocab_size: int
    cell: str = "lstm"      # "rnn" | "lstm" | "gru"
    embed: int = 64         # E
    hidden: int = 256       # H
    layers: int = 1
    dropout: float = 0.0    # between recurrent layers and before the head
    forget_bias: float | None = None  # LSTM only; None: PyTorch's initialisation

    def __post_init__(self):
        check_config(self, ("vocab_size", "embed", "hidden", "layers"), {"cell": CELLS})


class CharLM(nn.Module):
    """Embedding -> recurrent stack -> linear head over the characters.

    ``forward(x, targets=None) -> (logits, loss)``: ``x`` and ``targets`` (B, T) int64, logits
    (B, T, V), loss the mean cross-entropy in nats (None without targets). ``run(x, state)``
    also returns the final recurrent state, for reading a text in consecutive pieces.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed)
        self.rnn = recurrent_layer(config.cell, config.embed, config.hidden, config.layers, dropout=config.dropout,
                                   forget_bias=config.forget_bias)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.vocab_size)

    def run(self, x, state=None) -> tuple:
        """Logits (B, T, V) for ids ``x`` (B, T) and the state after the last step."""
        out, state = self.rnn(self.embedding(x), state)  # (B, T, H)
        return self.head(self.drop(out)), state

    def forward(self, x, targets=None):
        logits, _ = self.run(x)
        if targets is None:
            return logits, None
        V = self.config.vocab_size
        return logits, F.cross_entropy(logits.reshape(-1, V), np.asarray(targets).reshape(-1))

    def sample(self, vocab: CharVocab, prime: str = "", length: int = 200, temperature: float = 1.0,
               top_k: int | None = None, rng: np.random.Generator | None = None) -> str:
        """``prime`` followed by ``length`` generated characters.

        ``temperature`` divides the logits (0 means greedy: always the likeliest character);
        ``top_k`` keeps only the k likeliest characters. The priming string is read first, with
        the state carried; an empty prime starts from a newline (or the first character).
        Runs in eval mode (no dropout) and restores the previous mode.
        """
        check_sampling(temperature, top_k)
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        rng = np.random.default_rng() if rng is None else rng
        out = []
        with evaluating(self):
            start = prime or ("\n" if "\n" in vocab else vocab.itos[0])
            logits, state = self.run(vocab.encode(start)[None, :])  # read the whole prime at once
            for _ in range(length):
                nxt = int(sample_tokens(logits.data[:, -1], temperature, rng, top_k)[0])
                out.append(nxt)
                logits, state = self.run(np.array([[nxt]]), state)
        return prime + vocab.decode(out)


def evaluate_bpc(model: CharLM, corpus: Corpus, batch_size: int = 64, length: int = 128,
                 split: str = "val", max_chars: int | None = None) -> float:
    """Bits per character over a split (or its first ``max_chars`` characters), read in order in
    ``batch_size`` rows with the state carried between consecutive ``length``-step pieces.

    A short text is cut into fewer rows, so that each row holds at least ``MIN_ROW`` characters
    (a row starts from the zero state, with no context).
    """
    ids = corpus.val_ids if split == "val" else corpus.train_ids
    if max_chars is not None:
        ids = ids[:max_chars + 1]
    batch_size = min(batch_size, max(1, (len(ids) - 1) // MIN_ROW))
    total, count, state = 0.0, 0, None
    with evaluating(model):
        for x, y in sequential_batches(ids, batch_size, length, name=f"the {split} part of {corpus.source}"):
            logits, state = model.run(x, state)
            nll = F.cross_entropy(logits.reshape(-1, model.config.vocab_size), y.reshape(-1), reduction="sum")
            total += float(nll.data)
            count += y.size
    return bits_per_char(total, count)


# checkpoints --------------------------------------------------------------------------------------
def run_config(model: CharLM, vocab: CharVocab, **data) -> dict:
    """What a checkpoint needs to rebuild and use the model: kind, model config, vocabulary."""
    return {"kind": KIND, "model": dataclasses.asdict(model.config), "vocab": vocab.to_dict(), "data": data}


def load_charlm(path) -> tuple[CharLM, CharVocab, dict]:
    """The model, vocabulary and run config of a charlm checkpoint (ValueError naming what is wrong)."""
    model, config = load_model(path, KIND, CharLMConfig, CharLM)
    return model, vocab_from_dict(config["vocab"]), config


# command line -------------------------------------------------------------------------------------
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
    g.add_argument("--prime", default="def ", help='priming string of the samples (default "def ")')
    g.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    add_arguments(parser, steps=1000, lr=2e-3, clip=1.0, eval_every=200)


def _positive(args, *names) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")


def train_from_args(args) -> dict:
    """``minigrad train charlm``: train (or resume), print validation bpc and a sample; return numbers."""
    _positive(args, "batch", "seq", "embed", "hidden", "layers", "max_chars", "eval_chars")
    check_sampling(args.temperature)  # before training, not after it
    config = config_from_args(args)
    corpus = load_corpus(args.data, max_chars=args.max_chars)
    out = run_dir(args, KIND)
    checkpoint = out / CHECKPOINT
    progress = not args.quiet

    def batches(rng):
        w = corpus.windows(args.batch, args.seq, rng)  # (B, T + 1)
        return w[:, :-1], w[:, 1:]

    def evaluate(m):
        return {"val_bpc": evaluate_bpc(m, corpus, max_chars=args.eval_chars)}

    options = dict(config=config, evaluate=evaluate, progress=progress, desc=KIND)
    if args.resume:
        if not checkpoint.is_file():
            raise ValueError(f"--resume: there is no checkpoint at '{checkpoint}'")
        model, vocab, _ = load_charlm(checkpoint)
        if vocab != corpus.vocab:
            raise ValueError(f"--resume: the checkpoint's vocabulary ({len(vocab)} characters) differs from "
                             f"that of {corpus.source} ({len(corpus.vocab)}); pass the same --data")
        trainer = Trainer.resume(checkpoint, model, batches, **options)
    else:
        mg.manual_seed(args.seed)
        model = CharLM(CharLMConfig(len(corpus.vocab), cell=args.cell, embed=args.embed, hidden=args.hidden,
                                    layers=args.layers, dropout=args.dropout, forget_bias=args.forget_bias))
        trainer = Trainer(model, batches, out_dir=out, **options,
                          run_config=run_config(model, corpus.vocab, source=corpus.source, batch=args.batch,
                                                seq=args.seq))
    print(f"{corpus!r}; {model.num_parameters():,} parameters; writing to {out}/")
    history = trainer.fit()
    last = history.last_eval
    full = args.eval_chars is None and last is not None and last["step"] == history.step
    bpc = last["val_bpc"] if full else evaluate_bpc(model, corpus)
    text = model.sample(corpus.vocab, args.prime, args.sample_chars, args.temperature,
                        rng=np.random.default_rng(args.seed))
    print(f"validation: {bpc:.3f} bits/char after {history.step} steps in {history.elapsed:.0f} s")
    print(f"sample (temperature {args.temperature:g}):\n{text}")
    return {"val_bpc": bpc, "steps": history.step, "seconds": history.elapsed, "checkpoint": str(checkpoint)}


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
    model, vocab, _ = load_charlm(args.checkpoint)
    started = time.perf_counter()
    text = model.sample(vocab, args.prime, args.chars, 0.0 if args.greedy else args.temperature, args.top_k,
                        rng=np.random.default_rng(args.seed))
    print(text)
    return {"text": text, "seconds": time.perf_counter() - started}
