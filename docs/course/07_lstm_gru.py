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
# # Lesson 7: LSTM and GRU
#
# The long short-term memory (Hochreiter and Schmidhuber, 1997; the forget gate is Gers et al.,
# 2000) keeps **two** states per step: the hidden state $h_t$, which the rest of the network
# sees, and the **cell state** $c_t$, a memory lane that stays inside the cell. From $x_t$ and
# $h_{t-1}$ it computes four vectors, in PyTorch's order $i, f, g, o$:
#
# $$\begin{aligned}
# i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) && \text{input gate: how much to write}\\
# f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) && \text{forget gate: how much to keep}\\
# g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) && \text{candidate: what to write}\\
# o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) && \text{output gate: how much to show}\\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t\\
# h_t &= o_t \odot \tanh(c_t)
# \end{aligned}$$
#
# The gates use the sigmoid, so they lie between 0 (closed: block everything) and 1 (open: let
# everything through); the candidate uses tanh, a value in $(-1, 1)$ with a sign. The cell state
# is never overwritten wholesale and never squashed on its way to the next step: each unit is
# scaled by its forget gate and gets $i \odot g$ added, a counter that moves by at most one per
# step. The four weight matrices are stored stacked: `weight_ih_l0` is $(4H, D)$, `weight_hh_l0`
# $(4H, H)$.

# %%
import pathlib
import tempfile

import numpy as np
from IPython.display import SVG

import minigrad as mg
import viz
import zoo

np.set_printoptions(precision=4, suppress=True)
figures = pathlib.Path(tempfile.mkdtemp(prefix="lesson7-"))


def sigmoid(a):
    return 1 / (1 + np.exp(-a))

# %% [markdown]
# ## The equations, checked against the zoo's cell

# %%
D, H, B = 3, 4, 2
mg.manual_seed(0)
lstm = zoo.LSTMCell(D, H, dtype=np.float64)
rng = np.random.default_rng(0)
x, h, c = rng.normal(size=(B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))

W_ih, W_hh = lstm.weight_ih.numpy(), lstm.weight_hh.numpy()
pre = x @ W_ih.T + lstm.bias_ih.numpy() + h @ W_hh.T + lstm.bias_hh.numpy()  # (B, 4H): i, f, g, o side by side
i, f, g, o = sigmoid(pre[:, :H]), sigmoid(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), sigmoid(pre[:, 3 * H:])
c_next = f * c + i * g
h_next = o * np.tanh(c_next)

h_zoo, c_zoo = lstm(mg.Tensor(x), (mg.Tensor(h), mg.Tensor(c)))
assert np.allclose(h_zoo.numpy(), h_next, atol=1e-12) and np.allclose(c_zoo.numpy(), c_next, atol=1e-12)
print("weight_ih", W_ih.shape, "weight_hh", W_hh.shape, "- the numpy equations match zoo.LSTMCell")

# %% [markdown]
# `viz.explode_cell` writes one step of a cell in scalar `Value`s, one node per multiply, add
# and gate nonlinearity, each gate in its own cluster, and checks it against the tensor cell. With
# two inputs and two units the whole LSTM step fits in one picture.

# %%
mg.manual_seed(0)
exploded = viz.explode_cell(zoo.LSTMCell(2, 2, dtype=np.float64))
print(f"largest |scalar - tensor| difference: {exploded.max_error:.1e}")
assert exploded.max_error < 1e-10
exploded

# %% [markdown]
# ## The cell-state highway: $\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$
#
# Within one step, $c_{t-1}$ enters $c_t$ through a single term, $f_t \odot c_{t-1}$ (the gates
# depend on $h_{t-1}$ and $x_t$, not on $c_{t-1}$). So the Jacobian is diagonal with the forget
# gate on its diagonal: backward, the gradient on the cell state is multiplied **elementwise** by
# $f_t$. Compare the vanilla RNN, where every step multiplies by the full matrix $W_{hh}^\top$
# (and a tanh's derivative). Two differences: no matrix product, and a factor that changes from
# step to step with the input instead of being the same matrix every time. With $f \approx 1$
# the gradient flows back unchanged, as through the identity connections of a ResNet.
#
# One of the lecture notes says this derivative "is 1", so the error passes back without loss.
# It is $f_t$: it is 1 only where the forget gate is fully open. Let autograd tell us:

# %%
h_in, c_in = mg.Tensor(h, requires_grad=True), mg.Tensor(c, requires_grad=True)
_, c_out = lstm(mg.Tensor(x), (h_in, c_in))
c_out.sum().backward()          # the gradient of sum(c_t) with respect to c_{t-1}: the diagonal
print("dc_t/dc_{t-1} (diagonal, per batch row):\n", c_in.grad.numpy())
print("f_t:\n", f)
assert np.allclose(c_in.grad.numpy(), f, atol=1e-12)
assert f.max() < 1  # a sigmoid never reaches 1: the highway always leaks a little

