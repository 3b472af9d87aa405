"""Seq2Seq and attention: the docstrings' equations in numpy, gradients against finite differences,
masking, padding, scheduled sampling, greedy and beam search, checkpoints, the command line, and a
tiny batch learned by heart. The long training runs are in test_seq2seq_slow.py."""
import argparse
import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad.io import CheckpointError
from rnnlab.recipes.seq2seq import add_train_arguments, add_translate_arguments, train_from_args, translate_from_args
from zoo.models.attention import (
    AdditiveAttention, MultiplicativeAttention, make_attention, masked_softmax,
)
from zoo.models.seq2seq import (
    AttentionMap, Seq2Seq, Seq2SeqConfig, Translator, attention_svg, attention_weights, length_penalty,
)
from zoo.tasks.seq2seq import reversal_task
from zoo.tasks.vocab import BOS, EOS, PAD

import rnn_reference as ref

ATTENTIONS = ("additive", "multiplicative", "dot", "none")


def tiny(cell="gru", attention="additive", bidirectional=None, num_layers=1, V=(7, 6), seed=0, **kw):
    """A float64 model small enough for finite differences."""
    if bidirectional is None:
        bidirectional = attention != "dot"
    config = Seq2SeqConfig(V[0], V[1], cell=cell, embed_size=3, hidden_size=4, num_layers=num_layers,
                           bidirectional=bidirectional, attention=attention, attention_size=3, **kw)
    return Seq2Seq(config, dtype=np.float64, generator=np.random.default_rng(seed))


def batch(seed=0, B=3, S=5, T=4, V=(7, 6)):
    """Random ids with padded sources (lengths S, S-2, 1) and targets (PAD after each end)."""
    rng = np.random.default_rng(seed)
    lengths = np.array([S, S - 2, 1][:B] + [S] * max(B - 3, 0))
    src = rng.integers(4, V[0], (B, S))
    src[np.arange(S) >= lengths[:, None]] = PAD
    tgt_in = rng.integers(3, V[1], (B, T))
    tgt_in[:, 0] = BOS
    targets = rng.integers(2, V[1], (B, T))
    targets[-1, T - 1:] = PAD
    return src, lengths, tgt_in, targets


# ------------------------------------------------------------------------------------------------
# attention


def np_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_masked_softmax_gives_padding_exactly_zero_weight_and_gradient():
    scores = mg.Tensor(np.array([[0.5, -1.0, 3.0, 1e30], [2.0, np.inf, np.nan, -np.inf], [1.0, 2.0, 3.0, 4.0]]),
                       requires_grad=True)
    mask = np.array([[True, True, True, False], [True, False, False, False], [False] * 4])
    with mg.detect_anomaly():
        w = masked_softmax(scores, mask)
        (w * mg.Tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
    np.testing.assert_allclose(w.data[0, :3], np_softmax(np.array([0.5, -1.0, 3.0])), rtol=1e-12)
    assert w.data[0, 3] == 0 and w.data[1].tolist() == [1, 0, 0, 0] and w.data[2].tolist() == [0] * 4
    assert np.all(scores.grad.data[~mask] == 0) and np.isfinite(scores.grad.data).all()
    assert abs(scores.grad.data[0, :3].sum()) < 1e-12  # softmax gradients sum to zero over a row


def test_masked_softmax_is_shift_invariant_and_checks_shapes():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(4, 6))
    mask = rng.random((4, 6)) < 0.6
    mask[:, 0] = True
    a = masked_softmax(mg.Tensor(s), mask).data
    b = masked_softmax(mg.Tensor(s + 700.0), mask).data  # exp(700) would overflow without the shift
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5\)"):
        masked_softmax(mg.Tensor(s), mask[:, :5])


