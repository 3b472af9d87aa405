"""The backward pass as an animation: the gradient reaching each node of the graph in backward
(reverse topological) order, over one rendered SVG.

The graph is laid out once; each frame only changes which elements are lit, so every frame has the
same layout and the page stays small. Output: one self-contained HTML page with a slider and a
play button (no scripts or styles from elsewhere), or a folder of SVG frames.
"""
from __future__ import annotations

import json
import pathlib
import re

from .dot import Drawing
from .render import pipe, write_atomic

__all__ = ["animate_backward"]

_DIM = 0.12  # opacity of what the gradient has not reached yet

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1em; }
#bar { position: sticky; top: 0; background: white; padding: 0.5em 0; }
#step { width: 60%; vertical-align: middle; }
#caption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
#graph svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<div id="bar">
<button id="play">play</button>
<input id="step" type="range" min="0" max="__LAST__" value="__LAST__">
<span id="count"></span>
<div id="caption"></div>
</div>
<div id="graph">
__SVG__
</div>
<script>
const frames = __FRAMES__;
const reach = new Map();
frames.forEach((f, k) => f[1].forEach(id => reach.set(id, k)));
const slider = document.getElementById("step");
const caption = document.getElementById("caption");
const count = document.getElementById("count");
function show(k) {
  k = Math.max(0, Math.min(k, frames.length));
  for (const [id, at] of reach) {
    const el = document.getElementById(id);
    if (el) el.style.opacity = at < k ? 1 : __DIM__;
  }
  count.textContent = k + " / " + frames.length;
  caption.textContent = k ? "backward reached: " + frames[k - 1][0] : "before backward";
}
let timer = null;
document.getElementById("play").onclick = () => {
  if (timer) { clearInterval(timer); timer = null; return; }
  if (+slider.value >= frames.length) slider.value = 0;
  timer = setInterval(() => {
    slider.value = +slider.value + 1;
    show(+slider.value);
    if (+slider.value >= frames.length) { clearInterval(timer); timer = null; }
  }, Math.max(40, 6000 / frames.length));
};
slider.oninput = () => show(+slider.value);
show(+slider.value);
</script>
</body>
</html>
"""


def _has_gradient(root) -> bool:
    g = root.grad
    return g is not None and not (isinstance(g, (int, float)) and g == 0)


def animate_backward(root, path, *, max_frames: int | None = None, **options) -> pathlib.Path:
    """Animate the backward pass of the graph under ``root``.

    ``path`` ending in ``.html``: one self-contained page with a slider over the frames;
    otherwise a folder that gets ``frame_000.svg``, ``frame_001.svg``, ... (frame k shows the
    first k nodes backward reached). ``max_frames`` (default: all for a page, 60 for a folder)
    merges consecutive frames to at most that many. If ``root`` has no gradient yet, backward is run here
    (inside ``minigrad.keep_grads()``, so every node keeps its gradient). Options are ``to_dot``'s;
    shading is on. Returns ``path``.
    """
    if not _has_gradient(root):
        from minigrad import keep_grads

        with keep_grads():
            root.backward()
    options.setdefault("shade", True)
    drawing = Drawing(root, ids=True, **options)
    svg = pipe(drawing.text, "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML declaration and doctype
    frames = drawing.backward_frames()
    path = pathlib.Path(path)
    page = path.suffix.lower() in (".html", ".htm")
    frames = _merge(frames, max_frames or (len(frames) if page else 60))
    if page:
        fill = {"TITLE": "minigrad: backward pass", "LAST": str(len(frames)), "DIM": str(_DIM),
                "FRAMES": _script_json(frames), "SVG": svg}
        # one pass, so a node named like a placeholder ("__SVG__") is never filled in
        page = re.sub(r"__([A-Z]+)__", lambda m: fill[m.group(1)], _PAGE)
        write_atomic(path, page.encode("utf-8"))
        return path
    path.mkdir(parents=True, exist_ok=True)
    head = re.search(r"<svg[^>]*>", svg).end()
    for k in range(len(frames) + 1):
        dim = [i for _, ids in frames[k:] for i in ids]
        style = ("<style>" + ",".join(f"#{i}" for i in dim) + f"{{opacity:{_DIM}}}</style>") if dim else ""
        write_atomic(path / f"frame_{k:03d}.svg", (svg[:head] + style + svg[head:]).encode("utf-8"))
    return path


def _script_json(obj) -> str:
    """``obj`` as JSON safe inside a <script>: '<', '>' and '&' written as \\u003c, \\u003e,
    \\u0026 (the same string to JSON). A raw "</script>" would end the script early, and a raw
    "<!--<script>" (a node named so) would make the browser read past the real end tag."""
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _merge(frames: list, n: int) -> list:
    """At most ``n`` frames: consecutive ones joined (captions of the last, ids of all)."""
    if n < 1:
        raise ValueError(f"max_frames must be positive, got {n}")
    if len(frames) <= n:
        return frames
    out = []
    for k in range(n):
        chunk = frames[k * len(frames) // n:(k + 1) * len(frames) // n]
        out.append((chunk[-1][0], [i for _, ids in chunk for i in ids]))
    return out
