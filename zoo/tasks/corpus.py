"""Text corpora for char-level language models: the embedded default (the Python standard library's
own ``.py`` sources, found at run time) or any UTF-8 text file, with batching for training and
sequential evaluation in bits per character.

The default corpus, ``load_corpus()``:

* root: ``sysconfig.get_paths()["stdlib"]`` (falling back to the folder of ``os.py``);
* files: every ``*.py`` below it, in sorted order of their relative POSIX paths, skipping folders
  named in ``SKIP_DIRS`` (test suites, site-packages, caches), files named ``test_*.py``, files
  that are not valid UTF-8, and empty files;
* text: the files' contents joined in that order (each ending in a newline), whole files added
  until the text reaches ``max_chars`` characters, then cut to exactly ``max_chars``.

Train/validation split (both sources): the last ``val_fraction`` of the characters are the
validation text, the rest is the training text. The vocabulary holds every character of the
whole text (so both parts encode losslessly) plus ``UNK_CHAR`` for characters met later, in a
priming string for example.
"""
from __future__ import annotations

import math
import os
import pathlib
import sysconfig
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .base import DataError
from .vocab import UNK_CHAR, CharVocab

__all__ = [
    "DEFAULT_MAX_CHARS", "DEFAULT_VAL_FRACTION", "SKIP_DIRS", "Corpus", "load_corpus",
    "read_text_file", "stdlib_root", "stdlib_files", "stdlib_text", "random_windows",
    "sequential_batches", "bits_per_char",
]

DEFAULT_MAX_CHARS = 3_000_000  # the default corpus's size: loads in well under a second
DEFAULT_VAL_FRACTION = 0.05
SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"})


def _decode(data: bytes) -> str:
    """UTF-8 (a leading byte-order mark dropped), with line endings normalised to ``\\n``."""
    return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")


def read_text_file(path) -> str:
    """The text of a UTF-8 file; DataError (one line naming the file) if it is unreadable,
    not UTF-8, or empty."""
    try:
        data = pathlib.Path(path).read_bytes()
    except IsADirectoryError:
        raise DataError(f"cannot read data file '{path}': it is a directory") from None
    except OSError as e:
        raise DataError(f"cannot read data file '{path}': {e.strerror or e}") from None
    try:
        text = _decode(data)
    except UnicodeDecodeError as e:
        raise DataError(f"data file '{path}' is not UTF-8 text: byte 0x{data[e.start]:02x} at offset "
                        f"{e.start} cannot be decoded") from None
    if not text:
        raise DataError(f"data file '{path}' is empty")
    return text


def stdlib_root() -> pathlib.Path:
    """The folder holding the standard library's ``.py`` sources."""
    for candidate in (sysconfig.get_paths().get("stdlib"), os.path.dirname(os.__file__)):
        if candidate and os.path.isfile(os.path.join(candidate, "os.py")):
            return pathlib.Path(candidate)
    raise DataError("cannot find the Python standard library's .py sources for the default corpus; "
                    "pass a text file with --data FILE")


def stdlib_files(root=None) -> list[str]:
    """Relative POSIX paths of the corpus's candidate files under ``root``, sorted."""
    root = stdlib_root() if root is None else pathlib.Path(root)
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]  # pruned in place: os.walk never enters them
        rel = pathlib.Path(folder).relative_to(root)
        found += [(rel / f).as_posix() for f in files if f.endswith(".py") and not f.startswith("test_")]
    return sorted(found)


