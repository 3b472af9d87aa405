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
from .seq2seq import (
    DATE_FORMATS, MONTHS, SEQ2SEQ_TASKS, WEEKDAYS, Seq2SeqBatch, Seq2SeqTask, addition_task, date_task,
    format_date, make_seq2seq_task, reversal_task, sorting_task,
)
