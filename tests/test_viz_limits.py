"""viz against hostile input: names that try to break the animation page, labels too long for
graphviz, and drawings too big to hand to ``dot``."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
import viz
from viz.labels import MAX_LABEL, MAX_LINE, clip

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = ["<!--<script>x", "</script><script>alert(1)</script>", "a & b > c", "__SVG__", "__FRAMES__"]


# the animation page ----------------------------------------------------------------------------
@needs_dot
def test_hostile_names_cannot_break_the_animation_page(tmp_path):
    xs = [mg.Tensor(np.ones(2), requires_grad=True, name=name) for name in HOSTILE]
    loss = sum((x.tanh() for x in xs[1:]), xs[0].tanh()).sum()
    page = viz.animate_backward(loss, tmp_path / "a.html").read_text(encoding="utf-8")
    # one script, ours: no name opened another or hid the real end tag in an HTML comment
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert "<!--<script" not in page
    script = page[page.index("<script>") + len("<script>"):page.index("</script>")]
    data = re.search(r"const frames = (.*);\n", script).group(1)
    assert not set(data) & set("<>&")
    captions = "".join(c for c, _ in json.loads(data))
    for name in HOSTILE:
        assert name in captions, name  # the same text, escaped for the script only
    assert page.count("<svg") == 1  # "__SVG__" in a caption was not filled with the picture
    ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6])


# long labels -----------------------------------------------------------------------------------
def test_clip_cuts_lines_and_the_whole_with_an_ellipsis():
    assert clip("short\nlines") == "short\nlines"
    line = clip("x" * 20_000)
    assert len(line) == MAX_LINE and line.endswith("…")
    many = clip("\n".join(["y" * 50] * 100))
    assert len(many) == MAX_LABEL and many.endswith("…")


@needs_dot
@pytest.mark.parametrize("n", [16_383, 16_384, 40_000])
def test_huge_names_labels_scopes_and_titles_still_render(n):
    big = "é&\\" * (n // 3)  # multi-byte, and escaped into more bytes still
    W = mg.Tensor(np.ones((2, 2)), requires_grad=True, name=big)
    with mg.scope(big + "1"), mg.scope(mg.step_scope(0)):
        y = (mg.Tensor(np.ones((1, 2))) @ W).sum()
    with mg.scope(big + "2"), mg.scope(mg.step_scope(0)):  # same first characters: another cluster
        y = y + (mg.Tensor(np.ones((1, 2))) @ W).sum()
    v = mg.Value(1.5, label=big)
    for dot in (viz.to_dot(y, title=big, marks={y: big}), viz.to_dot((v * 2.0).tanh(), title=big)):
        assert all(len(s.encode("utf-8")) < 16_384 for s in re.findall(r'"(?:[^"\\]|\\.)*"', dot))
        svg = ET.fromstring(viz.pipe(dot, "svg"))
        texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
        assert any(t.endswith("…") and "é&\\" in t for t in texts)
    clusters = [t.text for t in ET.fromstring(viz.pipe(viz.to_dot(y), "svg")).iter(f"{SVG}title")
                if (t.text or "").startswith("cluster_")]
    assert len(clusters) == len(set(clusters)) == 4  # two scopes, two steps: still told apart


# drawings too big for dot ----------------------------------------------------------------------
def big_chain(n: int) -> mg.Value:
    v = mg.Value(0.5, label="x")
    for _ in range(n):
        v = (v * 0.999).tanh()
    return v


def test_a_huge_drawing_is_refused_before_dot_runs(tmp_path, monkeypatch):
    def no_dot(*args, **kwargs):
        raise AssertionError("dot was run")

    monkeypatch.setattr(subprocess, "run", no_dot)
    root = big_chain(2000)  # forced past max_nodes: 10,000 statements
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"max_statements=4,000.*max_nodes=, keep_steps=, detail='cells'"):
        viz.render(root, tmp_path / "huge.svg", max_nodes=100_000)
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "huge.svg").exists()
    # the DOT text itself needs no dot, and the drawing at the default size is not refused
    assert viz.render(root, tmp_path / "huge.dot", max_nodes=100_000).stat().st_size > 100_000
    assert viz.to_dot(root).count("\n") < viz.render.__kwdefaults__["max_statements"]


def test_the_limit_can_be_lifted_and_dot_gets_a_shorter_timeout(monkeypatch):
    seen = {}

    def fake_dot(argv, input, capture_output, timeout, check):
        seen["timeout"] = timeout
        return subprocess.CompletedProcess(argv, 0, b"<svg/>", b"")

    monkeypatch.setattr(subprocess, "run", fake_dot)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/dot")
    text = viz.to_dot(big_chain(2000), max_nodes=100_000)
    assert viz.pipe(text, max_statements=None) == b"<svg/>"
    assert seen["timeout"] == viz.render.__kwdefaults__["timeout"] <= 60
