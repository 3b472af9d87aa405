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
# # Lesson 3: backpropagation through time is a sum over time steps
#
# In lesson 2 every step of the backward pass added to the same gradient. This lesson looks at
# that sum term by term. With a loss at every step, $E = \sum_t E_t$, and a weight shared by all
# steps, the chain rule gives
#
# $$\frac{\partial E}{\partial W_{hh}} = \sum_t \frac{\partial E_t}{\partial W_{hh}}, \qquad
# \frac{\partial E_t}{\partial W_{hh}} = \sum_{k \le t}
# \frac{\partial E_t}{\partial h_t}\,\frac{\partial h_t}{\partial h_k}\,
# \frac{\partial^{+} h_k}{\partial W_{hh}},$$
#
# where $\partial^{+} h_k / \partial W_{hh}$ is the *immediate* derivative, with $h_{k-1}$ held
# fixed. Two readings of the same double sum:
#
# - **by loss**: the loss at step $t$ reaches steps $t, t-1, \dots, 1$ and no later one (the
#   future cannot have caused the past);
# - **by step**: the gradient of $W_{hh}$ is the sum of what each step's use of $W_{hh}$
#   contributed, $\sum_k \delta_k h_{k-1}^\top$ with $\delta_k = \partial E / \partial a_k$ the
#   gradient at step $k$'s pre-activation.
#
# `zoo.gradient_shares(loss, model)` runs the backward pass and returns the second reading as
# data, read off the recorded graph: one array per parameter and step.

# %%
import pathlib
import tempfile

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np
from IPython.display import SVG

import minigrad as mg
import viz
import zoo
from minigrad import nn

np.set_printoptions(precision=4, suppress=True)
figures = pathlib.Path(tempfile.mkdtemp(prefix="lesson3-"))

T, B, D, H = 8, 2, 3, 4


def model_and_data(seed=0, fused=True):
    """A tanh RNN with a linear read-out, and one random batch with targets at every step."""
    mg.manual_seed(seed)
    rnn = zoo.RNN(D, H, dtype=np.float64, fused=fused)
    head = nn.Linear(H, 1, dtype=np.float64)
    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.normal(size=(T, B, D)))
    y = mg.Tensor(rng.normal(size=(T, B, 1)))
    return rnn, head, x, y


def step_losses(rnn, head, x, y):
    """E_t for every t (a list of scalars), and the per-step states."""
    out, _, states = rnn(x, return_states=True)
    err = head(out) - y                       # (T, B, 1)
    return [0.5 * (err[t] ** 2).sum() for t in range(T)], states

# %% [markdown]
# ## Each step's share, summing to `.grad`

# %%
rnn, head, x, y = model_and_data()
losses, states = step_losses(rnn, head, x, y)
E = sum(losses[1:], losses[0])
shares = zoo.gradient_shares(E, rnn)

W_hh = rnn.weight_hh_l0
per_step = shares.steps["weight_hh_l0"]          # (T, H, H)
print("shape of the shares:", per_step.shape)
print("norm of each step's share:", shares.norms("weight_hh_l0"))
assert per_step.shape == (T, H, H)
assert np.allclose(shares.total("weight_hh_l0"), W_hh.grad.numpy(), atol=1e-12)
for name, p in rnn.named_parameters():
    assert np.allclose(shares.total(name), p.grad.numpy(), atol=1e-12), name
print("for every parameter: sum of the step shares == .grad")

# %% [markdown]
# `viz.plot_gradient_shares` charts them: on top the size of each step's share, below each share
# projected on the direction of the total gradient. The projections add up to the norm of the
# gradient exactly, which the chart writes out. Shares point in different directions; some
# steps pull against the total.

# %%
SVG(filename=viz.plot_gradient_shares(shares, "weight_hh_l0", figures / "shares.svg"))

# %% [markdown]
# ## The shares by hand
#
# With `return_states=True` the layer keeps every $h_t$ and, after backward, its gradient
# $\partial E/\partial h_t$. Through the tanh, $\delta_t = (1 - h_t^2) \odot \partial E/\partial h_t$,
# and step $t$'s share of $\partial E/\partial W_{hh}$ is $\delta_t^\top h_{t-1}$ summed over
# the batch (with $h_{-1} = h_0 = 0$ before the first step, so the first share is zero). The
# zoo's numbers are exactly these.

