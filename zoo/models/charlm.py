"""CharLM: a character-level language model (Karpathy's char-rnn), trainable on any UTF-8 text.

    ids (B, T) -> embedding (B, T, E) -> RNN/LSTM/GRU stack (B, T, H) -> dropout -> linear head (B, T, V)

Trained on random windows of the text with next-character targets; evaluated in bits per
character over the whole validation text, read in order with the state carried from one window to
the next; sampled one character at a time (temperature, top-k or greedy) after a priming string.
A checkpoint holds the model's config and the vocabulary, so ``minigrad sample CKPT`` needs
nothing else.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import minigrad.nn.functional as F
from minigrad import nn

from ..tasks.corpus import Corpus, bits_per_char, sequential_batches
from ..tasks.vocab import CharVocab, vocab_from_dict
from ..train import evaluating
from .common import CELLS, check_config, check_sampling, load_model, recurrent_layer, sample_tokens

__all__ = ["CharLMConfig", "CharLM", "evaluate_bpc", "run_config", "load_charlm", "KIND"]

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
