"""Cells: the equations in each docstring, executed in numpy, against the cell; parameters and init."""
import ast
import inspect
import re
import textwrap

import numpy as np
import pytest

import minigrad as mg
from rnn_reference import numeric_grad, sigmoid
from zoo import GRUCell, LSTMCell, RNNCell

CELLS = {
    "rnn_tanh": lambda D, H, **kw: RNNCell(D, H, nonlinearity="tanh", **kw),
    "rnn_relu": lambda D, H, **kw: RNNCell(D, H, nonlinearity="relu", **kw),
    "lstm": lambda D, H, **kw: LSTMCell(D, H, **kw),
    "gru": lambda D, H, **kw: GRUCell(D, H, **kw),
}
GATE_LETTERS = {RNNCell: None, LSTMCell: "ifgo", GRUCell: "rzn"}
# names in ``composed_recurrence`` that hold intermediate values rather than an equation's result
HELPERS = {"H", "a", "ai", "ah"}


def docstring_equations(cls) -> list:
    """The equation lines of the literal block (after '::') of a cell's docstring."""
    doc = inspect.getdoc(cls)
    block = doc.split("::", 1)[1]
    return [line.strip() for line in block.splitlines() if re.match(r"^\s+[a-z]'?\s+=", line)]


def run_docstring(cell, x: np.ndarray, h: np.ndarray, c: np.ndarray | None = None) -> dict:
    """Execute the docstring's equations in numpy, column-vector form, with the cell's parameters.

    Primes become a trailing underscore (``c'`` -> ``c_``). Returns the namespace afterwards.
    """
    H = cell.hidden_size
    ns = {"x": x.T, "h": h.T, "c": None if c is None else c.T, "sigmoid": sigmoid, "tanh": np.tanh,
          "act": {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0)}.get(getattr(cell, "nonlinearity", None))}
    w = {"ih": cell.weight_ih.data, "hh": cell.weight_hh.data}
    b = {"ih": _bias(cell.bias_ih, cell), "hh": _bias(cell.bias_hh, cell)}
    letters = GATE_LETTERS[type(cell)]
    for src in ("ih", "hh"):
        if letters is None:
            ns[f"W_{src}"], ns[f"b_{src}"] = w[src], b[src][:, None]
        for k, gate in enumerate(letters or ""):
            ns[f"W_{src[0]}{gate}"] = w[src][k * H:(k + 1) * H]
            ns[f"b_{src[0]}{gate}"] = b[src][k * H:(k + 1) * H, None]
    for line in docstring_equations(type(cell)):
        exec(line.replace("'", "_"), ns)
    return ns


def _bias(p, cell):
    return np.zeros(cell.weight_ih.shape[0]) if p is None else p.data


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_docstring_equations_compute_what_the_cell_computes(kind, bias, fused):
    rng = np.random.default_rng(1)
    D, H, B = 3, 4, 5
    cell = CELLS[kind](D, H, bias=bias, dtype=np.float64, generator=rng, fused=fused)
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    state = (mg.Tensor(h), mg.Tensor(c)) if kind == "lstm" else mg.Tensor(h)
    out = cell(mg.Tensor(x), state)
    ns = run_docstring(cell, x, h, c if kind == "lstm" else None)
    if kind == "lstm":
        np.testing.assert_allclose(out[0].data, ns["h_"].T, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(out[1].data, ns["c_"].T, rtol=1e-13, atol=1e-14)
    else:
        np.testing.assert_allclose(out.data, ns["h_"].T, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "ops"])
@pytest.mark.parametrize("kind", list(CELLS))
def test_gradients_match_finite_differences_of_the_docstring_equations(kind, fused):
    """Autograd through one step of the cell (fused or op by op) vs central differences of the
    numpy transcription."""
    rng = np.random.default_rng(2)
    D, H, B = 2, 3, 2
    cell = CELLS[kind](D, H, dtype=np.float64, generator=rng, fused=fused)
    x = rng.standard_normal((B, D))
    h, c = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    wh, wc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    lstm = kind == "lstm"

    def numpy_loss():
        ns = run_docstring(cell, x, h, c if lstm else None)
        return float(np.sum(wh * ns["h_"].T) + (np.sum(wc * ns["c_"].T) if lstm else 0.0))

    xt, ht, ct = (mg.Tensor(a, requires_grad=True) for a in (x, h, c))
    out = cell(xt, (ht, ct) if lstm else ht)
    loss = (out[0] * wh).sum() + (out[1] * wc).sum() if lstm else (out * wh).sum()
    loss.backward()
    arrays = {"x": (x, xt), "h": (h, ht)} | ({"c": (c, ct)} if lstm else {})
    arrays |= {name: (p.data, p) for name, p in cell.named_parameters()}
    for name, (arr, tensor) in arrays.items():
        np.testing.assert_allclose(tensor.grad.data, numeric_grad(numpy_loss, arr), rtol=1e-6, atol=1e-8,
                                   err_msg=f"{kind}: d loss / d {name}")


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_composed_recurrence_has_one_line_per_docstring_equation_in_order(cls):
    doc_names = [re.match(r"([a-z])", line).group(1) for line in docstring_equations(cls)]
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls.composed_recurrence)))
    code_names = [node.targets[0].id for node in ast.walk(tree)
                  if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)]
    assert [n for n in code_names if n not in HELPERS] == doc_names


