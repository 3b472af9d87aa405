"""viz pictures of BPTT: gradient flow numbers and chart, gradient shares, backward animation,
exploded cells, gradcheck in the picture."""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
import viz
from viz.anim import animate_backward
from viz.check import check_ops, gradcheck_picture
from viz.explode import explode_cell
from viz.flow import gradient_flow

zoo = pytest.importorskip("zoo")
from rnnlab.pictures import BadSquare  # noqa: E402  x² with the factor 2 missing from backward
from test_viz import cluster_of  # noqa: E402
from zoo.cells import GRUCell, LSTMCell, RNNCell  # noqa: E402
from zoo.layers import GRU, LSTM, RNN  # noqa: E402

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


def run_layer(layer_class, T=12, H=6, B=2, seed=0, **options):
    """A zoo layer over a fixed random sequence, loss on the last output only.
    Returns (loss, per-step h tensors, model)."""
    mg.manual_seed(seed)
    return run_layer_with(layer_class(3, H, dtype=np.float64, **options), T, B, seed)


# gradient flow ---------------------------------------------------------------------------------
def test_jacobian_norms_match_the_chain_rule_for_a_tanh_rnn():
    loss, hs, model = run_layer(RNN, T=6, H=4, B=1)
    flow = gradient_flow(loss, hs)
    W = model.weight_hh_l0.data
    J = np.eye(4)
    expected = [None] * 6
    expected[5] = np.linalg.norm(J)
    for t in range(5, 0, -1):  # dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh (h as a column vector)
        J = J @ (np.diag(1 - hs[t].data[0] ** 2) @ W)
        expected[t - 1] = np.linalg.norm(J)
    np.testing.assert_allclose(flow.jacobian, expected, rtol=1e-10)
    # dL/dh_t is the loss gradient at h_T carried back by the same Jacobians
    gT = 2 * hs[-1].data[0]
    np.testing.assert_allclose(flow.loss_grad[-1], np.linalg.norm(gT), rtol=1e-12)


def test_small_recurrent_weights_vanish_and_an_open_forget_gate_does_not():
    T = 16
    loss, hs, rnn = run_layer(RNN, T=T)
    default = gradient_flow(loss, hs)
    rnn.weight_hh_l0.data = rnn.weight_hh_l0.data * 0.3  # small recurrent weights
    rnn_flow = gradient_flow(*run_layer_with(rnn, T)[:2])
    lstm_flow = gradient_flow(*run_layer(LSTM, T=T, forget_bias=1.0)[:2])
    # the RNN's dependence on early steps decays geometrically with distance from the loss...
    assert np.all(np.diff(np.log(rnn_flow.jacobian)) > 0)
    assert rnn_flow.decay() < 1e-6 and rnn_flow.decay() < default.decay()
    # ...and the LSTM's, carried by c through f ~ sigmoid(1), decays far more slowly
    assert lstm_flow.decay() > 1e3 * rnn_flow.decay()
    ratio = lambda f: f.loss_grad[0] / f.loss_grad[-1]  # noqa: E731
    assert ratio(lstm_flow) > 1e3 * ratio(rnn_flow)


def run_layer_with(model, T, B=2, seed=0):
    """``run_layer`` for an existing model."""
    x = mg.randn(T, B, 3, dtype=np.float64, generator=np.random.default_rng(seed + 1))
    out, _, states = model(x, return_states=True)
    return (out[-1] * out[-1]).sum(), states.h[0][0], model


def test_gradient_flow_leaves_other_gradients_as_they_were():
    loss, hs, model = run_layer(GRU, T=5)
    model.weight_hh_l0.grad = mg.Tensor(np.full(model.weight_hh_l0.shape, 7.0))
    flow = gradient_flow(loss, hs)
    assert np.all(model.weight_hh_l0.grad.data == 7.0)
    assert model.weight_ih_l0.grad is None
    for t, h in enumerate(hs):
        assert np.isclose(np.linalg.norm(h.grad.data), flow.loss_grad[t])


def test_gradient_flow_rejects_states_without_grad():
    with pytest.raises(ValueError, match="state 0 does not require grad"):
        gradient_flow(mg.Tensor(1.0, requires_grad=True), [mg.zeros(2)])


# charts ----------------------------------------------------------------------------------------
def test_gradient_flow_chart_is_an_svg_with_every_series(tmp_path):
    pytest.importorskip("matplotlib")
    from viz.plots import plot_gradient_flow

    flows = {name: gradient_flow(*run_layer(cls, T=6, H=3)[:2]) for name, cls in
             (("RNN", RNN), ("LSTM", LSTM), ("GRU", GRU))}
    path = plot_gradient_flow(flows, tmp_path / "flow.svg")
    root = ET.parse(path).getroot()
    text = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for name in flows:
        assert f"{name}: ‖dL/dh_t‖" in text and f"{name}: ‖dh_T/dh_t‖" in text
    assert plot_gradient_flow(flows, tmp_path / "again.svg").read_bytes() == path.read_bytes()


