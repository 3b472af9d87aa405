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
# # Lesson 5: truncated backpropagation through time
#
# Full BPTT runs the forward pass over the *whole* sequence, keeps every step's activations, and
# only then goes backward. For a language model trained on a long text (the lecture's example is
# all of Wikipedia) that is hopeless: one update would cost a pass over everything, and the
# stored graph would not fit in memory.
#
# **Truncated BPTT** cuts the sequence into chunks of $k$ steps (the lecture suggests about
# 100). For each chunk: run forward from the hidden state the previous chunk ended in, compute
# the chunk's loss, backpropagate **within the chunk only**, and update the weights. The state
# is carried across the cut, the gradient is not. It is the sequence version of stochastic
# gradient descent. Note what is *not* assumed: the model is not Markov. The state carries
# information from arbitrarily far back; only the gradient's path back is cut.
#
# `zoo.truncated_bptt(forward, inputs, k, state, targets=..., step=...)` runs exactly this loop:
# `forward(x_chunk, state, y_chunk) -> (loss, state)`, then `loss.backward()`, then `step()` (an
# optimizer step) if given, then `state.detach()`.

# %%
import math
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import zoo
from minigrad import nn
from minigrad.nn import functional as F

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook bars; ours are off
from zoo.models import CharLM, CharLMConfig  # noqa: E402
from zoo.models.charlm import evaluate_bpc  # noqa: E402
from zoo.tasks.corpus import load_corpus  # noqa: E402

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## With $k \ge T$ it is full BPTT; with $k < T$ it drops terms
#
# A tanh RNN with a read-out at every step, on one sequence of $T = 32$ steps, in float64.
# Without `step`, the chunks' gradients accumulate in `.grad`, so we can compare the truncated
# gradient with the full one for several $k$.

# %%
T, B, D, H = 32, 4, 3, 8
rng = np.random.default_rng(0)
x = mg.Tensor(rng.normal(size=(T, B, D)))
y = mg.Tensor(rng.normal(size=(T, B, 1)))


def make_model():
    mg.manual_seed(0)
    return zoo.RNN(D, H, dtype=np.float64, recurrent_init="orthogonal"), nn.Linear(H, 1, dtype=np.float64)


def gradient(k):
    """dL/dW_hh with BPTT truncated to chunks of k steps (k >= T: full BPTT); and the chunks' losses."""
    rnn, head = make_model()

    def forward(x_chunk, state, y_chunk):
        out, state = rnn(x_chunk, state)
        return 0.5 * ((head(out) - y_chunk) ** 2).sum(), state

    result = zoo.truncated_bptt(forward, x, k, targets=y)
    return rnn.weight_hh_l0.grad.numpy(), result.losses


full, full_losses = gradient(T)
rnn_full, head_full = make_model()
out, _ = rnn_full(x)
loss = 0.5 * ((head_full(out) - y) ** 2).sum()
loss.backward()
assert np.allclose(full, rnn_full.weight_hh_l0.grad.numpy(), atol=1e-12)  # one chunk: plain BPTT
print("k = T: the same gradient as one backward over the whole sequence")

ks = [1, 2, 4, 8, 16, 32]
errors = []
for k in ks:
    g, losses = gradient(k)
    assert abs(sum(losses) - full_losses[0]) < 1e-9   # the forward pass, and so the loss, is unchanged
    errors.append(np.linalg.norm(g - full) / np.linalg.norm(full))
for k, e in zip(ks, errors):
    print(f"k = {k:2d}: relative error of the truncated gradient {e:.4f}")
assert errors[-1] < 1e-12 and errors[0] > 0.05
assert all(a >= b for a, b in zip(errors, errors[1:]))  # a longer window drops fewer terms

fig, ax = plt.subplots(figsize=(5.5, 3))
ax.semilogx(ks[:-1], errors[:-1], "o-", base=2)
ax.set_xlabel("truncation length k")
ax.set_ylabel("‖g_k − g_full‖ / ‖g_full‖")
ax.set_title("what truncation drops, T = 32")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# The forward pass is identical for every $k$: the losses are the same numbers. What changes is
# the gradient: the terms by which a loss at step $t$ reaches back to steps before its chunk
# began (in lesson 3's triangle of shares, everything outside the diagonal blocks) are dropped.
# How much that matters depends on how far back the gradient really reaches, which lesson 6
# measures; in a tanh RNN it fades within a few steps anyway, which is why modest $k$ works.
#
# ## The graph is only as long as a chunk
#
# The memory of a backward pass is the graph it holds. Truncation bounds it by $k$ steps,
# however long the text.

