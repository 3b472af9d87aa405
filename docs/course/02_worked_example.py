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
# # Lesson 2: a worked example, forward and backward, three ways
#
# The lecture notes work one small RNN through by hand: 2 inputs, 3 hidden units, 2 outputs
# with a softmax, and a sequence of 4 steps. In their notation
#
# $$a_t = W h_{t-1} + U x_t + b, \qquad h_t = \tanh(a_t), \qquad y'_t = \mathrm{softmax}(V h_t + c),$$
#
# with $U$ the input-to-hidden weights (one row per hidden unit), $W$ the hidden-to-hidden
# weights, $V$ the hidden-to-output weights and $h_0 = 0$. (The notes' summary gives $U$ the
# shape $P\times D$, inputs by hidden units; the example itself writes it the other way round,
# $3\times2$, one row per hidden unit, which is also how PyTorch stores `weight_ih`. We follow
# the example.) We reproduce the notes' outputs $y'_t$, find a typo in their $h_1$, and then
# compute the gradients of a loss three ways: by hand, by autograd, and by finite differences.

# %%
import numpy as np

import minigrad as mg
import viz
import zoo
from minigrad import nn

np.set_printoptions(precision=5, suppress=True)

U = np.array([[0.1, 0.1], [0.0, 0.0], [0.0, -0.1]])
W = np.array([[0.1, 0.1, 0.0], [0.0, 0.0, 0.0], [0.2, -0.1, -0.1]])
V = np.array([[0.0, 0.1, 0.0], [-0.2, 0.0, 0.0]])
b = np.array([0.0, 0.0, 0.2])
c = np.array([0.2, 0.1])
xs = np.array([[0.0, 1.0], [0.0, 0.1], [0.1, -0.2], [0.5, 0.0]])  # x_1 .. x_4
ys = np.array([[0.7, 0.4], [0.3, 0.4], [0.2, 0.4], [0.4, 0.5]])  # the labels y_1 .. y_4

# %% [markdown]
# ## Forward, step by step in numpy

# %%
def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def forward(U, W, V, b, c):
    """Pre-activations, hidden states (h_0 first) and outputs of the example RNN."""
    hs, pre, outs = [np.zeros(3)], [], []
    for x in xs:
        a = W @ hs[-1] + U @ x + b
        pre.append(a)
        hs.append(np.tanh(a))
        outs.append(softmax(V @ hs[-1] + c))
    return np.array(pre), np.array(hs), np.array(outs)


a, hs, y_pred = forward(U, W, V, b, c)
for t in range(4):
    print(f"t={t + 1}: a = {a[t]}, h = {hs[t + 1]}, y' = {y_pred[t].round(4)}")

# %% [markdown]
# The notes give $y'_1 = (0.5299, 0.4701)$, $y'_2 = (0.5260, 0.4740)$, $y'_3 = (0.5246, 0.4754)$
# and $y'_4 = (0.5274, 0.4726)$. Rounded to four places, we get exactly those:

# %%
notes_y = np.array([[0.5299, 0.4701], [0.5260, 0.4740], [0.5246, 0.4754], [0.5274, 0.4726]])
assert np.array_equal(y_pred.round(4), notes_y)

# %% [markdown]
# ## The typo in $h_1$
#
# At $t = 1$ the notes have $a_1 = (0.1, 0.0, 0.1)$, which is right, but then print
# $h_1 = (0.09997, 0.0, 0.0997)$: the two nonzero entries of $a_1$ are equal, so the two entries
# of $h_1$ must be equal too. $\tanh(0.1) = 0.099668$, which rounds to $0.0997$; the first
# entry has a stray 9. The notes' next line indeed multiplies $V$ by $(0.0997, 0.0, 0.0997)$.

# %%
print("tanh(0.1) =", np.tanh(0.1))
assert np.allclose(a[0], [0.1, 0.0, 0.1])
assert round(hs[1][0], 4) == round(hs[1][2], 4) == 0.0997
assert abs(hs[1][0] - 0.09997) > 3e-4  # the printed value is off by 0.0003: a typo, not rounding

# %% [markdown]
# ## The same network from the zoo
#
# `zoo.RNN` with $U$ as `weight_ih_l0`, $W$ as `weight_hh_l0` and $b$ as `bias_ih_l0` (the second
# bias zero), followed by an `nn.Linear` holding $V$ and $c$, computes the same outputs.