def test_gradient_shares_add_up_to_the_gradient(tmp_path):
    pytest.importorskip("matplotlib")
    bptt = pytest.importorskip("zoo.bptt")
    from viz.plots import plot_gradient_shares, share_projections

    loss, _, model = run_layer(LSTM, T=7, H=3)
    shares = bptt.gradient_shares(loss, model)
    grad = model.weight_hh_l0.grad.data
    np.testing.assert_allclose(shares.total("weight_hh_l0"), grad, rtol=1e-10, atol=1e-14)
    norms, along, outside, norm = share_projections(shares, "weight_hh_l0")
    assert len(norms) == 7
    np.testing.assert_allclose(along.sum() + outside, np.linalg.norm(grad), rtol=1e-10)
    np.testing.assert_allclose(norm, np.linalg.norm(grad), rtol=1e-12)
    root = ET.parse(plot_gradient_shares(shares, "weight_hh_l0", tmp_path / "s.svg")).getroot()
    assert any("‖grad‖" in (t.text or "") for t in root.iter(f"{SVG}text"))


# backward animation ----------------------------------------------------------------------------
@needs_dot
def test_animation_page_lights_nodes_in_backward_order(tmp_path):
    mg.manual_seed(0)
    model = RNN(2, 3, fused=False)
    out, _ = model(mg.randn(3, 1, 2))
    loss = (out * out).mean()
    page = animate_backward(loss, tmp_path / "a.html", names=model).read_text(encoding="utf-8")
    frames = json.loads(re.search(r"const frames = (.*);\n", page).group(1).replace("<\\/", "</"))
    svg_ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', page))
    ids = [i for _, f in frames for i in f]
    assert len(ids) == len(set(ids)) and set(ids) == svg_ids - {"legend"}  # each lit exactly once
    assert frames[0][0].startswith("mul")  # the root (mean = sum * 1/n) comes first
    assert "tanh in layer0/fwd/t=2" in "".join(c for c, _ in frames)
    steps = [int(m.group(1)) for c, _ in frames for m in [re.search(r"tanh in layer0/fwd/t=(\d)", c)] if m]
    assert steps == [2, 1, 0]  # the gradient reaches the last step first
    assert ET.fromstring(page[page.index("<svg"):page.index("</svg>") + 6]) is not None


@needs_dot
def test_animation_frames_folder(tmp_path):
    loss = (mg.Tensor([1.0, 2.0], requires_grad=True).tanh() * 3.0).sum()
    folder = animate_backward(loss, tmp_path / "frames", max_frames=3)
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"frame_00{k}.svg" for k in range(4)]
    first, last = (ET.parse(folder / f).getroot() for f in (files[0], files[-1]))
    assert first.find(f"{SVG}style") is not None and last.find(f"{SVG}style") is None


# exploded cell ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [RNNCell(2, 2), RNNCell(2, 3, nonlinearity="relu"), LSTMCell(2, 2),
                                  LSTMCell(3, 2, forget_bias=1.0), GRUCell(2, 2), GRUCell(1, 2, bias=False)],
                         ids=lambda c: repr(c))
def test_exploded_cell_matches_the_tensor_cell(cell):
    e = explode_cell(cell, seed=3)
    assert e.max_error < 1e-12, e.errors
    kinds = {"RNNCell": 7, "LSTMCell": 9, "GRUCell": 7}[type(cell).__name__]
    assert len(e.errors) == kinds - (2 if not cell.bias else 0)
    assert e.root.label == "L" and e.root.grad == 1.0


def test_exploded_lstm_clusters_each_gate():
    mg.manual_seed(0)
    e = explode_cell(LSTMCell(2, 2))
    dot = viz.to_dot(e.root)
    assert set(re.findall(r'subgraph "cluster_([^"]*)"', dot)) == {"i", "f", "g", "o", "c'", "h'"}
    for label in ("weight_hh[7,1]", "bias_ih[0]", "c[1]", "f[0]", "h'[1]"):
        assert f"{{ {label} |" in dot
    assert explode_cell(LSTMCell(2, 2), x=[0.5, -0.5], state=([0.1, 0.2], [0.3, 0.4])).max_error < 1e-12


def test_explode_rejects_other_modules():
    with pytest.raises(TypeError, match="RNNCell, LSTMCell and GRUCell"):
        explode_cell(RNN(2, 2))


# gradcheck in the picture ----------------------------------------------------------------------
def small_inputs():
    rng = np.random.default_rng(0)
    return (mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True, name="x"),
            mg.Tensor(rng.normal(size=(3, 3)), requires_grad=True, name="W"))


def red_nodes(dot: str) -> list:
    return re.findall(r'^\t(n\d+) \[label="([^\\"]*).*color="#d7191c"', dot, flags=re.M)


