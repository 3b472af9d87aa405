"""Vocabularies, padding, and the shared Examples helpers in zoo.tasks."""
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from zoo.tasks import (
    BOS, EOS, PAD, UNK, UNK_CHAR, CharVocab, Examples, TokenVocab, draw_unique, exact_match,
    one_hot, pad_sequences, vocab_from_dict,
)


@given(st.text(min_size=1))
def test_char_vocab_round_trip_on_any_text(text):
    v = CharVocab.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert ids.min() >= 0 and ids.max() < len(v)


def test_char_vocab_keeps_given_order():
    v = CharVocab("helo")
    assert v.encode("hello").tolist() == [0, 1, 2, 2, 3]
    assert v.decode(np.array([1, 2, 2, 3])) == "ello"
    assert len(v) == 4 and "h" in v and "x" not in v


def test_char_vocab_unknowns():
    strict = CharVocab("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) at position 2"):
        strict.encode("abz")
    lenient = CharVocab("abc", unk=UNK_CHAR)
    assert len(lenient) == 4
    assert lenient.decode(lenient.encode("abz\U0001F600")) == "ab" + UNK_CHAR * 2
    # a character above every code point in the vocabulary, and one below, both hit unk
    assert lenient.encode("\x00").tolist() == [3]


def test_char_vocab_rejects_bad_symbols():
    with pytest.raises(ValueError, match="twice"):
        CharVocab("aba")
    with pytest.raises(ValueError, match="single character"):
        CharVocab(["ab"])
    with pytest.raises(ValueError, match="no characters"):
        CharVocab("")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        CharVocab("abc").decode([0, 3])


@pytest.mark.parametrize("vocab", [
    CharVocab("xyz é"), CharVocab("ab", unk=UNK_CHAR), TokenVocab("abc"),
    TokenVocab(["one", "hundred", "and"], level="word"),
])
def test_vocab_dict_is_json_and_round_trips(vocab):
    d = json.loads(json.dumps(vocab.to_dict()))
    back = vocab_from_dict(d)
    assert back == vocab and type(back) is type(vocab) and back.itos == vocab.itos


def test_vocab_from_dict_rejects_garbage():
    with pytest.raises(ValueError, match="kind"):
        vocab_from_dict({"chars": ["a"]})
    with pytest.raises(ValueError, match="token"):
        TokenVocab.from_dict({"kind": "char", "chars": ["a"], "unk": None})


def test_token_vocab_specials_and_levels():
    v = TokenVocab.from_texts(["12+3", "45"])
    assert v.itos[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    ids = v.encode("12+3", bos=True, eos=True)
    assert ids[0] == BOS and ids[-1] == EOS and ids.dtype == np.int64
    assert v.decode(ids) == "12+3"
    assert v.decode(np.r_[v.encode("45"), EOS, v.encode("1"), PAD]) == "45"  # stops at EOS
    assert v.decode(np.r_[v.encode("45"), EOS, v.encode("1")], stop_at_eos=False) == "451"
    assert v.encode("9x").tolist() == [UNK, UNK]
    w = TokenVocab.from_texts(["three hundred and twelve", "two"], level="word")
    assert w.decode(w.encode("two hundred", eos=True)) == "two hundred"
    with pytest.raises(ValueError, match="level"):
        TokenVocab("ab", level="byte")


@given(st.lists(st.lists(st.integers(1, 9), min_size=0, max_size=6), min_size=1, max_size=5))
def test_pad_sequences(seqs):
    p = pad_sequences(seqs)
    T = max(len(s) for s in seqs)
    assert p.ids.shape == (len(seqs), T) and p.ids.dtype == np.int64
    assert p.mask.dtype == bool and p.lengths.tolist() == [len(s) for s in seqs]
    for row, m, s in zip(p.ids, p.mask, seqs):
        assert row[m].tolist() == s and np.all(row[~m] == PAD)


def test_pad_sequences_fixed_length_and_errors():
    assert pad_sequences([[1, 2]], length=4).ids.tolist() == [[1, 2, 0, 0]]
    with pytest.raises(ValueError, match="does not fit"):
        pad_sequences([[1, 2, 3]], length=2)
    assert pad_sequences([[], [5, 6]], length=3).mask.tolist() == [[False, False, False], [True, True, False]]


def test_examples_batches_cover_each_row_once():
    ex = Examples(np.arange(10)[:, None] * np.ones((1, 3), int), np.arange(10))
    seen = np.concatenate([y for _, y in ex.batches(4, np.random.default_rng(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(y) for _, y in ex.batches(4, drop_last=True)] == [4, 4]
    x, y = ex.sample(5, np.random.default_rng(1))
    assert x.shape == (5, 3) and len(set(y.tolist())) == 5 and np.all(x[:, 0] == y)
    with pytest.raises(ValueError, match="rows"):
        Examples(np.zeros(3), np.zeros(4))


def test_draw_unique_and_its_limit():
    vals = draw_unique(lambda rng, k: rng.integers(0, 50, size=k).tolist(), 50, np.random.default_rng(0))
    assert sorted(vals) == list(range(50))
    with pytest.raises(ValueError, match="only 50 distinct"):
        draw_unique(lambda rng, k: rng.integers(0, 50, size=k).tolist(), 51, np.random.default_rng(0))


def test_exact_match_and_one_hot():
    assert exact_match(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 0.5
    assert exact_match([np.array([1, 2])], [np.array([1, 2])]) == 1.0
    with pytest.raises(ValueError, match="2 predictions for 1"):
        exact_match(["a", "b"], ["a"])
    oh = one_hot(np.array([[0, 2]]), 3)
    assert oh.shape == (1, 2, 3) and oh.dtype == np.float32 and oh.tolist() == [[[1, 0, 0], [0, 0, 1]]]


def test_token_vocab_batch_encode_decode():
    v = TokenVocab("0123456789")
    padded = v.encode_batch(["12", "345"], eos=True)
    assert padded.ids.shape == (2, 4) and padded.lengths.tolist() == [3, 4]
    assert v.decode_batch(padded.ids) == ["12", "345"]
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        v.decode_batch(padded.ids[0])


def test_docstring_examples_hold():
    import doctest

    import zoo.tasks.vocab
    result = doctest.testmod(zoo.tasks.vocab)
    assert result.attempted >= 2 and result.failed == 0