# %%
rnn = zoo.RNN(2, 3, dtype=np.float64)
rnn.load_state_dict({"weight_ih_l0": U, "weight_hh_l0": W, "bias_ih_l0": b, "bias_hh_l0": np.zeros(3)})
head = nn.Linear(3, 2, dtype=np.float64)
head.load_state_dict({"weight": V, "bias": c})
out, _ = rnn(mg.Tensor(xs[:, None, :]))           # (T, B=1, D)
zoo_y = head(out).softmax(dim=-1).numpy()[:, 0]  # (T, 2)
assert np.allclose(zoo_y, y_pred, atol=1e-12)

# %% [markdown]
# ## A loss
#
# The labels are not probability distributions ($0.7 + 0.4 = 1.1$), so instead of
# cross-entropy we score the outputs with the squared error summed over steps:
#
# $$E = \sum_{t=1}^{4} E_t, \qquad E_t = \tfrac12 \lVert y'_t - y_t \rVert^2 .$$
#
# The notes say the network "makes a considerable error" at these weights; here is how much.

# %%
def loss(y_pred):
    return 0.5 * ((y_pred - ys) ** 2).sum()


E = loss(y_pred)
print("E =", E, " per step:", 0.5 * ((y_pred - ys) ** 2).sum(axis=1))

# %% [markdown]
# ## Gradients by hand: backpropagation through time
#
# Going backward from $t = 4$ to $t = 1$, with $\delta^h_t = \partial E / \partial h_t$:
#
# 1. $g_t = y'_t - y_t$ is $\partial E_t / \partial y'_t$.
# 2. Through the softmax, $\partial E / \partial z_t = y'_t \odot (g_t - \langle y'_t, g_t\rangle)$.
# 3. $\partial E / \partial V \mathrel{+}= \partial z_t\, h_t^\top$ and
#    $\partial E/\partial c \mathrel{+}= \partial z_t$.
# 4. The hidden state gets gradient from its own output **and from the next step**:
#    $\delta^h_t = V^\top \partial z_t + W^\top \delta^a_{t+1}$.
# 5. Through the tanh, $\delta^a_t = (1 - h_t^2) \odot \delta^h_t$.
# 6. $\partial E/\partial W \mathrel{+}= \delta^a_t h_{t-1}^\top$,
#    $\partial E/\partial U \mathrel{+}= \delta^a_t x_t^\top$, $\partial E/\partial b \mathrel{+}= \delta^a_t$.
#
# Every step adds to the same five gradients, because the five parameters are shared by all
# steps: that sum over time is the whole of BPTT (lesson 3 looks at it term by term).

# %%
def backward_by_hand(a, hs, y_pred):
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db, dc = np.zeros_like(b), np.zeros_like(c)
    da_next = np.zeros(3)
    for t in reversed(range(4)):
        h, h_prev, y = hs[t + 1], hs[t], y_pred[t]
        g = y - ys[t]
        dz = y * (g - y @ g)
        dV += np.outer(dz, h)
        dc += dz
        dh = V.T @ dz + W.T @ da_next
        da = (1 - h ** 2) * dh
        dW += np.outer(da, h_prev)
        dU += np.outer(da, xs[t])
        db += da
        da_next = da
    return {"U": dU, "W": dW, "V": dV, "b": db, "c": dc}


by_hand = backward_by_hand(a, hs, y_pred)
for name, g in by_hand.items():
    print(f"dE/d{name} =\n{g}")

# %% [markdown]
# Notice the zeros: two hidden units are cut off, each in its own way.
#
# - **Unit 2** (the middle row) has zero rows in $U$ and $W$ and a zero bias, so $h_t[2] = 0$
#   at every step. The weights that *read* it, the middle columns of $W$ and $V$, get no
#   gradient; its *incoming* weights do, because it reaches the output through $V_{12} = 0.1$
#   (moving them would wake it up).
# - **Unit 3** is alive ($h_t[3] \approx 0.2$) but nothing reads it except itself: the third
#   column of $V$ is zero, and in $W$'s third column only $W_{33} = -0.1$, its own recurrent
#   weight, is nonzero. The loss cannot feel its pre-activation, so its incoming weights (third
#   rows of $U$, $W$ and $b$) get no gradient, while the weights reading it, $V$'s third column,
#   do.

# %%
dU, dW, dV, db = by_hand["U"], by_hand["W"], by_hand["V"], by_hand["b"]
assert np.all(hs[:, 1] == 0) and np.all(dW[:, 1] == 0) and np.all(dV[:, 1] == 0)  # unit 2: nothing to pass on
assert abs(db[1]) > 1e-3 and np.abs(dU[1]).min() > 1e-3                            # ... but it can be woken
assert np.all(dU[2] == 0) and np.all(dW[2] == 0) and db[2] == 0                    # unit 3: nobody listens
assert np.abs(dV[:, 2]).min() > 1e-2 and np.abs(hs[1:, 2]).min() > 0.05            # ... but it talks

