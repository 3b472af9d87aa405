"""Data and tasks for the zoo, all generated or read locally (nothing is downloaded)."""
from .base import ArrayTask, DataError, Examples, draw_unique, exact_match, minibatch_indices, one_hot
from .vocab import (
    BOS, EOS, PAD, SPECIAL_TOKENS, UNK, UNK_CHAR, CharVocab, Padded, TokenVocab, length_mask,
    pad_sequences, vocab_from_dict,
)
from .corpus import (
    DEFAULT_MAX_CHARS, DEFAULT_VAL_FRACTION, Corpus, bits_per_char, load_corpus, random_windows,
    read_text_file, sequential_batches, stdlib_files, stdlib_text,
)
