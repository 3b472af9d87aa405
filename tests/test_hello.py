"""The 'hello' model: the tensor and scalar-Value forms agree (loss and every gradient), the
equations of the docstring hold in numpy, and it learns to spell "hello" from "h"."""
import numpy as np
import pytest

import minigrad as mg
from zoo.models.hello import HelloConfig, HelloRNN, scalar_hello
from zoo.tasks import hello_data
from zoo.train import TrainConfig, Trainer


def model64(seed=0, **kw):
    mg.set_default_dtype(mg.float64)
    mg.manual_seed(seed)
    return HelloRNN(HelloConfig(**kw))


@pytest.mark.parametrize("seed, hidden, text", [(0, 3, "hello"), (1, 5, "hello"), (2, 2, "hole")])
def test_scalar_and_tensor_forms_agree(seed, hidden, text):
    model = model64(seed, hidden=hidden, text=text)
    data = hello_data(text)
    logits, loss = model(data.x, data.y)
    loss.backward()
    scalar = scalar_hello(model)
    scalar.loss.backward()
    assert np.isclose(scalar.loss.data, float(loss.data), rtol=1e-12, atol=0)
    assert np.allclose([[v.data for v in row] for row in scalar.logits], logits.data, rtol=1e-12, atol=1e-14)
    grads = scalar.grads()
    for name, p in model.named_parameters():
        assert np.allclose(grads[name], p.grad.data, rtol=1e-10, atol=1e-14), name


def test_the_docstring_equations_in_numpy():
    model = model64(3)
    data = hello_data()
    P = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    h = np.zeros(3)
    loss = 0.0
    for x, target in zip(data.x, data.y):
        onehot = np.eye(4)[x]
        h = np.tanh(P["rnn.weight_ih_l0"] @ onehot + P["rnn.weight_hh_l0"] @ h + P["rnn.bias_ih_l0"]
                    + P["rnn.bias_hh_l0"])
        y = P["head.weight"] @ h + P["head.bias"]
        loss += -(y[target] - np.log(np.exp(y).sum()))
    assert np.isclose(float(model(data.x, data.y)[1].data), loss / len(data.x), rtol=1e-12)


def test_scalar_graph_is_labelled_step_by_step():
    scalar = scalar_hello(model64(0))
    nodes = mg.toposort(scalar.loss)
    scopes = {n.scope for n in nodes if n.scope}
    assert scopes == {f"t={t}" for t in range(4)}
    labels = {n.label for n in nodes}
    assert {"W_xh[0,0]", "W_hh[2,1]", "h_3[2]", "y_0[1]", "L"} <= labels
    assert len(nodes) < 1000  # small enough to draw


def test_batched_and_single_sequences_agree():
    model = model64(4)
    data = hello_data()
    single, _ = model(data.x)
    batched, _ = model(np.stack([data.x, data.x]))
    assert single.shape == (4, 4) and batched.shape == (2, 4, 4)
    assert np.allclose(batched.data[1], single.data)


def test_learns_to_spell_hello():
    mg.manual_seed(0)
    model = HelloRNN()
    data = hello_data()
    h = Trainer(model, lambda rng: (data.x, data.y), config=TrainConfig(steps=200, lr=0.05, clip_norm=None),
                progress=False).fit()
    assert h.losses[-1] < 0.05 < 1.0 < h.losses[0]
    assert model.generate("h") == "hello" and model.generate("he", 3) == "hello"


@pytest.mark.parametrize("options, message", [
    (dict(hidden=0), "hidden must be a positive integer"),
    (dict(text="hex"), "text must have two or more characters"),
    (dict(text="h"), "text must have two or more characters"),
])
def test_config_errors(options, message):
    with pytest.raises(ValueError, match=message):
        HelloConfig(**options)