# %% [markdown]
# ## Gradients by autograd
#
# The same forward pass in minigrad tensors, each step in its own scope (`mg.step_scope`), so the
# drawing groups the ops of a step together; `loss.backward()` does the rest. We name $h_t$,
# $y'_t$ and $E_t$, and draw at `detail="named"`: each named value is one box holding the
# arithmetic that feeds it, shaded by the size of its gradient. (The clusters count steps from
# 0, as Python does; the names follow the notes, from 1.)

# %%
params = {name: mg.Tensor(value, requires_grad=True, name=name)
          for name, value in {"U": U, "W": W, "V": V, "b": b, "c": c}.items()}


def forward_tensors(U, W, V, b, c):
    h = mg.zeros(3, dtype=np.float64)
    total = None
    for t in range(4):
        with mg.scope(mg.step_scope(t)):
            h = (W @ h + U @ mg.Tensor(xs[t]) + b).tanh()
            y = (V @ h + c).softmax(dim=0)
            E_t = 0.5 * ((y - mg.Tensor(ys[t])) ** 2).sum()
        h.name, y.name, E_t.name = f"h_{t + 1}", f"y'_{t + 1}", f"E_{t + 1}"  # labels for the drawing
        total = E_t if total is None else total + E_t
    return total


E_tensor = forward_tensors(**params)
with mg.keep_grads():
    E_tensor.backward()
assert abs(E_tensor.item() - E) < 1e-12
for name, p in params.items():
    assert np.allclose(p.grad.numpy(), by_hand[name], atol=1e-12), name
print("autograd == by hand, all five parameters")

viz.draw(E_tensor, detail="named", title="the worked example unrolled over 4 steps")

# %% [markdown]
# The zoo's network gives the same gradients under its PyTorch names: `weight_ih_l0` is $U$,
# `weight_hh_l0` is $W$, and both biases receive $\partial E / \partial b$.

# %%
E_zoo = 0.5 * ((head(out).softmax(dim=-1)[:, 0] - mg.Tensor(ys)) ** 2).sum()
E_zoo.backward()
assert np.allclose(rnn.weight_ih_l0.grad.numpy(), by_hand["U"], atol=1e-12)
assert np.allclose(rnn.weight_hh_l0.grad.numpy(), by_hand["W"], atol=1e-12)
assert np.allclose(rnn.bias_hh_l0.grad.numpy(), by_hand["b"], atol=1e-12)
assert np.allclose(head.weight.grad.numpy(), by_hand["V"], atol=1e-12)

# %% [markdown]
# ## Gradients by finite differences
#
# The definition of a derivative gives a check that needs no calculus at all: nudge one weight
# by $\pm\varepsilon$ and watch the loss,
# $\partial E/\partial w \approx \dfrac{E(w + \varepsilon) - E(w - \varepsilon)}{2\varepsilon}$,
# with an error of order $\varepsilon^2$. Here it is for every entry of $W$, in float64.

# %%
eps = 1e-6
numeric_W = np.zeros_like(W)
for i, j in np.ndindex(W.shape):
    plus, minus = W.copy(), W.copy()
    plus[i, j] += eps
    minus[i, j] -= eps
    numeric_W[i, j] = (loss(forward(U, plus, V, b, c)[2]) - loss(forward(U, minus, V, b, c)[2])) / (2 * eps)
print("numeric dE/dW =\n", numeric_W)
print("largest difference from the hand-derived gradient:", np.abs(numeric_W - by_hand["W"]).max())
assert np.allclose(numeric_W, by_hand["W"], atol=1e-9)

# %% [markdown]
# `mg.gradcheck` does the same for every input of a function at once (central differences in
# float64, each output weighted by a fixed random number) and raises if any entry disagrees.

# %%
inputs = [mg.Tensor(v, requires_grad=True) for v in (U, W, V, b, c)]
assert mg.gradcheck(forward_tensors, inputs)
print("gradcheck passed for U, W, V, b and c")

# %% [markdown]
# **What to remember.** The forward pass of an RNN is the recurrence applied step after step;
# the backward pass runs the same steps in reverse, and the gradient of each shared weight is
# collected from every step. Hand derivation, autograd and finite differences agree to round-off
# (about $10^{-12}$ here). The notes describe the gradient as the *average* over steps and then
# write a *sum*; with $E = \sum_t E_t$ it is the sum, and averaging would only rescale it (the
# same as a smaller learning rate).
