"""Sequence-to-sequence tasks generated in code: date translation, reversal, sorting, addition.

Each task is a ``Seq2SeqTask``: ``train`` and ``test`` lists of ``(source, target)`` strings drawn
from a seeded numpy Generator, with no source string in both, and char-level token vocabularies.
``make_seq2seq_task(name, **options)`` builds one by its command-line name (``SEQ2SEQ_TASKS``).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from .base import SplitBatches, draw_unique, exact_match
from .vocab import TokenVocab, decoder_data

__all__ = [
    "Seq2SeqBatch", "Seq2SeqTask", "date_task", "reversal_task", "sorting_task", "addition_task",
    "SEQ2SEQ_TASKS", "make_seq2seq_task", "DATE_FORMATS", "format_date", "MONTHS", "WEEKDAYS",
]


@dataclass(frozen=True, eq=False)
class Seq2SeqBatch:
    """Encoded ``(source, target)`` pairs; sources carry no BOS/EOS, targets are teacher-forced."""
    src: np.ndarray          # (B, S) int64 source ids, PAD after each end
    src_lengths: np.ndarray  # (B,) int64
    src_mask: np.ndarray     # (B, S) bool, True on real source tokens
    tgt_in: np.ndarray       # (B, T) int64 decoder inputs: BOS y_1 .. y_n PAD ..
    tgt_out: np.ndarray      # (B, T) int64 decoder targets: y_1 .. y_n EOS PAD ..
    tgt_mask: np.ndarray     # (B, T) bool, True where tgt_out counts in the loss
    tgt_lengths: np.ndarray  # (B,) int64, n + 1
    sources: tuple[str, ...]
    targets: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sources)


@dataclass(frozen=True, eq=False)
class Seq2SeqTask(SplitBatches):
    """Held-out ``(source, target)`` string pairs and the vocabularies that encode them; batches
    come from ``batches(batch_size, rng, split)`` (one epoch) or ``sample(batch_size, rng, split)``."""
    name: str
    train: tuple[tuple[str, str], ...]
    test: tuple[tuple[str, str], ...]
    src_vocab: TokenVocab
    tgt_vocab: TokenVocab

    @cached_property
    def max_target_length(self) -> int:
        """Longest target in tokens, EOS included: a sensible decoding limit."""
        return max(len(self.tgt_vocab.tokenize(t)) for _, t in self.train + self.test) + 1

    def encode(self, pairs: Sequence[tuple[str, str]]) -> Seq2SeqBatch:
        """One batch from ``(source, target)`` pairs."""
        sources, targets = tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
        src = self.src_vocab.encode_batch(sources)
        dec = decoder_data(self.tgt_vocab, targets)
        return Seq2SeqBatch(src.ids, src.lengths, src.mask, dec.inputs, dec.targets, dec.mask,
                            dec.lengths, sources, targets)

    def evaluate(self, translate: Callable[[list[str]], Sequence[str]], split: str = "test") -> float:
        """Exact-match accuracy of ``translate`` (a list of sources -> their predicted targets)."""
        pairs = self.items(split)
        return exact_match(list(translate([s for s, _ in pairs])), [t for _, t in pairs])

    def __repr__(self) -> str:
        return (f"Seq2SeqTask({self.name!r}: {len(self.train)} train / {len(self.test)} test pairs, "
                f"{len(self.src_vocab)} source / {len(self.tgt_vocab)} target tokens)")


def _task(name: str, train, test) -> Seq2SeqTask:
    """Vocabularies from every pair (characters are not labels, so the test set may lend them)."""
    pairs = tuple(train) + tuple(test)
    return Seq2SeqTask(name, tuple(train), tuple(test), TokenVocab.from_texts(s for s, _ in pairs),
                       TokenVocab.from_texts(t for _, t in pairs))


def _split(pairs: list, n_train: int, n_test: int) -> tuple[list, list]:
    return pairs[:n_train], pairs[n_train:n_train + n_test]


# ---------------------------------------------------------------- dates

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Fields: d (day), dd (zero-padded), ord (22nd), mm (zero-padded month), Month / Mon / mon / MON,
# Weekday / Wkd, Y (four digits), yy (two digits). Numeric forms are day-first only: a month-first
# form would make "05/11/2026" ambiguous.
DATE_FORMATS = (
    "{d} {Mon} {Y}",                   # 22 Nov 2026
    "{d} {Month} {Y}",                 # 22 November 2026
    "{Month} {d}, {Y}",                # November 22, 2026
    "{Mon} {d}, {Y}",                  # Nov 22, 2026
    "{dd}/{mm}/{Y}",                   # 22/11/2026
    "{dd}.{mm}.{Y}",                   # 22.11.2026
    "{d}-{Mon}-{Y}",                   # 22-Nov-2026
    "{Weekday} {d} {Month} {Y}",       # Sunday 22 November 2026
    "{Weekday}, {Month} {d}, {Y}",     # Sunday, November 22, 2026
    "{Wkd} {d} {Mon} {Y}",             # Sun 22 Nov 2026
    "{ord} {Month} {Y}",               # 22nd November 2026
    "{Month} {ord}, {Y}",              # November 22nd, 2026
    "the {ord} of {Month} {Y}",        # the 22nd of November 2026
    "{MON} {d} {Y}",                   # NOV 22 2026
    "{dd}{MON}{Y}",                    # 22NOV2026
    "{Y}/{mm}/{dd}",                   # 2026/11/22
    "{mon} {d} {yy}",                  # nov 22 26
    "{d} {mon} {yy}",                  # 22 nov 26
    "{dd}/{mm}/{yy}",                  # 22/11/26
)
# Two-digit years follow strptime's %y: 69-99 -> 1969-1999, 00-68 -> 2000-2068, so a form with {yy}
# is only used for dates in those years.
TWO_DIGIT_YEARS = (1969, 2068)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_date(day: datetime.date, fmt: str) -> str:
    """``day`` written in ``fmt`` (one of ``DATE_FORMATS``'s fields; English names, no locale)."""
    month, weekday = MONTHS[day.month - 1], WEEKDAYS[day.weekday()]
    if "{yy}" in fmt and not TWO_DIGIT_YEARS[0] <= day.year <= TWO_DIGIT_YEARS[1]:
        raise ValueError(f"{day} cannot be written with a two-digit year (only {TWO_DIGIT_YEARS[0]}-"
                         f"{TWO_DIGIT_YEARS[1]} can)")
    return fmt.format(d=day.day, dd=f"{day.day:02d}", ord=_ordinal(day.day), mm=f"{day.month:02d}",
                      Month=month, Mon=month[:3], mon=month[:3].lower(), MON=month[:3].upper(),
                      Weekday=weekday, Wkd=weekday[:3], Y=f"{day.year:04d}", yy=f"{day.year % 100:02d}")


def date_task(n_train: int = 20_000, n_test: int = 1_000, seed: int = 0,
              start: datetime.date = datetime.date(1900, 1, 1), end: datetime.date = datetime.date(2099, 12, 31),
              formats: Sequence[str] = DATE_FORMATS) -> Seq2SeqTask:
    """Written dates -> ISO ``YYYY-MM-DD`` (``"22 Nov 2026" -> "2026-11-22"``).

    ``n_test`` calendar days between ``start`` and ``end`` are held out: they appear in no training
    pair, in any form. Each pair writes its day in a form drawn uniformly from those valid for it.
    """
    n_days = (end - start).days + 1
    if n_test >= n_days:
        raise ValueError(f"cannot hold out {n_test} of the {n_days} days from {start} to {end}")
    rng = np.random.default_rng(seed)
    held_out = rng.choice(n_days, size=n_test, replace=False)
    held_set = set(held_out.tolist())
    forms = {True: list(formats), False: [f for f in formats if "{yy}" not in f]}

    def write(offset: int, u: float) -> tuple[str, str]:
        day = start + datetime.timedelta(days=offset)
        valid = forms[TWO_DIGIT_YEARS[0] <= day.year <= TWO_DIGIT_YEARS[1]]
        return format_date(day, valid[int(u * len(valid))]), day.isoformat()

    def draw(rng, k):
        offsets, us = rng.integers(0, n_days, size=k).tolist(), rng.random(k).tolist()
        return [write(o, u) for o, u in zip(offsets, us) if o not in held_set]

    train = draw_unique(draw, n_train, rng, what="written dates")
    test = [write(o, u) for o, u in zip(held_out.tolist(), rng.random(n_test).tolist())]
    return _task("dates", train, test)


# ---------------------------------------------------------------- symbol strings

def _strings(alphabet: str, length: int | tuple[int, int]) -> Callable:
    """A draw function for ``draw_unique``: strings of ``alphabet`` of a (uniformly drawn) length."""
    lo, hi = (length, length) if isinstance(length, int) else length
    if not 1 <= lo <= hi:
        raise ValueError(f"length must be a positive int or a (min, max) pair, got {length!r}")
    if len(alphabet) < 2:
        raise ValueError(f"the alphabet needs at least 2 symbols, got {alphabet!r}")
    symbols = np.array(list(alphabet))

    def draw(rng, k):
        lengths = rng.integers(lo, hi + 1, size=k)
        rows = symbols[rng.integers(0, len(alphabet), size=(k, hi))]
        return ["".join(row[:n]) for row, n in zip(rows.tolist(), lengths.tolist())]
    return draw


def _string_task(name: str, transform: Callable[[str], str], length, alphabet: str,
                 n_train: int, n_test: int, seed: int) -> Seq2SeqTask:
    rng = np.random.default_rng(seed)
    sources = draw_unique(_strings(alphabet, length), n_train + n_test, rng, what=f"{name} sources")
    train, test = _split([(s, transform(s)) for s in sources], n_train, n_test)
    return _task(name, train, test)


def reversal_task(length: int | tuple[int, int] = 10, alphabet: str = "0123456789",
                  n_train: int = 20_000, n_test: int = 1_000, seed: int = 0) -> Seq2SeqTask:
    """Strings -> themselves reversed (``"3141592653" -> "3562951413"``); ``length`` fixed or a
    ``(min, max)`` range drawn uniformly. Sources are distinct; none of the test ones is in train."""
    return _string_task("reversal", lambda s: s[::-1], length, alphabet, n_train, n_test, seed)


def sorting_task(length: int | tuple[int, int] = 10, alphabet: str = "0123456789",
                 n_train: int = 20_000, n_test: int = 1_000, seed: int = 0) -> Seq2SeqTask:
    """Strings -> their symbols in alphabet order (``"3141592653" -> "1123345569"``); as reversal."""
    rank = {c: i for i, c in enumerate(alphabet)}
    return _string_task("sorting", lambda s: "".join(sorted(s, key=rank.__getitem__)), length,
                        alphabet, n_train, n_test, seed)


def addition_task(max_digits: int = 3, n_train: int = 20_000, n_test: int = 1_000,
                  seed: int = 0) -> Seq2SeqTask:
    """``"12+345" -> "357"``: each operand's digit count is uniform in 1..max_digits, then its value
    uniform among numbers with that many digits. Held out by source string."""
    if max_digits < 1:
        raise ValueError(f"max_digits must be at least 1, got {max_digits}")

    def draw(rng, k):
        digits = rng.integers(1, max_digits + 1, size=(k, 2))
        lo = np.where(digits == 1, 0, 10 ** (digits - 1))
        a, b = rng.integers(lo, 10 ** digits).T.tolist()
        return [(f"{x}+{y}", str(x + y)) for x, y in zip(a, b)]

    pairs = draw_unique(draw, n_train + n_test, np.random.default_rng(seed), what="sums")
    return _task("addition", *_split(pairs, n_train, n_test))


SEQ2SEQ_TASKS: dict[str, Callable[..., Seq2SeqTask]] = {
    "dates": date_task, "reversal": reversal_task, "sorting": sorting_task, "addition": addition_task,
}


def make_seq2seq_task(name: str, **options) -> Seq2SeqTask:
    """The task called ``name`` in ``SEQ2SEQ_TASKS``, built with ``options``."""
    if name not in SEQ2SEQ_TASKS:
        raise ValueError(f"unknown seq2seq task {name!r}; choose one of {', '.join(SEQ2SEQ_TASKS)}")
    return SEQ2SEQ_TASKS[name](**options)
