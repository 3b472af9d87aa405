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
# # Lesson 4: a character-level language model, from 'hello' to real text
#
# A language model predicts what comes next. At the level of characters: read a text one
# character at a time and, at every step, output a probability for each possible next character.
# The classic lecture's example is as small as it gets: the vocabulary is the four letters
# `h e l o`, the training sequence is *hello*, the inputs are `h e l l` and the targets `e l l o`,
# each letter a one-hot vector ($h = [1,0,0,0]$, $e = [0,1,0,0]$, ...), and the hidden layer has
# three units:
#
# $$h_t = \tanh(W_{hh} h_{t-1} + W_{xh} x_t + b_h), \qquad y_t = W_{hy} h_t + b_y, \qquad
# L = \frac1T \sum_t -\log \mathrm{softmax}(y_t)[\text{target}_t].$$
#
# Note the two `l`s: after the first the answer is `l`, after the second it is `o`. The input
# alone cannot tell them apart; the hidden state must.

# %%
import math
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import viz

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook bars; ours are off
from zoo.models import CharLM, CharLMConfig, HelloRNN, scalar_hello  # noqa: E402
from zoo.models.charlm import evaluate_bpc  # noqa: E402
from zoo.models.common import sample_tokens  # noqa: E402
from zoo.tasks.corpus import load_corpus  # noqa: E402
from zoo.tasks.toy import hello_data  # noqa: E402
from zoo.train import TrainConfig, Trainer  # noqa: E402

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## The 'hello' RNN
#
# `zoo.models.HelloRNN` is that model: one-hot inputs, a `zoo.RNN` with three tanh units, a
# linear head. Before training it spells nonsense; 200 steps of Adam teach it the word.

# %%
data = hello_data("hello")
print("inputs ", data.vocab.decode(data.x), data.x, "\ntargets", data.vocab.decode(data.y), data.y)
print("one-hot inputs:\n", data.x_one_hot)

mg.manual_seed(0)
hello = HelloRNN()
print("before training, from 'h':", hello.generate("h"))

optimizer = mg.optim.Adam(hello.parameters(), lr=0.05)
losses = []
for step in range(200):
    _, loss = hello(data.x, data.y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"loss {losses[0]:.3f} -> {losses[-1]:.4f}")
print("after training, from 'h':", hello.generate("h"))
assert hello.generate("h") == "hello"
assert losses[-1] < 0.05 < math.log(4) - 0.2 < losses[0]  # it started near chance, log 4 = 1.386

# %% [markdown]
# The two `l` inputs give different predictions, because the hidden states differ:

# %%
logits, _ = hello(data.x)
probs = logits.softmax(dim=-1).numpy()
for t in range(4):
    print(f"input {data.vocab.decode(data.x[t:t + 1])!r}: P(h e l o) = {probs[t]}")
assert probs[2].argmax() == data.vocab.encode("l")[0] and probs[3].argmax() == data.vocab.encode("o")[0]

# %% [markdown]
# ## The same model in scalar `Value`s
#
# `scalar_hello` rebuilds the trained model's forward pass from its weights with one scalar
# `Value` per multiply, add and tanh, the graph micrograd would build: about six hundred
# operations for four steps. It computes the same loss and the same gradients; drawn at
# `detail="named"`, each named value ($h_t[i]$, $y_t[i]$) is one box with the arithmetic that
# feeds it, the steps stacked top to bottom.

# %%
scalar = scalar_hello(hello)
_, tensor_loss = hello(data.x, data.y)
hello.zero_grad()
tensor_loss.backward()
scalar.loss.backward()
assert abs(scalar.loss.data - tensor_loss.item()) < 1e-5
grads = scalar.grads()
assert np.allclose(grads["rnn.weight_hh_l0"], hello.rnn.weight_hh_l0.grad.numpy(), atol=1e-5)
print("scalar ops in the graph:", len(mg.toposort(scalar.loss)))
viz.draw(scalar.loss, detail="named", title="the trained 'hello' loss in scalar Values")

# %% [markdown]
# ## Sampling, and temperature
#
# At test time the model writes by itself: feed a character, turn the scores into probabilities
# with a softmax, **draw** the next character from them, feed it back as the next input (as a
# one-hot vector again, the kind of input the model was trained on, and cheap however large the
# vocabulary), and repeat.
#
# Why draw instead of taking the likeliest character? Drawing gives variety: the same model
# writes different texts. In the lecture's figure the first softmax over `h e l o` is
# $(0.03, 0.13, 0.00, 0.84)$: the likeliest next letter is `o`, and the model still wrote
# `e`, which it draws 13% of the time. Taking the argmax every time is also an option, and
# sometimes steadier.

