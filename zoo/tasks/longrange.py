"""Long-range dependency benchmarks: the adding problem and the copy-memory task.

Adding problem (Hochreiter & Schmidhuber 1997, in the form of Le, Jaitly & Hinton 2015): each step
has two channels, a value uniform in [0, 1) and a marker; exactly two markers are 1, one in the
first half of the sequence and one in the second; the target is the sum of the two marked values.
Always predicting 1.0 (the target's mean) scores the target's variance, 2/12 = 0.167, as MSE; the
task counts as solved well below that (< 0.01).

Copy memory (Arjovsky, Shah & Bengio 2016): ``n_copy`` symbols from ``1..n_symbols``, then
``delay - 1`` blanks (0), a delimiter (``n_symbols + 1``) and ``n_copy`` more blanks; the target
is blank for ``delay + n_copy`` steps, then the symbols in order. Predicting blanks, then
uniform guesses, costs ``n_copy * ln(n_symbols) / (delay + 2 n_copy)`` nats per step.
"""
from __future__ import annotations

import math
import string

import numpy as np

from .base import ArrayTask, Examples, draw_unique
from .vocab import CharVocab

__all__ = [
    "ADDING_BASELINE_MSE", "SOLVED_MSE", "adding_batch", "adding_task", "copy_memory_batch",
    "copy_memory_task", "copy_memory_baseline",
]

ADDING_BASELINE_MSE = 1 / 6  # Var(U1 + U2) for independent uniforms on [0, 1)
SOLVED_MSE = 0.01


def adding_batch(n: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (n, length, 2) float32 = [value, marker] per step; ``y`` (n, 1) float32 sum of the marked values."""
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    values = rng.random((n, length))
    half = length // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    rows = np.arange(n)
    markers = np.zeros((n, length))
    markers[rows, first] = markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[rows, first] + values[rows, second])[:, None].astype(np.float32)
    return x, y


def adding_task(length: int, n_train: int = 10_000, n_test: int = 1_000, seed: int = 0) -> ArrayTask:
    """Adding-problem examples at sequence ``length``; ``info`` holds the 1.0-predictor's MSE."""
    rng = np.random.default_rng(seed)
    train, test = Examples(*adding_batch(n_train, length, rng)), Examples(*adding_batch(n_test, length, rng))
    return ArrayTask(f"adding-{length}", train, test,
                     info={"length": length, "baseline_mse": ADDING_BASELINE_MSE, "solved_mse": SOLVED_MSE})


def _copy_symbols(delay: int, n_copy: int, n_symbols: int) -> str:
    """The symbols' display characters, once the arguments are checked."""
    symbols = string.digits[1:] + string.ascii_letters
    if not 2 <= n_symbols <= len(symbols):
        raise ValueError(f"n_symbols must lie in [2, {len(symbols)}], got {n_symbols}")
    if delay < 1 or n_copy < 1:
        raise ValueError(f"delay and n_copy must be positive, got {delay} and {n_copy}")
    return symbols[:n_symbols]


def _copy_arrays(symbols: np.ndarray, delay: int, n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    n, n_copy = symbols.shape
    T = delay + 2 * n_copy
    x = np.zeros((n, T), dtype=np.int64)
    y = np.zeros((n, T), dtype=np.int64)
    x[:, :n_copy] = symbols
    x[:, n_copy + delay - 1] = n_symbols + 1  # the delimiter
    y[:, -n_copy:] = symbols
    return x, y


def copy_memory_batch(n: int, delay: int, rng: np.random.Generator, n_copy: int = 10,
                      n_symbols: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` (n, delay + 2 n_copy) int64 ids in ``[0, n_symbols + 2)``: 0 blank,
    ``1..n_symbols`` symbols, ``n_symbols + 1`` delimiter."""
    _copy_symbols(delay, n_copy, n_symbols)
    return _copy_arrays(rng.integers(1, n_symbols + 1, size=(n, n_copy)), delay, n_symbols)


def copy_memory_baseline(delay: int, n_copy: int = 10, n_symbols: int = 8) -> float:
    """Cross-entropy per step (nats) of predicting blanks, then uniform guesses over the symbols."""
    return n_copy * math.log(n_symbols) / (delay + 2 * n_copy)


def copy_memory_task(delay: int, n_train: int = 10_000, n_test: int = 1_000, seed: int = 0,
                     n_copy: int = 10, n_symbols: int = 8) -> ArrayTask:
    """Copy-memory examples; no symbol string to copy is in both splits. ``vocab`` shows ids as
    ``_`` (blank), ``1-8`` (symbols), ``:`` (delimiter)."""
    symbols = _copy_symbols(delay, n_copy, n_symbols)
    rng = np.random.default_rng(seed)
    rows = draw_unique(lambda r, k: map(tuple, r.integers(1, n_symbols + 1, size=(k, n_copy)).tolist()),
                       n_train + n_test, rng, what="symbol strings")
    x, y = _copy_arrays(np.array(rows, dtype=np.int64).reshape(-1, n_copy), delay, n_symbols)
    return ArrayTask(f"copy-{delay}", Examples(x[:n_train], y[:n_train]), Examples(x[n_train:], y[n_train:]),
                     vocab=CharVocab("_" + symbols + ":"),
                     info={"delay": delay, "n_copy": n_copy, "blank": 0, "delimiter": n_symbols + 1,
                           "baseline_cross_entropy": copy_memory_baseline(delay, n_copy, n_symbols)})
