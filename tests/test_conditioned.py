"""ConditionedGenerator: the conditioning equations in numpy, every cell and condition, gradients
(features included), generation, a tiny batch learned by heart, and the command line."""
import argparse
import json

import numpy as np
import pytest

import minigrad as mg
from rnnlab.recipes.conditioned import add_train_arguments, train_from_args
from zoo.models.conditioned import CONDITIONS, ConditionedConfig, ConditionedGenerator
from zoo.tasks import BOS, EOS, PAD, number_spelling_task, number_to_words
from zoo.train import TrainConfig, Trainer

CELL_NAMES = ("rnn", "lstm", "gru")


def fit_tiny_batch(model, batch, steps, lr):
    """The zoo's trainer on one fixed batch, no clipping: a model that cannot learn it is broken."""
    config = TrainConfig(steps=steps, lr=lr, clip_norm=None, eval_every=0, log_every=0)
    return Trainer(model, lambda rng: batch, config=config, progress=False).fit()


def tiny(cell="rnn", condition="both", F=3, V=6, E=2, H=4, layers=1, seed=0, max_length=7):
    mg.manual_seed(seed)
    return ConditionedGenerator(ConditionedConfig(feature_size=F, vocab_size=V, cell=cell, condition=condition,
                                                  embed_dim=E, hidden_size=H, num_layers=layers,
                                                  max_length=max_length))


def data(B=2, T=4, F=3, V=6, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, F)), rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))


@pytest.mark.parametrize("condition", CONDITIONS)
def test_vanilla_cell_follows_the_docstring_equations(condition):
    """h_0 = tanh(W_init v + b_init) ("init"); h_t = tanh(W_xh x_t + W_hh h_{t-1} + W_ih v + b) ("input")."""
    mg.set_default_dtype(np.float64)
    model = tiny("rnn", condition)
    v, ids, _ = data()
    logits, loss = model(v, ids)
    assert loss is None
    E = model.config.embed_dim
    W = model.rnn.weight_ih_l0.data
    W_xh, W_ih = W[:, :E], W[:, E:]
    W_hh = model.rnn.weight_hh_l0.data
    b = model.rnn.bias_ih_l0.data + model.rnn.bias_hh_l0.data
    x = model.embedding.weight.data[ids]  # (B, T, E)
    h = np.zeros((2, 4))
    if condition in ("init", "both"):
        h = np.tanh(v @ model.to_h0.weight.data.T + model.to_h0.bias.data)
    if condition == "init":
        assert W.shape[1] == E  # v is not an input
    for t in range(ids.shape[1]):
        a = x[:, t] @ W_xh.T + h @ W_hh.T + b
        if condition in ("input", "both"):
            a = a + v @ W_ih.T
        h = np.tanh(a)
        expected = h @ model.head.weight.data.T + model.head.bias.data
        np.testing.assert_allclose(logits.data[:, t], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_gradcheck_every_cell_and_condition(cell, condition):
    mg.set_default_dtype(np.float64)
    model = tiny(cell, condition, H=3, layers=2 if condition == "init" else 1)
    v, ids, y = data()
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    vt = mg.Tensor(v, requires_grad=True)  # the feature vector receives its gradient too
    assert mg.gradcheck(lambda vt, *ps: model(vt, ids, y, mask)[1], [vt, *model.parameters()], atol=1e-6)


def test_the_loss_counts_masked_positions_only():
    model = tiny("gru")
    v, ids, y = data()
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    logits, loss = model(v, ids, y, mask)
    y2 = y.copy()
    y2[1, 2:] = (y2[1, 2:] + 1) % 6
    assert model(v, ids, y2, mask)[1].item() == pytest.approx(loss.item())
    logp = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    picked = [logp[b, t, y[b, t]] for b in range(2) for t in range(4) if mask[b, t]]
    assert loss.item() == pytest.approx(-np.mean(picked), rel=1e-5)


def test_features_change_the_output_only_through_the_conditioning():
    model = tiny("lstm", "both")
    v, ids, _ = data()
    a, _ = model(v, ids)
    b, _ = model(v + 1.0, ids)
    assert not np.allclose(a.data, b.data)
    with pytest.raises(ValueError, match=r"features of shape \(B, 3\)"):
        model(np.zeros((2, 4)), ids)
    with pytest.raises(ValueError, match="condition must be one of"):
        ConditionedConfig(feature_size=3, vocab_size=6, condition="everywhere")


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_greedy_generation_is_what_teacher_forcing_would_pick(cell):
    """Stepping one token at a time gives the same logits as the whole sequence at once."""
    model = tiny(cell, "both", H=6)
    v = data(B=5)[0]
    out = model.generate(v, max_length=6)
    assert out.shape[0] == 5 and out.shape[1] <= 6
    inputs = np.concatenate([np.full((5, 1), BOS), out[:, :-1]], axis=1)
    logits, _ = model(v, inputs)
    picked = logits.data.argmax(-1)
    for row, chosen in zip(out, picked):
        n = int(np.argmax(row == EOS)) + 1 if EOS in row else len(row)
        np.testing.assert_array_equal(row[:n], chosen[:n])
        assert np.all(row[n:] == PAD)


def test_sampling_is_reproducible_and_temperature_checked():
    model = tiny("gru", "both")
    v = data(B=6)[0]
    a = model.generate(v, temperature=1.5, generator=np.random.default_rng(3))
    b = model.generate(v, temperature=1.5, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.max() < 6 and a.min() >= 0
    with pytest.raises(ValueError, match="temperature"):
        model.generate(v, temperature=-1)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_learns_to_spell_a_tiny_batch(condition):
    task = number_spelling_task(max_number=99, seed=0)
    numbers = [7, 13, 21, 40, 58, 66, 85, 99]
    batch = task.encode(numbers)
    mg.manual_seed(0)
    model = ConditionedGenerator(ConditionedConfig(feature_size=task.feature_size, vocab_size=len(task.vocab),
                                                   cell="gru", condition=condition, embed_dim=8, hidden_size=24))
    history = fit_tiny_batch(model, (batch.features, batch.tgt_in, batch.tgt_out, batch.tgt_mask), steps=120,
                             lr=0.03)
    assert history.losses[-1] < 0.02
    model.eval()
    assert task.vocab.decode_batch(model.generate(batch.features)) == [number_to_words(n) for n in numbers]


def test_train_from_args(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--max-number", "50", "--steps", "4", "--hidden", "8", "--embed", "4",
                              "--cell", "lstm", "--out", str(tmp_path), "--quiet"])
    result = train_from_args(args)
    assert 0 <= result["test_exact_match"] <= 1 and result["steps"] == 4
    out = tmp_path / "conditioned_word"
    assert json.loads((out / "results.json").read_text())["cell"] == "lstm"
    assert "held-out numbers" in capsys.readouterr().out
    saved = mg.load(out / "checkpoint.npz")
    model = ConditionedGenerator(ConditionedConfig(**saved["config"]["model"]))
    model.load_state_dict(saved["model"])
    assert saved["config"]["vocab"]["level"] == "word"
    with pytest.raises(ValueError, match="test-fraction"):
        train_from_args(parser.parse_args(["--test-fraction", "1.5", "--out", str(tmp_path)]))


@pytest.mark.slow
def test_spells_held_out_numbers(tmp_path):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    result = train_from_args(parser.parse_args(["--out", str(tmp_path), "--quiet"]))
    assert result["test_exact_match"] > 0.95
