"""Write the PyTorch goldens that ``tests/test_goldens.py`` checks, so that a plain ``make test``
without torch still proves the zoo's layers and minigrad's optimizers equal PyTorch's.

Run from the repository root, with the pinned torch installed (``make test-oracle`` installs it)::

    .venv/bin/python tests/goldens/make_goldens.py

Inputs, weights and the loss weights are drawn with numpy from fixed seeds and loaded into torch,
so a rerun gives the same inputs whatever torch's own generator does; only the results come from
torch (float64, CPU). Files, each a plain ``.npz`` of numeric arrays (``np.load(path,
allow_pickle=False)`` reads them) with ``meta``, a 0-d unicode array holding a JSON object: the
torch, numpy and python versions, the date, and every case's configuration.

- ``rnn_tanh.npz``, ``rnn_relu.npz``, ``lstm.npz``, ``gru.npz``: for each configuration ``c`` of
  ``LAYER_CONFIGS``, ``c/x``, ``c/h0`` (``c/c0``), ``c/lengths`` when given, ``c/state/<name>``
  (the state dict), ``c/out``, ``c/h_n`` (``c/c_n``), the loss weights ``c/w/<output>`` and
  ``c/grad/<input or parameter name>`` for every input and parameter. The loss is
  ``sum(out * w/out) + sum(h_n * w/h_n) (+ sum(c_n * w/c_n))``; padded batches go through
  ``pack_padded_sequence`` (unsorted) and ``pad_packed_sequence``.
- ``optim.npz``: for each case of ``OPTIM_CASES``, ``i/hessian``, ``i/start`` (2, 4) (two
  parameters, each in its own group, the second at half the learning rate) and ``i/trajectory``
  (STEPS, 2, 4), the parameters after every step, on the objective whose gradient is
  ``objective_grad``, fed to both sides as a numpy array.
"""
from __future__ import annotations

import datetime
import io
import json
import platform
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
T, B, D, H = 5, 3, 2, 3  # time steps, batch, input size, hidden size
# Every pair of options appears together in some configuration (the 8 runs of a two-level L8
# orthogonal array; run 1 is all defaults), and the last one has everything at once.
_L8 = [(1, 1, 1, 1, 1, 1), (1, 1, 2, 2, 2, 2), (1, 2, 1, 1, 2, 2), (1, 2, 2, 2, 1, 1),
       (2, 1, 1, 2, 1, 2), (2, 1, 2, 1, 2, 1), (2, 2, 1, 2, 2, 1), (2, 2, 2, 1, 1, 2)]
LAYER_CONFIGS = [dict(num_layers=a, bidirectional=b == 2, batch_first=c == 2, bias=d == 1, h0=e == 2, lengths=f == 2)
                 for a, b, c, d, e, f in _L8 + [(2, 2, 2, 2, 2, 2)]]
OPTIM_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=[0.5, 0.9], eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
]
STEPS = 20


def config_name(config: dict) -> str:
    """``L2-bi-bf-nobias-h0-len``: the configuration's non-default options."""
    return "-".join([f"L{config['num_layers']}"] + [tag for key, tag in (
        ("bidirectional", "bi"), ("batch_first", "bf"), ("h0", "h0"), ("lengths", "len")) if config[key]]
        + ([] if config["bias"] else ["nobias"]))


def parameter_shapes(kind: str, config: dict) -> dict:
    """PyTorch's parameter names and shapes, in its order."""
    gates = {"lstm": 4, "gru": 3}.get(kind, 1) * H
    K = 2 if config["bidirectional"] else 1
    shapes = {}
    for layer in range(config["num_layers"]):
        for sfx in ("", "_reverse")[:K]:
            shapes[f"weight_ih_l{layer}{sfx}"] = (gates, D if layer == 0 else K * H)
            shapes[f"weight_hh_l{layer}{sfx}"] = (gates, H)
            if config["bias"]:
                shapes[f"bias_ih_l{layer}{sfx}"] = shapes[f"bias_hh_l{layer}{sfx}"] = (gates,)
    return shapes


def layer_inputs(kind: str, config: dict, seed: int) -> dict:
    """The numpy-drawn part of one case: input, initial state, lengths, state dict, loss weights."""
    rng = np.random.default_rng(seed)
    K = 2 if config["bidirectional"] else 1
    case = {"x": rng.standard_normal((B, T, D) if config["batch_first"] else (T, B, D))}
    if config["h0"]:
        case["h0"] = rng.standard_normal((config["num_layers"] * K, B, H))
        if kind == "lstm":
            case["c0"] = rng.standard_normal((config["num_layers"] * K, B, H))
    if config["lengths"]:
        lengths = rng.integers(1, T + 1, B)
        lengths[1] = T  # the longest is not first: enforce_sorted=False has to reorder
        case["lengths"] = lengths.astype(np.int64)
    for name, shape in parameter_shapes(kind, config).items():
        case[f"state/{name}"] = rng.uniform(-0.8, 0.8, shape)  # wider than torch's 1/sqrt(H): saturating gates
    outputs = {"out": (B, T, K * H) if config["batch_first"] else (T, B, K * H),
               "h_n": (config["num_layers"] * K, B, H)}
    if kind == "lstm":
        outputs["c_n"] = outputs["h_n"]
    for name, shape in outputs.items():
        case[f"w/{name}"] = rng.standard_normal(shape)
    return case


