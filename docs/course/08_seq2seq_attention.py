# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 8: one-to-many, many-to-one, sequence to sequence, attention and beam search
#
# Recurrent networks take and give sequences in several arrangements (the lecture's figure):
#
# | pattern | input → output | example |
# |---|---|---|
# | one-to-one | vector → vector | no recurrence: a plain network |
# | one-to-many | vector → sequence | image captioning: an image's features → a sentence |
# | many-to-one | sequence → vector | sentiment: a review → positive or negative |
# | many-to-many | sequence → sequence of another length | translation |
# | synced many-to-many | sequence → one output per step | labelling every video frame, tagging words |
#
# Even fixed-size data can be *processed* sequentially (a network that reads an image in
# glimpses, or draws one stroke by stroke). The zoo has a model for each recurrent pattern, all
# with the contract `forward(inputs..., targets=None) -> (output, loss)`.

# %%
import time
import warnings

import numpy as np
from IPython.display import SVG, Markdown

import minigrad as mg
import viz

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook bars; ours are off
from rnnlab.recipes.seq2seq import train_task  # noqa: E402
from zoo.models import (ClassifierConfig, ConditionedConfig, ConditionedGenerator, Seq2Seq,  # noqa: E402
                        Seq2SeqConfig, SequenceClassifier, SequenceTagger, TaggerConfig, Translator)
from zoo.models.seq2seq import attention_svg, length_penalty  # noqa: E402
from zoo.tasks import number_spelling_task, number_to_words  # noqa: E402
from zoo.train import TrainConfig, Trainer  # noqa: E402

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## The shapes of the patterns

# %%
B, T, V = 4, 7, 20
ids = np.random.default_rng(0).integers(3, V, size=(B, T))
mg.manual_seed(0)

many_to_one, _ = SequenceClassifier(ClassifierConfig(vocab_size=V, num_classes=2))(ids)
synced, _ = SequenceTagger(TaggerConfig(vocab_size=V, num_classes=5))(ids)
one_to_many, _ = ConditionedGenerator(ConditionedConfig(feature_size=10, vocab_size=V))(np.ones((B, 10)), ids)
seq2seq = Seq2Seq(Seq2SeqConfig(src_vocab_size=V, tgt_vocab_size=V))
many_to_many, _ = seq2seq(ids, np.full(B, T), ids[:, :3])   # 7 source steps, 3 target steps

for name, out in [("many-to-one (classifier)", many_to_one), ("synced many-to-many (tagger)", synced),
                  ("one-to-many (conditioned generator)", one_to_many), ("many-to-many (seq2seq)", many_to_many)]:
    print(f"{name:38s} {out.shape}")
assert many_to_one.shape == (B, 2) and synced.shape == (B, T, 5)
assert one_to_many.shape == (B, T, V) and many_to_many.shape == (B, 3, V)

# %% [markdown]
# The classifier reads the final hidden state, a summary of the whole sequence; the tagger reads
# every $h_t$. Both are one recurrent pass over the input.
#
# ## One-to-many: a conditioning vector, captioning style
#
# A captioning model turns an image into a feature vector $v$ (a CNN's last hidden layer, 4,096
# numbers in the lecture), then lets a language model write, starting from a start token and
# stopping when it writes an end token. The simplest way to make the words depend on the image is
# a third weight matrix, so that $v$ enters every step:
#
# $$h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + W_{ih} v),$$
#
# or $v$ can set the initial state, $h_0 = \tanh(W v + b)$. `ConditionedGenerator` does either or
# both (`condition="input" | "init" | "both"`). With no images here, the features are a number's
# digits (one-hot, 30 numbers for 0-999), and the sentence is its English spelling. Training
# uses teacher forcing: the decoder reads the true previous word and predicts the next.
#
# *Quick settings* (a few seconds): GRU with 64 units, 500 steps. *Full settings*: `minigrad
# train conditioned` (128 units, 600 steps; 100% of the held-out numbers).

# %%
task = number_spelling_task(999, test_fraction=0.1, encoding="digits", level="word", seed=0)
print(task)
config = ConditionedConfig(feature_size=task.feature_size, vocab_size=len(task.vocab), cell="gru",
                           condition="both", hidden_size=64, max_length=task.max_target_length + 2)
