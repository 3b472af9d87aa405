"""The ``minigrad`` command: --help everywhere, one clear line (exit 2) for bad input, and the
charlm / hello round trips (train, resume, sample from the checkpoint alone)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo import cli

TEXT = "abc abd abe " * 60
TINY = ["--hidden", "16", "--embed", "8", "--batch", "4", "--seq", "12", "--quiet", "--sample-chars", "20"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("argv", [[], ["train"], ["sample"], ["translate"], ["experiment"],
                                  *[["train", model] for model in cli.TRAIN_MODELS]])
def test_help_everywhere(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    out, _ = capsys.readouterr()
    assert exc.value.code == 0 and out.startswith("usage: minigrad")


def test_help_lists_the_commands_and_models(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "sample", "translate", "experiment", "render"))
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in cli.TRAIN_MODELS)


def test_no_command_prints_help_and_fails(capsys):
    code, _, err = run(capsys)
    assert code == 2 and "usage: minigrad" in err


@pytest.mark.parametrize("argv, fragments", [
    (["train"], ["choose a model", "charlm"]),
    (["train", "bogus"], ["invalid choice: 'bogus'"]),
    (["train", "charlm", "--hidden", "many"], ["--hidden", "invalid int value"]),
    (["train", "charlm", "--cell", "tcn"], ["--cell", "invalid choice"]),
    (["train", "charlm", "--hidden", "0", "--steps", "1"], ["--hidden must be a positive integer"]),
    (["train", "charlm", "--data", "/no/such/file.txt"], ["cannot read data file '/no/such/file.txt'"]),
    (["train", "charlm", "--minutes", "-1"], ["--minutes must be positive"]),
    (["sample", "/no/such/checkpoint.npz"], ["/no/such/checkpoint.npz"]),
    (["frobnicate"], ["invalid choice: 'frobnicate'"]),
])
def test_bad_input_is_one_line(capsys, argv, fragments):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)


def test_files_that_are_not_what_they_should_be(capsys, tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"ab\xff\xfecd")
    code, _, err = run(capsys, "train", "charlm", "--data", str(binary))
    assert_one_line_error(code, err, "not UTF-8", "binary.txt")
    code, _, err = run(capsys, "sample", str(binary))
    assert_one_line_error(code, err, "binary.txt")


def test_a_missing_model_module_is_named(capsys, monkeypatch):
    monkeypatch.setitem(cli.TRAIN_MODELS, "ghost", ("zoo.models.ghost", "add_train_arguments",
                                                    "train_from_args", "not written yet"))
    code, _, err = run(capsys, "train", "ghost")
    assert_one_line_error(code, err, "minigrad train ghost", "zoo.models.ghost is not available")


def test_train_charlm_resume_and_sample(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "6",
                            "--eval-every", "3", "--out", str(out), *TINY)
    assert code == 0, err
    assert "bits/char after 6 steps" in stdout
    ckpt = out / "charlm" / "checkpoint.npz"
    records = [json.loads(s) for s in (out / "charlm" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [3, 6]

    code, stdout, err = run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "9", "--resume",
                            "--eval-every", "3", "--out", str(out), *TINY)
    assert code == 0, err
    assert "after 9 steps" in stdout
    records = [json.loads(s) for s in (out / "charlm" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "eval"] == [3, 6, 9]

    samples = []
    for _ in range(2):
        code, stdout, err = run(capsys, "sample", str(ckpt), "--prime", "ab", "--chars", "15",
                                "--temperature", "0.8", "--seed", "4")
        assert code == 0, err
        samples.append(stdout)
    assert samples[0] == samples[1] and samples[0].startswith("ab") and len(samples[0].rstrip("\n")) == 17
    code, greedy, _ = run(capsys, "sample", str(ckpt), "--greedy", "--chars", "5", "--top-k", "3")
    assert code == 0 and len(greedy.rstrip("\n")) == 5


def test_resume_needs_the_same_data(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    assert run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "2", "--out", str(out), *TINY)[0] == 0
    other = tmp_path / "other.txt"
    other.write_text("xyz " * 100, encoding="utf-8")
    code, _, err = run(capsys, "train", "charlm", "--data", str(other), "--steps", "4", "--resume", "--out",
                       str(out), *TINY)
    assert_one_line_error(code, err, "vocabulary")
    code, _, err = run(capsys, "train", "charlm", "--data", str(text_file), "--resume", "--out",
                       str(tmp_path / "empty"), *TINY)
    assert_one_line_error(code, err, "no checkpoint")


def test_sample_rejects_another_models_checkpoint(capsys, tmp_path):
    code, _, err = run(capsys, "train", "hello", "--steps", "2", "--quiet", "--out", str(tmp_path))
    assert code == 0, err
    code, _, err = run(capsys, "sample", str(tmp_path / "hello" / "checkpoint.npz"))
    assert_one_line_error(code, err, "not a charlm checkpoint", "hello model")


def test_train_hello_learns(capsys, tmp_path):
    code, out, err = run(capsys, "train", "hello", "--quiet", "--out", str(tmp_path))
    assert code == 0, err
    assert "'h' -> 'hello'" in out.splitlines()[-1]


def test_render_delegates_to_viz(capsys):
    code, out, _ = run(capsys, "render", "--list")
    assert code == 0 and "lstm" in out


def test_ctrl_c_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("zoo.models.hello.train_from_args", interrupted)
    code, _, err = run(capsys, "train", "hello")
    assert code == 130 and err.strip() == "minigrad: interrupted"


def test_console_script_gives_one_line_and_status_2(tmp_path):
    script = Path(sys.executable).with_name("minigrad")
    if not script.exists():
        pytest.skip("the console script is not installed in this environment")
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_TRACEBACK"}
    done = subprocess.run([str(script), "train", "charlm", "--data", str(tmp_path / "missing.txt")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"minigrad: cannot read data file '{tmp_path / 'missing.txt'}': No such file or directory"]
