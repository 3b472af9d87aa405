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
# # Lesson 6: exploding and vanishing gradients
#
# Going backward through one step of a vanilla RNN, the gradient passes the tanh and then the
# matrix product, so it is multiplied by the step's Jacobian:
#
# $$\frac{\partial h_t}{\partial h_{t-1}} = \mathrm{diag}(1 - h_t^2)\, W_{hh},
# \qquad \frac{\partial h_T}{\partial h_t} = \prod_{s=t+1}^{T} \mathrm{diag}(1 - h_s^2)\, W_{hh}.$$
#
# Reaching step $t$ from step $T$ takes $T - t$ such factors. Think of them as numbers first:
# a product of many numbers below 1 goes to zero, of many numbers above 1 to infinity, and only
# exactly 1 stays put. For matrices the role of "the number" is played by the singular values of
# $W_{hh}$ (and the tanh's derivative, at most 1, can only shrink things further). Large ones
# make the gradient **explode**; small ones make it **vanish**, and then the early steps of a
# sequence get no say in the weight update: the network cannot learn long-range dependencies.

# %%
import pathlib
import tempfile
import warnings

import numpy as np
from IPython.display import SVG, Markdown

import minigrad as mg
import viz
import zoo
from minigrad import nn

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook bars; ours are off
from rnnlab.experiments import Settings, results_table, run_experiment  # noqa: E402
from rnnlab.pictures import flows  # noqa: E402
from zoo.tasks.longrange import ADDING_BASELINE_MSE, SOLVED_MSE, adding_batch  # noqa: E402
from zoo.train import TrainConfig  # noqa: E402

np.set_printoptions(precision=4, suppress=False)
figures = pathlib.Path(tempfile.mkdtemp(prefix="lesson6-"))

# %%
for w in (0.9, 1.0, 1.1):
    print(f"w = {w}: " + ", ".join(f"w^{T} = {w ** T:.3g}" for T in (10, 50, 100)))
assert 0.9 ** 50 < 0.01 and 1.1 ** 50 > 100

# %% [markdown]
# ## Measured on the graph
#
# `viz.gradient_flow(loss, states)` measures, for each step $t$, $\lVert \partial L/\partial h_t \rVert$
# and $\lVert \partial h_T / \partial h_t \rVert$ (one backward pass per hidden unit from the last
# state). Give an RNN a recurrent matrix $W_{hh} = s\,Q$ with $Q$ orthogonal, so that every
# singular value is exactly $s$, zero biases and tiny inputs, so the tanh stays in its linear part: the
# dependence of the last state on step $t$ is then $s^{T-1-t}$ times that on itself, to the digit.

# %%
T, H = 20, 16
Q = np.linalg.qr(np.random.default_rng(0).normal(size=(H, H)))[0]
x_small = mg.Tensor(1e-3 * np.random.default_rng(1).normal(size=(T, 4, 3)))


def scaled_rnn(s):
    """A tanh RNN whose recurrent matrix has every singular value equal to s, and no biases."""
    mg.manual_seed(0)
    rnn = zoo.RNN(3, H, dtype=np.float64)
    rnn.load_state_dict({"weight_hh_l0": s * Q, "bias_ih_l0": np.zeros(H), "bias_hh_l0": np.zeros(H)}, strict=False)
    return rnn


scaled = {}
for s in (0.8, 1.0, 1.2):
    out, _, states = scaled_rnn(s)(x_small, return_states=True)
    scaled[f"s = {s}"] = viz.gradient_flow((out[-1] ** 2).sum(), states.h[0][0])
    print(f"s = {s}: ||dh_T/dh_0|| / ||dh_T/dh_T|| = {scaled[f's = {s}'].decay():.4g}  (s^(T-1) = {s ** (T - 1):.4g})")
    assert abs(scaled[f"s = {s}"].decay() / s ** (T - 1) - 1) < 1e-3

SVG(filename=viz.plot_gradient_flow(scaled, figures / "scaled.svg",
                                    title="W_hh = s·Q: the gradient shrinks or grows by s per step"))

# %% [markdown]
# ## RNN, LSTM and GRU at initialisation
#
# Now real inputs and the zoo's default initialisation (PyTorch's), 50 steps, the loss read at
# the last step only (`rnnlab.pictures.flows`, the picture of `minigrad render flow`). The
# vanilla RNN's dependence on the first step is down by more than nine orders of magnitude. The
# LSTM (with its forget-gate bias at 1, lesson 7) keeps far more. The GRU, untrained, is no
# better than the RNN here: its update gate starts half open, and $0.5^{50} \approx 10^{-15}$.
# What the gated cells offer is a path the network can *learn* to hold open; the adding problem
# below shows them doing it.

# %%
at_init = flows(steps=50)
for name, f in at_init.items():
    print(f"{name}: ||dh_T/dh_0|| / ||dh_T/dh_T|| = {f.decay():.2g}")
assert at_init["RNN"].decay() < 1e-8
assert at_init["LSTM"].decay() > 1000 * at_init["RNN"].decay()
SVG(filename=viz.plot_gradient_flow(at_init, figures / "flow.svg"))

# %% [markdown]
# ## Exploding gradients, and clipping
#
# With singular values above one and inputs of ordinary size, the gradient's norm grows
# exponentially with the scale of $W_{hh}$:

# %%
T_long, D = 40, 3
rng = np.random.default_rng(1)
x = mg.Tensor(rng.normal(size=(T_long, 8, D)))
y = mg.Tensor(rng.normal(size=(8, 1)))


def model(s):
    rnn = scaled_rnn(s)
    mg.manual_seed(1)
    return rnn, nn.Linear(H, 1, dtype=np.float64)