mg.manual_seed(0)
speller = ConditionedGenerator(config)


def spell(features):
    return task.vocab.decode_batch(speller.generate(features))


def batches(rng):
    b = task.sample(64, rng)
    return b.features, b.tgt_in, b.tgt_out, b.tgt_mask


Trainer(speller, batches, config=TrainConfig(steps=500, lr=3e-3, eval_every=0), progress=False).fit()
held_out = np.asarray(task.test[:6])
for n, text in zip(held_out.tolist(), spell(task.features(held_out))):
    print(f"{n:4d} -> {text!r}" + ("" if text == number_to_words(n) else "   (wrong)"))
accuracy = task.evaluate(spell)
print(f"exact match on the {len(task.test)} held-out numbers: {accuracy:.0%}")
assert accuracy >= 0.9

# %% [markdown]
# ## Many-to-many: the encoder-decoder
#
# An RNN that reads and writes in lockstep gives one output per input. That is fine for tagging,
# but not for translation: the notes' example is a two-word Korean sentence (*naneun
# haksaengida*) whose English translation, *I am a student*, has four words. **Sequence to
# sequence** (Sutskever et al., 2014) splits the job:
#
# - an **encoder** RNN reads the source (many-to-one) and summarises it in its final state;
# - a **decoder** RNN starts from that state and writes the target one token at a time
#   (one-to-many), feeding each token back in, until it writes the end token.
#
# The whole thing is one differentiable graph; the loss is the sum of the decoder's per-step
# losses. Our task: dates written in 19 different ways, translated to ISO form
# (`"Sunday 22 November 2026"` → `"2026-11-22"`), character by character.

# %%
started = time.perf_counter()
plain, dates, plain_metrics = train_task("dates", steps=600, attention="none", progress=False)
print(f"without attention: {plain_metrics['exact_match']:.1%} exact match on 1,000 held-out dates "
      f"({time.perf_counter() - started:.0f} s)")
print(plain.config)

# %% [markdown]
# Poor: after 600 steps the plain encoder-decoder gets almost no date exactly right. Its decoder
# must rebuild every digit from one fixed-size vector, the encoder's final state.
#
# ## Attention
#
# Attention (Bahdanau et al., 2015; here in Luong et al.'s arrangement) lets every decoder step
# look back at **all** encoder states $k_1..k_S$: it scores each against the decoder's state
# $s_t$, turns the scores into weights with a softmax, and reads their weighted mean, the
# context $c_t$:
#
# $$e_{tj} = \mathrm{score}(s_t, k_j), \qquad a_{tj} = \frac{\exp e_{tj}}{\sum_i \exp e_{ti}}, \qquad
# c_t = \sum_j a_{tj} k_j .$$
#
# The additive score is $v^\top \tanh(W_q s_t + W_k k_j)$. Everything is differentiable, so the
# model learns *where* to look from the translation loss alone (soft attention; in the lecture's
# captioning example, where in the image).
#
# *Quick settings* = *full settings* here: `minigrad train seq2seq --task dates` (GRU, 64 units,
# bidirectional encoder, additive attention, 600 steps), about 20 s.

# %%
started = time.perf_counter()
model, dates, metrics = train_task("dates", steps=600, attention="additive", progress=False)
print(f"with attention: {metrics['exact_match']:.1%} exact match ({time.perf_counter() - started:.0f} s)")
translator = Translator.from_task(model, dates)
examples = ["22 Nov 2026", "Sunday 22 November 2026", "22/11/26", "3 March 1999", "the 1st of May 2001"]
for text, iso in zip(examples, translator(examples)):
    print(f"{text!r:28s} -> {iso}")
Markdown(f"| | exact match |\n|---|---|\n| no attention | {plain_metrics['exact_match']:.1%} |\n"
         f"| additive attention | {metrics['exact_match']:.1%} |")

# %%
assert metrics["exact_match"] >= 0.95 > 0.5 > plain_metrics["exact_match"]
assert translator(["Sunday 22 November 2026"]) == ["2026-11-22"]

# %% [markdown]
# Where did it look? One row per output character, one column per source character, darker where
# the weight is larger. Writing the year, the decoder reads the year's digits; writing the month,
# it reads the month's name; the day's digits come from the day.

