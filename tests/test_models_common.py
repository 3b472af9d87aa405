"""zoo.models.common: the layer by name, the final state, config checks that name the field, token
sampling."""
import dataclasses

import numpy as np
import pytest

import minigrad as mg
from zoo.layers import GRU, LSTM, RNN
from zoo.models import (
    CharLM, CharLMConfig, ClassifierConfig, ConditionedConfig, ForecasterConfig, HelloConfig, Seq2Seq,
    Seq2SeqConfig, TaggerConfig,
)
from zoo.models.common import check_sampling, final_state, load_model, recurrent_layer, sample_tokens


# building models -----------------------------------------------------------------------------------
def test_recurrent_layer_by_name_is_batch_first_and_biases_only_the_lstm_forget_gate():
    for name, cls in (("rnn", RNN), ("lstm", LSTM), ("gru", GRU)):
        layer = recurrent_layer(name, 3, 5, forget_bias=1.0)
        assert type(layer) is cls and layer.batch_first
    lstm = recurrent_layer("lstm", 3, 5, forget_bias=1.0)
    b = lstm.bias_ih_l0.data
    assert np.all(b[5:10] == 1.0) and np.all(lstm.bias_hh_l0.data[5:10] == 0.0)
    assert not np.all(b[:5] == 1.0)
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_layer("transformer", 3, 5)


def test_recurrent_layer_without_a_forget_bias_keeps_pytorchs_initialisation():
    a = recurrent_layer("lstm", 3, 5, forget_bias=None, generator=np.random.default_rng(0))
    b = LSTM(3, 5, generator=np.random.default_rng(0))
    for name, p in b.named_parameters():
        np.testing.assert_array_equal(getattr(a, name).data, p.data)


def test_models_pass_their_forget_bias_to_every_lstm_layer():
    lm = CharLM(CharLMConfig(5, cell="lstm", embed=3, hidden=4, layers=2, forget_bias=2.0))
    s2s = Seq2Seq(Seq2SeqConfig(6, 6, cell="lstm", embed_size=3, hidden_size=4, forget_bias=2.0))
    assert lm.rnn.num_layers == 2 and s2s.encoder.bidirectional  # every layer and direction
    for layer in (lm.rnn, s2s.encoder, s2s.decoder):
        biases = [p.data for name, p in layer.named_parameters() if name.startswith("bias_ih")]
        assert biases and all(np.all(b[4:8] == 2.0) for b in biases)


def test_final_state_is_the_top_layer_with_both_directions_forward_first():
    h = mg.Tensor(np.arange(4 * 2 * 3, dtype=np.float64).reshape(4, 2, 3))  # L=2, K=2
    np.testing.assert_array_equal(final_state(h).data, h.data[-1])
    np.testing.assert_array_equal(final_state((h, h * 0), bidirectional=True).data,
                                  np.concatenate([h.data[2], h.data[3]], axis=-1))


@pytest.mark.parametrize("make, message", [
    (lambda: CharLMConfig(10, embed=0), "CharLMConfig: embed must be a positive integer, got 0"),
    (lambda: ClassifierConfig(10, 2, cell="elman"), "ClassifierConfig: cell must be one of rnn, lstm, gru"),
    (lambda: TaggerConfig(10, 2, hidden_size=2.5), "TaggerConfig: hidden_size must be a positive integer"),
    (lambda: ClassifierConfig(10, 2, dropout=1.0), r"ClassifierConfig: dropout must lie in \[0, 1\)"),
    (lambda: ConditionedConfig(3, 10, condition="never"), "ConditionedConfig: condition must be one of init"),
    (lambda: ConditionedConfig(3, 10, max_length=0), "ConditionedConfig: max_length must be a positive"),
    (lambda: ForecasterConfig(num_layers=True), "ForecasterConfig: num_layers must be a positive integer"),
    (lambda: ForecasterConfig(mode="one_to_one"), "ForecasterConfig: mode must be one of many_to_one"),
    (lambda: HelloConfig(hidden=-1), "HelloConfig: hidden must be a positive integer"),
    (lambda: Seq2SeqConfig(10, 10, attention_size=0), "Seq2SeqConfig: attention_size must be a positive"),
    (lambda: Seq2SeqConfig(10, 10, dropout=-0.1), "Seq2SeqConfig: dropout must lie in"),
])
def test_every_model_config_names_the_bad_field(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_load_model_rebuilds_in_the_saved_dtype_and_names_the_file_when_weights_do_not_fit(tmp_path):
    mg.manual_seed(0)
    model = CharLM(CharLMConfig(5, embed=3, hidden=4)).double()
    config = {"kind": "charlm", "model": dataclasses.asdict(model.config)}
    mg.io.save_checkpoint(tmp_path / "ok.npz", model=model, config=config)
    loaded, saved = load_model(tmp_path / "ok.npz", "charlm", CharLMConfig, CharLM)
    assert saved == config and loaded.head.weight.dtype == np.float64
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert np.array_equal(a, b), name
    wrong = {**config, "model": {**config["model"], "hidden": 6}}
    mg.io.save_checkpoint(tmp_path / "wrong.npz", model=model, config=wrong)
    with pytest.raises(ValueError, match=r"(?s)wrong.npz.*rnn.weight_hh_l0"):
        load_model(tmp_path / "wrong.npz", "charlm", CharLMConfig, CharLM)
    with pytest.raises(ValueError, match="not a seq2seq checkpoint .it holds a charlm model.; train one with"):
        load_model(tmp_path / "ok.npz", "seq2seq", CharLMConfig, CharLM)


# generating ----------------------------------------------------------------------------------------
def test_sample_tokens_greedy_and_with_temperature():
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]))
    np.testing.assert_array_equal(sample_tokens(logits, 0, np.random.default_rng(0)), [2, 0])
    rng = np.random.default_rng(1)
    draws = np.stack([sample_tokens(logits, 1.0, rng) for _ in range(4000)])  # (N, 2)
    for row, p in enumerate(np.exp(logits)):
        np.testing.assert_allclose(np.bincount(draws[:, row], minlength=3) / len(draws), p, atol=0.03)
    # a high temperature flattens the distribution, a low one sharpens it
    hot = np.stack([sample_tokens(logits[:1], 100.0, rng) for _ in range(3000)])[:, 0]
    assert np.all(np.abs(np.bincount(hot, minlength=3) / len(hot) - 1 / 3) < 0.04)
    cold = np.stack([sample_tokens(logits[:1], 0.05, rng) for _ in range(200)])[:, 0]
    assert np.all(cold == 2)


def test_sample_tokens_top_k_keeps_only_the_likeliest():
    logits = np.array([[0.0, 3.0, 1.0, 2.0, -1.0]])
    rng = np.random.default_rng(0)
    seen = {int(sample_tokens(logits, 50.0, rng, top_k=2)[0]) for _ in range(300)}
    assert seen == {1, 3}
    assert {int(sample_tokens(logits, 50.0, rng, top_k=9)[0]) for _ in range(300)} == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("temperature, top_k, message", [(-0.5, None, "temperature"), (float("nan"), None,
                                                          "temperature"), (1.0, 0, "top_k"), (1.0, 1.5, "top_k")])
def test_check_sampling_names_the_bad_option(temperature, top_k, message):
    with pytest.raises(ValueError, match=message):
        check_sampling(temperature, top_k)
