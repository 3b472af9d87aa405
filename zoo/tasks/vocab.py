"""Vocabularies (symbols <-> integer ids, JSON-able for checkpoints) and padding to arrays.

Two kinds:

* ``CharVocab`` - one id per character, no reserved ids; the char-level language model's output
  classes. An optional unknown character stands in for characters outside the vocabulary.
* ``TokenVocab`` - for seq2seq and generation: ids 0-3 are reserved for ``PAD BOS EOS UNK``, then
  the tokens (characters or words, by ``level``).

``vocab.to_dict()`` gives a JSON-able dict; ``vocab_from_dict`` rebuilds either kind from it.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Sequence

import numpy as np

__all__ = [
    "PAD", "BOS", "EOS", "UNK", "SPECIAL_TOKENS", "UNK_CHAR", "CharVocab", "TokenVocab",
    "vocab_from_dict", "Padded", "pad_sequences", "DecoderData", "decoder_data",
]

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
UNK_CHAR = "\ufffd"  # Unicode's REPLACEMENT CHARACTER, the usual stand-in for an unknown character


class _Vocab:
    """The id <-> symbol tables shared by both kinds."""

    def __init__(self, symbols: Iterable[str]):
        self.itos: tuple[str, ...] = tuple(symbols)
        self.stoi: dict[str, int] = {}
        for i, s in enumerate(self.itos):
            if not isinstance(s, str) or not s:
                raise TypeError(f"{type(self).__name__}: symbols must be non-empty strings, got {s!r}")
            if s in self.stoi:
                raise ValueError(f"{type(self).__name__}: symbol {s!r} appears twice")
            self.stoi[s] = i

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, symbol) -> bool:
        return symbol in self.stoi

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.itos))

    def _check_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"decode needs a 1-D sequence of integer ids, got shape {ids.shape} "
                             f"dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"decode: ids must lie in [0, {len(self)}), got range [{ids.min()}, {ids.max()}]")
        return ids.astype(np.int64)


class CharVocab(_Vocab):
    """One id per character, in the given order.

    ``unk`` (optional) is the character that characters outside the vocabulary encode to; it is
    added to the vocabulary if missing. Without it, encoding an unknown character raises ValueError.

    >>> v = CharVocab("helo"); v.encode("hell").tolist(), v.decode([1, 2, 2, 3])
    ([0, 1, 2, 2], 'ello')
    """

    def __init__(self, chars: Iterable[str], unk: str | None = None):
        chars = list(chars)
        if unk is not None and unk not in chars:
            chars.append(unk)
        super().__init__(chars)
        if not self.itos:
            raise ValueError("CharVocab: no characters")
        for c in self.itos:
            if len(c) != 1:
                raise ValueError(f"CharVocab: {c!r} is not a single character")
        self.unk = unk
        # A table indexed by code point maps a whole text in one vectorised lookup; its last slot
        # (-1) catches every code point above the vocabulary's largest.
        codes = np.array([ord(c) for c in self.itos])
        self._table = np.full(codes.max() + 2, -1, dtype=np.int64)
        self._table[codes] = np.arange(len(codes))

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> "CharVocab":
        """The characters of ``text`` in code-point order (plus ``unk`` if given)."""
        return cls(sorted(set(text)), unk=unk)

    def encode(self, text: str) -> np.ndarray:
        """int64 ids, shape ``(len(text),)``."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        ids = self._table[np.minimum(codes, len(self._table) - 1)]
        unknown = ids < 0
        if unknown.any():
            if self.unk is None:
                at = int(np.argmax(unknown))
                raise ValueError(f"character {text[at]!r} (U+{ord(text[at]):04X}) at position {at} is not "
                                 f"in the vocabulary of {len(self)} characters, which has no unknown character")
            ids[unknown] = self.stoi[self.unk]
        return ids

    def decode(self, ids) -> str:
        """The characters of ``ids`` (any 1-D integer sequence)."""
        return "".join([self.itos[i] for i in self._check_ids(ids).tolist()])

    def to_dict(self) -> dict:
        """A JSON-able description (``vocab_from_dict`` rebuilds the vocabulary from it)."""
        return {"kind": "char", "chars": list(self.itos), "unk": self.unk}

    @classmethod
    def from_dict(cls, d: dict) -> "CharVocab":
        """The vocabulary ``to_dict`` described (ValueError if ``d`` is not one)."""
        _check_dict(d, "char", ("chars", "unk"))
        return cls(d["chars"], unk=d["unk"])

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars, unk={self.unk!r})"


