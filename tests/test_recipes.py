"""rnnlab.recipes: what the commands refuse before the model answers confidently — characters
outside its vocabulary, and texts that are no date the dates task writes."""
import datetime

import pytest

from rnnlab.recipes.charlm import check_known
from rnnlab.recipes.seq2seq import DATE_RANGE, written_date
from zoo.tasks.seq2seq import DATE_FORMATS, date_task, format_date
from zoo.tasks.vocab import CharVocab


def test_every_pair_of_the_dates_task_reads_as_its_day():
    task = date_task(n_train=600, n_test=200, seed=3)
    for source, target in list(task.train) + list(task.test):
        assert written_date(source) == datetime.date.fromisoformat(target), source


@pytest.mark.parametrize("day", [datetime.date(2020, 2, 29), datetime.date(1999, 12, 31), DATE_RANGE[0],
                                 DATE_RANGE[1], datetime.date(2026, 11, 22)])
def test_every_form_of_a_day_reads_back(day):
    for fmt in DATE_FORMATS:
        if "{yy}" in fmt and not 1969 <= day.year <= 2068:
            continue
        assert written_date(format_date(day, fmt)) == day, fmt


@pytest.mark.parametrize("text", ["31 Feb 2020", "29 Feb 2019", "32 Jan 2000", "Monday 22 November 2026",
                                  "22 nov 2026", "22nd Nov 2026", "1st Januar 2000", "12 Mar 2100", "31/04/1999",
                                  "3 March 1999 at noon", ""])
def test_what_is_no_date_of_the_task_reads_as_none(text):
    assert written_date(text) is None


def test_check_known_names_each_unknown_character_once():
    vocab = CharVocab("abc ", unk="?")
    check_known("a cab?", vocab, "--prime")  # the unknown character itself is in the vocabulary
    with pytest.raises(ValueError, match=r"^--prime: 2 characters not in the model's vocabulary of 5: 'x', 'z'$"):
        check_known("xzx a", vocab, "--prime")