@pytest.mark.parametrize("kind", ["additive", "multiplicative", "dot"])
def test_attention_scores_follow_the_docstring_equations(kind):
    rng = np.random.default_rng(2)
    B, S, Q = 3, 5, 4
    Kk = Q if kind == "dot" else 6
    att = make_attention(kind, Q, Kk, 3, dtype=np.float64, generator=rng)
    keys = rng.normal(size=(B, S, Kk))
    q = rng.normal(size=(B, Q))
    mask = np.arange(S) < np.array([5, 2, 3])[:, None]
    context, weights = att(mg.Tensor(q), att.prepare(mg.Tensor(keys), mask))
    for b in range(B):
        k = keys[b]
        if kind == "additive":
            Wq, Wk, bias, v = (att.query_proj.weight.data, att.key_proj.weight.data, att.key_proj.bias.data,
                               att.v.data)
            e = np.array([v @ np.tanh(Wq @ q[b] + Wk @ k[j] + bias) for j in range(S)])
        elif kind == "multiplicative":
            e = np.array([q[b] @ att.weight.data @ k[j] for j in range(S)])
        else:
            e = np.array([q[b] @ k[j] for j in range(S)])
        a = np.zeros(S)
        a[mask[b]] = np_softmax(e[mask[b]])
        np.testing.assert_allclose(weights.data[b], a, rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(context.data[b], a @ k, rtol=1e-10)


def test_attention_modules_reject_bad_sizes():
    with pytest.raises(ValueError, match="dot attention needs query and key of one size"):
        MultiplicativeAttention(4, 8, "dot")
    with pytest.raises(ValueError, match="scoring must be"):
        MultiplicativeAttention(4, 4, "cosine")
    with pytest.raises(ValueError, match="unknown attention 'luong'"):
        make_attention("luong", 4, 4)
    att = AdditiveAttention(4, 6, 3)
    with pytest.raises(ValueError, match=r"expected keys \(B, S, 6\)"):
        att.prepare(mg.zeros(2, 5, 4), np.ones((2, 5), bool))
    memory = att.prepare(mg.zeros(2, 5, 6), np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"expected a query of shape \(2, 4\)"):
        att(mg.zeros(2, 5), memory)


# ------------------------------------------------------------------------------------------------
# the model against its equations in numpy


def layer_params(P, prefix, l, reverse=False):
    suffix = f"_l{l}" + ("_reverse" if reverse else "")
    return {name: P[f"{prefix}.{name}{suffix}"] for name in ref.PARAMS}


def run_layer(kind, p, xs, h0, c0):
    """xs (T, D) through one layer from (h0, c0): (outputs (T, H), h_T, c_T or None)."""
    hs, cs, _ = ref.forward(kind, p, xs[:, None, :], h0[None], None if c0 is None else c0[None])
    return hs[:, 0], hs[-1, 0], None if cs is None else cs[-1, 0]


def numpy_logits(model, src, lengths, tgt_in):
    """The module docstring's equations, one sequence at a time at its real length (no padding)."""
    c = model.config
    P = {name: p.data for name, p in model.named_parameters()}
    kind = {"rnn": "rnn_tanh", "lstm": "lstm", "gru": "gru"}[c.cell]
    H, L, K = c.hidden_size, c.num_layers, 2 if c.bidirectional else 1
    lstm = c.cell == "lstm"
    B, T = tgt_in.shape
    out = np.zeros((B, T, c.tgt_vocab_size))
    attention = np.zeros((B, T, src.shape[1]))
    zero = np.zeros(H)
    for b in range(B):
        xs = P["src_embed.weight"][src[b, :lengths[b]]]
        finals = []                                                  # (h, c) per layer and direction
        for l in range(L):
            outs = []
            for k in range(K):
                seq = xs if k == 0 else xs[::-1]
                hs, h, cc = run_layer(kind, layer_params(P, "encoder", l, k == 1), seq, zero, zero if lstm else None)
                outs.append(hs if k == 0 else hs[::-1])
                finals.append((h, cc))
            xs = np.concatenate(outs, axis=1)
        keys = xs                                                    # k_j: top layer, both directions
        state = finals
        if K == 2:                                                   # the bridge
            state = []
            for l in range(L):
                (hf, cf), (hb, cb) = finals[2 * l], finals[2 * l + 1]
                h0 = np.tanh(P["bridge.weight"] @ np.r_[hf, hb] + P["bridge.bias"])
                c0 = P["bridge_c.weight"] @ np.r_[cf, cb] + P["bridge_c.bias"] if lstm else None
                state.append((h0, c0))
        feed = zero
        for t in range(T):
            x = P["tgt_embed.weight"][tgt_in[b, t]]
            if c.attention != "none":
                x = np.r_[x, feed]                                   # x_t = [E y_{t-1}; h~_{t-1}]
            for l in range(L):
                _, h, cc = run_layer(kind, layer_params(P, "decoder", l), x[None], *state[l])
                state[l] = (h, cc)
                x = h
            s = x                                                    # s_t
            if c.attention == "none":
                out[b, t] = P["out.weight"] @ s + P["out.bias"]
                continue
            if c.attention == "additive":
                e = np.tanh(P["attention.query_proj.weight"] @ s + keys @ P["attention.key_proj.weight"].T
                            + P["attention.key_proj.bias"]) @ P["attention.v"]
            elif c.attention == "multiplicative":
                e = keys @ P["attention.weight"].T @ s               # s^T W k_j
            else:
                e = keys @ s
            a = np_softmax(e)
            context = a @ keys                                       # c_t
            feed = np.tanh(P["combine.weight"] @ np.r_[context, s] + P["combine.bias"])  # h~_t
            out[b, t] = P["out.weight"] @ feed + P["out.bias"]
            attention[b, t, :lengths[b]] = a
    return out, attention


@pytest.mark.parametrize("cell,attention,bidirectional,num_layers", [
    ("gru", "additive", True, 1), ("lstm", "multiplicative", True, 2), ("rnn", "dot", False, 1),
    ("lstm", "none", False, 2), ("gru", "none", True, 1), ("rnn", "additive", False, 2),
])
def test_teacher_forced_logits_and_attention_follow_the_equations(cell, attention, bidirectional, num_layers):
    model = tiny(cell, attention, bidirectional, num_layers)
    src, lengths, tgt_in, _ = batch()
    decoded = model.teacher_force(src, lengths, tgt_in)
    logits, weights = numpy_logits(model, src, lengths, tgt_in)
    np.testing.assert_allclose(decoded.logits.data, logits, rtol=1e-9, atol=1e-12)
    if attention == "none":
        assert decoded.attention is None
    else:
        np.testing.assert_allclose(decoded.attention, weights, rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("cell,attention,bidirectional,num_layers", [
    ("gru", "additive", True, 1), ("gru", "multiplicative", True, 1), ("gru", "dot", False, 1),
    ("gru", "none", True, 1), ("lstm", "additive", True, 2), ("rnn", "multiplicative", False, 2),
    ("lstm", "dot", False, 1), ("rnn", "none", False, 1),
])
def test_gradcheck_whole_model(cell, attention, bidirectional, num_layers):
    model = tiny(cell, attention, bidirectional, num_layers, seed=3)
    src, lengths, tgt_in, targets = batch(seed=4, S=4, T=3)
    params = list(model.parameters())
    # two elements of every parameter, plus random directions through all of them at once
    assert mg.gradcheck(lambda *_: model(src, lengths, tgt_in, targets)[1], params, max_full=0, samples=2,
                        directions=8)


def test_padded_source_positions_get_no_gradient_and_no_attention():
    model = tiny("lstm", "additive")
    src, lengths, tgt_in, targets = batch()
    decoded = model.teacher_force(src, lengths, tgt_in)
    padding = np.arange(src.shape[1]) >= lengths[:, None]  # (B, S)
    assert np.all(np.where(padding[:, None, :], decoded.attention, 0.0) == 0)
    np.testing.assert_allclose(decoded.attention.sum(axis=-1), 1.0)
    model(src, lengths, tgt_in, targets)[1].backward()
    assert np.all(model.src_embed.weight.grad.data[PAD] == 0)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_padding_does_not_change_outputs(attention):
    """More padding, filled with arbitrary tokens, changes neither logits nor attention nor decoding."""
    model = tiny("gru", attention)
    src, lengths, tgt_in, _ = batch()
    longer = np.concatenate([src, np.random.default_rng(5).integers(0, 7, (len(src), 3))], axis=1)
    junk = longer.copy()
    junk[:, :src.shape[1]][np.arange(src.shape[1]) >= lengths[:, None]] = 5
    a = model.teacher_force(src, lengths, tgt_in)
    b = model.teacher_force(junk, lengths, tgt_in)
    np.testing.assert_allclose(b.logits.data, a.logits.data, rtol=1e-12, atol=1e-14)
    if attention != "none":
        np.testing.assert_allclose(b.attention[:, :, :src.shape[1]], a.attention, rtol=1e-12, atol=1e-15)
        assert np.all(b.attention[:, :, src.shape[1]:] == 0)
    model.eval()
    assert model.greedy(junk, lengths, 6).ids.tolist() == model.greedy(src, lengths, 6).ids.tolist()


def test_dropout_acts_in_training_only():
    model = tiny(dropout=0.5)
    src, lengths, tgt_in, _ = batch()
    a, b = (model.teacher_force(src, lengths, tgt_in).logits.data for _ in range(2))
    assert not np.allclose(a, b)
    model.eval()
    a, b = (model.teacher_force(src, lengths, tgt_in).logits.data for _ in range(2))
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------
# scheduled sampling


def test_teacher_forcing_ratio_one_feeds_the_truth_and_draws_nothing():
    model = tiny(teacher_forcing=1.0)
    src, lengths, tgt_in, _ = batch()
    gen = np.random.default_rng(0)
    a = model.teacher_force(src, lengths, tgt_in, generator=gen).logits.data
    assert gen.bit_generator.state == np.random.default_rng(0).bit_generator.state
    model.eval()
    np.testing.assert_array_equal(model.teacher_force(src, lengths, tgt_in, ratio=0.0).logits.data, a)


def test_teacher_forcing_ratio_zero_feeds_the_models_own_argmax():
    """With ratio 0 every input after BOS is the previous argmax: the greedy decoder's path."""
    model = tiny(teacher_forcing=0.0)
    src, lengths, tgt_in, _ = batch(T=5)
    decoded = model.teacher_force(src, lengths, tgt_in)
    fed = decoded.logits.data.argmax(axis=-1)
    greedy = model.greedy(src, lengths, 5)
    for b in range(len(src)):
        n = min(greedy.lengths[b], 5)
        assert fed[b, :n].tolist() == greedy.ids[b, :n].tolist()


def test_scheduled_sampling_mixes_per_sequence_and_step_and_repeats_with_a_seed():
    model = tiny(teacher_forcing=0.5)
    src, lengths, tgt_in, _ = batch(B=3, T=6)
    truth = model.teacher_force(src, lengths, tgt_in, ratio=1.0).logits.data
    own = model.teacher_force(src, lengths, tgt_in, ratio=0.0).logits.data
    runs = [model.teacher_force(src, lengths, tgt_in, generator=np.random.default_rng(s)).logits.data
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0], runs[1])
    mixed = runs[0]
    assert not np.allclose(mixed, truth) and not np.allclose(mixed, own)
    np.testing.assert_array_equal(mixed[:, 0], truth[:, 0])  # step 0 always reads BOS


# ------------------------------------------------------------------------------------------------
# decoding


def all_outputs(V, max_len):
    """Every output the decoder can produce within max_len tokens: ending in EOS, or cut at max_len."""
    tokens = range(V)
    for n in range(1, max_len + 1):
        for body in itertools.product([t for t in tokens if t != EOS], repeat=n - 1):
            yield list(body) + [EOS]
    yield from (list(s) for s in itertools.product([t for t in tokens if t != EOS], repeat=max_len))


def log_probs(model, src, lengths, outs):
    """log P(out | src) of each output in ``outs`` (lists of ids), by teacher forcing them in one batch."""
    T = max(len(o) for o in outs)
    tgt_in = np.full((len(outs), T), PAD)
    for i, out in enumerate(outs):
        tgt_in[i, :len(out)] = [BOS] + out[:-1]
    rows = np.zeros(len(outs), dtype=np.int64)
    logp = model.teacher_force(src[rows], lengths[rows], tgt_in).logits.log_softmax(axis=-1).data
    return np.array([sum(logp[i, t, y] for t, y in enumerate(out)) for i, out in enumerate(outs)])


@pytest.mark.parametrize("attention", ["additive", "none"])
def test_greedy_and_beam_report_the_models_log_probability(attention):
    model = tiny("lstm", attention, seed=6)
    model.eval()
    src, lengths, _, _ = batch()
    for hyp in (model.greedy(src, lengths, 5), model.beam_search(src, lengths, 3, max_len=5)):
        for b in range(len(src)):
            out = hyp.ids[b, :hyp.lengths[b]].tolist()
            assert (out[-1] == EOS) == (len(out) < 5 or EOS in out)
            np.testing.assert_allclose(hyp.log_probs[b], log_probs(model, src[b:b + 1], lengths[b:b + 1], [out]),
                                       rtol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_beam_width_one_is_greedy(seed):
    model = tiny("gru", "multiplicative", seed=seed)
    model.eval()
    src, lengths, _, _ = batch(seed=seed, B=3)
    g = model.greedy(src, lengths, 6)
    b = model.beam_search(src, lengths, 1, max_len=6, keep_greedy=False, alpha=0.0)
    np.testing.assert_array_equal(b.ids, g.ids)
    np.testing.assert_array_equal(b.lengths, g.lengths)
    np.testing.assert_array_equal(b.log_probs, g.log_probs)
    np.testing.assert_array_equal(b.attention, g.attention)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_beam_search_never_scores_below_greedy(seed, alpha):
    model = tiny("gru", "additive", seed=seed, V=(7, 9))
    model.eval()
    src, lengths, _, _ = batch(seed=seed, B=3, V=(7, 9))
    greedy = model.greedy(src, lengths, 6).scores(alpha)
    for width in (2, 3, 5):
        beam = model.beam_search(src, lengths, width, alpha=alpha, max_len=6)
        assert np.all(beam.scores(alpha) >= greedy - 1e-12)


def test_pruning_can_lose_the_greedy_path_which_keep_greedy_restores():
    """The reason for ``keep_greedy``: a plain beam of 2 sometimes ends below greedy decoding
    (about 1 source in 300 on random models)."""
    losses = 0
    for seed in range(10):
        model = Seq2Seq(Seq2SeqConfig(9, 9, hidden_size=8, embed_size=4), dtype=np.float64,
                        generator=np.random.default_rng(seed))
        model.eval()
        src = np.random.default_rng(seed).integers(4, 9, (20, 6))
        lengths = np.full(20, 6)
        greedy = model.greedy(src, lengths, 8).log_probs
        plain = model.beam_search(src, lengths, 2, alpha=0.0, max_len=8, keep_greedy=False).log_probs
        kept = model.beam_search(src, lengths, 2, alpha=0.0, max_len=8).log_probs
        losses += int(np.sum(plain < greedy - 1e-9))
        assert np.all(kept >= greedy) and np.all(kept >= plain)
    assert losses > 0


def test_a_beam_as_wide_as_the_search_space_finds_the_most_likely_output():
    """alpha = 0: when the best candidate ends, nothing still growing can catch up, so an
    exhaustive beam is exact. Checked against every possible output, enumerated."""
    V, max_len = 5, 3
    for seed in range(2):
        model = tiny("gru", "additive", seed=seed, V=(7, V))
        model.eval()
        src, lengths, _, _ = batch(seed=seed, B=1, V=(7, V))
        best = log_probs(model, src, lengths, list(all_outputs(V, max_len))).max()
        beam = model.beam_search(src, lengths, V ** max_len, alpha=0.0, max_len=max_len, keep_greedy=False)
        np.testing.assert_allclose(beam.log_probs[0], best, rtol=1e-12)


def test_length_penalty_is_gnmts():
    assert length_penalty(1, 0.0) == 1.0
    np.testing.assert_allclose(length_penalty([1, 7], 0.6), [1.0, 2.0 ** 0.6])


def test_decoding_rejects_bad_arguments():
    model = tiny()
    src, lengths, tgt_in, targets = batch()
    with pytest.raises(ValueError, match="beam must be a positive integer"):
        model.beam_search(src, lengths, 0)
    with pytest.raises(ValueError, match="max_len must be a positive integer"):
        model.greedy(src, lengths, 0)
    with pytest.raises(ValueError, match=r"src_lengths must lie in \[1, 5\]"):
        model.greedy(src, np.array([5, 0, 1]))
    with pytest.raises(ValueError, match="src_lengths must be 3 integers"):
        model.greedy(src, lengths[:2])
    with pytest.raises(ValueError, match="src must be a .B, T. array of integer token ids"):
        model(src.astype(float), lengths, tgt_in)
    with pytest.raises(ValueError, match="tgt_in has 2 rows but src has 3"):
        model(src, lengths, tgt_in[:2])
    with pytest.raises(ValueError, match=r"targets of shape \(3, 3\)"):
        model(src, lengths, tgt_in, targets[:, :3])


@pytest.mark.parametrize("field,value,message", [
    ("cell", "elman", "cell must be one of"), ("attention", "luong", "attention must be one of"),
    ("hidden_size", 0, "hidden_size must be a positive integer"), ("dropout", 1.0, "dropout must lie"),
    ("teacher_forcing", 1.5, "teacher_forcing must lie"),
])
def test_config_errors_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        Seq2SeqConfig(10, 10, **{field: value})
    with pytest.raises(ValueError, match="dot attention needs keys"):
        Seq2SeqConfig(10, 10, attention="dot", bidirectional=True)


# ------------------------------------------------------------------------------------------------
# training, checkpoints and the command line


def test_a_tiny_batch_is_learned_by_heart():
    task = reversal_task(length=(3, 6), n_train=8, n_test=4, seed=1)
    data = task.encode(task.train)
    mg.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), embed_size=8, hidden_size=16),
                    generator=np.random.default_rng(0))
    opt = mg.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(50):
        _, loss = model(data.src, data.src_lengths, data.tgt_in, data.tgt_out)
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert float(loss.data) < 0.05
    translator = Translator.from_task(model, task)
    assert translator([s for s, _ in task.train]) == [t for _, t in task.train]
    amap = attention_weights(model, task, task.train[0][0])
    assert amap.weights.shape == (len(amap.output), len(amap.source)) and amap.output[-1] == "<eos>"
    np.testing.assert_allclose(amap.weights.sum(axis=1), 1.0, rtol=1e-6)