class TokenVocab(_Vocab):
    """Tokens after the reserved ids ``PAD=0 BOS=1 EOS=2 UNK=3``.

    ``level="char"`` splits text into characters and joins them back with nothing;
    ``level="word"`` splits on whitespace and joins with one space. Unknown tokens encode to UNK.

    >>> v = TokenVocab("0123456789-"); v.encode("12", eos=True).tolist(), v.decode([5, 6, 2, 0])
    ([5, 6, 2], '12')
    """

    LEVELS = ("char", "word")

    def __init__(self, tokens: Iterable[str], level: str = "char"):
        if level not in self.LEVELS:
            raise ValueError(f"TokenVocab: level must be one of {self.LEVELS}, got {level!r}")
        tokens = [t for t in dict.fromkeys(tokens) if t not in SPECIAL_TOKENS]
        super().__init__(SPECIAL_TOKENS + tuple(tokens))
        self.level = level

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: str = "char") -> "TokenVocab":
        """The tokens found in ``texts``, sorted, after the reserved ones."""
        tokens: set[str] = set()
        for text in texts:
            tokens.update(list(text) if level == "char" else text.split())
        return cls(sorted(tokens), level=level)

    def tokenize(self, text: str) -> list[str]:
        """``text`` split into tokens: characters, or whitespace-separated words."""
        return list(text) if self.level == "char" else text.split()

    def encode(self, text: str | Sequence[str], bos: bool = False, eos: bool = False) -> np.ndarray:
        """int64 ids of a text (or an already split token list), with BOS/EOS added on request."""
        tokens = self.tokenize(text) if isinstance(text, str) else list(text)
        ids = [BOS] if bos else []
        ids += [self.stoi.get(t, UNK) for t in tokens]
        if eos:
            ids.append(EOS)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids, stop_at_eos: bool = True) -> str:
        """Text of ``ids``: reading stops at the first EOS (unless told not to), PAD and BOS are
        dropped, UNK shows as ``<unk>``."""
        out = []
        for i in self._check_ids(ids).tolist():
            if i == EOS and stop_at_eos:
                break
            if i not in (PAD, BOS, EOS):
                out.append(self.itos[i])
        return ("" if self.level == "char" else " ").join(out)

    def encode_batch(self, texts: Sequence[str], bos: bool = False, eos: bool = False) -> "Padded":
        """Several texts encoded and padded into one ``(B, T)`` array (for inference on raw input)."""
        return pad_sequences([self.encode(t, bos=bos, eos=eos) for t in texts])

    def decode_batch(self, ids) -> list[str]:
        """Texts of the rows of a ``(B, T)`` array of ids, each read up to its first EOS (greedy or
        beam-search output)."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"decode_batch needs a (B, T) array of ids, got shape {ids.shape}")
        return [self.decode(row) for row in ids]

    def to_dict(self) -> dict:
        """A JSON-able description (``vocab_from_dict`` rebuilds the vocabulary from it)."""
        return {"kind": "token", "tokens": list(self.itos[len(SPECIAL_TOKENS):]), "level": self.level}

    @classmethod
    def from_dict(cls, d: dict) -> "TokenVocab":
        """The vocabulary ``to_dict`` described (ValueError if ``d`` is not one)."""
        _check_dict(d, "token", ("tokens", "level"))
        return cls(d["tokens"], level=d["level"])

    def __repr__(self) -> str:
        return f"TokenVocab({len(self)} tokens incl. 4 reserved, level={self.level!r})"


def _check_dict(d, kind: str, keys: tuple[str, ...]) -> None:
    if not isinstance(d, dict) or d.get("kind") != kind or any(k not in d for k in keys):
        raise ValueError(f"not a saved {kind} vocabulary: expected a dict with kind={kind!r} and "
                         f"keys {list(keys)}, got {d!r:.200}")


def vocab_from_dict(d: dict) -> CharVocab | TokenVocab:
    """Rebuild a vocabulary saved with ``to_dict`` (either kind)."""
    kinds = {"char": CharVocab, "token": TokenVocab}
    if not isinstance(d, dict) or d.get("kind") not in kinds:
        raise ValueError(f"not a saved vocabulary: 'kind' must be one of {list(kinds)}, got {d!r:.200}")
    return kinds[d["kind"]].from_dict(d)


class Padded(NamedTuple):
    """Variable-length sequences packed into one array."""
    ids: np.ndarray      # (B, T) int64, PAD after each sequence's end
    lengths: np.ndarray  # (B,) int64
    mask: np.ndarray     # (B, T) bool, True on real tokens


def pad_sequences(seqs: Sequence, length: int | None = None, pad: int = PAD) -> Padded:
    """Stack 1-D integer sequences into ``(B, T)``, ``T = length`` or the longest sequence."""
    if not len(seqs):
        raise ValueError("pad_sequences: no sequences")
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    T = int(lengths.max()) if length is None else length
    if lengths.max() > T:
        raise ValueError(f"pad_sequences: a sequence of length {lengths.max()} does not fit length={T}")
    ids = np.full((len(seqs), T), pad, dtype=np.int64)
    for row, s in zip(ids, seqs):
        row[:len(s)] = s
    return Padded(ids, lengths, np.arange(T) < lengths[:, None])


class DecoderData(NamedTuple):
    """A decoder's teacher-forcing arrays for target texts ``y_1..y_n``, all ``(B, T)``, T = longest n + 1."""
    inputs: np.ndarray   # int64: BOS y_1 .. y_n PAD ..
    targets: np.ndarray  # int64: y_1 .. y_n EOS PAD ..
    mask: np.ndarray     # bool: True where targets holds a token or the EOS
    lengths: np.ndarray  # (B,) int64: n + 1


def decoder_data(vocab: TokenVocab, texts: Sequence[str]) -> DecoderData:
    """Encode target texts for a decoder trained with teacher forcing."""
    encoded = [vocab.encode(t) for t in texts]
    targets = pad_sequences([np.r_[ids, EOS] for ids in encoded])
    inputs = pad_sequences([np.r_[BOS, ids] for ids in encoded]).ids
    return DecoderData(inputs, targets.ids, targets.mask, targets.lengths)
