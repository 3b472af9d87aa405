"""viz graph rendering: DOT structure, golden text, collapse, escaping, and real SVG from `dot`."""
from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
import viz
from viz.labels import clean

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"


# graphs ----------------------------------------------------------------------------------------
def scalar_graph():
    """micrograd's first example, after backward."""
    a, b, c = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b"), mg.Value(10.0, label="c")
    d = (a * b + c).tanh()
    d.label = "d"
    d.backward()
    return d


def hand_rnn(T, H=2, D=2, seed=0, layer="layer0"):
    """A tanh RNN unrolled by hand with per-step scopes (what the zoo's unroll loop records):
    h_t = tanh(x_t W_ih + h_{t-1} W_hh + b); loss = sum(h_T^2). Returns (loss, params)."""
    rng = np.random.default_rng(seed)
    p = {"weight_ih": mg.Tensor(rng.normal(0, 0.5, (D, H)).round(2), requires_grad=True),
         "weight_hh": mg.Tensor(rng.normal(0, 0.5, (H, H)).round(2), requires_grad=True),
         "bias": mg.Tensor(np.full(H, 0.1), requires_grad=True)}
    xs = [mg.Tensor(rng.normal(size=(1, D)).round(2)) for _ in range(T)]
    h = mg.zeros(1, H, dtype=np.float64)
    with mg.scope(layer):
        for t in range(T):
            with mg.scope(mg.step_scope(t)):
                h = (xs[t] @ p["weight_ih"] + h @ p["weight_hh"] + p["bias"]).tanh()
    return (h * h).sum(), p


def backward_all(loss):
    with mg.keep_grads():
        loss.backward()
    return loss


def edges(dot: str) -> list:
    return re.findall(r"^\t*(\S+) -> (\S+)", dot, flags=re.M)


def clusters(dot: str) -> list:
    return re.findall(r'subgraph "cluster_([^"]*)"', dot)


def node_ids(dot: str) -> list:
    return re.findall(r"^\t*([a-z]\d+) \[", dot, flags=re.M)


def svg_of(dot: str) -> ET.Element:
    return ET.fromstring(viz.pipe(dot, "svg"))


def cluster_of(dot: str) -> dict:
    """{node id: path of the innermost cluster it is declared in ("" at the top level)}."""
    where, stack = {}, [""]
    for line in dot.splitlines():
        if m := re.match(r'\t*subgraph "cluster_([^"]*)" \{', line):
            stack.append(m.group(1))
        elif line.strip() == "}" and len(stack) > 1:
            stack.pop()
        elif m := re.match(r"^\t*([a-z]\d+) \[", line):
            where[m.group(1)] = stack[-1]
    return where


def sliced_rnn(T, H=2, D=2, seed=0):
    """``hand_rnn`` whose input is one (T, 1, D) tensor requiring grad, sliced x[t] outside the
    step scopes (as the zoo's layers do). Returns (loss, x)."""
    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.normal(size=(T, 1, D)).round(2), requires_grad=True, name="x")
    W = mg.Tensor(rng.normal(0, 0.5, (D, H)).round(2), requires_grad=True, name="W")
    xs = [x[t] for t in range(T)]
    h = mg.zeros(1, H, dtype=np.float64)
    with mg.scope("layer0"):
        for t in range(T):
            with mg.scope(mg.step_scope(t)):
                h = (xs[t] @ W + h).tanh()
    return (h * h).sum(), x


def step_spans(svg: ET.Element) -> dict:
    """{t: (top, bottom)} of each time step's cluster in a rendered SVG."""
    spans = {}
    for g in svg.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        m = re.search(r"/?t=(\d+)$", title.text or "") if g.get("class") == "cluster" else None
        if m:
            shape = g.find(f"{SVG}path")
            shape = shape if shape is not None else g.find(f"{SVG}polygon")
            ys = [float(v) for v in re.findall(r"-?\d+\.?\d*", shape.get("d") or shape.get("points"))][1::2]
            spans[int(m.group(1))] = (min(ys), max(ys))
    return spans


