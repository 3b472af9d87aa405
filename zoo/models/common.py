"""What the zoo's models share, so that each model file holds only its own idea.

Building: ``CELLS`` (the recurrent layers by the name a config's ``cell`` field gives),
``recurrent_layer`` (one, batch-first), ``final_state`` (the top layer's last state, both
directions), ``check_config`` (a config's sizes and choices, errors naming the field) and
``load_model`` (a model rebuilt from its checkpoint, which says what kind it holds).
Generating: ``sample_tokens`` (greedy, temperature and top-k choice from logits) and
``check_sampling``.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import io
from minigrad.nn import StateDictError
from zoo.layers import GRU, LSTM, RNN

__all__ = ["CELLS", "recurrent_layer", "final_state", "check_config", "load_model", "check_sampling", "sample_tokens"]

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


# building models ---------------------------------------------------------------------------------
def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *, dropout: float = 0.0,
                    bidirectional: bool = False, forget_bias: float | None = 1.0, **options):
    """A batch-first ``zoo.RNN``/``LSTM``/``GRU`` by name. ``forget_bias`` applies to the LSTM only
    (b_if starts at it, so the forget gate starts mostly open; Jozefowicz et al. 2015); None keeps
    PyTorch's initialisation. ``options`` (``dtype``, ``generator``, ...) go to the layer."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
    if cell == "lstm" and forget_bias is not None:
        options["forget_bias"] = forget_bias
    return CELLS[cell](input_size, hidden_size, num_layers, batch_first=True, dropout=dropout,
                       bidirectional=bidirectional, **options)


def final_state(h_n, bidirectional: bool = False) -> mg.Tensor:
    """The top layer's final hidden state (B, H), or (B, 2H) with both directions (forward first).

    ``h_n`` is a layer's second output: (L*K, B, H), or the LSTM's pair (h_n, c_n). With lengths,
    the forward direction's entry is each sequence's state at its last real step, and the backward
    direction's is its state after reading back to step 0, so both summarise the whole sequence.
    """
    h = h_n[0] if isinstance(h_n, tuple) else h_n
    return mg.cat([h[-2], h[-1]], axis=-1) if bidirectional else h[-1]


def check_config(config, positive: tuple = (), choices: dict | None = None) -> None:
    """Check a model config: each field in ``positive`` a positive integer, each field of ``choices``
    ({field: options}) one of its options, and ``dropout`` (if the config has one) in [0, 1).
    The ValueError names the config class, the field and the value."""
    name = type(config).__name__
    for field in positive:
        value = getattr(config, field)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {field} must be a positive integer, got {value!r}")
    for field, options in (choices or {}).items():
        value = getattr(config, field)
        if value not in options:
            raise ValueError(f"{name}: {field} must be one of {', '.join(options)}, got {value!r}")
    dropout = getattr(config, "dropout", 0.0)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{name}: dropout must lie in [0, 1), got {dropout}")


def load_model(path, kind: str, config_class, model_class) -> tuple:
    """``(model, run_config)`` from a checkpoint whose run config says it holds a ``kind`` model:
    ``model_class(config_class(**run_config["model"]))`` with the saved weights (in their dtype).
    The ValueError names the file when it holds something else or the weights do not fit."""
    ckpt = io.load(path)
    config = ckpt.get("config") if isinstance(ckpt, dict) else None
    if not isinstance(config, dict) or config.get("kind") != kind:
        held = config.get("kind") if isinstance(config, dict) else None
        raise ValueError(f"'{path}' is not a {kind} checkpoint" + (f" (it holds a {held} model)" if held else "")
                         + f"; train one with 'minigrad train {kind}'")
    try:
        model = model_class(config_class(**config["model"]))
        state = ckpt["model"]
        model.to(next(iter(state.values())).dtype)
        model.load_state_dict(state)
    except (StateDictError, KeyError, TypeError) as e:  # a StateDictError lists every mismatch
        raise ValueError(f"'{path}': {e}") from None
    return model, config


# generating --------------------------------------------------------------------------------------
def check_sampling(temperature: float, top_k: int | None = None) -> None:
    """ValueError unless ``temperature`` >= 0 and ``top_k`` is None or a positive integer."""
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0: greedy), got {temperature}")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")


def sample_tokens(logits, temperature: float, rng: np.random.Generator, top_k: int | None = None) -> np.ndarray:
    """One token id per row of ``logits`` (B, V): the likeliest with ``temperature`` 0, else one
    drawn from softmax(logits / temperature), among the ``top_k`` likeliest only when given."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0:
        return z.argmax(axis=-1)
    z = z / temperature
    V = z.shape[-1]
    if top_k is not None and top_k < V:
        kth = np.partition(z, V - top_k, axis=-1)[:, V - top_k:V - top_k + 1]  # (B, 1): the k-th largest
        z = np.where(z >= kth, z, -np.inf)
    cdf = np.exp(z - z.max(axis=-1, keepdims=True)).cumsum(axis=-1)  # unnormalised
    u = rng.random((len(z), 1)) * cdf[:, -1:]
    # inverse CDF: the first token whose cumulative mass exceeds u (the clip guards rounding at the top)
    return np.minimum((cdf <= u).sum(axis=-1), V - 1)
