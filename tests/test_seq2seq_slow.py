"""The seq2seq numbers the README reports, trained with the defaults of ``minigrad train seq2seq``
(``make test-slow``; minutes each on a 2-core CPU)."""
import pytest

from rnnlab.recipes.seq2seq import TASK_DEFAULTS, train_task

pytestmark = pytest.mark.slow


def test_date_translation_with_attention_reaches_99_percent_on_1000_held_out_dates():
    model, task, metrics = train_task("dates", attention="additive", progress=False, beam=4)
    assert metrics["steps"] == TASK_DEFAULTS["dates"]["steps"]  # the defaults of `minigrad train seq2seq`
    assert len(task.test) == 1000
    assert not {t for _, t in task.test} & {t for _, t in task.train}  # held-out calendar days
    assert metrics["exact_match"] >= 0.99
    assert metrics["exact_match_beam4"] >= 0.99


def test_reversal_of_length_10_sequences_reaches_99_percent():
    model, task, metrics = train_task("reversal", progress=False)
    assert metrics["steps"] == TASK_DEFAULTS["reversal"]["steps"]
    assert {len(s) for s, _ in task.test} == {10} and len(task.test) == 1000
    assert metrics["exact_match"] >= 0.99


@pytest.mark.parametrize("name", ["sorting", "addition"])
def test_sorting_and_addition_reach_99_percent(name):
    model, task, metrics = train_task(name, progress=False)
    assert metrics["steps"] == TASK_DEFAULTS[name]["steps"]
    assert metrics["exact_match"] >= 0.99