# golden text -----------------------------------------------------------------------------------
GOLDEN_SCALAR = """\
digraph minigrad {
	graph [rankdir=LR fontname="Helvetica" fontsize=11 nodesep=0.25 ranksep=0.3 nslimit=2 mclimit=0.5]
	node [fontname="Helvetica" fontsize=10 height=0.3]
	edge [arrowsize=0.6]
	n0 [label="{ a | data 2.0000 | grad -0.0040 }" shape=record]
	n1 [label="{ b | data -3.0000 | grad 0.0027 }" shape=record]
	n2 [label="{ data -6.0000 | grad 0.0013 }" shape=record]
	o2 [label="*" shape=circle margin=0.02]
	o2 -> n2
	n3 [label="{ c | data 10.0000 | grad 0.0013 }" shape=record]
	n4 [label="{ data 4.0000 | grad 0.0013 }" shape=record]
	o4 [label="+" shape=circle margin=0.02]
	o4 -> n4
	n5 [label="{ d | data 0.9993 | grad 1.0000 }" shape=record]
	o5 [label="tanh" shape=circle margin=0.02]
	o5 -> n5
	n0 -> o2
	n1 -> o2
	n2 -> o4
	n3 -> o4
	n4 -> o5
}
"""


def test_scalar_graph_golden():
    assert viz.to_dot(scalar_graph(), shade=False) == GOLDEN_SCALAR


def test_scalar_graph_edge_count():
    # 3 ops: each op circle feeds its record (3 edges) and receives its operands (2 + 2 + 1)
    assert len(edges(viz.to_dot(scalar_graph()))) == 8


def test_operand_multiplicity_is_kept():
    x = mg.Value(3.0, label="x")
    dot = viz.to_dot(x * x)
    assert edges(dot).count(("n0", "o1")) == 2


def test_two_step_rnn_golden():
    loss, params = hand_rnn(2)
    assert viz.to_dot(backward_all(loss), names=params) == GOLDEN_RNN


@pytest.mark.parametrize("detail", viz.DETAILS)
def test_same_program_same_text(detail):
    texts = {viz.to_dot(backward_all(hand_rnn(3)[0]), detail=detail) for _ in range(3)}
    assert len(texts) == 1


# unrolled view ---------------------------------------------------------------------------------
@pytest.mark.parametrize("T", [1, 3, 6])
def test_one_cluster_per_step(T):
    dot = viz.to_dot(hand_rnn(T)[0])
    steps = [c for c in clusters(dot) if re.search(r"t=\d+$", c)]
    assert sorted(steps) == sorted(f"layer0/t={t}" for t in range(T))
    assert "layer0" in clusters(dot)


@pytest.mark.parametrize("detail", ["ops", "cells", "folded"])
def test_shared_parameters_drawn_once_outside_clusters(detail):
    T = 5
    loss, params = hand_rnn(T)
    dot = viz.to_dot(loss, names=params, detail=detail)
    outside = dot.split("subgraph", 1)[0]
    for name in params:
        ids = re.findall(rf'^\t(n\d+) \[label="{name}\\n', dot, flags=re.M)
        assert len(ids) == 1, name
        assert f"\t{ids[0]} [" in outside  # top level, before any cluster
        out = [e for e in edges(dot) if e[0] == ids[0]]
        assert len(out) == (1 if detail == "folded" else T), (name, out)


def test_step_inputs_are_drawn_in_their_step():
    T = 3
    loss, x = sliced_rnn(T)
    dot = viz.to_dot(backward_all(loss))
    where = cluster_of(dot)
    (xid,) = re.findall(r'^\t(n\d+) \[label="x\\n', dot, flags=re.M)
    assert where[xid] == ""  # the whole input: once, outside, an edge into every step
    slices = [b for a, b in edges(dot) if a == xid]
    assert sorted(where[b] for b in slices) == [f"layer0/t={t}" for t in range(T)]
    # h0 (zeros, made before the loop) belongs to the first step; W, used by every step, stays out
    (h0,) = re.findall(r'^\t*(n\d+) \[label="const\\n1×2\\n\[\[0., 0.\]\]', dot, flags=re.M)
    assert where[h0] == "layer0/t=0"
    assert {where[a] for a, _ in edges(dot) if a in where and where[a] != ""} <= {f"layer0/t={t}" for t in range(T)}
    # cells: each slice stays its own node beside the cells; folded: the loop takes them in
    cells = viz.to_dot(loss, detail="cells")
    where = cluster_of(cells)
    assert sorted(where[n] for n in re.findall(r'^\t*(n\d+) \[label="getitem', cells, flags=re.M)) == ["layer0"] * T
    assert "getitem" not in viz.to_dot(loss, detail="folded")


