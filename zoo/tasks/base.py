"""What every task shares: the data error, paired example arrays, held-out splits, exact match."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Iterator, Sequence

import numpy as np

__all__ = [
    "DataError", "Examples", "ArrayTask", "SplitBatches", "exact_match", "one_hot", "draw_unique",
    "minibatch_indices",
]


class DataError(ValueError):
    """Unusable input data (unreadable, empty or non-UTF-8 file, text too short); the message is
    one line naming the file or the requirement, fit to print as is."""


def one_hot(ids, num_classes: int, dtype=np.float32) -> np.ndarray:
    """numpy rows of the identity: ``one_hot(i, C)[..., c] == (i[...] == c)``; shape ``ids.shape + (C,)``."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer ids, got dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"one_hot: ids must lie in [0, {num_classes}), got range [{ids.min()}, {ids.max()}]")
    return np.eye(num_classes, dtype=dtype)[ids]


@dataclass(frozen=True, eq=False)
class Examples:
    """Inputs ``x`` and targets ``y`` paired along their first (example) axis.

    Shapes depend on the task (each task documents its own); everything is batch-first:
    ``(N, T)`` token ids, ``(N, T, C)`` features, ``(N,)`` class labels, ``(N, 1)`` regression targets.
    """
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"Examples: x has {len(self.x)} rows but y has {len(self.y)}")

    def __len__(self) -> int:
        return len(self.x)

    def batches(self, batch_size: int, rng: np.random.Generator | None = None,
                drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of ``(x, y)`` minibatches; shuffled by ``rng``, in stored order without it."""
        for idx in minibatch_indices(len(self), batch_size, rng, drop_last):
            yield self.x[idx], self.y[idx]

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` distinct examples drawn at random (for step-based training loops)."""
        if not 0 < batch_size <= len(self):
            raise ValueError(f"cannot sample a batch of {batch_size} from {len(self)} examples")
        idx = rng.choice(len(self), size=batch_size, replace=False)
        return self.x[idx], self.y[idx]


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator | None = None,
                      drop_last: bool = False) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` once, ``batch_size`` at a time (shuffled when ``rng`` is given)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


@dataclass(frozen=True, eq=False)
class ArrayTask:
    """A task whose data are arrays: held-out ``train``/``test`` examples plus what a model needs
    to know about them.

    ``vocab`` maps the input ids to symbols when ``x`` holds token ids; ``classes`` names the values
    of ``y`` for classification and tagging; ``info`` holds task-specific facts (baselines,
    generating parameters, arrays worth plotting).
    """
    name: str
    train: Examples
    test: Examples
    vocab: object | None = None
    classes: tuple[str, ...] | None = None
    info: dict = field(default_factory=dict)


class SplitBatches:
    """Batching for tasks that hold ``train`` and ``test`` tuples of items (pairs, numbers) and turn
    a list of items into one batch with ``encode(items)``."""
    train: tuple
    test: tuple

    def items(self, split: str) -> tuple:
        """The ``train`` or ``test`` items (ValueError naming any other split)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self.train if split == "train" else self.test

    def batches(self, batch_size: int, rng: np.random.Generator | None = None, split: str = "train",
                drop_last: bool = False) -> Iterator:
        """One epoch of encoded batches; shuffled by ``rng``, in stored order without it."""
        items = self.items(split)
        for idx in minibatch_indices(len(items), batch_size, rng, drop_last):
            yield self.encode([items[i] for i in idx])

    def sample(self, batch_size: int, rng: np.random.Generator, split: str = "train"):
        """One encoded batch of ``batch_size`` distinct items drawn at random."""
        items = self.items(split)
        if not 0 < batch_size <= len(items):
            raise ValueError(f"cannot sample a batch of {batch_size} from {len(items)} {split} items")
        return self.encode([items[i] for i in rng.choice(len(items), size=batch_size, replace=False)])


def draw_unique(draw: Callable[[np.random.Generator, int], Iterable[Hashable]], n: int,
                rng: np.random.Generator, what: str = "examples") -> list:
    """``n`` distinct values from repeated calls ``draw(rng, k)`` (each returning ``k`` values),
    in the order first drawn.

    Raises ValueError when the space is too small: after many more draws than ``n`` stopped
    finding new values, asking for fewer is the only fix.
    """
    seen: dict = {}
    drawn, max_drawn = 0, 20 * n + 1000
    while len(seen) < n:
        if drawn > max_drawn:
            raise ValueError(f"only {len(seen)} distinct {what} could be drawn, but {n} were "
                             f"asked for; ask for fewer or enlarge the task")
        k = max(n - len(seen), 64)
        for value in draw(rng, k):
            seen.setdefault(value, None)
        drawn += k
    return list(seen)[:n]


def exact_match(predictions: Sequence, targets: Sequence) -> float:
    """Fraction of predictions equal to their target (whole strings or whole sequences)."""
    if len(predictions) != len(targets):
        raise ValueError(f"exact_match: {len(predictions)} predictions for {len(targets)} targets")
    if not targets:
        raise ValueError("exact_match: no targets")
    hits = sum(_same(p, t) for p, t in zip(predictions, targets))
    return hits / len(targets)


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.all(a == b))
    return a == b