def test_translator_round_trips_through_a_checkpoint(tmp_path):
    task = reversal_task(length=(3, 5), n_train=50, n_test=10)
    model = Seq2Seq(Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), cell="lstm", hidden_size=8,
                                  embed_size=4, attention="multiplicative"), generator=np.random.default_rng(0))
    translator = Translator.from_task(model, task)
    translator.save(tmp_path / "m.npz", note="test")
    again = Translator.load(tmp_path / "m.npz")
    sources = [s for s, _ in task.test]
    assert again(sources) == translator(sources) and again(sources, beam=3) == translator(sources, beam=3)
    assert again.model.config == model.config and again.max_len == task.max_target_length
    with pytest.raises(ValueError, match="sources must be non-empty strings"):
        again([""])


def test_svg_heatmap_is_well_formed():
    amap = AttentionMap(np.array([[0.25, 0.75], [1.0, 0.0]]), ["a", "<&"], ["x", "<eos>"])
    root = ET.fromstring(attention_svg(amap, title="a <&"))
    rects = [e for e in root.iter() if e.tag.endswith("rect")]
    assert len(rects) == 2 * 2 + 2
    assert "rgb(0,0,255)" in attention_svg(amap) and "rgb(255,255,255)" in attention_svg(amap)


def parse(add, argv):
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_train_and_translate_from_the_command_line(tmp_path, capsys):
    argv = ["--task", "reversal", "--length", "4", "--n-train", "200", "--steps", "3", "--hidden", "8", "--embed",
            "4", "--batch-size", "8", "--beam", "2", "--out", str(tmp_path), "--quiet", "--attention", "multiplicative"]
    metrics = train_from_args(parse(add_train_arguments, argv))
    assert metrics["steps"] == 3 and 0 <= metrics["exact_match"] <= 1 and "exact_match_beam2" in metrics
    folder = tmp_path / "seq2seq_reversal"
    assert (folder / "checkpoint.npz").exists() and (folder / "attention.svg").exists()
    assert "held-out exact match" in capsys.readouterr().out
    result = translate_from_args(parse(add_translate_arguments, [str(folder / "checkpoint.npz"), "1234", "9876",
                                                                 "--beam", "3", "--show-attention",
                                                                 "--out", str(tmp_path / "maps")]))
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == result["translations"] and len(result["attention_maps"]) == 2
    ET.parse(result["attention_maps"][0])
    resumed = train_from_args(parse(add_train_arguments, argv[:argv.index("--steps") + 1] + ["5"]
                                    + argv[argv.index("--steps") + 2:] + ["--resume"]))
    assert resumed["steps"] == 5


