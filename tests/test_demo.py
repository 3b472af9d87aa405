"""``make demo`` in its ``--quick`` form: every part runs, every picture and checkpoint is written,
and the checkpoints work with ``minigrad sample`` / ``minigrad translate``."""
import json
import shutil

import pytest

from zoo import cli, demo


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


def test_quick_demo_checkpoints_work_with_the_command(quick, capsys):
    out, numbers = quick
    assert cli.main(["sample", str(out / "charlm" / "checkpoint.npz"), "--prime", "def ", "--chars", "10"]) == 0
    assert capsys.readouterr().out.startswith("def ")
    assert "date translation exact match" in numbers and (out / "attention_heatmap.svg").is_file()
    assert cli.main(["translate", str(out / "seq2seq_dates" / "checkpoint.npz"), "3 March 1999"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
