"""PyTorch equivalence without PyTorch: the zoo's RNN/LSTM/GRU and minigrad's optimizers against
the stored goldens in tests/goldens/ (made from torch by tests/goldens/make_goldens.py, versions
recorded in each file). With torch installed, one golden of each file is also made again and
compared, so the stored ones cannot drift from what the script and this torch compute."""
import functools
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import optim
from minigrad.nn import Parameter
from zoo import GRU, LSTM, RNN

GOLDENS = Path(__file__).resolve().parent / "goldens"
_spec = importlib.util.spec_from_file_location("make_goldens", GOLDENS / "make_goldens.py")
make_goldens = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_goldens)  # the configurations and the objective, defined once
KINDS = {"rnn_tanh": (RNN, {"nonlinearity": "tanh"}), "rnn_relu": (RNN, {"nonlinearity": "relu"}),
         "lstm": (LSTM, {}), "gru": (GRU, {})}
LAYER_CASES = [(kind, make_goldens.config_name(c)) for kind in make_goldens.KINDS for c in make_goldens.LAYER_CONFIGS]
TOL = dict(rtol=1e-10, atol=1e-10)


@functools.cache
def golden(file: str) -> tuple:
    """(meta, {name: array}) of one golden file, read without unpickling anything."""
    with np.load(GOLDENS / f"{file}.npz", allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    for arr in arrays.values():  # shared by every test: nothing may write into them
        arr.setflags(write=False)
    return json.loads(arrays.pop("meta")[()]), arrays


def case(file: str, name: str) -> tuple:
    """(configuration, {array name: array}) of one case of a golden file."""
    meta, arrays = golden(file)
    prefix = name + "/"
    return meta["cases"][name], {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def test_the_goldens_hold_exactly_the_scripts_cases_with_versions_and_no_pickles():
    pin = re.search(r'"torch==([^"]+)"', (GOLDENS.parent.parent / "pyproject.toml").read_text())[1]
    total = 0
    for file in make_goldens.KINDS + ("optim",):
        meta, arrays = golden(file)
        assert meta["made_by"] == "tests/goldens/make_goldens.py"
        assert meta["torch"].split("+")[0] == pin  # made with the torch the oracle extra pins
        assert {"numpy", "python", "date"} <= set(meta)
        assert all(a.dtype.kind in "fi" for a in arrays.values())
        total += (GOLDENS / f"{file}.npz").stat().st_size
    assert total < 500_000
    configs = {make_goldens.config_name(c): c for c in make_goldens.LAYER_CONFIGS}
    for kind in make_goldens.KINDS:
        stored = golden(kind)[0]["cases"]
        assert {name: {k: v for k, v in c.items() if k != "seed"} for name, c in stored.items()} == configs
    stored = golden("optim")[0]["cases"]
    assert [[c["optimizer"], c["options"]] for c in stored.values()] == [list(c) for c in make_goldens.OPTIM_CASES]


def run_layer(kind: str, name: str, fused) -> dict:
    """The zoo's layer built with the golden's configuration and state dict, run forward and
    backward on the golden's loss; returns everything the golden stores, by the same names."""
    config, g = case(kind, name)
    cls, options = KINDS[kind]
    model = cls(make_goldens.D, make_goldens.H, num_layers=config["num_layers"], bias=config["bias"],
                batch_first=config["batch_first"], bidirectional=config["bidirectional"], dtype=np.float64,
                fused=fused, **options)
    model.load_state_dict({k[len("state/"):]: v for k, v in g.items() if k.startswith("state/")})  # strict
    leaves = {k: mg.Tensor(g[k], requires_grad=True) for k in ("x", "h0", "c0") if k in g}
    hx = None
    if "h0" in leaves:
        hx = (leaves["h0"], leaves["c0"]) if kind == "lstm" else leaves["h0"]
    out, state = model(leaves["x"], hx, lengths=g.get("lengths"))
    results = {"out": out}
    if kind == "lstm":
        results["h_n"], results["c_n"] = state
    else:
        results["h_n"] = state
    sum((value * g[f"w/{k}"]).sum() for k, value in results.items()).backward()
    got = {k: value.data for k, value in results.items()}
    got.update({f"grad/{k}": leaf.grad.data for k, leaf in leaves.items()})
    got.update({f"grad/{k}": p.grad.data for k, p in model.named_parameters()})
    return got


# every level of fusion: one node per step (default), every op, and the opt-in one node per layer
@pytest.mark.parametrize("fused", (True, False, "sequence"), ids=("cells", "ops", "sequence"))
@pytest.mark.parametrize("kind, name", LAYER_CASES, ids=[f"{k}-{n}" for k, n in LAYER_CASES])
def test_layers_reproduce_pytorchs_outputs_final_states_and_every_gradient(kind, name, fused):
    _, g = case(kind, name)
    got = run_layer(kind, name, fused)
    expected = sorted(k for k in g if k in ("out", "h_n", "c_n") or k.startswith("grad/"))
    assert sorted(got) == expected  # every parameter has its gradient, and no other
    for k in expected:
        np.testing.assert_allclose(got[k], g[k], **TOL, err_msg=k)


def run_optimizer(name: str, options: dict, g: dict) -> np.ndarray:
    """minigrad's optimizer on the golden's objective and groups; the parameters after each step."""
    params = [Parameter(x.copy()) for x in g["start"]]
    kw = {k: tuple(v) if k == "betas" else v for k, v in options.items()}
    opt = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": kw["lr"] / 2}], **kw)
    trajectory = []
    for _ in range(make_goldens.STEPS):
        for p in params:
            p.grad = mg.Tensor(make_goldens.objective_grad(p.data, g["hessian"]))
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return np.array(trajectory)


@pytest.mark.parametrize("index", range(len(make_goldens.OPTIM_CASES)),
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(make_goldens.OPTIM_CASES)])
def test_optimizers_reproduce_pytorchs_trajectories(index):
    config, g = case("optim", str(index))
    assert [config["optimizer"], config["options"]] == list(make_goldens.OPTIM_CASES[index])
    got = run_optimizer(config["optimizer"], config["options"], g)
    assert got.shape == g["trajectory"].shape == (make_goldens.STEPS, 2, 4)
    np.testing.assert_allclose(got, g["trajectory"], **TOL)
    assert not np.allclose(g["trajectory"][-1], g["start"], atol=1e-3)  # the optimizer went somewhere


def test_objective_grad_is_the_gradient_of_the_objective_in_its_docstring():
    g = make_goldens.optim_inputs(0)
    A, x0 = g["hessian"], g["start"][0]

    def objective(x):  # 0.5 x'Ax - cos(3x)/6 + 0.2 x, summed
        return 0.5 * x @ A @ x - np.sum(np.cos(3 * x)) / 6 + 0.2 * np.sum(x)

    numeric = np.array([(objective(x0 + 1e-6 * e) - objective(x0 - 1e-6 * e)) / 2e-6 for e in np.eye(4)])
    np.testing.assert_allclose(make_goldens.objective_grad(x0, A), numeric, rtol=1e-7)


# with torch: the stored goldens are what the script computes today ----------------------------------
@pytest.mark.parametrize("kind", make_goldens.KINDS)
def test_a_layer_golden_made_again_equals_the_stored_one(kind):
    pytest.importorskip("torch")
    config = make_goldens.LAYER_CONFIGS[-1]  # every option at once
    meta, stored = case(kind, make_goldens.config_name(config))
    made = make_goldens.layer_case(kind, config, meta["seed"])
    assert sorted(made) == sorted(stored)
    for k, v in made.items():
        np.testing.assert_allclose(v, stored[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_an_optimizer_golden_made_again_equals_the_stored_one():
    pytest.importorskip("torch")
    index = len(make_goldens.OPTIM_CASES) - 1  # centered RMSprop with momentum and weight decay
    meta, stored = case("optim", str(index))
    made = make_goldens.optim_case(*make_goldens.OPTIM_CASES[index], meta["seed"])
    assert sorted(made) == sorted(stored)
    for k, v in made.items():
        np.testing.assert_allclose(v, stored[k], rtol=1e-12, atol=1e-14, err_msg=k)
