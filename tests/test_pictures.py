"""rnnlab.pictures, the ready-made pictures of ``minigrad render`` / ``python -m rnnlab.pictures``:
each renders, and bad flags or suffixes are refused before anything is built or written."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from rnnlab.flags import CLIError
from rnnlab.pictures import EXAMPLES, main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


@needs_dot
@pytest.mark.parametrize("argv", [["rnn", "--steps", "4"], ["lstm", "--steps", "3", "--detail", "cells"],
                                  ["gru", "--keep-steps", "1", "--steps", "5"], ["scalar-rnn"],
                                  ["explode", "--cell", "gru"], ["gradcheck"]])
def test_cli_examples_render_svg(tmp_path, argv, capsys):
    out = tmp_path / "pic.svg"
    assert main(argv + ["-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    root = ET.parse(out).getroot()
    titles = {t.text for t in root.iter(f"{SVG}title")}
    if argv[0] in ("rnn", "gru"):
        assert "cluster_layer0/fwd/t=0" in titles
    if argv[0] == "scalar-rnn":
        assert {f"cluster_rnn/t={t}" for t in range(4)} <= titles


def test_cli_fused_cells_record_the_zoos_kernels_not_every_op(tmp_path):
    # DOT text needs no graphviz: --fused cells draws the fused kernels, --fused ops every primitive
    dots = {}
    for fused in ("ops", "cells"):
        assert main(["lstm", "--fused", fused, "-o", str(tmp_path / f"{fused}.dot")]) == 0
        dots[fused] = (tmp_path / f"{fused}.dot").read_text(encoding="utf-8")
    assert '"cluster_layer0/fwd' in dots["cells"]
    assert re.search(r"\bsigmoid\b", dots["ops"]) and not re.search(r"\bsigmoid\b", dots["cells"])
    count = {k: len(re.findall(r"^\t+[a-z]\d+ \[", v, flags=re.M)) for k, v in dots.items()}
    assert count["cells"] < count["ops"]


@needs_dot
def test_cli_seq2seq(tmp_path):
    assert main(["seq2seq", "--steps", "2", "--detail", "cells", "-o", str(tmp_path / "s.svg")]) == 0
    titles = {t.text for t in ET.parse(tmp_path / "s.svg").getroot().iter(f"{SVG}title")}
    assert {"cluster_encoder", "cluster_decoder"} <= titles


def test_cli_lists_examples_and_rejects_unknown_ones():
    done = subprocess.run([sys.executable, "-m", "rnnlab.pictures", "--list"], capture_output=True, text=True,
                          check=True)
    assert {"rnn", "lstm", "gru", "scalar-rnn", "flow", "shares", "anim", "explode", "gradcheck"} <= {
        line.split()[0] for line in done.stdout.splitlines()}
    bad = subprocess.run([sys.executable, "-m", "rnnlab.pictures", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown example 'nope'" in bad.stderr
    assert bad.stderr.startswith("python -m rnnlab.pictures: ") and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, output", [("lstm", "x.foo"), ("flow", "f.dot"), ("anim", "r.svg"),
                                          ("gradcheck", "g.html")])
def test_a_suffix_the_example_cannot_write_is_refused_before_any_work(tmp_path, name, output):
    with pytest.raises(CLIError, match=f"cannot write {name} as '.*{re.escape(output)}'"):
        main([name, "-o", str(tmp_path / output)])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, flag", [(["lstm", "--steps", "0"], "--steps"), (["lstm", "--steps", "-2"], "--steps"),
                                        (["lstm", "--hidden", "0"], "--hidden"), (["rnn", "--keep-steps", "0"],
                                                                                   "--keep-steps"),
                                        (["flow", "--cell", "foo"], "--cell")])
def test_bad_flags_are_usage_errors_naming_the_flag(argv, flag):
    with pytest.raises(CLIError, match=f"^minigrad render: argument {flag}"):
        main(argv, prog="minigrad render")


def test_every_example_names_the_suffixes_it_writes():
    for name, (_, suffix, allowed, about) in EXAMPLES.items():
        assert suffix in allowed and about, name
