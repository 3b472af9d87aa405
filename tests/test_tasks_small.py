"""Time series, number spelling, the 'hello' data, classification and tagging tasks."""
import numpy as np
import pytest

from zoo.tasks import (
    BOS, EOS, char_class_task, forecast_windows, hello_data, majority_task, number_features,
    number_spelling_task, number_to_words, parity_task, running_parity_task, sine_mixture, sine_task,
)


# ---------------------------------------------------------------- time series

def test_sine_mixture_follows_its_formula():
    series, p = sine_mixture(500, np.random.default_rng(0), n_components=4, noise=0.0)
    t = np.arange(500)
    expected = sum(a * np.sin(2 * np.pi * t / P + phi)
                   for a, P, phi in zip(p["amplitudes"], p["periods"], p["phases"]))
    assert series.dtype == np.float32 and series.shape == (500,)
    np.testing.assert_allclose(series, expected, atol=1e-6)
    assert sum(p["amplitudes"]) == pytest.approx(1.0) and np.abs(series).max() <= 1.0
    noisy, _ = sine_mixture(20_000, np.random.default_rng(0), noise=0.1)
    clean = _["clean"]
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize("mode", ["many_to_one", "many_to_many"])
def test_forecast_windows(mode):
    series = np.arange(10, dtype=np.float32)
    ex = forecast_windows(series, 4, mode)
    assert ex.x.shape == (6, 4, 1) and ex.x.dtype == np.float32
    assert ex.x[2, :, 0].tolist() == [2, 3, 4, 5]
    if mode == "many_to_one":
        assert ex.y.shape == (6, 1) and ex.y[:, 0].tolist() == [4, 5, 6, 7, 8, 9]
    else:
        assert ex.y.shape == (6, 4, 1) and np.array_equal(ex.y, ex.x + 1)
    with pytest.raises(ValueError, match="mode"):
        forecast_windows(series, 4, "one_to_many")


def test_sine_task_splits_in_time_and_is_seeded():
    task = sine_task(window=16, n_steps=400, test_fraction=0.25, seed=3)
    series, split = task.info["series"], task.info["split"]
    assert split == 300 and len(task.train) == 300 - 16 and len(task.test) == 100 - 16
    assert task.train.y[-1, 0] == series[299] and task.test.x[0, 0, 0] == series[300]
    assert np.array_equal(task.train.x, sine_task(window=16, n_steps=400, test_fraction=0.25, seed=3).train.x)
    # repeating the last value is a real but beatable baseline
    assert 0 < task.info["persistence_mse"] < np.var(series)
    with pytest.raises(ValueError, match="does not fit"):
        sine_task(window=120, n_steps=400, test_fraction=0.25)


# ---------------------------------------------------------------- number spelling

