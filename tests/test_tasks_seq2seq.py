"""Seq2seq tasks: dates, reversal, sorting, addition."""
import datetime
import re

import numpy as np
import pytest

from zoo.tasks import (
    BOS, DATE_FORMATS, EOS, PAD, SEQ2SEQ_TASKS, addition_task, date_task, format_date,
    make_seq2seq_task, reversal_task, sorting_task,
)

SMALL = dict(n_train=2000, n_test=200)

# An independent reading of every written form, through the standard library's strptime
# (day-first numeric forms, two-digit years with strptime's own pivot).
STRPTIME_FORMATS = (
    "%d %b %Y", "%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%d/%m/%Y", "%d.%m.%Y", "%d-%b-%Y",
    "%A %d %B %Y", "%A, %B %d, %Y", "%a %d %b %Y", "%d of %B %Y", "%B %d %Y", "%b %d %Y", "%d%b%Y",
    "%Y/%m/%d", "%b %d %y", "%d %b %y", "%d/%m/%y",
)


def parse_written_date(text: str) -> datetime.date:
    plain = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text).removeprefix("the ")
    plain = plain.replace(",", ", ").replace(",  ", ", ")
    readings = set()
    for fmt in STRPTIME_FORMATS:
        try:
            readings.add(datetime.datetime.strptime(plain, fmt).date())
        except ValueError:
            pass
    assert len(readings) == 1, f"{text!r} reads as {readings}"
    day = readings.pop()
    weekday = day.strftime("%A")  # C locale: English names
    for name in re.findall(r"[A-Z][a-z]+day|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", text):
        assert weekday.startswith(name), f"{text!r}: {day} is a {weekday}"
    return day


@pytest.fixture(scope="module")
def dates():
    return date_task(**SMALL)


def test_dates_are_correct(dates):
    for source, target in dates.train[:800] + dates.test:
        assert parse_written_date(source) == datetime.date.fromisoformat(target)


def test_every_date_form_is_used_and_readable(dates):
    day = datetime.date(2026, 11, 22)
    assert format_date(day, "{d} {Mon} {Y}") == "22 Nov 2026"
    assert format_date(day, "{Weekday} {d} {Month} {Y}") == "Sunday 22 November 2026"
    assert format_date(day, "{mon} {d} {yy}") == "nov 22 26"
    for fmt in DATE_FORMATS:
        for d in (day, datetime.date(2000, 2, 29), datetime.date(1969, 1, 1), datetime.date(2068, 12, 31)):
            assert parse_written_date(format_date(d, fmt)) == d
    shapes = {re.sub(r"[A-Za-z]+", "A", re.sub(r"\d", "9", s)) for s, _ in dates.train}
    assert len(shapes) >= 12
    with pytest.raises(ValueError, match="two-digit year"):
        format_date(datetime.date(1950, 1, 1), "{d} {mon} {yy}")


def test_ordinals():
    got = [format_date(datetime.date(2026, 1, d), "{ord}") for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)]
    assert got == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


@pytest.mark.parametrize("year, days", [(1900, 7), (1904, 8), (2000, 8)])
def test_leap_days_and_range_bounds(year, days):
    # 1900 is not a leap year (centuries are only every fourth: 2000); 1904 is
    start = datetime.date(year, 2, 25)
    task = date_task(n_train=70, n_test=1, start=start, end=datetime.date(year, 3, 3))
    seen = sorted({datetime.date.fromisoformat(t) for _, t in task.train + task.test})
    assert seen == [start + datetime.timedelta(days=i) for i in range(days)]


def test_date_task_arguments():
    with pytest.raises(ValueError, match="cannot hold out 10"):
        date_task(n_test=10, start=datetime.date(2000, 1, 1), end=datetime.date(2000, 1, 5))


def test_held_out_dates_never_appear_in_training(dates):
    train_days = {t for _, t in dates.train}
    test_days = [t for _, t in dates.test]
    assert len(set(test_days)) == len(test_days) == 200
    assert not train_days & set(test_days)
    assert len({s for s, _ in dates.train}) == 2000


@pytest.mark.parametrize("name", sorted(SEQ2SEQ_TASKS))
def test_tasks_are_deterministic_and_disjoint(name):
    a = make_seq2seq_task(name, seed=3, **SMALL)
    b = make_seq2seq_task(name, seed=3, **SMALL)
    c = make_seq2seq_task(name, seed=4, **SMALL)
    assert a.train == b.train and a.test == b.test and a.src_vocab == b.src_vocab
    assert a.train != c.train
    assert len(a.train) == 2000 and len(a.test) == 200
    train_sources = {s for s, _ in a.train}
    assert len(train_sources) == 2000 and not train_sources & {s for s, _ in a.test}


def test_reversal_sorting_addition_targets():
    rev = reversal_task(**SMALL)
    assert all(t == s[::-1] and len(s) == 10 and s.isdigit() for s, t in rev.train)
    srt = sorting_task(length=(2, 7), alphabet="dcba", **SMALL)
    assert {len(s) for s, _ in srt.train} == set(range(2, 8))
    assert all(t == "".join(sorted(s, reverse=True)) for s, t in srt.train)  # alphabet order d < c < b < a
    add = addition_task(max_digits=3, **SMALL)
    for s, t in add.train + add.test:
        x, y = s.split("+")
        assert int(x) + int(y) == int(t) and str(int(x)) == x and len(x) <= 3
    assert {len(s.split("+")[0]) for s, _ in add.train} == {1, 2, 3}


def test_small_spaces_run_out_clearly():
    with pytest.raises(ValueError, match="distinct addition sources|distinct sums"):
        addition_task(max_digits=1, n_train=90, n_test=20)
    with pytest.raises(ValueError, match="unknown seq2seq task 'dats'; choose one of dates"):
        make_seq2seq_task("dats")


def test_batches_shapes_and_teacher_forcing():
    task = reversal_task(length=(3, 6), **SMALL)
    batch = task.sample(16, np.random.default_rng(0))
    B, S = batch.src.shape
    assert B == 16 and S == batch.src_lengths.max() and batch.src.dtype == np.int64
    assert batch.tgt_in.shape == batch.tgt_out.shape == batch.tgt_mask.shape
    assert batch.tgt_mask.dtype == bool and batch.src_mask.dtype == bool
    for i in range(B):
        n = batch.src_lengths[i]
        assert task.src_vocab.decode(batch.src[i, :n]) == batch.sources[i]
        assert np.all(batch.src[i, n:] == PAD) and batch.src_mask[i].sum() == n
        m = batch.tgt_lengths[i]
        assert batch.tgt_in[i, 0] == BOS and batch.tgt_out[i, m - 1] == EOS
        assert np.array_equal(batch.tgt_in[i, 1:m], batch.tgt_out[i, :m - 1])  # shifted by one
        assert task.tgt_vocab.decode(batch.tgt_out[i]) == batch.targets[i]
        assert batch.tgt_mask[i].sum() == m and np.all(batch.tgt_out[i, m:] == PAD)
    assert task.max_target_length == 7
    epoch = list(task.batches(300, np.random.default_rng(1), split="test"))
    assert [len(b) for b in epoch] == [200]
    assert sorted(s for b in task.batches(64) for s in b.sources) == sorted(s for s, _ in task.train)


def test_evaluate_is_exact_match():
    task = reversal_task(**SMALL)
    assert task.evaluate(lambda srcs: [s[::-1] for s in srcs]) == 1.0
    half = task.evaluate(lambda srcs: [s[::-1] if i % 2 else s for i, s in enumerate(srcs)])
    assert half == pytest.approx(0.5, abs=0.01)