def test_the_failing_op_is_drawn_red():
    r = gradcheck_picture(lambda x, W: BadSquare.apply((x @ W).tanh()).sum(), small_inputs())
    assert not r.passed
    assert [f.node.op for f in r.failures] == ["bad_square"]
    assert np.isclose(r.failures[0].numeric, 2 * r.failures[0].analytic)
    assert [label for _, label in red_nodes(r.dot)] == ["bad_square"]
    assert "gradcheck FAILED: 1 op(s)" in r.dot and "finite differences" in r.dot


@needs_dot
def test_the_red_note_stays_inside_its_box():
    # the note was one 77-character line, the widest of the label, at the bottom of a rounded box
    # with a thick pen: it touched the box's sides where the corners curve in
    r = gradcheck_picture(lambda x, W: BadSquare.apply((x @ W).tanh()).sum(), small_inputs())
    layout = json.loads(viz.pipe(r.dot, "json"))
    (node,) = [o for o in layout["objects"] if o.get("color") == "#d7191c"]
    lines = [op for op in node["_ldraw_"] if op["op"] == "T"]
    assert any("finite differences" in op["text"] for op in lines)
    room = [(float(node["width"]) * 72 - op["width"]) / 2 for op in lines]  # points each side
    assert min(room) >= 12, room  # more than a rounded corner's radius


def test_a_correct_graph_passes_with_nothing_red(tmp_path):
    r = gradcheck_picture(lambda x, W: ((x @ W).tanh() ** 2).mean(), small_inputs(), tmp_path / "ok.dot")
    assert r.passed and not r.failures and not red_nodes(r.dot)
    assert "gradcheck passed" in (tmp_path / "ok.dot").read_text(encoding="utf-8")


def test_every_recurrent_op_passes_its_local_check():
    loss, _, _ = run_layer(LSTM, T=3, H=2)
    assert check_ops(loss) == []


def test_local_check_needs_the_graph():
    x, W = small_inputs()
    y = (x @ W).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed by backward"):
        check_ops(y)


def test_marks_reach_collapsed_cells():
    loss, _, _ = run_layer(RNN, T=3, H=2, fused=False)
    tanh_t1 = next(n for n in mg.toposort(loss) if n.op == "tanh" and n.scope.endswith("t=1"))
    dot = viz.to_dot(loss, detail="cells", marks={tanh_t1: "look here"})
    marked = re.findall(r'^\t+(c\d+) \[label="(t=\d)\\n[^"]*\\nlook here".*color="#d7191c"', dot, flags=re.M)
    assert [m[1] for m in marked] == ["t=1"]


@pytest.mark.parametrize("fused", [True, False])
def test_parameters_are_labelled_by_their_pytorch_names(fused):
    T = 4
    loss, _, model = run_layer(RNN, T=T, H=2, fused=fused)
    dot = viz.to_dot(loss)  # no names=: each Parameter carries its name in Tensor.name
    where = cluster_of(dot)
    for name, _ in model.named_parameters():
        (i,) = re.findall(rf'^\t*(n\d+) \[label="{name}\\n', dot, flags=re.M)
        assert where[i] == "", name  # drawn once, outside the steps
        steps = {where[b] for a, b in re.findall(r"^\t(\S+) -> (\S+) \[", dot, flags=re.M) if a == i}
        if name.startswith("weight_hh") or name.startswith("bias_hh"):  # read by every step
            assert steps == {f"layer0/fwd/t={t}" for t in range(T)}, (name, steps)
    assert '"W_hh\\n' in viz.to_dot(loss, names={"W_hh": model.weight_hh_l0})  # names= wins
    assert '"weight_hh_l0\\n' not in viz.to_dot(loss, names={"W_hh": model.weight_hh_l0})


# Jupyter ---------------------------------------------------------------------------------------
@needs_dot
def test_viz_results_show_themselves_in_a_notebook():
    r = gradcheck_picture(lambda x, W: BadSquare.apply((x @ W).tanh()).sum(), small_inputs())
    mg.manual_seed(0)
    e = explode_cell(GRUCell(1, 2))
    for obj, text in ((r, "bad_square"), (e, "largest |scalar - Tensor| difference")):
        svg = ET.fromstring(obj._repr_svg_())
        assert svg.tag == f"{SVG}svg"
        assert any(text in (t.text or "") for t in svg.iter(f"{SVG}text")), text


def test_default_max_nodes_collapses_a_long_unrolled_lstm():
    # dot needs minutes for ~800 nodes of an unrolled LSTM; the default keeps pictures to seconds
    loss, _, model = run_layer(LSTM, T=30, H=2, fused=False)
    dot = viz.to_dot(loss, names=model)
    assert len(re.findall(r"^\t+[a-z]\d+ \[", dot, flags=re.M)) <= viz.MAX_NODES
    assert f"> max_nodes={viz.MAX_NODES}: drawn with detail='cells'" in dot
