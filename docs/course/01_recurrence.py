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
# # Lesson 1: sequence data and the recurrence
#
# A feed-forward network maps one fixed-size vector to another. Much of the data we care about
# is not like that:
#
# - **order carries meaning.** *TRIANGLE* and *INTEGRAL* use the same eight letters; "i am" and
#   "am i ?" the same two words. A bag of the same pieces is not the same thing.
# - **length varies.** Sentences, recordings and price histories all come in different lengths,
#   and a model with a fixed input size cannot take them as they are.
# - **the past matters.** A subject predicts its verb; yesterday's price says something about
#   today's. Text is a *sequence*; data indexed by time (weather, stock prices) is a *time
#   series*.
#
# A recurrent network reads a sequence $x_1, x_2, \dots, x_T$ one element at a time and keeps a
# **hidden state** $h_t$, a summary of everything read so far. At every step the same function
# mixes the new input with the previous state:
#
# $$h_t = \tanh(W_{hh}\, h_{t-1} + W_{xh}\, x_t + b), \qquad y_t = W_{hy}\, h_t + c,$$
#
# starting from $h_0 = 0$. Written as a recurrence on a state, $s_t = f(s_{t-1}; \theta)$: to
# know the state at $t$, you need the state at $t-1$.
#
# The point to hold on to: **$W_{hh}$, $W_{xh}$, $b$ (and $W_{hy}$, $c$) are the same at every
# step.** One cell is applied $T$ times. That is what lets one network read sequences of any
# length, and why the number of parameters does not grow with $T$.

# %%
import numpy as np

import minigrad as mg
import viz
import zoo
from minigrad import nn

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Inputs and targets of a sequence
#
# Reading the word *pytorch* character by character, the network sees `p` and should predict
# `y`; then it sees `y` (and remembers `p`) and should predict `t`; and so on. The targets are
# the inputs shifted by one step. Without the hidden state, the step that sees `o` could not
# know whether `r` or `n` should come next.

# %%
word = "pytorch"
pairs = list(zip(word[:-1], word[1:]))
for t, (x, y) in enumerate(pairs):
    print(f"t={t}: input {x!r} -> target {y!r}")
assert [y for _, y in pairs] == list("ytorch")

# %% [markdown]
# ## The recurrence by hand, and the zoo's layer
#
# Here is the recurrence written with minigrad tensors, next to `zoo.RNN`, the layer with
# PyTorch's interface (`(T, B, D)` inputs, `(output, h_n)` out). The layer keeps PyTorch's two
# biases, `bias_ih_l0` and `bias_hh_l0`; their sum plays the role of $b$.

# %%
mg.manual_seed(0)
T, B, D, H = 5, 1, 2, 3
rnn = zoo.RNN(D, H, dtype=np.float64)
x = mg.randn(T, B, D, dtype=np.float64)

W_xh, W_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
b = rnn.bias_ih_l0 + rnn.bias_hh_l0
h = mg.zeros(B, H, dtype=np.float64)
by_hand = []
for t in range(T):
    h = (h @ W_hh.T + x[t] @ W_xh.T + b).tanh()  # rows are batch entries, so the products are transposed
    by_hand.append(h)

output, h_n = rnn(x)
print("output of zoo.RNN (T, B, H):\n", output.numpy()[:, 0])
assert np.allclose(output.numpy(), mg.stack(by_hand).numpy(), atol=1e-12)
assert np.allclose(h_n.numpy()[0], by_hand[-1].numpy(), atol=1e-12)

# %% [markdown]
# ## Weight sharing: the parameter count does not depend on $T$
#
# Take the sizes of the notes' example figure: 3 inputs, 6 hidden units, 2 outputs. Then
# $W_{xh}$ is $6\times3$, $W_{hh}$ is $6\times6$ and $W_{hy}$ is $2\times6$: $18 + 36 + 12 = 66$
# weights, plus biases, whatever the length of the sequence. A feed-forward network has no
# $W_{hh}$ at all; an RNN with separate weights per step would need $T$ copies.

