"""The char-LM corpora: the standard-library default, data files, windows, evaluation batches."""
import math

import numpy as np
import pytest

from zoo.tasks import (
    DEFAULT_MAX_CHARS, DataError, bits_per_char, load_corpus, random_windows, read_text_file,
    sequential_batches, stdlib_files, stdlib_text,
)


@pytest.fixture
def fake_stdlib(tmp_path):
    files = {
        "os.py": "import sys\n",
        "zeta.py": "z = 1",  # no trailing newline: one is added
        "abc.py": "class ABC: pass\n",
        "json/__init__.py": "",  # empty: skipped
        "json/decoder.py": "def decode(s):\n    return s\n",
        "json/tests/test_x.py": "assert 1\n",
        "test/regrtest.py": "x = 1\n",
        "site-packages/numpy/core.py": "y = 2\n",
        "test_thing.py": "t = 1\n",
        "notes.txt": "not python\n",
    }
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (tmp_path / "latin.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
    return tmp_path


def test_stdlib_files_order_and_skips(fake_stdlib):
    assert stdlib_files(fake_stdlib) == [
        "abc.py", "json/__init__.py", "json/decoder.py", "latin.py", "os.py", "zeta.py"]
    text, used = stdlib_text(10_000, root=fake_stdlib)
    assert used == ("abc.py", "json/decoder.py", "os.py", "zeta.py")  # empty and non-UTF-8 skipped
    assert text == "class ABC: pass\ndef decode(s):\n    return s\nimport sys\nz = 1\n"


def test_stdlib_text_cap_is_exact(fake_stdlib):
    text, used = stdlib_text(20, root=fake_stdlib)
    assert text == "class ABC: pass\ndef "
    assert used == ("abc.py", "json/decoder.py")


def test_default_corpus_on_the_real_stdlib_is_deterministic():
    a = load_corpus(max_chars=300_000)
    b = load_corpus(max_chars=300_000)
    assert a.source == "stdlib" and len(a.text) == 300_000
    assert a.text == b.text and a.files == b.files and a.vocab == b.vocab
    assert list(a.files) == sorted(a.files) and not any("/test/" in f or f.startswith("test/") for f in a.files)
    assert "def " in a.text and "import " in a.text
    assert a.split == 300_000 - 15_000
    assert a.train_text + a.val_text == a.text
    assert a.ids.dtype == np.int64 and a.vocab.decode(a.val_ids) == a.val_text


def test_default_corpus_default_size():
    c = load_corpus()
    assert len(c.text) == DEFAULT_MAX_CHARS and len(c.val_text) == round(0.05 * DEFAULT_MAX_CHARS)


def test_data_file_replaces_the_default(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_bytes(("\ufeff" + "hello wörld\r\n" * 20).encode("utf-8"))
    c = load_corpus(p, val_fraction=0.25)
    assert c.source == str(p) and c.files == ()
    assert c.text == "hello wörld\n" * 20  # BOM dropped, line endings normalised
    assert len(c.val_text) == 60 and "ö" in c.vocab
    assert load_corpus(p, max_chars=24).text == "hello wörld\n" * 2


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.txt", r"cannot read data file '.*missing\.txt': No such file"),
    (lambda d: d, r"cannot read data file '.*': it is a directory"),
    (lambda d: _write(d / "bin.dat", b"ok\xff\xfe"), r"data file '.*bin\.dat' is not UTF-8 text: byte 0xff at offset 2"),
    (lambda d: _write(d / "empty.txt", b""), r"data file '.*empty\.txt' is empty"),
])
def test_bad_data_files_give_one_clear_line(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DataError, match=message) as info:
        load_corpus(path)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError):
        read_text_file(path)


def _write(path, data):
    path.write_bytes(data)
    return path


def test_too_short_texts(tmp_path):
    with pytest.raises(DataError, match="too few to split"):
        load_corpus(_write(tmp_path / "one.txt", b"x"))
    c = load_corpus(_write(tmp_path / "short.txt", b"abcdefghij" * 2), val_fraction=0.5)
    with pytest.raises(DataError, match=r"train part of .*short\.txt has 10 characters, too few for windows of 11"):
        c.windows(2, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="split"):
        c.windows(2, 3, np.random.default_rng(0), split="test")


def test_random_windows_shapes_determinism_and_contents():
    ids = np.arange(1000, dtype=np.int64)
    w = random_windows(ids, 8, 16, np.random.default_rng(3))
    assert w.shape == (8, 17) and w.dtype == np.int64
    assert np.all(np.diff(w, axis=1) == 1)  # contiguous slices of the text
    assert np.array_equal(w, random_windows(ids, 8, 16, np.random.default_rng(3)))
    # every offset, the last included, can be drawn
    starts = random_windows(np.arange(12), 5000, 10, np.random.default_rng(0))[:, 0]
    assert set(starts.tolist()) == {0, 1}


def test_sequential_batches_predict_every_char_once():
    ids = np.arange(103)
    batches = list(sequential_batches(ids, 4, 10))
    assert [x.shape for x, _ in batches] == [(4, 10)] * 2 + [(4, 5)]
    targets = np.concatenate([y for _, y in batches], axis=1)
    inputs = np.concatenate([x for x, _ in batches], axis=1)
    assert np.array_equal(targets, inputs + 1)
    assert sorted(targets.ravel().tolist()) == list(range(1, 101))  # (103 - 1) // 4 * 4 targets
    with pytest.raises(DataError, match="too few"):
        list(sequential_batches(np.arange(3), 4, 10))


def test_bits_per_char():
    # a uniform guess over 4 symbols costs exactly 2 bits per character
    assert bits_per_char(100 * math.log(4), 100) == pytest.approx(2.0)
