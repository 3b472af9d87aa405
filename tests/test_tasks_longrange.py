"""Long-range benchmarks: the adding problem and copy memory."""
import math

import numpy as np
import pytest

from zoo.tasks import (
    ADDING_BASELINE_MSE, adding_batch, adding_task, copy_memory_baseline, copy_memory_batch,
    copy_memory_task,
)


def test_adding_batch_layout():
    x, y = adding_batch(500, 20, np.random.default_rng(0))
    assert x.shape == (500, 20, 2) and y.shape == (500, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert np.all((0 <= values) & (values < 1))
    assert set(np.unique(markers).tolist()) == {0.0, 1.0}
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :10].sum(axis=1) == 1) and np.all(markers[:, 10:].sum(axis=1) == 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=1), rtol=1e-6)


def test_adding_baseline_mse_is_one_sixth():
    # Predicting the mean 1.0 scores Var(U1 + U2) = 2/12; the issue quotes it as 0.167.
    _, y = adding_batch(200_000, 10, np.random.default_rng(1))
    mse = float(np.mean((y - 1.0) ** 2))
    assert mse == pytest.approx(0.167, abs=0.002)
    assert ADDING_BASELINE_MSE == pytest.approx(mse, abs=0.002)


def test_adding_task_is_seeded():
    a, b, c = adding_task(30, 200, 50, seed=5), adding_task(30, 200, 50, seed=5), adding_task(30, 200, 50, seed=6)
    assert np.array_equal(a.train.x, b.train.x) and np.array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.x, c.train.x)
    assert not np.array_equal(a.train.x[:50], a.test.x)
    assert a.info["baseline_mse"] == ADDING_BASELINE_MSE and len(a.train) == 200
    with pytest.raises(ValueError, match="length >= 2"):
        adding_batch(3, 1, np.random.default_rng(0))


def test_copy_memory_layout():
    delay, n_copy = 30, 10
    x, y = copy_memory_batch(64, delay, np.random.default_rng(0))
    T = delay + 2 * n_copy
    assert x.shape == y.shape == (64, T) and x.dtype == y.dtype == np.int64
    symbols = x[:, :n_copy]
    assert symbols.min() >= 1 and symbols.max() <= 8
    assert np.all(x[:, n_copy:n_copy + delay - 1] == 0)  # delay - 1 blanks
    assert np.all(x[:, n_copy + delay - 1] == 9)         # then the delimiter
    assert np.all(x[:, n_copy + delay:] == 0)            # then blanks while the answer is due
    assert np.all(y[:, :delay + n_copy] == 0) and np.array_equal(y[:, -n_copy:], symbols)


def test_copy_memory_baseline_matches_its_definition():
    delay = 20
    _, y = copy_memory_batch(2000, delay, np.random.default_rng(0))
    # blanks predicted with certainty, symbols uniformly over 8: per-step cross-entropy
    probs = np.where(y == 0, 1.0, 1 / 8)
    assert float(np.mean(-np.log(probs))) == pytest.approx(copy_memory_baseline(delay))
    assert copy_memory_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_copy_memory_task_splits_are_disjoint_and_seeded():
    task = copy_memory_task(5, n_train=300, n_test=100, n_copy=5, n_symbols=4, seed=2)
    again = copy_memory_task(5, n_train=300, n_test=100, n_copy=5, n_symbols=4, seed=2)
    assert np.array_equal(task.train.x, again.train.x)
    train = {tuple(r) for r in task.train.x[:, :5].tolist()}
    test = {tuple(r) for r in task.test.x[:, :5].tolist()}
    assert len(train) == 300 and len(test) == 100 and not train & test
    assert task.vocab.decode(task.train.x[0])[5:] == "____:_____"
    with pytest.raises(ValueError, match="distinct symbol strings"):
        copy_memory_task(5, n_train=60, n_test=10, n_copy=3, n_symbols=4)  # only 4**3 = 64 exist
    with pytest.raises(ValueError, match="delay and n_copy"):
        copy_memory_batch(2, 0, np.random.default_rng(0))
