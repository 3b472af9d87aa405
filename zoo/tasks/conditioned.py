"""Conditioned generation (one-to-many, the image-captioning pattern): a feature vector encodes a
number and the target is its spelling in English words, ``312 -> "three hundred and twelve"``.

Spelling is British English with "and" before the tens and units (``"one thousand and five"``) and
hyphenated compounds (``"forty-two"``, one token at word level).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from .base import SplitBatches, exact_match, one_hot
from .vocab import TokenVocab, decoder_data

__all__ = ["number_to_words", "number_features", "FEATURE_ENCODINGS", "ConditionedBatch",
           "NumberSpellingTask", "number_spelling_task"]

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
FEATURE_ENCODINGS = ("digits", "binary", "onehot")


def _below_100(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, units = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[units]}" if units else "")


def _below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest:
        words += (["and"] if hundreds else []) + [_below_100(rest)]
    return " ".join(words)


def number_to_words(n: int) -> str:
    """English words for ``0 <= n < 1_000_000``: ``number_to_words(312) == "three hundred and twelve"``."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number_to_words covers 0 to 999,999, got {n}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    words = [f"{_below_1000(thousands)} thousand"] if thousands else []
    if rest:
        words += (["and"] if thousands and rest < 100 else []) + [_below_1000(rest)]
    return " ".join(words)


def number_features(numbers, max_number: int, encoding: str = "digits") -> np.ndarray:
    """(B, F) float32 feature vectors of ``numbers`` in ``[0, max_number]``:

    * ``digits``: one-hot of each decimal digit, most significant first (F = 10 x digits of max_number);
    * ``binary``: the bits, most significant first (F = bits of max_number);
    * ``onehot``: one-hot of the number (F = max_number + 1).
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size and (numbers.min() < 0 or numbers.max() > max_number):
        raise ValueError(f"numbers must lie in [0, {max_number}], got range [{numbers.min()}, {numbers.max()}]")
    if encoding == "digits":
        width = len(str(max_number))
        digits = numbers[:, None] // 10 ** np.arange(width - 1, -1, -1) % 10
        return one_hot(digits, 10).reshape(len(numbers), 10 * width)
    if encoding == "binary":
        width = max(int(max_number).bit_length(), 1)
        return (numbers[:, None] >> np.arange(width - 1, -1, -1) & 1).astype(np.float32)
    if encoding == "onehot":
        return one_hot(numbers, max_number + 1)
    raise ValueError(f"encoding must be one of {FEATURE_ENCODINGS}, got {encoding!r}")


@dataclass(frozen=True, eq=False)
class ConditionedBatch:
    """Feature vectors and the teacher-forcing arrays of their target texts."""
    features: np.ndarray     # (B, F) float32
    tgt_in: np.ndarray       # (B, T) int64 decoder inputs: BOS y_1 .. y_n PAD ..
    tgt_out: np.ndarray      # (B, T) int64 decoder targets: y_1 .. y_n EOS PAD ..
    tgt_mask: np.ndarray     # (B, T) bool, True where tgt_out counts in the loss
    tgt_lengths: np.ndarray  # (B,) int64, n + 1
    numbers: np.ndarray      # (B,) int64
    targets: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True, eq=False)
class NumberSpellingTask(SplitBatches):
    """Numbers ``0..max_number`` split into held-out ``train``/``test`` tuples; ``encode`` turns
    numbers into a ``ConditionedBatch``; ``batches``/``sample`` as for seq2seq tasks."""
    train: tuple[int, ...]
    test: tuple[int, ...]
    max_number: int
    encoding: str
    vocab: TokenVocab

    @property
    def feature_size(self) -> int:
        """F, the length of a number's feature vector."""
        return number_features([0], self.max_number, self.encoding).shape[1]

    @cached_property
    def max_target_length(self) -> int:
        """Longest target in tokens, EOS included."""
        return max(len(self.vocab.tokenize(number_to_words(n))) for n in self.train + self.test) + 1

    def features(self, numbers) -> np.ndarray:
        """(B, F) float32 feature vectors of ``numbers`` in this task's encoding."""
        return number_features(numbers, self.max_number, self.encoding)

    def encode(self, numbers: Sequence[int]) -> ConditionedBatch:
        """One batch: the numbers' features and their spellings as teacher-forcing arrays."""
        numbers = np.asarray(numbers, dtype=np.int64)
        texts = tuple(number_to_words(int(n)) for n in numbers)
        dec = decoder_data(self.vocab, texts)
        return ConditionedBatch(self.features(numbers), dec.inputs, dec.targets, dec.mask, dec.lengths,
                                numbers, texts)

    def evaluate(self, generate: Callable[[np.ndarray], Sequence[str]], split: str = "test") -> float:
        """Exact-match accuracy of ``generate`` ((B, F) features -> B texts) on a split."""
        numbers = self.items(split)
        return exact_match(list(generate(self.features(numbers))), [number_to_words(n) for n in numbers])

    def __repr__(self) -> str:
        return (f"NumberSpellingTask(0..{self.max_number}, {len(self.train)} train / {len(self.test)} test, "
                f"{self.encoding} features of size {self.feature_size}, {len(self.vocab)} {self.vocab.level} tokens)")


def number_spelling_task(max_number: int = 999, test_fraction: float = 0.1, encoding: str = "digits",
                         level: str = "word", seed: int = 0) -> NumberSpellingTask:
    """Spell out numbers; a random ``test_fraction`` of ``0..max_number`` is held out of training.
    The vocabulary holds every word (or character) of every number's spelling."""
    if not 1 <= max_number < 1_000_000:
        raise ValueError(f"max_number must lie in [1, 999999], got {max_number}")
    if encoding not in FEATURE_ENCODINGS:
        raise ValueError(f"encoding must be one of {FEATURE_ENCODINGS}, got {encoding!r}")
    order = np.random.default_rng(seed).permutation(max_number + 1).tolist()
    n_test = round(test_fraction * (max_number + 1))
    if not 0 < n_test <= max_number:
        raise ValueError(f"test_fraction={test_fraction} leaves no test or no training numbers")
    vocab = TokenVocab.from_texts((number_to_words(n) for n in range(max_number + 1)), level=level)
    return NumberSpellingTask(tuple(order[n_test:]), tuple(order[:n_test]), max_number, encoding, vocab)
