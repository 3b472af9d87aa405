"""SequenceClassifier (many-to-one) and SequenceTagger (synced many-to-many): shapes, padding,
gradients, a tiny batch learned by heart, the command line and checkpoints."""
import argparse
import dataclasses
import json

import numpy as np
import pytest

import minigrad as mg
from rnnlab.recipes.classifier import (
    add_tagger_train_arguments, add_train_arguments, train_from_args, train_tagger_from_args,
)
from zoo.models.classifier import ClassifierConfig, SequenceClassifier, SequenceTagger, TaggerConfig, accuracy
from zoo.train import TrainConfig, Trainer

CELL_NAMES = ("rnn", "lstm", "gru")


def fit_tiny_batch(model, batch, steps, lr):
    """The zoo's trainer on one fixed batch, no clipping: a model that cannot learn it is broken."""
    config = TrainConfig(steps=steps, lr=lr, clip_norm=None, eval_every=0, log_every=0)
    return Trainer(model, lambda rng: batch, config=config, progress=False).fit()


def tiny(model_class, cell, bidirectional=False, layers=1, V=4, C=3, E=3, H=4, seed=0):
    mg.manual_seed(seed)
    config_class = ClassifierConfig if model_class is SequenceClassifier else TaggerConfig
    return model_class(config_class(vocab_size=V, num_classes=C, cell=cell, embed_dim=E, hidden_size=H,
                                    num_layers=layers, bidirectional=bidirectional))


def ids(B=3, T=5, V=4, seed=1):
    return np.random.default_rng(seed).integers(0, V, size=(B, T))


# shapes, padding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_and_losses(cell, bidirectional):
    x = ids()
    clf = tiny(SequenceClassifier, cell, bidirectional, layers=2)
    logits, loss = clf(x)
    assert logits.shape == (3, 3) and loss is None
    logits, loss = clf(x, np.array([0, 2, 1]))
    assert loss.shape == () and np.isfinite(loss.item())
    tag = tiny(SequenceTagger, cell, bidirectional, layers=2)
    logits, loss = tag(x, x % 3)
    assert logits.shape == (3, 5, 3) and loss.shape == ()
    assert clf.predict(x).shape == (3,) and tag.predict(x).shape == (3, 5)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_classifier_reads_each_sequence_at_its_own_last_real_step(cell, bidirectional):
    """A padded batch gives each sequence the logits it gets alone, whatever the padding holds."""
    clf = tiny(SequenceClassifier, cell, bidirectional)
    x = ids(B=3, T=6)
    lengths = np.array([6, 2, 4])
    padded, _ = clf(x, lengths=lengths)
    for b, n in enumerate(lengths):
        alone, _ = clf(x[b:b + 1, :n])
        np.testing.assert_allclose(padded.data[b], alone.data[0], rtol=1e-5, atol=1e-6)
    garbage = x.copy()
    garbage[1, 2:] = (garbage[1, 2:] + 1) % 4
    again, _ = clf(garbage, lengths=lengths)
    np.testing.assert_allclose(again.data, padded.data, rtol=1e-6)


def test_tagger_loss_counts_real_steps_only():
    tag = tiny(SequenceTagger, "gru")
    x, y = ids(B=2, T=5), ids(B=2, T=5, seed=3) % 3
    lengths = np.array([5, 3])
    logits, loss = tag(x, y, lengths=lengths)
    y2 = y.copy()
    y2[1, 3:] = (y2[1, 3:] + 1) % 3  # targets past the end must not matter
    _, loss2 = tag(x, y2, lengths=lengths)
    assert loss.item() == pytest.approx(loss2.item())
    logp = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    picked = [logp[b, t, y[b, t]] for b in range(2) for t in range(lengths[b])]
    assert loss.item() == pytest.approx(-np.mean(picked), rel=1e-5)


def test_bad_inputs_are_named():
    clf = tiny(SequenceClassifier, "rnn")
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 4\)"):
        clf(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="shape \\(B, T\\)"):
        clf(np.array([0, 1]))
    with pytest.raises(ValueError, match="integer dtype"):
        clf(np.zeros((2, 3)))