def test_nodes_used_by_two_steps_or_another_scope_stay_outside():
    W = mg.Tensor(np.eye(2) * 0.5, requires_grad=True, name="W")
    both = mg.Tensor(np.ones((1, 2)), name="both")   # used by two steps
    with mg.scope("encoder"):
        enc = mg.Tensor(np.ones((1, 2)), requires_grad=True) * 2.0  # recorded in another scope
    h = mg.zeros(1, 2)
    with mg.scope("decoder"):
        for t in range(2):
            with mg.scope(mg.step_scope(t)):
                h = (h @ W + both + (enc if t == 0 else 0.0)).tanh()
    dot = viz.to_dot(h.sum())
    where = cluster_of(dot)
    (b,) = re.findall(r'^\t*(n\d+) \[label="both', dot, flags=re.M)
    (e,) = re.findall(r'^\t*(n\d+) \[label="mul', dot, flags=re.M)
    assert where[b] == "" and where[e] == "encoder"


def test_a_parameter_used_by_one_step_stays_outside():
    loss, params = hand_rnn(1)
    dot = viz.to_dot(loss, names=params)
    where = cluster_of(dot)
    for name in params:
        (i,) = re.findall(rf'^\t*(n\d+) \[label="{name}\\n', dot, flags=re.M)
        assert where[i] == "", name
    (x0,) = re.findall(r'^\t*(n\d+) \[label="const\\n1×2\\n\[\[-0.7', dot, flags=re.M)
    assert where[x0] == "layer0/t=0"


def test_unrolled_graphs_run_top_to_bottom_others_left_to_right():
    assert "rankdir=TB" in viz.to_dot(hand_rnn(2)[0])
    assert "rankdir=LR" in viz.to_dot(scalar_graph())
    assert "rankdir=LR" in viz.to_dot(hand_rnn(2)[0], rankdir="LR")


def test_steps_follow_one_another_through_layout_only_edges():
    T = 4
    dot = viz.to_dot(backward_all(hand_rnn(T)[0]))
    where = cluster_of(dot)
    hidden = [(a, b) for a, b in re.findall(r"^\t(\S+) -> (\S+) \[style=invis\]$", dot, flags=re.M)]
    # one per step boundary: the last op of step t-1 (its tanh) to the first unit of step t (x[t])
    assert [(where[a], where[b]) for a, b in hidden] == [(f"layer0/t={t - 1}", f"layer0/t={t}") for t in range(1, T)]
    assert all(re.search(rf'^\t*{b} \[label="const', dot, flags=re.M) for _, b in hidden)


@needs_dot
@pytest.mark.parametrize("example", ["hand_rnn", "scalar_rnn"])
def test_step_clusters_stack_in_time_order(example):
    # the scalar RNN meets its input long before the state: without the layout-only edges dot
    # ranked each step beside the one before (a staircase)
    from rnnlab.pictures import scalar_rnn

    T = 4
    root = backward_all(hand_rnn(T)[0]) if example == "hand_rnn" else scalar_rnn(steps=T)
    spans = step_spans(svg_of(viz.to_dot(root)))
    assert sorted(spans) == list(range(T))
    for t in range(1, T):
        assert spans[t - 1][1] < spans[t][0], spans  # each step entirely below the one before


def test_parameter_names_from_module_or_tensor_name():
    loss, params = hand_rnn(2)
    params["weight_hh"].name = "W_hh"
    dot = viz.to_dot(loss)
    assert '"W_hh\\n' in dot and "weight_ih" not in dot

    class Holder:
        def named_parameters(self):
            return iter(params.items())

    assert '"weight_ih\\n' in viz.to_dot(loss, names=Holder())


def test_cells_detail_one_node_per_step_in_a_chain():
    T = 4
    dot = viz.to_dot(hand_rnn(T)[0], detail="cells")
    cells = re.findall(r'^\t\t(c\d+) \[label="(t=\d+)\\n(\d+) ops', dot, flags=re.M)
    assert [c[1] for c in cells] == [f"t={t}" for t in range(T)]
    assert all(c[2] == "5" for c in cells)  # matmul, matmul, add, add, tanh
    ids = [c[0] for c in cells]
    chain = [(a, b) for a, b in edges(dot) if a in ids and b in ids]
    assert chain == list(zip(ids, ids[1:]))
    assert not [c for c in clusters(dot) if "t=" in c]


