"""``minigrad export CKPT OUT.safetensors``: a trained model's weights in the format PyTorch loads.

    minigrad export out/charlm/checkpoint.npz charlm.safetensors
    # then, in PyTorch:  model.load_state_dict(safetensors.torch.load_file("charlm.safetensors"))

The names and shapes are PyTorch's already (``rnn.weight_ih_l0``, ``head.weight``...), so
``zoo.to_torch(model)``'s module, or a ``torch.nn`` model built with the same sizes, loads the file
strictly. The checkpoint's config and step travel in the file's header (``minigrad.config``,
``minigrad.step``); the checkpoint itself is left as it is. Needs the optional ``safetensors``
package (``pip install 'minigrad[interop]'``).
"""
from __future__ import annotations

import argparse
import os

from minigrad.weights import checkpoint_to_safetensors, safetensors_metadata

from .flags import CLIError

__all__ = ["add_arguments", "export_from_args"]

SUFFIX = ".safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``minigrad export``."""
    parser.add_argument("checkpoint", help="a minigrad checkpoint (e.g. out/charlm/checkpoint.npz) or a state "
                        "dict saved with minigrad.save")
    parser.add_argument("out", help=f"the weights file to write (its name ends in {SUFFIX})")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")


def export_from_args(args) -> list:
    """``minigrad export``: write the weights file, print one line about it; return the names written."""
    if not args.out.endswith(SUFFIX):
        raise CLIError(f"minigrad export: OUT must name a {SUFFIX} file, got '{args.out}'")
    if os.path.isdir(args.out):
        raise CLIError(f"minigrad export: OUT '{args.out}' is a folder")
    if os.path.exists(args.out) and not args.overwrite:
        raise CLIError(f"minigrad export: '{args.out}' exists; pass --overwrite to replace it")
    if not os.path.isfile(args.checkpoint):
        raise CLIError(f"minigrad export: no checkpoint file '{args.checkpoint}'")
    try:
        names = checkpoint_to_safetensors(args.checkpoint, args.out)
    except ImportError as e:  # the optional package is missing
        raise CLIError(f"minigrad export: {e}") from None
    step = safetensors_metadata(args.out).get("minigrad.step")
    print(f"wrote {args.out}: {len(names)} tensors from {args.checkpoint}"
          + (f" (step {step})" if step is not None else ""))
    return names
