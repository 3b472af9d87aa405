"""The ``minigrad`` command: --help everywhere, one clear line (exit 2) for bad input, the
charlm / hello round trips (train, resume, sample from the checkpoint alone) and the export of a
checkpoint's weights to .safetensors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from rnnlab import cli

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


@pytest.mark.parametrize("argv", [[], ["train"], ["sample"], ["translate"], ["experiment"], ["export"],
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
    assert all(name in out for name in ("train", "sample", "translate", "experiment", "export", "render"))
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
    monkeypatch.setitem(cli.TRAIN_MODELS, "ghost", ("rnnlab.recipes.ghost", "add_train_arguments",
                                                    "train_from_args", "not written yet"))
    code, _, err = run(capsys, "train", "ghost")
    assert_one_line_error(code, err, "minigrad train ghost", "rnnlab.recipes.ghost is not available")


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

    monkeypatch.setattr("rnnlab.recipes.hello.train_from_args", interrupted)
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


# a new run never destroys another (issue 12) ---------------------------------------------------------
def listing(folder):
    """Every file under ``folder`` with its bytes: proof that nothing was written."""
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def test_a_new_run_refuses_to_replace_a_checkpoint_and_overwrite_replaces_it(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    argv = ["train", "charlm", "--data", str(text_file), "--out", str(out), *TINY]
    assert run(capsys, *argv, "--steps", "3")[0] == 0
    before = listing(out)
    code, stdout, err = run(capsys, *argv, "--steps", "0")
    assert_one_line_error(code, err, f"'{out / 'charlm'}' already holds a checkpoint at step 3", "--resume",
                          "--out", "--overwrite")
    assert stdout == "" and listing(out) == before
    code, stdout, err = run(capsys, *argv, "--steps", "0", "--overwrite")
    assert code == 0, err
    assert "took no training step (--steps 0)" in stdout and "after 0 steps" in stdout
    import minigrad as mg
    assert mg.load(out / "charlm" / "checkpoint.npz")["step"] == 0


def test_resume_and_overwrite_together_are_refused(capsys, tmp_path):
    code, _, err = run(capsys, "train", "hello", "--resume", "--overwrite", "--out", str(tmp_path))
    assert_one_line_error(code, err, "--overwrite: not allowed with argument --resume")
    assert list(tmp_path.iterdir()) == []


# every flag is checked before any work (issue 16) ----------------------------------------------------
@pytest.mark.parametrize("argv, fragment", [
    (["train", "charlm", "--steps", "100", "--sample-chars", "-5"], "--sample-chars must be >= 0, got -5"),
    (["train", "charlm", "--steps", "-2"], "--steps must be >= 0"),
    (["train", "charlm", "--forget-bias", "nan"], "--forget-bias must be a finite number, got nan"),
    (["train", "charlm", "--lr", "inf"], "--lr must be a positive finite number, got inf"),
    (["train", "charlm", "--prime", "\u00e9"], "--prime: 1 character not in the model's vocabulary"),
    (["train", "hello", "--lr", "nan"], "--lr must be a positive finite number, got nan"),
    (["train", "classifier", "--hidden", "0"], "argument --hidden: expected a positive integer, got 0"),
    (["train", "seq2seq", "--dropout", "1.5"], "--dropout must be in [0, 1), got 1.5"),
    (["train", "forecaster", "--noise", "-1"], "--noise must be >= 0 and finite, got -1.0"),
    (["train", "conditioned", "--temperature", "-1"], "--temperature must be >= 0"),
    (["experiment", "adding", "--lr", "inf"], "--lr must be a positive finite number, got inf"),
])
def test_bad_flags_fail_before_any_work_and_write_nothing(capsys, tmp_path, text_file, argv, fragment):
    data = ["--data", str(text_file)] if argv[1:2] == ["charlm"] else []
    code, stdout, err = run(capsys, *argv, *data, "--out", str(tmp_path / "out"), "--quiet")
    assert_one_line_error(code, err, fragment)
    assert stdout == "" and not (tmp_path / "out").exists()
    assert "Warning" not in err


# --resume problems (issue 16) ------------------------------------------------------------------------
def test_resume_says_how_the_vocabulary_differs(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    assert run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "2", "--out", str(out), *TINY)[0] == 0
    same_size = tmp_path / "same_size.txt"
    same_size.write_text(TEXT.replace("e", "z"), encoding="utf-8")  # as many characters, one of them other
    before = listing(out)
    code, stdout, err = run(capsys, "train", "charlm", "--data", str(same_size), "--steps", "4", "--resume",
                            "--out", str(out), *TINY)
    assert_one_line_error(code, err, "vocabulary: 1 characters only in the checkpoint's ('e'), "
                                     "1 only in the new data's ('z')")
    assert stdout == "" and listing(out) == before


def test_resume_refuses_changed_model_flags_listing_them(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    assert run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "2", "--out", str(out), *TINY)[0] == 0
    changed = [a if a != "16" else "24" for a in TINY] + ["--cell", "gru"]
    before = listing(out)
    code, stdout, err = run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "4", "--resume",
                            "--out", str(out), *changed)
    assert_one_line_error(code, err, "model differ", '--cell: "lstm" in the checkpoint, "gru" now',
                          "--hidden: 16 in the checkpoint, 24 now")
    assert stdout == "" and listing(out) == before


def test_resume_with_steps_below_the_checkpoint_says_so(capsys, tmp_path):
    assert run(capsys, "train", "hello", "--steps", "5", "--quiet", "--out", str(tmp_path))[0] == 0
    before = listing(tmp_path)
    code, stdout, err = run(capsys, "train", "hello", "--steps", "3", "--resume", "--quiet", "--out", str(tmp_path))
    assert_one_line_error(code, err, "is at step 5, past --steps 3", "pass more than 5")
    assert stdout == "" and listing(tmp_path) == before
    code, stdout, err = run(capsys, "train", "hello", "--steps", "5", "--resume", "--quiet", "--out", str(tmp_path))
    assert code == 0, err
    assert "nothing to train" in stdout


def test_resume_without_a_checkpoint_leaves_no_folder(capsys, tmp_path):
    code, _, err = run(capsys, "train", "hello", "--resume", "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, "--resume: there is no checkpoint at")
    assert not (tmp_path / "out").exists()


# sample and translate refuse what the model cannot read (issue 16) -----------------------------------
def test_sample_names_the_unknown_characters_of_the_prime(capsys, tmp_path, text_file):
    out = tmp_path / "out"
    assert run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "1", "--out", str(out), *TINY)[0] == 0
    code, stdout, err = run(capsys, "sample", str(out / "charlm" / "checkpoint.npz"), "--prime", "abq€")
    assert_one_line_error(code, err, "--prime: 2 characters not in the model's vocabulary", "'q'", "'€'")
    assert stdout == ""
    code, _, err = run(capsys, "sample", str(out / "charlm" / "checkpoint.npz"), "--chars", "-1")
    assert_one_line_error(code, err, "--chars must be >= 0")


@pytest.fixture(scope="module")
def dates_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("dates")
    code = cli.main(["train", "seq2seq", "--task", "dates", "--n-train", "60", "--n-test", "10", "--steps", "1",
                     "--hidden", "4", "--embed", "2", "--batch-size", "4", "--quiet", "--out", str(out)])
    assert code == 0
    return out / "seq2seq_dates" / "checkpoint.npz"


@pytest.mark.parametrize("text, fragments", [
    ("31 Feb 2020", ["'31 Feb 2020'", "not a date the model was trained on"]),
    ("Monday 22 November 2026", ["not a date the model was trained on"]),  # it was a Sunday
    ("3 March 1999 \u00e0 midi", ["characters not in the model's source vocabulary", "'\u00e0'"]),
])
def test_translate_says_when_the_input_is_not_what_it_was_trained_on(capsys, dates_checkpoint, text, fragments):
    code, stdout, err = run(capsys, "translate", str(dates_checkpoint), "3 March 1999", text)
    assert_one_line_error(code, err, "cannot translate", *fragments)
    assert stdout == ""


def test_translate_reads_every_written_form_of_a_real_date(capsys, dates_checkpoint):
    code, stdout, err = run(capsys, "translate", str(dates_checkpoint), "29 Feb 2020", "Sunday 22 November 2026",
                            "22/11/26")
    assert code == 0, err
    assert len(stdout.splitlines()) == 3


# render: one line and exit 2 for bad input, usage names minigrad render (issue 16) -------------------
@pytest.mark.parametrize("argv, fragments", [
    (["lstm", "-o", "x.foo"], ["minigrad render: cannot write lstm as", "x.foo", ".svg"]),
    (["anim", "-o", "r.svg"], ["minigrad render: cannot write anim as", "r.svg", ".html"]),
    (["flow", "--cell", "foo"], ["minigrad render: argument --cell: invalid choice: 'foo'"]),
    (["lstm", "--steps", "0"], ["minigrad render: argument --steps: expected a positive integer, got 0"]),
    (["lstm", "--steps", "-2"], ["argument --steps: expected a positive integer, got -2"]),
    (["lstm", "--hidden", "0"], ["argument --hidden: expected a positive integer, got 0"]),
    (["lstm", "--seed", "-1"], ["--seed must be >= 0"]),
    (["nope"], ["minigrad render: unknown example 'nope'"]),
])
def test_render_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run(capsys, "render", *argv)
    assert_one_line_error(code, err, *fragments)
    assert stdout == "" and list(tmp_path.iterdir()) == []


def test_render_help_names_minigrad_render(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["render", "--help"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("usage: minigrad render")


def test_export_writes_the_weights_pytorch_loads(capsys, tmp_path, text_file):
    pytest.importorskip("safetensors")
    from minigrad.weights import load_safetensors, safetensors_metadata
    from zoo.models.charlm import load_charlm

    out = tmp_path / "out"
    assert run(capsys, "train", "charlm", "--data", str(text_file), "--steps", "2", "--out", str(out), *TINY)[0] == 0
    ckpt = out / "charlm" / "checkpoint.npz"
    weights = tmp_path / "charlm.safetensors"
    code, stdout, err = run(capsys, "export", str(ckpt), str(weights))
    assert code == 0, err
    model, _, _ = load_charlm(ckpt)
    state = model.state_dict()
    assert stdout.strip() == f"wrote {weights}: {len(state)} tensors from {ckpt} (step 2)"
    saved = load_safetensors(weights)
    assert sorted(saved) == sorted(state) and all((saved[k] == v).all() for k, v in state.items())
    assert safetensors_metadata(weights)["minigrad.step"] == "2"
    # the file is not replaced unless asked
    code, _, err = run(capsys, "export", str(ckpt), str(weights))
    assert_one_line_error(code, err, "exists", "--overwrite")
    assert run(capsys, "export", str(ckpt), str(weights), "--overwrite")[0] == 0

    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    import zoo
    theirs = zoo.to_torch(model)
    theirs.load_state_dict(load_file(weights))  # strict, no renaming
    x = np.array([[0, 1, 2, 1]])
    with mg.no_grad():
        ours = model.eval()(x)[0].data
    np.testing.assert_allclose(theirs.eval()(torch.tensor(x))[0].detach().numpy(), ours, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, out, fragments", [
    (lambda d: d / "ckpt.npz", "w.pt", ["OUT must name a .safetensors file", "w.pt"]),
    (lambda d: d / "missing.npz", "w.safetensors", ["no checkpoint file", "missing.npz"]),
    (lambda d: _write(d / "text.npz", b"not a checkpoint"), "w.safetensors", ["cannot load", "text.npz"]),
    (lambda d: _saved(d / "lr.npz", {"lr": 0.1}), "w.safetensors", ["neither a training checkpoint nor a state dict"]),
])
def test_export_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, make, out, fragments):
    ckpt = make(tmp_path)  # each is refused before safetensors is needed
    code, _, err = run(capsys, "export", str(ckpt), str(tmp_path / out))
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / out).exists()


def test_export_without_safetensors_says_how_to_get_it(capsys, tmp_path, monkeypatch):
    from minigrad import weights

    def missing():
        raise ImportError("minigrad.weights needs the 'safetensors' package: pip install 'minigrad[interop]'")

    monkeypatch.setattr(weights, "_safetensors", missing)
    ckpt = _saved(tmp_path / "state.npz", {"w": np.ones(2)})
    code, _, err = run(capsys, "export", str(ckpt), str(tmp_path / "w.safetensors"))
    assert_one_line_error(code, err, "minigrad export:", "pip install 'minigrad[interop]'")


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _saved(path, obj):
    mg.save(obj, path)
    return path
