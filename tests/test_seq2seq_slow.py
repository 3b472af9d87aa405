"""The seq2seq numbers the README reports, trained with the defaults of ``minigrad train seq2seq``
(``make test-slow``; minutes each on a 2-core CPU)."""
import pytest

from zoo.models.seq2seq import train_task

pytestmark = pytest.mark.slow


def test_date_translation_with_attention_reaches_99_percent_on_1000_held_out_dates():
    model, task, metrics = train_task("dates", attention="additive", progress=False, beam=4)
    print(f"dates: {metrics}")
    assert len(task.test) == 1000
    assert not {t for _, t in task.test} & {t for _, t in task.train}  # held-out calendar days
    assert metrics["exact_match"] >= 0.99
    assert metrics["exact_match_beam4"] >= 0.99


def test_reversal_of_length_10_sequences_reaches_99_percent():
    model, task, metrics = train_task("reversal", progress=False)
    print(f"reversal: {metrics}")
    assert {len(s) for s, _ in task.test} == {10} and len(task.test) == 1000
    assert metrics["exact_match"] >= 0.99


@pytest.mark.parametrize("name", ["sorting", "addition"])
def test_sorting_and_addition_reach_99_percent(name):
    model, task, metrics = train_task(name, progress=False)
    print(f"{name}: {metrics}")
    assert metrics["exact_match"] >= 0.99