# %%
amap = translator.attention("Sunday 22 November 2026")
assert np.allclose(amap.weights.sum(axis=1), 1.0)
year_rows, year_cols = range(4), [j for j, ch in enumerate(amap.source) if j >= len(amap.source) - 4]
print("attention mass on the year's digits while writing the year:",
      amap.weights[np.ix_(year_rows, year_cols)].sum(axis=1).round(2))
assert amap.weights[np.ix_(year_rows, year_cols)].sum(axis=1).mean() > 0.5
SVG(attention_svg(amap, title="additive attention"))

# %% [markdown]
# ## The seq2seq graph, folded
#
# A tiny model (3 hidden units, 3 source and 4 target steps) drawn at `detail="folded"`: each
# recurrent sequence is one node with a `×T` loop (the encoder's forward and backward
# directions, then the decoder), and around them the embedding, the bridge from the encoder's
# final states to the decoder's first state, and every weight under its name. (`detail="cells"`
# unrolls the same graph into one node per step.)

# %%
mg.manual_seed(0)
tiny = Seq2Seq(Seq2SeqConfig(src_vocab_size=8, tgt_vocab_size=8, embed_size=3, hidden_size=3))
rng = np.random.default_rng(0)
src, tgt = rng.integers(3, 8, size=(1, 3)), rng.integers(3, 8, size=(1, 5))
_, tiny_loss = tiny(src, [3], tgt[:, :-1], tgt[:, 1:])   # decoder reads y_0..y_3, predicts y_1..y_4
with mg.keep_grads():
    tiny_loss.backward()
assert {mg.step_of(n.scope) for n in mg.toposort(tiny_loss)} >= {0, 1, 2, 3}
viz.draw(tiny_loss, detail="folded", title="seq2seq with attention, 3 steps in, 4 out")

# %% [markdown]
# ## Beam search
#
# Greedy decoding takes the likeliest token at every step. That does not give the likeliest
# *sequence*: a token that looks best now can lead to a worse continuation. Searching all
# sequences is out of the question ($V^T$ of them), so **beam search** keeps the $K$ best
# partial outputs at every step, extends each by every token, and keeps the $K$ best again.
# Log-probabilities only fall as a sequence grows, which favours short outputs; GNMT's length
# penalty divides the score by $\mathrm{lp}(Y) = ((5 + |Y|)/6)^\alpha$.
#
# On a model that has learned its task, beam search and greedy agree. Its use shows on a weaker
# one: here the model without attention, on the first 200 held-out dates. With $\alpha = 0$ the
# score is the log-probability itself; the zoo's beam search also keeps the greedy output as a
# candidate, so it can only score higher.

# %%
assert abs(length_penalty(10, 0.6) - (15 / 6) ** 0.6) < 1e-12 and length_penalty(10, 0.0) == 1.0
plain_translator = Translator.from_task(plain, dates)
sources = [src for src, _ in dates.test[:200]]
greedy = plain_translator.decode(sources)
beam = plain_translator.decode(sources, beam=4, alpha=0.0)
better = beam.log_probs > greedy.log_probs + 1e-9
print(f"beam 4 found a likelier output for {better.mean():.0%} of the sources; "
      f"mean log P: greedy {greedy.log_probs.mean():.3f}, beam {beam.log_probs.mean():.3f}")
assert np.all(beam.log_probs >= greedy.log_probs - 1e-9) and better.any()

exact = {}
for width in (1, 4):
    exact[width] = dates.evaluate(lambda texts, k=width: plain_translator(texts, beam=k))
print(f"exact match without attention: greedy {exact[1]:.1%}, beam 4 {exact[4]:.1%}")

# %% [markdown]
# A likelier output is not always a right one, and beam search cannot supply what the model never
# learned: attention made the difference here, not the search. (`minigrad translate CKPT "3 March
# 1999" --beam 4` decodes with a beam from a saved model.)
#
# **What to remember.** The same recurrent cells, arranged differently, map vectors to sequences
# (conditioned generation, captioning), sequences to vectors (classification) and sequences to
# sequences (encoder-decoder). A single summary vector is a bottleneck; attention removes it by
# letting the decoder read every encoder state, with weights it learns. Beam search finds likelier
# outputs than greedy decoding at $K$ times the cost.
