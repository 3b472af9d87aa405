"""Small tasks that fit on a slide: the classic 'hello' data, sequence classification (parity, the
most frequent symbol) and sequence tagging (character classes, running parity).

Classification and tagging tasks are ``ArrayTask``s whose ``x`` holds token ids ``(N, T)`` int64 in
``vocab``; classification ``y`` is ``(N,)`` int64, tagging ``y`` is ``(N, T)`` int64, both indexing
``classes``. Their input sequences are distinct, and no test sequence is in the training set.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from .base import ArrayTask, Examples, draw_unique, one_hot
from .vocab import CharVocab

__all__ = ["HelloData", "hello_data", "parity_task", "majority_task", "char_class_task", "running_parity_task"]


@dataclass(frozen=True, eq=False)
class HelloData:
    """The 'hello' example: vocabulary ``h e l o``, inputs "hell" and next-character targets "ello"."""
    text: str
    vocab: CharVocab
    x: np.ndarray  # (T,) int64 ids of text[:-1]
    y: np.ndarray  # (T,) int64 ids of text[1:]

    @property
    def x_one_hot(self) -> np.ndarray:
        """(T, V) float32 one-hot inputs, as in the lecture."""
        return one_hot(self.x, len(self.vocab))


def hello_data(text: str = "hello", vocab: str = "helo") -> HelloData:
    """Next-character data for one word: ``x = ids(text[:-1])``, ``y = ids(text[1:])``."""
    v = CharVocab(vocab)
    ids = v.encode(text)
    return HelloData(text, v, ids[:-1], ids[1:])


def _held_out(name: str, draw, n_train: int, n_test: int, seed: int, label, vocab: CharVocab,
              classes: tuple[str, ...], **info) -> ArrayTask:
    """Distinct rows from ``draw(rng, k) -> (k, T) int array``, labelled by ``label(x)``, split in two."""
    rows = draw_unique(lambda rng, k: map(tuple, draw(rng, k).tolist()), n_train + n_test,
                       np.random.default_rng(seed), what=f"{name} sequences")
    x = np.array(rows, dtype=np.int64)
    y = label(x)
    return ArrayTask(name, Examples(x[:n_train], y[:n_train]), Examples(x[n_train:], y[n_train:]),
                     vocab=vocab, classes=classes, info=info)


def _check_length(length: int) -> None:
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")


def parity_task(length: int = 16, n_train: int = 2_000, n_test: int = 500, seed: int = 0) -> ArrayTask:
    """Classification: bit strings -> the parity of their ones (``classes = ("even", "odd")``)."""
    _check_length(length)
    return _held_out("parity", lambda rng, k: rng.integers(0, 2, size=(k, length)), n_train, n_test, seed,
                     lambda x: x.sum(axis=1) % 2, CharVocab("01"), ("even", "odd"), length=length)


def majority_task(length: int = 16, alphabet: str = "abcd", n_train: int = 2_000, n_test: int = 500,
                  seed: int = 0) -> ArrayTask:
    """Classification: strings -> their most frequent symbol (sequences with ties are never drawn)."""
    _check_length(length)
    A = len(alphabet)

    def counts(x):  # (N, A)
        return (x[:, :, None] == np.arange(A)).sum(axis=1)

    def draw(rng, k):
        x = rng.integers(0, A, size=(k, length))
        c = np.sort(counts(x), axis=1)
        return x[c[:, -1] > c[:, -2]]

    return _held_out("majority", draw, n_train, n_test, seed, lambda x: counts(x).argmax(axis=1),
                     CharVocab(alphabet), tuple(alphabet), length=length)


CHAR_CLASSES = {"letter": string.ascii_letters, "digit": string.digits, "punct": string.punctuation, "space": " "}


def char_class_task(length: int = 24, n_train: int = 2_000, n_test: int = 500, seed: int = 0) -> ArrayTask:
    """Tagging: each character -> letter / digit / punct / space. Each position's class is uniform,
    then its character uniform within the class (no memory needed: a first smoke test)."""
    _check_length(length)
    groups = list(CHAR_CLASSES.values())
    vocab = CharVocab("".join(groups))
    offsets = np.cumsum([0] + [len(g) for g in groups])  # ids of each class are a contiguous range
    sizes = np.diff(offsets)

    def draw(rng, k):
        cls = rng.integers(0, len(groups), size=(k, length))
        return offsets[cls] + (rng.random((k, length)) * sizes[cls]).astype(np.int64)

    return _held_out("char-class", draw, n_train, n_test, seed,
                     lambda x: np.searchsorted(offsets, x, side="right") - 1, vocab, tuple(CHAR_CLASSES),
                     length=length)


def running_parity_task(length: int = 16, n_train: int = 2_000, n_test: int = 500, seed: int = 0) -> ArrayTask:
    """Tagging: each position of a bit string -> the parity of the ones up to and including it
    (needs memory of the whole prefix)."""
    _check_length(length)
    return _held_out("running-parity", lambda rng, k: rng.integers(0, 2, size=(k, length)), n_train, n_test,
                     seed, lambda x: np.cumsum(x, axis=1) % 2, CharVocab("01"), ("even", "odd"), length=length)