def test_folded_detail_has_one_cell_with_a_loop():
    T = 7
    dot = viz.to_dot(hand_rnn(T)[0], detail="folded")
    folds = re.findall(r"^\t\t(f\d+) \[", dot, flags=re.M)
    assert len(folds) == 1
    f = folds[0]
    assert re.search(rf'^\t{f} -> {f} \[label="×{T}"\]$', dot, flags=re.M)
    assert "t=0…6" in dot and "35 ops in 7 steps" in dot


def test_keep_steps_draws_ends_and_an_ellipsis():
    T, k = 10, 2
    dot = viz.to_dot(hand_rnn(T)[0], keep_steps=k)
    steps = sorted(int(c.split("t=")[1]) for c in clusters(dot) if "t=" in c)
    assert steps == [0, 1, 8, 9]
    assert "… 6 steps …\\nt=2…7" in dot
    e = re.findall(r"^\t\t(e\d+) \[", dot, flags=re.M)
    assert len(e) == 1
    # the sequence runs through the ellipsis: step 1 feeds it, it feeds step 8
    assert any(b == e[0] for _, b in edges(dot)) and any(a == e[0] for a, _ in edges(dot))


def test_nested_layer_and_direction_clusters():
    loss_f, p = hand_rnn(3)
    with mg.scope("layer1"), mg.scope("bwd"):
        h = mg.zeros(1, 2, dtype=np.float64)
        for t in reversed(range(3)):
            with mg.scope(mg.step_scope(t)):
                h = (h @ p["weight_hh"]).tanh()
    dot = viz.to_dot(loss_f + h.sum())
    cl = clusters(dot)
    assert {"layer1", "layer1/bwd", "layer1/bwd/t=0", "layer0/t=2"} <= set(cl)
    # layer1/bwd is nested inside layer1: opened before layer1's closing brace
    body = dot[dot.index('"cluster_layer1"'):]
    assert body.index('"cluster_layer1/bwd"') < body.index("\n\t}\n")


# gradient shading ------------------------------------------------------------------------------
def test_shading_follows_gradients():
    def fills(dot):
        return set(re.findall(r'fillcolor="(#[0-9a-f]{6})"', dot)) & set(viz.PALETTE)

    loss, _ = hand_rnn(3)
    before = viz.to_dot(loss)
    assert not fills(before) and "legend" not in before
    backward_all(loss)
    dot = viz.to_dot(loss)
    assert "cluster_legend" in dot and "|grad| (log scale)" in dot
    assert len(fills(dot)) >= 3
    assert not fills(viz.to_dot(loss, shade=False))


def test_vanishing_gradient_is_lighter_far_from_the_loss():
    # small recurrent weights: |dL/dh_t| shrinks geometrically going back in time
    W = mg.Tensor(np.eye(3) * 0.3, requires_grad=True, name="W")
    h = mg.ones(1, 3, dtype=np.float64)
    for t in range(8):
        with mg.scope(mg.step_scope(t)):
            h = (h @ W).tanh()
    dot = viz.to_dot(backward_all(h.sum()), detail="cells")
    colors = re.findall(r'label="t=(\d+)\\n.*?fillcolor="(#[0-9a-f]{6})"', dot)
    rank = [viz.PALETTE.index(c) for _, c in sorted(colors, key=lambda x: int(x[0]))]
    assert rank == sorted(rank) and rank[0] < rank[-1]


def test_nonfinite_gradients_get_their_own_colour():
    x = mg.Tensor([0.0, 1.0], requires_grad=True, name="x")
    with np.errstate(divide="ignore"):
        y = x.sqrt().sum()
        backward_all(y)
    dot = viz.to_dot(y)
    assert "nan/inf" in dot


# collapse --------------------------------------------------------------------------------------
def test_max_nodes_collapses_a_20000_node_chain_quickly():
    x = mg.Value(0.5, label="x")
    v = x
    for _ in range(10_000):
        v = (v * 0.999).tanh()  # 3 nodes per iteration: const, mul, tanh
    start = time.perf_counter()
    dot = viz.to_dot(v, max_nodes=300)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed
    assert len(node_ids(dot)) <= 300
    assert "30,001 graph nodes" in dot and "max_nodes=300" in dot
    assert re.search(r'label="… [\d,]+ more nodes"', dot)


