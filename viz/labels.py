"""Text for DOT: escaping that no label can break, and the numbers and arrays nodes show.

A label passes three parsers before it reaches a screen: DOT's lexer (quotes), graphviz's label
reader (backslash escapes, HTML entities, record separators) and an XML parser reading the SVG.
``clean`` removes what XML cannot hold at all; ``quote`` and ``record_field`` escape for the
other two layers. Every label is cut to a sane length by ``clip`` first: graphviz refuses a quoted
string of 16,384 bytes or more with a syntax error, and a line of thousands of characters is no
picture anyway.
"""
from __future__ import annotations

import hashlib
import math
import re
from urllib.parse import quote as _percent

import numpy as np

__all__ = ["clean", "clip", "quote", "record_field", "cluster_id", "fmt_mag", "fmt_shape", "fmt_values",
           "MAX_LINE", "MAX_LABEL"]

MAX_LINE = 160    # characters in one line of a label
MAX_LABEL = 1000  # characters in a whole label; escaped, at most 5 bytes each, far below 16,384

# Characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); everything else, including
# control characters and lone surrogates, is spelled out as a visible escape.
_NOT_XML = re.compile("[^\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Graphviz reads these as structure inside record labels unless escaped with a backslash.
_RECORD = re.compile(r"([{}|<>])")


def _spell(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text) -> str:
    """``text`` as a string every layer can hold: newlines normalised to ``\\n``, characters
    XML forbids replaced by a visible ``\\xNN``/``\\uNNNN``."""
    s = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _NOT_XML.sub(_spell, s)


def clip(text: str) -> str:
    """``text`` with each line cut to ``MAX_LINE`` characters and the whole to ``MAX_LABEL``,
    an ellipsis marking every cut."""
    lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…" for line in text.split("\n")]
    s = "\n".join(lines)
    return s if len(s) <= MAX_LABEL else s[:MAX_LABEL - 1] + "…"


def _escape(text) -> str:
    # Order matters: backslashes first (graphviz reads \n, \l, \N... in labels), then quotes for
    # the lexer; '&' becomes an entity because graphviz decodes entities in every label.
    s = clip(clean(text)).replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;")
    return s


def quote(text) -> str:
    """A DOT double-quoted string whose label shows ``text`` literally (newlines break lines)."""
    return '"' + _escape(text).replace("\n", "\\n") + '"'


def record_field(text) -> str:
    """The body of one record field showing ``text`` literally (not quoted; join fields with ``|``)."""
    return _RECORD.sub(r"\\\1", _escape(text)).replace("\n", "\\n")


def cluster_id(path: str) -> str:
    """A quoted, unique DOT name for the cluster of scope ``path``; it is the cluster's
    ``<title>`` in SVG, so it stays readable (``cluster_layer0/t=3``). A path too long for a label
    is clipped and made unique again by a digest of the whole."""
    s = clean(path)
    if clip(s) != s:
        s = f"{clip(s)}#{hashlib.sha256(path.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
    return '"cluster_' + _percent(s, safe="/=._-~+,:()[]'*!@$^ ") + '"'


def fmt_mag(x: float) -> str:
    """A gradient magnitude in three significant digits (``2.10e-03``, ``0``, ``inf``, ``nan``)."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.2e}"


def fmt_shape(shape: tuple) -> str:
    """``(2, 3)`` as ``2×3``; a 0-d shape as ``scalar``."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


def fmt_values(arr: np.ndarray) -> str:
    """Small arrays' values, four significant digits, one line per innermost row.

    Written by hand: numpy's array2string costs ~0.5 ms a call, too slow for thousands of nodes.
    """
    return _nested(np.asarray(arr).tolist(), 1)


def _nested(x, indent: int) -> str:
    # recursion depth is the array's rank
    if not isinstance(x, list):
        return _num(x)
    if not x or not isinstance(x[0], list):
        return "[" + ", ".join(_num(v) for v in x) + "]"
    return "[" + (",\n" + " " * indent).join(_nested(v, indent + 1) for v in x) + "]"


def _num(x) -> str:
    if not isinstance(x, float):
        return str(x)
    s = f"{x:.4g}"
    return s if any(c in s for c in ".enia") else s + "."