def layer_case(kind: str, config: dict, seed: int) -> dict:
    """One case: ``layer_inputs`` plus torch's outputs, final states and every gradient."""
    import torch

    case = layer_inputs(kind, config, seed)
    cls = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    extra = {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}
    module = cls(D, H, num_layers=config["num_layers"], bias=config["bias"], batch_first=config["batch_first"],
                 bidirectional=config["bidirectional"], dropout=0.0, dtype=torch.float64, **extra)
    module.load_state_dict({k[len("state/"):]: torch.from_numpy(v) for k, v in case.items() if k.startswith("state/")})
    leaves = {k: torch.tensor(case[k], requires_grad=True) for k in ("x", "h0", "c0") if k in case}
    hx = None
    if "h0" in leaves:
        hx = (leaves["h0"], leaves["c0"]) if kind == "lstm" else leaves["h0"]
    x = leaves["x"]
    if "lengths" in case:
        x = torch.nn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(case["lengths"]),
                                                    batch_first=config["batch_first"], enforce_sorted=False)
    out, state = module(x, hx)
    if "lengths" in case:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=config["batch_first"], total_length=T)
    results = {"out": out}
    if kind == "lstm":
        results["h_n"], results["c_n"] = state
    else:
        results["h_n"] = state
    loss = sum((value * torch.from_numpy(case[f"w/{name}"])).sum() for name, value in results.items())
    loss.backward()
    case.update({name: value.detach().numpy().copy() for name, value in results.items()})
    case.update({f"grad/{name}": leaf.grad.numpy().copy() for name, leaf in leaves.items()})
    case.update({f"grad/{name}": p.grad.numpy().copy() for name, p in module.named_parameters()})
    return case


def objective_grad(x: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Gradient of 0.5 x'Ax - cos(3x)/6 + 0.2 x (summed): a convex quadratic plus a bounded
    wiggle, so the gradient feeds back on the path the optimizer takes."""
    return hessian @ x + 0.5 * np.sin(3 * x) + 0.2


def optim_inputs(seed: int) -> dict:
    """The numpy-drawn part of one optimizer case: the objective's matrix and the starting points."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((4, 4))
    return {"hessian": m @ m.T / 4 + 0.1 * np.eye(4), "start": rng.standard_normal((2, 4))}


def optim_case(name: str, kw: dict, seed: int) -> dict:
    """One optimizer case: ``optim_inputs`` plus torch's parameters after each of STEPS steps."""
    import torch

    case = optim_inputs(seed)
    params = [torch.tensor(x, requires_grad=True) for x in case["start"]]
    options = {k: tuple(v) if k == "betas" else v for k, v in kw.items()}
    opt = getattr(torch.optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": kw["lr"] / 2}],
                                     **options)
    trajectory = []
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.from_numpy(objective_grad(p.detach().numpy(), case["hessian"]))
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    case["trajectory"] = np.array(trajectory)
    return case


def layer_seed(kind: str, index: int) -> int:
    return 1000 * KINDS.index(kind) + index


def _meta(cases: dict) -> np.ndarray:
    import torch

    return np.array(json.dumps({
        "made_by": "tests/goldens/make_goldens.py", "date": datetime.date.today().isoformat(),
        "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "cases": cases}, indent=1))


def write_npz(path: Path, arrays: dict) -> None:
    """A deflated ``.npz`` whose bytes depend only on the arrays (fixed member timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)
    path.write_bytes(buf.getvalue())


def main() -> None:
    for kind in KINDS:
        arrays, cases = {}, {}
        for i, config in enumerate(LAYER_CONFIGS):
            name = config_name(config)
            cases[name] = dict(config, seed=layer_seed(kind, i))
            arrays.update({f"{name}/{k}": v for k, v in layer_case(kind, config, layer_seed(kind, i)).items()})
        write_npz(HERE / f"{kind}.npz", {"meta": _meta(cases), **arrays})
    arrays, cases = {}, {}
    for i, (name, kw) in enumerate(OPTIM_CASES):
        cases[str(i)] = {"optimizer": name, "options": kw, "seed": i}
        arrays.update({f"{i}/{k}": v for k, v in optim_case(name, kw, i).items()})
    write_npz(HERE / "optim.npz", {"meta": _meta(cases), **arrays})
    for kind in KINDS + ("optim",):
        print(f"{HERE / kind}.npz: {(HERE / f'{kind}.npz').stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