def loss_of(rnn, head):
    out, _ = rnn(x)
    return ((head(out[-1]) - y) ** 2).mean()


norms = {}
for s in (1.0, 1.5, 2.0, 3.0):
    rnn, head = model(s)
    loss_of(rnn, head).backward()
    norms[s] = float(np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in [*rnn.parameters(), *head.parameters()])))
    print(f"s = {s}: gradient norm {norms[s]:.4g}")
assert norms[3.0] > 1000 * norms[1.0]

# %% [markdown]
# One plain SGD step with such a gradient throws the weights far from where they were: at
# learning rate 0.1, the gradient of norm 34,000 above moves them by 3,400, while the recurrent
# matrix itself has norm 12. The network lands deep in the tanh's flat tails, where every unit sits at
# $\pm 1$ and no gradient passes any more.
#
# **Gradient clipping** (`nn.utils.clip_grad_norm_`) rescales all gradients together when their
# joint norm exceeds a threshold: $g \leftarrow g \cdot \min(1, \theta / \lVert g \rVert)$. The
# direction is kept; only the step's length is bounded. It is a blunt tool (the lecture calls it
# not pretty but common), and it does nothing for vanishing gradients.

# %%
def one_step(clip):
    rnn, head = model(3.0)
    params = [*rnn.parameters(), *head.parameters()]
    loss_of(rnn, head).backward()
    raw = [p.grad.numpy().copy() for p in params]
    before = [p.numpy().copy() for p in params]
    norm = nn.utils.clip_grad_norm_(params, clip) if clip else None
    mg.optim.SGD(params, lr=0.1).step()
    moved = np.sqrt(sum(((p.numpy() - b) ** 2).sum() for p, b in zip(params, before)))
    out, _ = rnn(x)
    return raw, [p.grad.numpy() for p in params], norm, moved, np.abs(out.numpy()).mean()


raw, _, _, moved_raw, saturation_raw = one_step(None)
raw_c, clipped, norm, moved_clipped, saturation_clipped = one_step(1.0)
flat_raw, flat_clipped = np.concatenate([g.ravel() for g in raw_c]), np.concatenate([g.ravel() for g in clipped])
cosine = flat_raw @ flat_clipped / (np.linalg.norm(flat_raw) * np.linalg.norm(flat_clipped))
print(f"norm before clipping {norm:.4g}, after {np.linalg.norm(flat_clipped):.4g}, "
      f"cosine with the raw gradient {cosine:.6f}")
print(f"the step moved the weights by {moved_raw:.4g} unclipped, {moved_clipped:.4g} clipped")
print(f"mean |h_t| after the step: {saturation_raw:.3f} unclipped, {saturation_clipped:.3f} clipped")
assert abs(np.linalg.norm(flat_clipped) - 1.0) < 1e-5 and cosine > 1 - 1e-12
assert moved_raw > 500 * moved_clipped and saturation_raw > 0.95 > saturation_clipped

# %% [markdown]
# ## The adding problem
#
# Hochreiter and Schmidhuber's test of long-range memory: every step carries a random number in
# $[0, 1)$ and a marker; exactly two steps are marked, one in each half of the sequence, and the
# target at the end is the sum of the two marked numbers. Always answering 1.0 scores a mean
# squared error of $\mathrm{Var}(U_1 + U_2) = 1/6 \approx 0.167$; "solved" means below 0.01.
# The first marked number may lie $T$ steps before the answer, so the gradient must reach that
# far back.

# %%
x_add, y_add = adding_batch(3, 10, np.random.default_rng(0))
print("values :", x_add[0, :, 0].round(2), "\nmarkers:", x_add[0, :, 1], "\ntarget :", y_add[0])
assert abs(ADDING_BASELINE_MSE - 1 / 6) < 1e-12 and SOLVED_MSE == 0.01
assert abs(x_add[0, :, 0][x_add[0, :, 1] == 1].sum() - y_add[0, 0]) < 1e-6

# %% [markdown]
# *Quick settings* (about 30 s here): hidden size 64, batch 64, 1,200 Adam steps (learning rate
# 0.002, clipping at 1.0), lengths 10 and 40, 300 test sequences. *Full settings*: `make
# experiment` (`minigrad experiment adding --cells rnn,lstm,gru --lengths 10,50,100`, 3,000
# steps, about half an hour); the README's table is its result.

# %%
results = run_experiment("adding", ["rnn", "lstm", "gru"], [10, 40],
                         Settings(hidden_size=64, batch_size=64, n_test=300),
                         TrainConfig(steps=1200, lr=2e-3, clip_norm=1.0, eval_every=200), progress=False)
final = {(r.cell, r.length): r.final for r in results}
Markdown(results_table(results))

# %%
assert all(final[cell, 10] < 0.05 for cell in ("rnn", "lstm", "gru"))   # the short lag: everyone learns it
assert final["rnn", 40] > 0.1                                           # 40 steps back: the RNN stays near 1/6
assert final["lstm", 40] < 0.02 and final["gru", 40] < 0.02             # the gated cells solve it
print("T = 40:", {cell: round(final[cell, 40], 4) for cell in ("rnn", "lstm", "gru")})

# %% [markdown]
# **What to remember.** Backpropagating through $T$ steps multiplies $T$ Jacobians. With
# $\lVert W_{hh}\rVert$ above one the gradient can explode (clip it); below one, or with
# saturated units, it vanishes, and the early steps stop mattering. The vanilla RNN solves the
# adding problem at a lag of 10 and fails at 40; LSTM and GRU, whose state can be carried by
# addition instead of by matrix products, solve both. Lesson 7 opens them up.