def stdlib_text(max_chars: int = DEFAULT_MAX_CHARS, root=None) -> tuple[str, tuple[str, ...]]:
    """The default corpus's text (at most ``max_chars`` characters) and the files it came from."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    root = stdlib_root() if root is None else pathlib.Path(root)
    parts, used, size = [], [], 0
    for rel in stdlib_files(root):
        if size >= max_chars:
            break
        try:
            text = _decode((root / rel).read_bytes())
        except (OSError, UnicodeDecodeError):
            continue  # unreadable or not UTF-8: the corpus is whatever decodes cleanly
        if not text:
            continue
        if not text.endswith("\n"):
            text += "\n"
        parts.append(text)
        used.append(rel)
        size += len(text)
    if not parts:
        raise DataError(f"no readable .py files under {root} for the default corpus; "
                        "pass a text file with --data FILE")
    return "".join(parts)[:max_chars], tuple(used)


@dataclass(frozen=True, eq=False)
class Corpus:
    """A text split into training and validation parts, with its character vocabulary.

    ``ids`` encodes the whole ``text`` (int64, shape ``(len(text),)``); validation starts at
    character ``split``.
    """
    source: str           # "stdlib" or the data file's path
    text: str
    split: int
    vocab: CharVocab
    ids: np.ndarray
    files: tuple[str, ...] = ()  # the standard-library files used (empty for a data file)

    @property
    def train_text(self) -> str:
        """The text before the split."""
        return self.text[:self.split]

    @property
    def val_text(self) -> str:
        """The text from the split on."""
        return self.text[self.split:]

    @property
    def train_ids(self) -> np.ndarray:
        """The training text's ids (a view of ``ids``)."""
        return self.ids[:self.split]

    @property
    def val_ids(self) -> np.ndarray:
        """The validation text's ids (a view of ``ids``)."""
        return self.ids[self.split:]

    def _part(self, split: str) -> np.ndarray:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return self.train_ids if split == "train" else self.val_ids

    def windows(self, batch_size: int, length: int, rng: np.random.Generator,
                split: str = "train") -> np.ndarray:
        """(B, length + 1) int64 windows at random offsets: inputs ``w[:, :-1]``, targets ``w[:, 1:]``."""
        return random_windows(self._part(split), batch_size, length, rng,
                              name=f"the {split} part of {self.source}")

    def eval_batches(self, batch_size: int, length: int,
                     split: str = "val") -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every character of a part predicted once, in order; see ``sequential_batches``."""
        return sequential_batches(self._part(split), batch_size, length,
                                  name=f"the {split} part of {self.source}")

    def __repr__(self) -> str:
        return (f"Corpus({self.source!r}: {self.split} train + {len(self.text) - self.split} val chars, "
                f"{len(self.vocab)} symbols)")


def load_corpus(path=None, max_chars: int | None = None,
                val_fraction: float = DEFAULT_VAL_FRACTION) -> Corpus:
    """The default corpus (``path=None``, at most ``max_chars or DEFAULT_MAX_CHARS`` characters) or
    the UTF-8 file at ``path`` (cut to ``max_chars`` if given), split and encoded."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if path is None:
        text, files = stdlib_text(max_chars or DEFAULT_MAX_CHARS)
        source = "stdlib"
    else:
        text, files, source = read_text_file(path), (), str(path)
        if max_chars is not None:
            text = text[:max_chars]
    n_val = round(val_fraction * len(text))
    if n_val < 1 or n_val >= len(text):
        raise DataError(f"{source} has {len(text)} characters, too few to split into training and "
                        f"validation text (val_fraction={val_fraction})")
    vocab = CharVocab.from_text(text, unk=UNK_CHAR)
    return Corpus(source, text, len(text) - n_val, vocab, vocab.encode(text), files)


def random_windows(ids: np.ndarray, batch_size: int, length: int, rng: np.random.Generator,
                   name: str = "the text") -> np.ndarray:
    """(B, length + 1) int64 windows of ``ids`` starting at uniform random offsets."""
    if length < 1 or batch_size < 1:
        raise ValueError(f"batch_size and length must be positive, got {batch_size} and {length}")
    if len(ids) < length + 1:
        raise DataError(f"{name} has {len(ids)} characters, too few for windows of {length + 1}")
    starts = rng.integers(0, len(ids) - length, size=batch_size)
    return ids[starts[:, None] + np.arange(length + 1)]


def sequential_batches(ids: np.ndarray, batch_size: int, length: int,
                       name: str = "the text") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Inputs and next-character targets covering ``ids`` in order, for evaluation.

    The text is cut into ``batch_size`` contiguous rows of ``L = (len(ids) - 1) // batch_size``
    steps; batches are consecutive ``(B, t)`` slices of those rows with ``t = length`` (the last may
    be shorter), so a model may carry its state from one batch to the next. Each of the
    ``B * L`` targets appears exactly once.
    """
    if length < 1 or batch_size < 1:
        raise ValueError(f"batch_size and length must be positive, got {batch_size} and {length}")
    L = (len(ids) - 1) // batch_size
    if L < 1:
        raise DataError(f"{name} has {len(ids)} characters, too few for {batch_size} evaluation rows")
    x = ids[:batch_size * L].reshape(batch_size, L)
    y = ids[1:batch_size * L + 1].reshape(batch_size, L)
    for start in range(0, L, length):
        yield x[:, start:start + length], y[:, start:start + length]


def bits_per_char(total_nll: float, n_chars: int) -> float:
    """Bits per character from a summed negative log-likelihood in nats."""
    return total_nll / (n_chars * math.log(2))