@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty-two"), (100, "one hundred"),
    (101, "one hundred and one"), (312, "three hundred and twelve"), (999, "nine hundred and ninety-nine"),
    (1000, "one thousand"), (1005, "one thousand and five"), (1234, "one thousand two hundred and thirty-four"),
    (120_000, "one hundred and twenty thousand"), (999_999, "nine hundred and ninety-nine thousand nine hundred and ninety-nine"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_number_to_words_is_unique_over_its_range():
    assert len({number_to_words(n) for n in range(0, 1_000_000, 29)}) == len(range(0, 1_000_000, 29))
    with pytest.raises(ValueError, match="999,999"):
        number_to_words(1_000_000)


def test_number_features_encode_the_number():
    nums = np.arange(1000)
    digits = number_features(nums, 999, "digits")
    assert digits.shape == (1000, 30) and digits.dtype == np.float32
    decoded = (digits.reshape(1000, 3, 10).argmax(-1) * [100, 10, 1]).sum(-1)
    assert np.array_equal(decoded, nums) and np.all(digits.sum(1) == 3)
    binary = number_features(nums, 999, "binary")
    assert binary.shape == (1000, 10) and np.array_equal(binary @ (2 ** np.arange(9, -1, -1)), nums)
    onehot = number_features(nums, 999, "onehot")
    assert onehot.shape == (1000, 1000) and np.array_equal(onehot.argmax(1), nums)
    with pytest.raises(ValueError, match=r"\[0, 999\]"):
        number_features([1000], 999)


@pytest.mark.parametrize("level", ["word", "char"])
def test_number_spelling_task(level):
    task = number_spelling_task(test_fraction=0.1, level=level, seed=1)
    assert len(task.train) == 900 and len(task.test) == 100
    assert sorted(task.train + task.test) == list(range(1000))
    assert task.train == number_spelling_task(test_fraction=0.1, level=level, seed=1).train
    batch = task.sample(8, np.random.default_rng(0))
    assert batch.features.shape == (8, task.feature_size) == (8, 30)
    assert batch.tgt_in.shape == batch.tgt_out.shape == batch.tgt_mask.shape
    for i in range(8):
        assert batch.targets[i] == number_to_words(int(batch.numbers[i]))
        assert task.vocab.decode(batch.tgt_out[i]) == batch.targets[i]
        m = batch.tgt_lengths[i]
        assert batch.tgt_in[i, 0] == BOS and batch.tgt_out[i, m - 1] == EOS
    assert task.evaluate(lambda f: [number_to_words(int(n)) for n in (f.reshape(-1, 3, 10).argmax(-1) * [100, 10, 1]).sum(-1)]) == 1.0
    assert task.max_target_length == (5 if level == "word" else len("three hundred and seventy-seven") + 1)


# ---------------------------------------------------------------- hello, classification, tagging

def test_hello_data():
    h = hello_data()
    assert h.vocab.itos == ("h", "e", "l", "o")
    assert h.vocab.decode(h.x) == "hell" and h.vocab.decode(h.y) == "ello"
    assert h.x.dtype == np.int64 and h.x_one_hot.shape == (4, 4) and h.x_one_hot.dtype == np.float32
    assert np.array_equal(h.x_one_hot.argmax(1), h.x)


TASKS = [parity_task, majority_task, char_class_task, running_parity_task]


@pytest.mark.parametrize("make", TASKS)
def test_toy_tasks_are_seeded_disjoint_and_typed(make):
    a, b = make(n_train=300, n_test=100, seed=4), make(n_train=300, n_test=100, seed=4)
    assert np.array_equal(a.train.x, b.train.x) and np.array_equal(a.test.y, b.test.y)
    assert a.train.x.dtype == a.train.y.dtype == np.int64
    assert a.train.x.max() < len(a.vocab) and a.train.y.max() < len(a.classes)
    rows = {tuple(r) for r in np.concatenate([a.train.x, a.test.x]).tolist()}
    assert len(rows) == 400  # distinct, so no test sequence is in training


def test_classification_labels():
    p = parity_task(length=8, n_train=200, n_test=10)
    assert p.train.y.shape == (200,) and np.array_equal(p.train.y, p.train.x.sum(1) % 2)
    m = majority_task(length=9, alphabet="xyz", n_train=200, n_test=10)
    for x, y in zip(m.train.x, m.train.y):
        counts = np.bincount(x, minlength=3)
        assert counts[y] > np.delete(counts, y).max()  # a strict winner, never a tie


def test_tagging_labels():
    c = char_class_task(length=12, n_train=200, n_test=10)
    assert c.train.y.shape == (200, 12)
    for x, tags in zip(c.train.x[:20], c.train.y[:20]):
        for ch, tag in zip(c.vocab.decode(x), tags):
            expected = "letter" if ch.isalpha() else "digit" if ch.isdigit() else "space" if ch == " " else "punct"
            assert c.classes[tag] == expected
    r = running_parity_task(length=6, n_train=50, n_test=10)
    assert r.train.y.shape == (50, 6)
    for x, tags in zip(r.train.x, r.train.y):
        assert tags.tolist() == [sum(x[:t + 1]) % 2 for t in range(6)]
    with pytest.raises(ValueError, match="distinct parity sequences"):
        parity_task(length=4, n_train=10, n_test=10)  # only 16 exist
