"""Data and tasks for the zoo, all generated in code or read locally (nothing is downloaded).

Conventions: every array is batch-first and numpy; token ids are int64, real-valued inputs and
targets float32 (regression targets keep a trailing feature axis, ``(N, 1)``), masks bool.
Everything random takes a seed or a ``numpy.random.Generator``, so the same arguments give the
same data.

=====================  ==========================================================================
module                 what it gives
=====================  ==========================================================================
``vocab``              ``CharVocab``, ``TokenVocab`` (PAD BOS EOS UNK = 0 1 2 3), ``to_dict`` /
                       ``vocab_from_dict`` for checkpoints, ``pad_sequences``, ``decoder_data``
``corpus``             ``load_corpus(path=None)`` -> ``Corpus`` (the standard library's sources or
                       a UTF-8 file), ``.windows`` (B, T+1) for training, ``.eval_batches`` and
                       ``bits_per_char`` for evaluation
``seq2seq``            ``date_task``, ``reversal_task``, ``sorting_task``, ``addition_task`` ->
                       ``Seq2SeqTask`` (held-out pairs, ``Seq2SeqBatch``es, ``evaluate``)
``longrange``          ``adding_task`` / ``adding_batch``, ``copy_memory_task`` / ``copy_memory_batch``
``timeseries``         ``sine_task`` (many-to-one or many-to-many windows of a sum of sines)
``conditioned``        ``number_spelling_task`` -> ``NumberSpellingTask`` (features -> English words)
``toy``                ``hello_data``; classification ``parity_task``, ``majority_task``; tagging
                       ``char_class_task``, ``running_parity_task``
``base``               ``Examples`` (x, y with ``batches``/``sample``), ``ArrayTask``, ``DataError``,
                       ``exact_match``
=====================  ==========================================================================
"""
from .base import (
    ArrayTask, DataError, Examples, SplitBatches, draw_unique, exact_match, minibatch_indices, one_hot,
)
from .vocab import (
    BOS, EOS, PAD, SPECIAL_TOKENS, UNK, UNK_CHAR, CharVocab, DecoderData, Padded, TokenVocab,
    decoder_data, pad_sequences, vocab_from_dict,
)
from .corpus import (
    DEFAULT_MAX_CHARS, DEFAULT_VAL_FRACTION, Corpus, bits_per_char, load_corpus, random_windows,
    read_text_file, sequential_batches, stdlib_files, stdlib_root, stdlib_text,
)
from .seq2seq import (
    DATE_FORMATS, MONTHS, SEQ2SEQ_TASKS, WEEKDAYS, Seq2SeqBatch, Seq2SeqTask, addition_task, date_task,
    format_date, make_seq2seq_task, reversal_task, sorting_task,
)
from .longrange import (
    ADDING_BASELINE_MSE, SOLVED_MSE, adding_batch, adding_task, copy_memory_baseline, copy_memory_batch,
    copy_memory_task,
)
from .timeseries import FORECAST_MODES, forecast_windows, sine_mixture, sine_task
from .conditioned import (
    FEATURE_ENCODINGS, ConditionedBatch, NumberSpellingTask, number_features, number_spelling_task,
    number_to_words,
)
from .toy import (
    HelloData, char_class_task, hello_data, majority_task, parity_task, running_parity_task,
)

__all__ = [
    # base
    "ArrayTask", "DataError", "Examples", "SplitBatches", "draw_unique", "exact_match",
    "minibatch_indices", "one_hot",
    # vocab
    "BOS", "EOS", "PAD", "SPECIAL_TOKENS", "UNK", "UNK_CHAR", "CharVocab", "DecoderData", "Padded",
    "TokenVocab", "decoder_data", "pad_sequences", "vocab_from_dict",
    # corpus
    "DEFAULT_MAX_CHARS", "DEFAULT_VAL_FRACTION", "Corpus", "bits_per_char", "load_corpus",
    "random_windows", "read_text_file", "sequential_batches", "stdlib_files", "stdlib_root", "stdlib_text",
    # seq2seq
    "DATE_FORMATS", "MONTHS", "SEQ2SEQ_TASKS", "WEEKDAYS", "Seq2SeqBatch", "Seq2SeqTask",
    "addition_task", "date_task", "format_date", "make_seq2seq_task", "reversal_task", "sorting_task",
    # longrange
    "ADDING_BASELINE_MSE", "SOLVED_MSE", "adding_batch", "adding_task", "copy_memory_baseline",
    "copy_memory_batch", "copy_memory_task",
    # timeseries
    "FORECAST_MODES", "forecast_windows", "sine_mixture", "sine_task",
    # conditioned
    "FEATURE_ENCODINGS", "ConditionedBatch", "NumberSpellingTask", "number_features",
    "number_spelling_task", "number_to_words",
    # toy
    "HelloData", "char_class_task", "hello_data", "majority_task", "parity_task", "running_parity_task",
]
