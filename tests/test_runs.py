"""rnnlab.runs: a new run never replaces another, a resumed one must be the same run, and what
differs is said by flag."""
import argparse

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from rnnlab.runs import check_resume, differences, fit, run_dir, run_numbers
from zoo.train import CHECKPOINT, History, TrainConfig


def test_run_numbers():
    h = History(losses=[float(i) for i in range(30)], step=30, elapsed=1.234)
    assert run_numbers(h) == {"steps": 30, "train_seconds": 1.23, "final_loss": np.mean(range(10, 30))}
    assert run_numbers(History())["final_loss"] is None


def flags(out, resume=False, overwrite=False):
    return argparse.Namespace(out=str(out), resume=resume, overwrite=overwrite)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x, y):
        return None, ((self.lin(x) - y) ** 2).mean()


def trained(out, steps=3, run_config=None):
    """A finished run of ``steps`` steps in ``out``."""
    mg.manual_seed(0)
    batch = (mg.ones(4, 2), mg.zeros(4, 1))
    fit(Tiny(), lambda rng: batch, config=TrainConfig(steps=steps, eval_every=0), out=out, progress=False,
        run_config=run_config or {"kind": "tiny", "model": {"hidden_size": 8}})
    return out / CHECKPOINT


def test_a_new_run_refuses_a_folder_holding_a_checkpoint_and_names_the_ways_out(tmp_path):
    ckpt = trained(tmp_path / "tiny", steps=3)
    before = ckpt.read_bytes()
    with pytest.raises(ValueError) as e:
        run_dir(flags(tmp_path), "tiny")
    message = str(e.value)
    assert f"'{tmp_path / 'tiny'}' already holds a checkpoint at step 3" in message
    assert all(way in message for way in ("--resume", "--out", "--overwrite")) and "\n" not in message
    assert ckpt.read_bytes() == before
    assert run_dir(flags(tmp_path, overwrite=True), "tiny") == tmp_path / "tiny"
    assert run_dir(flags(tmp_path, resume=True), "tiny") == tmp_path / "tiny"


def test_resume_without_a_checkpoint_creates_nothing(tmp_path):
    with pytest.raises(ValueError, match="--resume: there is no checkpoint at"):
        run_dir(flags(tmp_path / "out", resume=True), "tiny")
    assert list(tmp_path.iterdir()) == []
    assert run_dir(flags(tmp_path / "out"), "tiny") == tmp_path / "out" / "tiny"  # checked, not created
    assert list(tmp_path.iterdir()) == []


def test_steps_zero_says_what_it_did(tmp_path, capsys):
    ckpt = trained(tmp_path / "tiny", steps=0)
    assert "took no training step (--steps 0)" in capsys.readouterr().out
    assert mg.load(ckpt)["step"] == 0


def test_differences_name_the_flag_and_both_values():
    saved = {"kind": "x", "model": {"hidden_size": 8, "cell": "lstm", "vocab_size": 5}, "task": {"name": "parity"}}
    now = {"kind": "x", "model": {"hidden_size": 9, "cell": "gru", "vocab_size": 5}, "task": {"name": "majority"}}
    assert differences(saved, now) == ['--hidden: 8 in the checkpoint, 9 now', '--cell: "lstm" in the checkpoint, '
                                       '"gru" now', '--task: "parity" in the checkpoint, "majority" now']
    assert differences(saved, saved) == []


def test_a_vocabulary_difference_names_the_characters_even_at_equal_sizes():
    old = {"vocab": {"kind": "char", "chars": list("abcx"), "unk": None}}
    new = {"vocab": {"kind": "char", "chars": list("abcy"), "unk": None}}
    (text,) = differences(old, new)
    assert text == "vocabulary: 1 characters only in the checkpoint's ('x'), 1 only in the new data's ('y')"
    shuffled = {"vocab": {"kind": "char", "chars": list("bacx"), "unk": None}}
    assert differences(old, shuffled) == ["vocabulary: the same 4 characters in another order"]


def test_resume_refuses_other_settings_and_steps_behind_the_checkpoint(tmp_path, capsys):
    ckpt = trained(tmp_path, steps=3)
    with pytest.raises(ValueError, match=r"\(model differ: --hidden: 8 in the checkpoint, 16 now\)"):
        check_resume(ckpt, {"kind": "tiny", "model": {"hidden_size": 16}}, TrainConfig(steps=5))
    with pytest.raises(ValueError, match="is at step 3, past --steps 2; .* pass more than 3"):
        check_resume(ckpt, {"kind": "tiny", "model": {"hidden_size": 8}}, TrainConfig(steps=2))
    check_resume(ckpt, {"kind": "tiny", "model": {"hidden_size": 8}}, TrainConfig(steps=3))
    assert "nothing to train" in capsys.readouterr().out


def test_a_step_zero_checkpoint_continues_as_a_new_run_from_its_weights(tmp_path, capsys):
    ckpt = trained(tmp_path, steps=0)  # constant schedule: no scheduler state saved
    saved = mg.load(ckpt)["model"]
    batch = (mg.ones(4, 2), mg.zeros(4, 1))
    mg.manual_seed(1)  # another initialisation: the checkpoint's weights must win
    model = Tiny()
    history = fit(model, lambda rng: batch, config=TrainConfig(steps=3, schedule="cosine", eval_every=0), out=tmp_path,
                  resume=True, progress=False, run_config={"kind": "tiny", "model": {"hidden_size": 8}})
    assert history.step == 3 and mg.load(ckpt)["step"] == 3
    fresh = Tiny()
    fresh.load_state_dict(saved)
    assert not np.allclose(model.lin.weight.data, fresh.lin.weight.data)  # it trained from there ...
    mg.manual_seed(0)
    again = fit(Tiny(), lambda rng: batch, config=TrainConfig(steps=3, schedule="cosine", eval_every=0),
                out=tmp_path / "again", progress=False, run_config={"kind": "tiny", "model": {"hidden_size": 8}})
    np.testing.assert_array_equal(again.losses, history.losses)  # ... exactly as a new run would