def test_max_nodes_prefers_cells_then_fewer_steps_for_unrolled_graphs():
    W = mg.Tensor(np.eye(2) * 0.5, requires_grad=True, name="W")
    h = mg.zeros(1, 2)
    with mg.scope("layer0"):
        for t in range(5000):  # 4 nodes per step: 20,000 graph nodes
            with mg.scope(mg.step_scope(t)):
                h = (h @ W + 1.0).tanh()
    loss = h.sum()
    start = time.perf_counter()
    dot = viz.to_dot(loss, max_nodes=400)
    assert time.perf_counter() - start < 3.0
    assert len(node_ids(dot)) <= 400
    assert "detail='cells', first and last 8 steps" in dot
    assert "… 4984 steps …" in dot
    small = viz.to_dot(loss, max_nodes=5)
    assert "detail='folded'" in small and len(node_ids(small)) <= 5


def test_max_nodes_truncation_keeps_the_output_and_links_the_rest():
    x = mg.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(100):
        y = y * 1.01
    dot = viz.to_dot(y.sum(), max_nodes=20)
    ids = node_ids(dot)
    assert len(ids) == 20 and "h0" in ids
    top = max(int(i[1:]) for i in ids if i[0] == "n")
    assert f"n{top}" in ids  # the root is drawn
    assert any(a == "h0" for a, _ in edges(dot))


def test_a_graph_freed_by_backward_says_so():
    x = mg.Tensor(np.ones(2), requires_grad=True)
    y = (x * 2.0).sum()
    y.backward()
    dot = viz.to_dot(y)
    assert 'label="sum (freed)' in dot and "minigrad.keep_grads()" in dot


# errors ----------------------------------------------------------------------------------------
def test_bad_arguments_are_named():
    loss, _ = hand_rnn(2)
    with pytest.raises(ValueError, match="detail"):
        viz.to_dot(loss, detail="layers")
    with pytest.raises(ValueError, match="keep_steps"):
        viz.to_dot(loss, keep_steps=0)
    with pytest.raises(ValueError, match="max_nodes"):
        viz.to_dot(loss, max_nodes=1)
    with pytest.raises(TypeError, match="names="):
        viz.to_dot(loss, names=[1, 2])
    with pytest.raises(TypeError, match="Values or Tensors"):
        viz.to_dot(3.0)


# rendering with graphviz -----------------------------------------------------------------------
def test_draw_returns_a_digraph_with_the_same_source():
    graphviz = pytest.importorskip("graphviz")
    loss, params = hand_rnn(2)
    g = viz.draw(loss, names=params, detail="cells")
    assert isinstance(g, graphviz.Digraph)
    assert g.source == viz.to_dot(loss, names=params, detail="cells")


def test_render_dot_format_needs_no_binary(tmp_path):
    d = scalar_graph()
    out = viz.render(d, tmp_path / "g.dot")
    assert out.read_text(encoding="utf-8") == viz.to_dot(d)


@needs_dot
@pytest.mark.parametrize("detail", ["ops", "cells", "folded"])
def test_svg_parses_and_names_the_clusters(tmp_path, detail):
    T = 3
    loss, params = hand_rnn(T)
    backward_all(loss)
    path = viz.render(loss, tmp_path / "rnn.svg", names=params, detail=detail)
    root = ET.parse(path).getroot()
    titles = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"
              for t in g.findall(f"{SVG}title")]
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "cluster_layer0" in titles and "cluster_legend" in titles
    if detail == "ops":
        assert {f"cluster_layer0/t={t}" for t in range(T)} <= set(titles)
    assert {f"t={t}" for t in range(T)} <= texts or detail == "folded"
    assert {"weight_ih", "weight_hh", "bias"} <= texts


@needs_dot
def test_scalar_svg_parses(tmp_path):
    root = ET.parse(viz.render(scalar_graph(), tmp_path / "s.svg")).getroot()
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "tanh" in texts and "data 0.9993" in texts