@pytest.mark.parametrize("cls, G", [(RNNCell, 1), (LSTMCell, 4), (GRUCell, 3)])
def test_parameter_names_shapes_and_default_init_are_pytorchs(cls, G):
    D, H = 5, 16
    cell = cls(D, H, generator=np.random.default_rng(0))
    shapes = {name: p.shape for name, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (G * H, D), "weight_hh": (G * H, H), "bias_ih": (G * H,), "bias_hh": (G * H,)}
    k = 1 / np.sqrt(H)
    for name, p in cell.named_parameters():
        assert p.dtype == np.float32
        assert np.all(np.abs(p.data) <= k), name
        assert np.abs(p.data).max() > 0.8 * k, f"{name} does not fill U(-k, k)"
    assert list(cls(D, H, bias=False).state_dict()) == ["weight_ih", "weight_hh"]


def test_same_generator_seed_gives_same_parameters():
    a = LSTMCell(3, 4, generator=np.random.default_rng(7))
    b = LSTMCell(3, 4, generator=np.random.default_rng(7))
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)


def test_forget_bias_sets_the_forget_gate_bias():
    H = 6
    cell = LSTMCell(3, H, forget_bias=1.0, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(cell.bias_ih.data[H:2 * H] + cell.bias_hh.data[H:2 * H], 1.0)
    assert not np.allclose(cell.bias_ih.data[:H], 1.0)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        LSTMCell(3, H, bias=False, forget_bias=1.0)


@pytest.mark.parametrize("cls, G", [(RNNCell, 1), (LSTMCell, 4), (GRUCell, 3)])
def test_orthogonal_recurrent_init_gives_orthogonal_gate_blocks(cls, G):
    H = 8
    cell = cls(3, H, recurrent_init="orthogonal", dtype=np.float64, generator=np.random.default_rng(0))
    for k in range(G):
        block = cell.weight_hh.data[k * H:(k + 1) * H]
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
    with pytest.raises(ValueError, match="recurrent_init"):
        cls(3, H, recurrent_init="identity")


@pytest.mark.parametrize("kind", list(CELLS))
def test_unbatched_step_equals_batch_of_one(kind):
    cell = CELLS[kind](3, 4, dtype=np.float64, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal(3)
    one = cell(mg.Tensor(x))
    batch = cell(mg.Tensor(x[None]))
    for a, b in zip(one if kind == "lstm" else (one,), batch if kind == "lstm" else (batch,)):
        assert a.shape == (4,)
        np.testing.assert_array_equal(a.data, b.data[0])


def test_cell_errors_name_the_shapes():
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 3\).*got \(2, 5\)"):
        cell(mg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"expected hidden state of shape \(2, 4\), got \(2, 3\)"):
        cell(mg.zeros(2, 3), (mg.zeros(2, 3), mg.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"pair \(h, c\)"):
        cell(mg.zeros(2, 3), mg.zeros(2, 4))
    with pytest.raises(TypeError, match="input dtype float64 differs from the parameters' float32"):
        cell(mg.zeros(2, 3, dtype=np.float64))
    with pytest.raises(TypeError, match="hidden state dtype float64 differs from the parameters' float32"):
        cell(mg.zeros(2, 3), (mg.zeros(2, 4), mg.zeros(2, 4, dtype=np.float64)))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        GRUCell(3, 0)


def test_repr_shows_the_configuration():
    assert repr(RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity='relu')"
    assert repr(LSTMCell(3, 4, bias=True, forget_bias=1.0)) == "LSTMCell(3, 4, forget_bias=1.0)"
    assert repr(GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"
