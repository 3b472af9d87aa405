"""DOT text to pictures: a ``graphviz.Digraph`` for notebooks, files through the ``dot`` binary.

``dot`` needs time and memory that grow steeply with a drawing's size (an unrolled LSTM: 1.5 s
for 1,900 statements, 21 s for 3,800, over 200 s for 7,500), so a drawing of more than
``MAX_STATEMENTS`` statements is refused before ``dot`` runs, and ``dot`` gets ``timeout`` seconds.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

from .dot import dot_body

__all__ = ["draw", "render", "pipe", "save", "MAX_STATEMENTS", "TIMEOUT"]

_TEXT_FORMATS = ("dot", "gv")
MAX_STATEMENTS = 4000
TIMEOUT = 60.0
_ADVICE = "draw fewer nodes (max_nodes=, keep_steps=, detail='cells')"


def draw(root, **options):
    """A ``graphviz.Digraph`` of the graph that computed ``root`` (displays inline in Jupyter);
    its ``source`` is exactly ``to_dot(root, **options)``."""
    import graphviz

    return graphviz.Digraph("minigrad", body=dot_body(root, **options))


def _statements(dot_text: str) -> int:
    # viz writes one statement a line (labels never hold a raw newline); for other DOT text
    # this undercounts, and the timeout still bounds the run
    return dot_text.count("\n")


def pipe(dot_text: str, format: str = "svg", timeout: float = TIMEOUT,
         max_statements: int | None = MAX_STATEMENTS) -> bytes:
    """Run graphviz's ``dot`` on ``dot_text`` and return the rendered bytes.

    Refuses, before running ``dot``, text of more than ``max_statements`` statements (None: no
    limit); ``dot`` is stopped after ``timeout`` seconds."""
    n = _statements(dot_text)
    if max_statements is not None and n > max_statements:
        raise RuntimeError(f"this drawing has {n:,} DOT statements, more than max_statements={max_statements:,} "
                           f"(dot would need minutes and gigabytes); {_ADVICE}, or pass max_statements=None "
                           "to run dot anyway")
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("graphviz's 'dot' program is not on PATH; install graphviz "
                           "(Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz, "
                           "or `make dot`) — to_dot() works without it")
    try:
        done = subprocess.run([exe, f"-T{format}"], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"dot took longer than {timeout:g} s; {_ADVICE}") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"dot -T{format} failed (exit {done.returncode}): {err}")
    return done.stdout


def save(dot_text: str, path, format: str | None = None, timeout: float = TIMEOUT,
         max_statements: int | None = MAX_STATEMENTS) -> pathlib.Path:
    """Write ``dot_text`` rendered as ``format`` (default: the path's suffix, else svg) to
    ``path``, atomically; formats ``dot``/``gv`` write the DOT text itself. ``timeout`` and
    ``max_statements`` are ``pipe``'s."""
    path = pathlib.Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    data = dot_text.encode("utf-8") if fmt in _TEXT_FORMATS else pipe(dot_text, fmt, timeout, max_statements)
    write_atomic(path, data)
    return path


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, so no reader ever sees
    half a file."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render(root, path, format: str | None = None, *, timeout: float = TIMEOUT,
           max_statements: int | None = MAX_STATEMENTS, **options) -> pathlib.Path:
    """Render the graph that computed ``root`` to ``path`` (svg unless ``format`` or the path's
    suffix says otherwise) with the ``dot`` binary; ``timeout`` and ``max_statements`` are
    ``pipe``'s, the other options ``to_dot``'s. Returns the path."""
    text = "digraph minigrad {\n" + "".join(dot_body(root, **options)) + "}\n"
    return save(text, path, format, timeout, max_statements)