def test_learning_rate_decays_over_known_steps_and_stays_constant_under_a_time_budget(tmp_path):
    tiny_run = ["--task", "reversal", "--length", "3", "--n-train", "50", "--n-test", "10", "--hidden", "4",
                "--embed", "2", "--batch-size", "4", "--quiet"]
    for budget, schedule in ((["--steps", "2"], "cosine"), (["--minutes", "0.002"], "constant")):
        out = tmp_path / schedule
        train_from_args(parse(add_train_arguments, tiny_run + budget + ["--out", str(out)]))
        saved = mg.io.load(out / "seq2seq_reversal" / "checkpoint.npz")
        assert saved["extra"]["train_config"]["schedule"] == schedule


def test_command_line_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "not.npz"
    bad.write_bytes(b"nonsense")
    with pytest.raises(CheckpointError, match="not.npz"):
        translate_from_args(parse(add_translate_arguments, [str(bad), "x"]))
    with pytest.raises(ValueError, match="cannot read checkpoint .*missing.npz"):
        translate_from_args(parse(add_translate_arguments, [str(tmp_path / "missing.npz"), "x"]))
    other = tmp_path / "other.npz"
    mg.io.save_checkpoint(other, config={"kind": "charlm"})
    with pytest.raises(ValueError, match="not a seq2seq checkpoint"):
        translate_from_args(parse(add_translate_arguments, [str(other), "x"]))
    with pytest.raises(ValueError, match="--beam must be at least 1"):
        translate_from_args(parse(add_translate_arguments, [str(other), "x", "--beam", "0"]))
    with pytest.raises(ValueError, match="--max-digits does not apply to the dates task"):
        train_from_args(parse(add_train_arguments, ["--max-digits", "2", "--out", str(tmp_path)]))
    with pytest.raises(SystemExit):
        parse(add_train_arguments, ["--hidden", "0"])