# %%
cell = zoo.RNN(3, 6)
head = nn.Linear(6, 2)
shapes = {name: p.shape for name, p in [*cell.named_parameters(), *head.named_parameters()]}
print(shapes)
assert shapes["weight_ih_l0"] == (6, 3) and shapes["weight_hh_l0"] == (6, 6) and shapes["weight"] == (2, 6)
n_params = cell.num_parameters() + head.num_parameters()
print("parameters:", n_params)  # 66 weights + 6 + 6 (the two RNN biases) + 2 (the output bias)
assert n_params == 66 + 6 + 6 + 2

for T_long in (3, 30, 300):  # one model, any length
    out, _ = cell(mg.randn(T_long, 1, 3))
    assert out.shape == (T_long, 1, 6)

# %% [markdown]
# ## The unrolled graph
#
# Unrolling the loop over time turns the recurrence into an ordinary computation graph with one
# copy of the cell per step. minigrad records exactly that graph; `viz.draw` shows it (it
# returns a `graphviz.Digraph`, which the notebook displays). Each time step is a cluster, the
# steps run top to bottom, and each shared weight is drawn **once**, outside, with an edge into
# every step that uses it.
#
# `fused=False` records every primitive op of the cell. After `backward()` inside
# `mg.keep_grads()`, every node keeps its gradient, and the picture shades nodes by gradient
# magnitude.

# %%
mg.manual_seed(0)
small = zoo.RNN(2, 3, fused=False)
out, _ = small(mg.randn(4, 1, 2))
loss = (out ** 2).sum()
with mg.keep_grads():
    loss.backward()
viz.draw(loss, detail="ops", title="an RNN with 3 hidden units unrolled over 4 steps")

# %% [markdown]
# The input half of every step, $W_{xh} x_t$ for all $t$, is one matrix product outside the
# steps (the `linear` at the top); each step takes its slice (`getitem`). The recorded graph
# tells us which step every node belongs to: `mg.step_of` reads the step from a node's scope.
# Let us check that $W_{hh}$ really is used once in every step, and by no other node.

# %%
nodes = mg.toposort(loss)
steps_using_W_hh = sorted(mg.step_of(n.scope) for n in nodes if any(p is small.weight_hh_l0 for p in n.parents))
print("steps whose ops read weight_hh_l0:", steps_using_W_hh)
assert steps_using_W_hh == [0, 1, 2, 3]
assert {mg.step_of(n.scope) for n in nodes} == {None, 0, 1, 2, 3}

# %% [markdown]
# ## Three levels of detail
#
# The default `zoo.RNN` records one fused node per time step (the same numbers and gradients,
# fewer nodes). `detail="cells"` draws one box per step, and `detail="folded"` folds the steps
# back into the loop of the textbook's rolled-up picture, with a `×T` edge.

# %%
mg.manual_seed(0)
fused = zoo.RNN(2, 3)
out_fused, _ = fused(mg.randn(4, 1, 2))
loss_fused = (out_fused ** 2).sum()
assert np.allclose(loss_fused.item(), loss.item(), rtol=1e-5)  # same seed, same weights, same loss
step_nodes = [n for n in mg.toposort(loss_fused) if mg.step_of(n.scope) is not None]
print("nodes inside time steps:", len(step_nodes), [n.op for n in step_nodes])
assert len(step_nodes) == 4  # one per step
viz.draw(loss_fused, detail="cells")

# %%
viz.draw(loss_fused, detail="folded")

# %% [markdown]
# ## In the notebook, a result shows its graph
#
# Importing `viz` in Jupyter registers a display for minigrad's `Tensor` and `Value`: a computed
# result left as the last line of a cell shows the graph that made it (a leaf shows its
# values). Here is micrograd's classic expression in scalar `Value`s.

# %%
a, b2 = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b")
c = (a * b2 + a).tanh()
c.backward()
assert abs(a.grad - (1 - c.data ** 2) * (b2.data + 1)) < 1e-12  # dc/da = (1 - c^2)(b + 1)
c

# %% [markdown]
# **What to remember.** A recurrent network is one cell applied at every step, carrying a state;
# unrolled, it is a deep feed-forward graph whose layers share their weights. The next lesson
# runs the notes' worked example through this graph by hand.