# %% [markdown]
# ## The forget-gate bias
#
# At initialisation the weights are small and PyTorch's biases are centred on zero, so
# $f \approx \sigma(0) = 0.5$ on average:
# the highway halves the gradient at every step, $0.5^{50} \approx 10^{-15}$ after 50 steps. The
# cure (Gers et al. 2000; Jozefowicz et al. 2015; also the lecture's answer to "doesn't the
# sigmoid still vanish?") is to initialise the forget gate's bias to a positive number, so that
# the cell starts out remembering; training then moves the biases wherever they are needed.
# `forget_bias=1.0` gives $f \approx \sigma(1) = 0.73$, and `3.0` gives $0.95$.
#
# Below, $\lVert \partial c_T/\partial c_t \rVert$ measured on 50-step LSTMs that differ only in
# that bias.

# %%
T = 50
x_seq = mg.Tensor(np.random.default_rng(1).normal(size=(T, 8, 4)))
highway = {}
for bias in (None, 1.0, 3.0):
    mg.manual_seed(0)
    layer = zoo.LSTM(4, 16, dtype=np.float64, forget_bias=bias)
    out, _, states = layer(x_seq, return_states=True)
    cs = states.c[0][0]
    label = "PyTorch's initialisation" if bias is None else f"forget bias {bias}"
    highway[label] = viz.gradient_flow((cs[-1] ** 2).sum(), cs)
    print(f"{label}: ||dc_T/dc_0|| / ||dc_T/dc_T|| = {highway[label].decay():.3g}")
decays = [flow.decay() for flow in highway.values()]
assert decays[0] < 1e-8 < decays[1] < 1e-3 < decays[2]
SVG(filename=viz.plot_gradient_flow(highway, figures / "forget_bias.svg",
                                    title="the LSTM's cell-state path and its forget-gate bias"))

# %% [markdown]
# (The chart's legend names the states $h_t$, as viz always does; here they are the cell states
# $c_t$. The solid lines are the gradient of the loss $\lVert c_T\rVert^2$ itself, the dashed ones
# the Jacobian norms. The loss reads only the last state; the adding problem of lesson 6 is the
# same situation with a task attached.)
#
# ## GRU
#
# The gated recurrent unit (Cho et al., 2014) reaches the same goal with one state and two
# gates, in PyTorch's variant:
#
# $$\begin{aligned}
# r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) && \text{reset gate}\\
# z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) && \text{update gate}\\
# n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) && \text{candidate}\\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
# \end{aligned}$$
#
# The update gate interpolates between keeping the old state and taking the candidate; the term
# $z_t \odot h_{t-1}$ is the GRU's highway, with $z_t$ in the forget gate's role.

# %%
mg.manual_seed(0)
gru = zoo.GRUCell(D, H, dtype=np.float64)
gi = x @ gru.weight_ih.numpy().T + gru.bias_ih.numpy()   # (B, 3H): r, z, n parts of the input side
gh = h @ gru.weight_hh.numpy().T + gru.bias_hh.numpy()   # (B, 3H): the recurrent side
r = sigmoid(gi[:, :H] + gh[:, :H])
z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
h_gru = (1 - z) * n + z * h
assert np.allclose(gru(mg.Tensor(x), mg.Tensor(h)).numpy(), h_gru, atol=1e-12)
print("the numpy equations match zoo.GRUCell")

mg.manual_seed(0)
exploded_gru = viz.explode_cell(zoo.GRUCell(2, 2, dtype=np.float64))
assert exploded_gru.max_error < 1e-10
exploded_gru

# %% [markdown]
# ## What the gates cost
#
# Each gate has its own input and recurrent weights, so with the same hidden size a GRU has three
# times, and an LSTM four times, the parameters of a vanilla RNN.

# %%
counts = {name: layer(32, 64).num_parameters() for name, layer in
          (("RNN", zoo.RNN), ("GRU", zoo.GRU), ("LSTM", zoo.LSTM))}
print(counts)
rnn_count = 64 * 32 + 64 * 64 + 2 * 64   # W_ih, W_hh and the two biases
assert counts == {"RNN": rnn_count, "GRU": 3 * rnn_count, "LSTM": 4 * rnn_count}

# %% [markdown]
# **What to remember.** The LSTM carries its memory on the cell state, updated by elementwise
# scaling and addition; backward, the gradient on that path is multiplied by the forget gate
# $f_t$, not by a weight matrix, so it can survive many steps when $f_t$ stays near 1. A
# positive forget-gate bias starts it there. The GRU does the same with its update gate, with
# fewer parameters. Still, neither has to keep the path open; it is something they *can* learn,
# which lesson 6's adding problem showed them doing.
