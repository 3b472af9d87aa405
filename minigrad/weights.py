"""State dicts as ``.safetensors`` files, the weights format the PyTorch world loads directly.

    mg.weights.save_safetensors(lstm, "lstm.safetensors")                  # a Module or a state dict
    torch_lstm.load_state_dict(safetensors.torch.load_file("lstm.safetensors"))   # no glue
    mg.weights.load_safetensors_into(lstm, "lstm.safetensors")             # and back, strictly

The names and shapes are PyTorch's already (``weight_ih_l0``, ``layers.0.weight``, ...), so the
file needs no renaming either way. This is an export of the weights only: a training checkpoint
(optimizer, RNG states, config) stays an ``.npz`` file of ``minigrad.io``;
``checkpoint_to_safetensors`` turns one into a weights file. Needs the optional ``safetensors``
package (``pip install 'minigrad[interop]'``), imported only when a function here is called.
"""
from __future__ import annotations

import contextlib
import json
import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from . import io as _io
from .nn.module import Module, StateDictError
from .tensors import as_array

__all__ = ["save_safetensors", "load_safetensors", "load_safetensors_into", "safetensors_metadata",
           "checkpoint_to_safetensors", "WeightsFileError"]

# transformers and other loaders read this header entry to tell PyTorch files from TF/Flax ones;
# the bytes of the tensors are the same whichever framework wrote them
_FORMAT = {"format": "pt"}


class WeightsFileError(ValueError):
    """A ``.safetensors`` file could not be read or written; the message names the file and why."""


def _safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError("minigrad.weights needs the 'safetensors' package: "
                          "pip install 'minigrad[interop]' (or pip install safetensors)") from None
    return safetensors


def _arrays(state, what: str) -> "OrderedDict[str, np.ndarray]":
    """Name -> C-ordered little-endian-or-native array, from a Module or a mapping of arrays/tensors."""
    if isinstance(state, Module):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"{what}: expected a Module or a mapping of names to arrays, got {type(state).__name__}")
    out = OrderedDict()
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"{what}: names must be str, got {name!r}")
        arr = as_array(value)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"{what}: '{name}' is a {type(value).__name__} of dtype {arr.dtype}; a weights "
                            "file holds numeric arrays only")
        # NOTE: safetensors reads the array's memory as it lies, so a strided view must be copied
        out[name] = np.ascontiguousarray(arr)
    return out


def save_safetensors(state, path, metadata: Mapping[str, str] | None = None) -> None:
    """Write a Module's state dict (or any mapping of names to arrays) to ``path`` as safetensors.

    ``metadata`` (str -> str) goes into the file's header beside ``"format": "pt"``. Written as
    ``minigrad.save`` writes (``io.atomic_write``): all or nothing, permissions and symlinks kept.
    """
    arrays = _arrays(state, "save_safetensors")
    meta = dict(_FORMAT)
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"save_safetensors: metadata maps str to str, got {k!r}: {v!r}")
        meta[k] = v
    data = _safetensors().numpy.save(dict(arrays), metadata=meta)
    _io.atomic_write(path, lambda f: f.write(data))


@contextlib.contextmanager
def _reading(path):
    """Open ``path`` with safetensors; any failure to read it becomes a WeightsFileError naming it."""
    st = _safetensors()
    try:
        with st.safe_open(path, framework="np") as f:
            yield f
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except WeightsFileError:
        raise
    except Exception as e:  # SafetensorError for damage, TypeError for dtypes numpy lacks (bfloat16)
        raise WeightsFileError(f"cannot read '{os.fspath(path)}' as a safetensors file: {e}") from None


def load_safetensors(path) -> "OrderedDict[str, np.ndarray]":
    """Every array of a safetensors file, by name (in sorted order), as writable copies."""
    with _reading(path) as f:
        return OrderedDict((k, np.array(f.get_tensor(k))) for k in sorted(f.keys()))


def safetensors_metadata(path) -> dict:
    """The str -> str metadata in a safetensors file's header (empty if it has none)."""
    with _reading(path) as f:
        return dict(f.metadata() or {})


def load_safetensors_into(module: Module, path, strict: bool = True):
    """Copy a safetensors file's arrays into ``module``'s parameters (``Module.load_state_dict``).

    Strict by default: missing or unexpected names, and shape or dtype mismatches, raise one
    ``StateDictError`` listing every problem and naming the file. Returns (missing, unexpected).
    """
    state = load_safetensors(path)
    try:
        return module.load_state_dict(state, strict=strict)
    except StateDictError as e:
        raise e.in_file(path, "cannot load weights") from None


def checkpoint_to_safetensors(checkpoint, out) -> list:
    """Write the model weights of a minigrad ``.npz`` checkpoint (``io.save_checkpoint``, or a
    state dict saved with ``minigrad.save``) to ``out`` as safetensors; returns the names written.

    The checkpoint's config (JSON) and step travel in the header as ``minigrad.config`` and
    ``minigrad.step``, so a zoo model's sizes and vocabulary go along with its weights.
    """
    saved = _io.load(checkpoint)
    path = os.fspath(checkpoint)
    meta = {}
    if isinstance(saved, dict) and saved.get("kind") == _io._CHECKPOINT:  # a save_checkpoint file
        state = saved["model"]
        if state is None:
            raise WeightsFileError(f"checkpoint '{path}' holds no model state to export")
        if saved.get("config") is not None:
            with contextlib.suppress(TypeError, ValueError):  # a config holding arrays stays in the .npz only
                meta["minigrad.config"] = json.dumps(saved["config"], sort_keys=True)
        if saved.get("step") is not None:
            meta["minigrad.step"] = str(saved["step"])
    else:
        state = saved
    if not isinstance(state, Mapping) or not state or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) for k, v in state.items()):
        raise WeightsFileError(f"'{path}' holds neither a training checkpoint nor a state dict (names -> arrays)")
    save_safetensors(state, out, metadata=meta)
    return list(state)