# escaping --------------------------------------------------------------------------------------
NASTY = ['"', "\\", "\\\"", "{", "}", "|", "<", ">", "&", "&amp;", "&#0;", "&foo;", "\n", "\r", "\t",
         "\x00", "\x07", "\x1b", "\ud800", "\ufffe", "é", "日本", "🙂", "\u200b", "]]>", "\\n", "\\N",
         "%", "/", "=", " ", "  ", "'", "-->", "<!--", "\\l", "$", "@"]
texts = st.lists(st.sampled_from(NASTY) | st.text(max_size=4), max_size=6).map("".join)
scope_names = texts.filter(lambda s: s and "/" not in s)


def visible(s: str) -> str:
    """The characters of ``s`` that must show up in the SVG text (graphviz trims whitespace)."""
    return "".join(clean(s).split())


@needs_dot
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value_label=texts, tensor_name=texts, param_name=texts, scope_name=scope_names, title=texts)
def test_escaping_fuzz(value_label, tensor_name, param_name, scope_name, title):
    a = mg.Value(1.5, label=value_label)
    vdot = viz.to_dot((a * 2.0).tanh(), title=title)
    W = mg.Tensor(np.ones((2, 2)), requires_grad=True)
    with mg.scope(scope_name), mg.scope("t=0"):
        y = (mg.Tensor(np.ones((1, 2)), name=tensor_name) @ W).sum()
    tdot = viz.to_dot(backward_all(y), names={param_name: W}, marks={y: title})
    for dot, wanted in ((vdot, [value_label, title]), (tdot, [tensor_name, param_name, scope_name])):
        root = svg_of(dot)  # parses as XML
        shown = "".join("".join(t.text or "" for t in root.iter(f"{SVG}text")).split())
        for w in wanted:
            assert visible(w) in shown, (w, dot)
    titles = [t.text for t in svg_of(tdot).iter(f"{SVG}title")]
    assert any(t and t.startswith("cluster_") and t.endswith("/t=0") for t in titles)