# %%
def recorded(steps):
    """Time steps in the graph of a chunk of ``steps`` steps, and the numbers its nodes hold."""
    rnn, head = make_model()
    out, _ = rnn(x[:steps])
    nodes = mg.toposort(0.5 * ((head(out) - y[:steps]) ** 2).sum())
    return len({mg.step_of(n.scope) for n in nodes} - {None}), sum(n.data.size for n in nodes)


sizes = {steps: recorded(steps) for steps in (4, 8, 16, 32)}
for steps, (in_graph, numbers) in sizes.items():
    print(f"a chunk of {steps:2d} steps: {in_graph:2d} steps in the graph, {numbers:5d} numbers held")
assert all(in_graph == steps for steps, (in_graph, _) in sizes.items())
per_step = [(sizes[b][1] - sizes[a][1]) / (b - a) for a, b in ((4, 8), (8, 16), (16, 32))]
assert max(per_step) == min(per_step) > 0  # every step adds the same amount: memory linear in k

# %% [markdown]
# ## Training a language model on a stream
#
# Now the real use: read 320,000 characters of the standard library in order, as 32 parallel
# streams, in chunks of $k = 32$ characters, one Adam step per chunk, the LSTM's state carried
# from chunk to chunk. *Quick settings*: one pass, hidden size 128, a few seconds. *Full settings*:
# `minigrad train charlm` samples random windows instead and starts each from a zero state;
# its `--seq` flag is the truncation length.

# %%
corpus = load_corpus(max_chars=400_000)
V = len(corpus.vocab)
mg.manual_seed(0)
lm = CharLM(CharLMConfig(V, cell="lstm", embed=32, hidden=128))
optimizer = mg.optim.Adam(lm.parameters(), lr=3e-3)

streams, k = 32, 32
n = 10_000  # characters per stream
ids = corpus.train_ids
inputs = ids[:streams * n].reshape(streams, n)            # (B, N): 16 contiguous pieces of the text
targets = ids[1:streams * n + 1].reshape(streams, n)


def forward(x_chunk, state, y_chunk):
    logits, state = lm.run(x_chunk, state)
    return F.cross_entropy(logits.reshape(-1, V), y_chunk.reshape(-1)), state


def step():
    nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()


started = time.perf_counter()
result = zoo.truncated_bptt(forward, inputs, k, targets=targets, time_axis=1, step=step)
print(f"{len(result.losses)} chunks of {k} steps in {time.perf_counter() - started:.1f} s")
bits = np.array(result.losses) / math.log(2)
print(f"training loss: first 20 chunks {bits[:20].mean():.2f}, last 20 {bits[-20:].mean():.2f} bits/char")
assert len(result.losses) == math.ceil(n / k)
assert bits[-20:].mean() < bits[:20].mean() - 2

fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(bits)
ax.set_xlabel("chunk")
ax.set_ylabel("loss (bits/char)")
ax.set_title(f"truncated BPTT, k = {k}, state carried across chunks")
plt.show()

# %% [markdown]
# ## The state crosses the cut
#
# The gradient stops at each chunk boundary, but the state does not. Evaluate the trained model
# on the held-out text in pieces of 32 characters twice: once carrying the state from piece to
# piece (as in training), once starting every piece from zero. Carrying it scores better: the
# model uses context from before the cut even though no gradient ever flowed across one.

# %%
with mg.no_grad():
    lm.eval()
    carried = evaluate_bpc(lm, corpus, batch_size=32, length=32)
    val = corpus.val_ids
    rows = (len(val) - 1) // 32
    x_val = val[:rows * 32].reshape(rows, 32)               # every piece on its own, from a zero state
    y_val = val[1:rows * 32 + 1].reshape(rows, 32)
    logits, _ = lm.run(x_val)
    reset = F.cross_entropy(logits.reshape(-1, V), y_val.reshape(-1)).item() / math.log(2)
    lm.train()
print(f"held-out bits/char: state carried {carried:.3f}, state reset every 32 characters {reset:.3f}")
assert carried < reset

# %% [markdown]
# **What to remember.** Truncated BPTT keeps the forward pass exact and the state continuous,
# and cuts only the backward pass, at a cost in memory and time proportional to $k$. It drops
# the gradient's long-range terms, so it cannot *learn* dependencies longer than about $k$ steps
# from the gradient, though the model can still *use* context that lies further back.
