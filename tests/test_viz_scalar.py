"""viz's scalar pictures at a glance: detail='named' (each named Value with the arithmetic that
feeds only it, a named array's entries as one node), and the 'hello' RNN's loss graph with its
time steps one below the other."""
from __future__ import annotations

import re
import shutil
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
import viz
from test_viz import SVG, cluster_of, clusters, edges, step_spans

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="graphviz's `dot` binary is not installed (apt-get install graphviz)")


def hello_loss():
    """The scalar 'hello' RNN's loss as the demo draws it (zoo's scalar twin), after backward."""
    pytest.importorskip("zoo")
    from zoo.models.hello import HelloRNN, scalar_hello

    mg.manual_seed(0)
    scalar = scalar_hello(HelloRNN())
    scalar.loss.backward()
    return scalar.loss


def drawn(dot: str) -> list:
    return re.findall(r"^\t*([a-z]\d+) \[", dot, flags=re.M)


def label_of(dot: str, nid: str) -> str:
    return re.search(rf'^\t*{nid} \[label="([^"]*)"', dot, flags=re.M).group(1)


# the named level -------------------------------------------------------------------------------
def test_a_named_value_takes_the_unnamed_arithmetic_feeding_it():
    a, b = mg.Value(2.0, label="a"), mg.Value(-3.0, label="b")
    e = a * b + a      # unnamed: drawn inside d
    d = e.tanh()
    d.label = "d"
    f = d * 2.0 + d    # unnamed, but d is used twice inside it: still one expression
    f.label = "f"
    f.backward()
    dot = viz.to_dot(f, detail="named")
    labels = {label_of(dot, n) for n in drawn(dot) if n[0] in "nx"}
    # d = tanh(a*b + a); f = 2d + d, whose constant 2.0 is drawn inside f too
    assert labels == {"{ a | data 2.0000 | grad -0.0080 }", "{ b | data -3.0000 | grad 0.0080 }",
                      "{ d | 3 ops | data -0.9993 | grad 3.0000 }", "{ f | 2 ops | data -2.9980 | grad 1.0000 }"}
    # one op circle per expression, named after the op that gives its value
    circles = {label_of(dot, n) for n in drawn(dot) if n[0] == "o"}
    assert circles == {"tanh", "+"}
    # a feeds d twice (a*b and +a): one edge between two drawn units, into d's op circle
    a_id, d_id = (next(n for n in drawn(dot) if label_of(dot, n).startswith(f"{{ {k} |")) for k in "ad")
    assert edges(dot).count((a_id, "o" + d_id[1:])) == 1


def test_a_value_used_by_two_expressions_or_from_another_scope_is_its_own_node():
    x = mg.Value(0.5, label="x")
    shared = x * 3.0                       # unnamed, read by y and z
    y = (shared + 1.0).tanh()
    y.label = "y"
    with mg.scope("inner"):
        z = shared * 2.0                   # another scope: does not take `shared`
        z.label = "z"
    out = y + z
    out.label = "out"
    out.backward()
    dot = viz.to_dot(out, detail="named")
    where = cluster_of(dot)
    records = {label_of(dot, n).split(" |")[0][2:]: n for n in drawn(dot) if n[0] in "nx"}
    assert set(records) == {"x", "1 op", "y", "z", "out"}  # "1 op": x * 3.0, unnamed
    assert "data 1.5000" in label_of(dot, records["1 op"])
    assert where[records["z"]] == "inner" and where[records["1 op"]] == ""