GOLDEN_RNN = """\
digraph minigrad {
	graph [rankdir=TB fontname="Helvetica" fontsize=11 nodesep=0.25 ranksep=0.3 nslimit=2 mclimit=0.5]
	node [fontname="Helvetica" fontsize=10 height=0.3]
	edge [arrowsize=0.6]
	n1 [label="weight_ih\\n2×2\\n[[0.06, -0.07],\\n [0.32, 0.05]]\\n|grad| 6.76e-01" shape=box penwidth=1.8 style="filled" fillcolor="#fc4e2a"]
	n6 [label="weight_hh\\n2×2\\n[[-0.27, 0.18],\\n [0.65, 0.47]]\\n|grad| 1.67e-01" shape=box penwidth=1.8 style="filled" fillcolor="#ffffcc"]
	n9 [label="bias\\n2\\n[0.1, 0.1]\\n|grad| 7.21e-01" shape=box penwidth=1.8 style="filled" fillcolor="#e31a1c" fontcolor=white]
	n16 [label="mul\\n1×2\\n[[0.04749, 0.01551]]\\n|grad| 1.41e+00" shape=box style="rounded,filled" fillcolor="#800026" fontcolor=white]
	n17 [label="sum\\nscalar\\n0.063\\n|grad| 1.00e+00" shape=box style="rounded,filled" fillcolor="#bd0026" fontcolor=white]
	subgraph "cluster_layer0" {
		graph [label="layer0" style=rounded color="#999999" fontcolor="#555555"]
		subgraph "cluster_layer0/t=0" {
			graph [label="t=0" style="rounded,filled" fillcolor="#f5f5f5" color="#999999" fontcolor="#555555"]
			n3 [label="const\\n1×2\\n[[-0.7, -1.27]]" shape=box style="dashed"]
			n4 [label="matmul\\n1×2\\n[[-0.4484, -0.0145]]\\n|grad| 3.87e-01" shape=box style="rounded,filled" fillcolor="#feb24c"]
			n5 [label="const\\n1×2\\n[[0., 0.]]" shape=box style="dashed"]
			n7 [label="matmul\\n1×2\\n[[0., 0.]]\\n|grad| 3.87e-01" shape=box style="rounded,filled" fillcolor="#feb24c"]
			n8 [label="add\\n1×2\\n[[-0.4484, -0.0145]]\\n|grad| 3.87e-01" shape=box style="rounded,filled" fillcolor="#feb24c"]
			n10 [label="add\\n1×2\\n[[-0.3484, 0.0855]]\\n|grad| 3.87e-01" shape=box style="rounded,filled" fillcolor="#feb24c"]
			n11 [label="tanh\\n1×2\\n[[-0.335, 0.08529]]\\n|grad| 3.91e-01" shape=box style="rounded,filled" fillcolor="#feb24c"]
		}
		subgraph "cluster_layer0/t=1" {
			graph [label="t=1" style="rounded,filled" fillcolor="#f5f5f5" color="#999999" fontcolor="#555555"]
			n0 [label="const\\n1×2\\n[[-0.62, 0.04]]" shape=box style="dashed"]
			n2 [label="matmul\\n1×2\\n[[-0.0244, 0.0454]]\\n|grad| 4.82e-01" shape=box style="rounded,filled" fillcolor="#fd8d3c"]
			n12 [label="matmul\\n1×2\\n[[0.1459, -0.0202]]\\n|grad| 4.82e-01" shape=box style="rounded,filled" fillcolor="#fd8d3c"]
			n13 [label="add\\n1×2\\n[[0.1215, 0.0252]]\\n|grad| 4.82e-01" shape=box style="rounded,filled" fillcolor="#fd8d3c"]
			n14 [label="add\\n1×2\\n[[0.2215, 0.1252]]\\n|grad| 4.82e-01" shape=box style="rounded,filled" fillcolor="#fd8d3c"]
			n15 [label="tanh\\n1×2\\n[[0.2179, 0.1245]]\\n|grad| 5.02e-01" shape=box style="rounded,filled" fillcolor="#fd8d3c"]
		}
	}
	n0 -> n2 [color="#fc4e2a" penwidth=1.80]
	n1 -> n2 [color="#fc4e2a" penwidth=0.60]
	n3 -> n4 [color="#fd8d3c" penwidth=1.50]
	n1 -> n4 [color="#fd8d3c" penwidth=0.60]
	n5 -> n7 [color="#fd8d3c" penwidth=1.50]
	n6 -> n7 [color="#fd8d3c" penwidth=0.60]
	n4 -> n8 [color="#fd8d3c" penwidth=1.50]
	n7 -> n8 [color="#fd8d3c" penwidth=1.50]
	n8 -> n10 [color="#fd8d3c" penwidth=1.50]
	n9 -> n10 [color="#fd8d3c" penwidth=0.60]
	n10 -> n11 [color="#fd8d3c" penwidth=1.50]
	n11 -> n12 [color="#fc4e2a" penwidth=1.80]
	n6 -> n12 [color="#fc4e2a" penwidth=0.60]
	n2 -> n13 [color="#fc4e2a" penwidth=1.80]
	n12 -> n13 [color="#fc4e2a" penwidth=1.80]
	n13 -> n14 [color="#fc4e2a" penwidth=1.80]
	n9 -> n14 [color="#fc4e2a" penwidth=0.60]
	n14 -> n15 [color="#fc4e2a" penwidth=1.80]
	n15 -> n16 [color="#800026" penwidth=3.00]
	n15 -> n16 [color="#800026" penwidth=3.00]
	n16 -> n17 [color="#bd0026" penwidth=2.70]
	n11 -> n0 [style=invis]
	subgraph cluster_legend {
		graph [label="|grad| (log scale)" style=rounded color="#999999"]
		legend [shape=plaintext label=<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"><TR><TD BGCOLOR="#ffffcc"><FONT COLOR="black">1.9e-01</FONT></TD><TD BGCOLOR="#ffeda0"><FONT COLOR="black">2.4e-01</FONT></TD><TD BGCOLOR="#fed976"><FONT COLOR="black">3.0e-01</FONT></TD><TD BGCOLOR="#feb24c"><FONT COLOR="black">3.8e-01</FONT></TD><TD BGCOLOR="#fd8d3c"><FONT COLOR="black">4.9e-01</FONT></TD><TD BGCOLOR="#fc4e2a"><FONT COLOR="black">6.2e-01</FONT></TD><TD BGCOLOR="#e31a1c"><FONT COLOR="white">7.8e-01</FONT></TD><TD BGCOLOR="#bd0026"><FONT COLOR="white">9.9e-01</FONT></TD><TD BGCOLOR="#800026"><FONT COLOR="white">1.3e+00</FONT></TD></TR></TABLE>>]
	}
}
"""
