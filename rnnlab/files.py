"""Result files written whole or not at all: ``write_text``, ``write_json``, ``write_svg``.

Each writes a temporary file next to the target and then replaces the target in one step, so a
reader never sees half a file and a failed write leaves the old one.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib

__all__ = ["write_text", "write_json", "write_svg"]


@contextlib.contextmanager
def _replacing(path: pathlib.Path):
    """A temporary path next to ``path`` for the block to write; it then replaces ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path, text: str) -> pathlib.Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    path = pathlib.Path(path)
    with _replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path, obj) -> pathlib.Path:
    """Write ``obj`` as indented JSON, atomically; returns the path."""
    return write_text(path, json.dumps(obj, indent=2) + "\n")


def write_svg(fig, path) -> pathlib.Path:
    """Save a matplotlib figure as SVG, atomically and reproducibly (no date, fixed ids, text as text)."""
    import matplotlib

    path = pathlib.Path(path)
    with _replacing(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "minigrad", "svg.fonttype": "none"}):
        fig.savefig(tmp, format="svg", metadata={"Date": None})
    return path