# %%
lecture = np.array([0.03, 0.13, 0.00, 0.84])
rng = np.random.default_rng(0)
draws = sample_tokens(np.tile(np.log(np.maximum(lecture, 1e-12)), (20_000, 1)), 1.0, rng)
freq = np.bincount(draws, minlength=4) / len(draws)
print("drawn frequencies of h e l o:", freq)
assert abs(freq[1] - 0.13) < 0.01 and freq[2] < 1e-3
assert sample_tokens(np.log(lecture[None] + 1e-12), 0.0, rng)[0] == 3  # temperature 0: always 'o'

# %% [markdown]
# The **temperature** $\tau$ divides the scores before the softmax,
# $p_i \propto \exp(z_i/\tau)$. Below 1 it sharpens the distribution towards the argmax
# ($\tau \to 0$ is greedy decoding); above 1 it flattens it towards uniform, more adventurous and
# more error-prone.

# %%
def with_temperature(p, tau):
    q = p ** (1 / tau)  # softmax(log p / tau)
    return q / q.sum()


taus = (0.5, 1.0, 2.0)
fig, axes = plt.subplots(1, 3, figsize=(9, 2.6), sharey=True)
for ax, tau in zip(axes, taus):
    ax.bar(list("helo"), with_temperature(lecture, tau), color="#1f77b4")
    ax.set_title(f"τ = {tau}")
axes[0].set_ylabel("probability")
fig.suptitle("the lecture's first softmax at three temperatures")
plt.show()

tempered = [with_temperature(lecture, tau) for tau in taus]
entropy = [-(q * np.log(q, where=q > 0, out=np.zeros_like(q))).sum() for q in tempered]
print("entropy (nats):", np.round(entropy, 3))
assert entropy[0] < entropy[1] < entropy[2]

# %% [markdown]
# ## A real corpus
#
# Now the same idea at a useful size: `zoo.models.CharLM` (embedding, an LSTM, a linear head over
# the characters) on 300,000 characters of the Python standard library's own sources, found on
# this machine (nothing is downloaded). The measure is **bits per character** on held-out text:
# the average of $-\log_2 P(\text{next character})$. A model that knows nothing spreads its
# probability evenly over the vocabulary and scores $\log_2 V$.
#
# The held-out text is the last 5% of the sample: the end of one or two source files, which can be
# easier or harder than the rest (on the machine these notes were written on, repetitive
# docstrings, scored below the training loss).
#
# *Quick settings* (about 15 s here): hidden size 128, 600 steps of batch 32 and 64 characters.
# *Full settings*: `minigrad train charlm --minutes 4` (hidden 256, the whole corpus), 2.06 bits
# per character on the README's machine.

# %%
corpus = load_corpus(max_chars=300_000)
print(corpus)
mg.manual_seed(0)
lm = CharLM(CharLMConfig(len(corpus.vocab), cell="lstm", embed=32, hidden=128))
print(f"{lm.num_parameters():,} parameters")
bpc_before = evaluate_bpc(lm, corpus)
print(f"before training: {bpc_before:.3f} bits/char (log2 V = {math.log2(len(corpus.vocab)):.3f})")
assert abs(bpc_before - math.log2(len(corpus.vocab))) < 0.3


def batches(rng):
    window = corpus.windows(32, 64, rng)  # (B, T + 1): inputs and next-character targets
    return window[:, :-1], window[:, 1:]


started = time.perf_counter()
history = Trainer(lm, batches, config=TrainConfig(steps=600, lr=3e-3, eval_every=0), progress=False).fit()
bpc_after = evaluate_bpc(lm, corpus)
print(f"after {history.step} steps ({time.perf_counter() - started:.0f} s): {bpc_after:.3f} bits/char")
assert bpc_after < 2.6 < bpc_before - 3

fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(np.array(history.losses) / math.log(2))
ax.set_xlabel("step")
ax.set_ylabel("training loss (bits/char)")
ax.set_title("CharLM on the standard library's sources")
plt.show()

# %% [markdown]
# Samples after the prime `def ` at three temperatures. Greedy decoding ($\tau = 0$) always writes
# the same text and soon repeats itself; $\tau = 1$ draws from the model's own distribution;
# in between is usually the most readable.

# %%
samples = {tau: lm.sample(corpus.vocab, "def ", 160, tau, rng=np.random.default_rng(1)) for tau in (0.0, 0.6, 1.0)}
for tau, text in samples.items():
    print(f"--- temperature {tau}\n{text}\n")
assert all(len(text) == len("def ") + 160 for text in samples.values())
assert lm.sample(corpus.vocab, "def ", 160, 0.0, rng=np.random.default_rng(2)) == samples[0.0]  # greedy: no chance
assert lm.sample(corpus.vocab, "def ", 160, 1.0, rng=np.random.default_rng(2)) != samples[1.0]

# %% [markdown]
# **What to remember.** A character-level language model is an RNN trained to predict the next
# character, a softmax loss at every step. Sampling feeds the model's own choices back in; the
# temperature trades variety for safety. The lecture goes on to show that such models learn
# structure nobody asked for (hidden units that track quotes or line length); with more training
# the samples here pick up Python's indentation and `self.` idioms in the same way.