def test_array_entries_are_one_node_outside_the_steps_with_one_edge_into_each():
    from rnnlab.pictures import scalar_rnn  # the README's scalar RNN

    T = 4
    root = scalar_rnn(steps=T)
    dot = viz.to_dot(root, detail="named")
    where = cluster_of(dot)
    arrays = {label_of(dot, n).split(" |")[0][2:]: n for n in drawn(dot) if n[0] == "a"}
    assert set(arrays) == {"w_x[·]", "w_h[·,·]", "b[·]"}
    assert "9 scalars" in label_of(dot, arrays["w_h[·,·]"])
    assert "[0.1, 0.1, 0.1]" in label_of(dot, arrays["b[·]"])  # few enough to show the values
    for name, a in arrays.items():
        assert where[a] == ""
        into = [line for line in dot.splitlines() if line.startswith(f"\t{a} -> ")]
        heads = sorted(re.search(r'lhead="cluster_([^"]*)"', line).group(1) for line in into)
        # w_h is read from the second step on (the first starts from no state)
        assert heads == [f"rnn/t={t}" for t in range(0 if name != "w_h[·,·]" else 1, T)], (name, into)
    assert "compound=true" in dot
    # every hidden unit of every step is one node, named h_t[i]
    hs = sorted(label_of(dot, n).split(" |")[0][2:] for n in drawn(dot) if n[0] == "x" and "h_" in label_of(dot, n))
    assert hs == sorted(f"h_{t}[{i}]" for t in range(T) for i in range(3))
    assert {f"rnn/t={t}" for t in range(T)} <= set(clusters(dot))


def test_an_array_read_by_different_steps_entry_by_entry_is_still_shared():
    # each step reads another column of W (as the 'hello' RNN reads W_xh[:, x_t])
    W = np.array([[0.5, -0.2], [0.1, 0.3]])
    Wv = [[mg.Value(W[i, j], label=f"W[{i},{j}]") for j in range(2)] for i in range(2)]
    h = mg.Value(0.0, label="h0")
    for t in range(2):
        with mg.scope(mg.step_scope(t)):
            h = (Wv[0][t] + Wv[1][t] * h).tanh()
    h.backward()
    for detail in ("ops", "named"):
        dot = viz.to_dot(h, detail=detail)
        where = cluster_of(dot)
        ws = [n for n in drawn(dot) if label_of(dot, n).startswith("{ W[")]
        assert ws and all(where[n] == "" for n in ws), detail  # a parameter, not a step's own input


def test_named_level_is_deterministic_and_tensor_graphs_work_too():
    from test_viz import backward_all, hand_rnn

    loss, params = hand_rnn(3)
    backward_all(loss)
    texts = {viz.to_dot(loss, names=params, detail="named") for _ in range(3)}
    assert len(texts) == 1
    dot = texts.pop()
    # each step's two matmuls and two adds end in its tanh: one expression per step
    assert re.findall(r'label="tanh \((\d+) ops\)', dot) == ["5", "5", "5"]
    assert len(re.findall(r'label="(weight_ih|weight_hh|bias)\\n', dot)) == 3


# the 'hello' picture ---------------------------------------------------------------------------
def test_hello_loss_graph_at_a_glance():
    loss = hello_loss()
    nodes = len(mg.toposort(loss))
    start = time.perf_counter()
    dot = viz.to_dot(loss, detail="named")
    assert time.perf_counter() - start < 1.0
    units = drawn(dot)
    assert nodes > 300 and len(units) < 100, (nodes, len(units))
    arrays = sorted(label_of(dot, n).split(" |")[0][2:] for n in units if n[0] == "a")
    assert arrays == ["W_hh[·,·]", "W_hy[·,·]", "W_xh[·,·]", "b_hh[·]", "b_ih[·]", "b_y[·]"]
    assert "newrank=true" in dot


def test_a_big_scalar_unrolled_graph_collapses_to_the_named_level_first():
    dot = viz.to_dot(hello_loss())  # the default max_nodes
    assert "> max_nodes=300: drawn with detail='named'" in dot


@needs_dot
@pytest.mark.parametrize("options", [{"detail": "named"}, {"max_nodes": 1000}], ids=["named", "ops"])
def test_hello_steps_stack_one_below_the_other(options):
    # every step goes on after its state update (readout, loss term): dot's cluster-by-cluster
    # ranking used to put each step beside the end of the one before, a diagonal staircase
    svg = ET.fromstring(viz.pipe(viz.to_dot(hello_loss(), **options), "svg"))
    spans = step_spans(svg)
    assert sorted(spans) == [0, 1, 2, 3]
    for t in range(1, 4):
        assert spans[t - 1][1] < spans[t][0], spans
    assert svg.tag == f"{SVG}svg"