# %%
h = np.stack([s.numpy() for s in states.h[0][0]])   # (T, B, H): h_t after step t
dh = states.grads("h")                              # (T, B, H): dE/dh_t
delta = (1 - h ** 2) * dh
h_prev = np.concatenate([np.zeros((1, B, H)), h[:-1]])
by_hand = np.einsum("tbi,tbj->tij", delta, h_prev)  # one outer product per step, summed over the batch
assert np.allclose(by_hand, per_step, atol=1e-12)
assert np.all(per_step[0] == 0)
print("delta_t h_{t-1}^T == the zoo's share of step t, for every t")

# %% [markdown]
# ## The same sum, read by loss
#
# Now backpropagate each $E_s$ on its own and record which steps its gradient reaches. The
# matrix below has one row per loss $E_s$ and one column per step $t$: the size of what $E_s$
# contributed to $\partial E/\partial W_{hh}$ through step $t$'s use of the weight. It is lower
# triangular: a loss reaches its own step and the steps before it, never a later one. This is
# the notes' picture of the loss at $t = 2$ flowing back to $t = 2, 1, 0$, the loss at $t = 1$
# to $t = 1, 0$, and the loss at $t = 0$ to $t = 0$ alone.

# %%
reach = np.zeros((T, T))
total = np.zeros((T, H, H))
for s in range(T):
    rnn_s, head_s, x_s, y_s = model_and_data()
    losses_s, _ = step_losses(rnn_s, head_s, x_s, y_s)
    shares_s = zoo.gradient_shares(losses_s[s], rnn_s)
    reach[s] = shares_s.norms("weight_hh_l0")
    total += shares_s.steps["weight_hh_l0"]

fig, ax = plt.subplots(figsize=(5, 4.2))
im = ax.imshow(np.where(reach > 0, reach, np.nan), cmap="viridis", norm=LogNorm())
ax.set_xlabel("step t whose use of W_hh receives the gradient")
ax.set_ylabel("loss E_s")
ax.set_title("‖share‖ of dE_s/dW_hh at step t (log scale)")
fig.colorbar(im, ax=ax)
plt.show()

assert np.all(np.triu(reach, k=1) == 0)            # nothing reaches a later step
assert np.all(np.diag(reach)[1:] > 0)              # every loss reaches its own step (step 0 reads h_0 = 0)
assert np.allclose(total, per_step, atol=1e-12)    # the two readings are one sum

# %% [markdown]
# The shares fade away from the diagonal: the further back a step, the less of the loss's
# gradient reaches it. PyTorch's initialisation makes $W_{hh}$ small, so each step back
# multiplies the gradient by a Jacobian $\mathrm{diag}(1 - h_t^2)\,W_{hh}$ that usually shrinks
# it. Lesson 6 measures this decay, the vanishing gradient.

# %%
lag = np.subtract.outer(np.arange(T), np.arange(T))          # s - t
near, far = reach[(lag == 0) & (reach > 0)], reach[lag >= 4]
print(f"mean share on the diagonal {near.mean():.3f}, four or more steps back {far.mean():.4f}")
assert far.mean() < near.mean() / 10

# %% [markdown]
# ## One node per step or every op: the same shares
#
# The default layer records one fused node per step; `fused=False` records every primitive op.
# `gradient_shares` reads the step of each use of the weight from the graph (`mg.step_of` on its
# scope), so both give the same numbers.

# %%
rnn_ops, head_ops, x_ops, y_ops = model_and_data(fused=False)
losses_ops, _ = step_losses(rnn_ops, head_ops, x_ops, y_ops)
shares_ops = zoo.gradient_shares(sum(losses_ops[1:], losses_ops[0]), rnn_ops)
assert np.allclose(shares_ops.steps["weight_hh_l0"], per_step, atol=1e-12)
assert np.allclose(shares_ops.steps["weight_ih_l0"], shares.steps["weight_ih_l0"], atol=1e-12)
print("fused and unfused graphs: identical shares")

# %% [markdown]
# **What to remember.** BPTT is the ordinary backward pass over the unrolled graph; because the
# weights are shared, their gradient is a sum with one term per step (or, the other way round,
# one term per loss, each reaching back only into the past). Truncated BPTT (lesson 5) keeps
# only the terms near the diagonal.
