"""``make demo`` in its ``--quick`` form: every part runs, every picture and checkpoint is written,
and the checkpoints work with ``minigrad sample`` / ``minigrad translate``."""
import json
import shutil
import subprocess
import sys

import pytest

from rnnlab import cli, demo


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    numbers = demo.main(["--out", str(out), "--quick", "--no-progress"])
    return out, numbers


def test_quick_demo_runs_every_part(quick, capsys):
    out, numbers = quick
    assert numbers["hello"].startswith("'h' -> 'hello'")
    assert "char-LSTM validation bits/char" in numbers
    assert json.loads((out / "summary.json").read_text()) == numbers
    for name in ("charlm/checkpoint.npz", "charlm/metrics.jsonl", "loss_curves.svg"):
        assert (out / name).is_file(), name


def test_quick_demo_draws_its_pictures(quick):
    pytest.importorskip("matplotlib")
    if not shutil.which("dot"):
        pytest.skip("graphviz's dot is not installed")
    out, numbers = quick
    assert numbers["notes"] == []  # nothing was skipped
    for name in ("loss_curves.svg", "gradient_flow.svg", "hello_scalar_graph.svg", "charlm_unrolled_cells.svg",
                 "charlm_unrolled_ops.svg"):
        assert (out / name).read_text().lstrip().startswith(("<?xml", "<svg")), name
        assert numbers["files"][name]  # summary.json says what each picture shows


def test_quick_demo_checkpoints_work_with_the_command(quick, capsys):
    out, numbers = quick
    assert cli.main(["sample", str(out / "charlm" / "checkpoint.npz"), "--prime", "def ", "--chars", "10"]) == 0
    assert capsys.readouterr().out.startswith("def ")
    assert "date translation exact match" in numbers and (out / "attention_heatmap.svg").is_file()
    assert cli.main(["translate", str(out / "seq2seq_dates" / "checkpoint.npz"), "3 March 1999"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_a_second_demo_refuses_to_replace_the_trained_runs(quick):
    out, _ = quick
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with pytest.raises(ValueError) as e:
        demo.main(["--out", str(out), "--quick", "--no-progress"])
    assert f"'{out / 'charlm'}' already holds a checkpoint at step " in str(e.value)
    assert "--out DIR" in str(e.value) and "--overwrite" in str(e.value)
    done = subprocess.run([sys.executable, "-m", "rnnlab.demo", "--out", str(out), "--quick"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("python -m rnnlab.demo: ") and len(done.stderr.strip().splitlines()) == 1
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
