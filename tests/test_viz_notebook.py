"""Jupyter without a notebook: viz registers SVG formatters for Tensor and Value with a (fake)
IPython shell, and its pictures come back as SVG text."""
from __future__ import annotations

import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
import viz
from viz import notebook

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


class FakeFormatter:
    """IPython's ``BaseFormatter.for_type``, the one call viz makes."""

    def __init__(self):
        self.printers = {}

    def for_type(self, cls, func):
        self.printers[cls] = func


def fake_shell():
    formatters = {"image/svg+xml": FakeFormatter(), "text/plain": FakeFormatter()}
    return types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters=formatters))


def test_register_finds_the_running_shell_and_needs_no_ipython(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert notebook.register() is False  # plain Python: nothing to do, and IPython not imported
    assert "IPython" not in sys.modules
    shell = fake_shell()
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert notebook.register() is True
    svg = shell.display_formatter.formatters["image/svg+xml"].printers
    assert set(svg) == {mg.Tensor, mg.Value}
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert notebook.register() is False  # IPython imported, but no shell running (a script)


def test_importing_viz_inside_ipython_registers_the_formatters():
    code = ("import sys, types\n"
            "printers = {}\n"
            "fmt = types.SimpleNamespace(for_type=lambda cls, f: printers.__setitem__(cls.__name__, f))\n"
            "shell = types.SimpleNamespace(display_formatter=types.SimpleNamespace(formatters={'image/svg+xml': fmt}))\n"
            "sys.modules['IPython'] = types.SimpleNamespace(get_ipython=lambda: shell)\n"
            "import viz\n"
            "print(sorted(printers))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['Tensor', 'Value']"


@needs_dot
def test_a_result_shows_its_graph_and_a_leaf_its_text():
    shell = fake_shell()
    notebook.register(shell)
    show = shell.display_formatter.formatters["image/svg+xml"].printers
    x = mg.Tensor(np.ones(3), requires_grad=True, name="x")
    y = (x * 2.0).tanh().sum()
    svg = ET.fromstring(show[mg.Tensor](y))
    assert svg.tag == f"{SVG}svg"
    assert {"x", "tanh"} <= {t.text for t in svg.iter(f"{SVG}text")}
    assert show[mg.Tensor](x) is None  # IPython then shows the usual repr
    a = mg.Value(2.0, label="a")
    assert "tanh" in show[mg.Value]((a * a).tanh())
    assert show[mg.Value](a) is None


def test_without_dot_a_notebook_falls_back_to_text(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert notebook.inline_svg(viz.to_dot(mg.Value(1.0) * 2.0)) is None


def test_draw_gives_graphviz_objects_jupyter_shows_itself():
    graphviz = pytest.importorskip("graphviz")
    g = viz.draw(mg.Value(1.0, label="a") * 2.0)
    assert isinstance(g, graphviz.Digraph) and hasattr(g, "_repr_mimebundle_")