# gradients -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("model_class", [SequenceClassifier, SequenceTagger])
def test_gradcheck(model_class, cell):
    mg.set_default_dtype(np.float64)
    # the tagger reads both ways (the backward direction must also respect lengths)
    model = tiny(model_class, cell, bidirectional=model_class is SequenceTagger, V=3, C=2, E=2, H=3)
    x, lengths = ids(B=2, T=4, V=3), np.array([4, 2])
    y = np.array([1, 0]) if model_class is SequenceClassifier else ids(B=2, T=4, seed=5) % 2
    params = list(model.parameters())
    assert mg.gradcheck(lambda *ps: model(x, y, lengths=lengths)[1], params, atol=1e-6)


# learning --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_class", [SequenceClassifier, SequenceTagger])
def test_overfits_a_tiny_batch(model_class):
    mg.manual_seed(0)
    config_class = ClassifierConfig if model_class is SequenceClassifier else TaggerConfig
    model = model_class(config_class(vocab_size=4, num_classes=3, cell="lstm", embed_dim=8, hidden_size=16))
    x = ids(B=8, T=6)
    y = x.sum(axis=1) % 3 if model_class is SequenceClassifier else np.cumsum(x, axis=1) % 3
    history = fit_tiny_batch(model, (x, y), steps=150, lr=0.03)
    assert history.losses[-1] < 0.02
    assert accuracy(model, x, y) == 1.0


# command line and checkpoints ------------------------------------------------------------------------
def parse(add, argv):
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_train_from_args_writes_a_checkpoint_that_rebuilds_the_model(tmp_path, capsys):
    args = parse(add_train_arguments, ["--length", "6", "--n-train", "40", "--n-test", "20", "--steps", "6",
                                       "--hidden", "8", "--batch-size", "8", "--out", str(tmp_path), "--quiet"])
    result = train_from_args(args)
    assert result["steps"] == 6 and 0 <= result["test_accuracy"] <= 1
    out = tmp_path / "classifier_parity"
    assert json.loads((out / "results.json").read_text())["test_accuracy"] == result["test_accuracy"]
    assert "test accuracy" in capsys.readouterr().out
    ckpt = mg.load(out / "checkpoint.npz")
    model = SequenceClassifier(ClassifierConfig(**ckpt["config"]["model"]))
    model.load_state_dict(ckpt["model"])
    x = np.random.default_rng(0).integers(0, 2, size=(20, 6))
    assert model.config.hidden_size == 8 and model.predict(x).shape == (20,)

    # --resume continues the run; other settings are refused by name
    more = parse(add_train_arguments, ["--length", "6", "--n-train", "40", "--n-test", "20", "--steps", "9",
                                       "--hidden", "8", "--batch-size", "8", "--out", str(tmp_path), "--quiet",
                                       "--resume"])
    assert train_from_args(more)["steps"] == 9
    other = parse(add_train_arguments, ["--length", "6", "--n-train", "40", "--n-test", "20", "--steps", "12",
                                        "--hidden", "9", "--out", str(tmp_path), "--quiet", "--resume"])
    with pytest.raises(ValueError, match="model differ"):
        train_from_args(other)


def test_tagger_from_args(tmp_path):
    args = parse(add_tagger_train_arguments, ["--task", "char_class", "--length", "5", "--n-train", "30",
                                              "--n-test", "10", "--steps", "3", "--bidirectional",
                                              "--out", str(tmp_path), "--quiet"])
    result = train_tagger_from_args(args)
    assert set(result) >= {"test_accuracy", "test_sequence_accuracy", "train_seconds"}
    saved = mg.load(tmp_path / "tagger_char_class" / "checkpoint.npz")["config"]
    assert saved["model"] == dataclasses.asdict(TaggerConfig(**saved["model"])) and saved["model"]["bidirectional"]


@pytest.mark.slow
def test_lstm_learns_parity_of_16_bits(tmp_path):
    args = parse(add_train_arguments, ["--steps", "1500", "--quiet", "--out", str(tmp_path)])
    assert train_from_args(args)["test_accuracy"] > 0.98
