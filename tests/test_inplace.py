"""In-place ops with PyTorch's rules: allowed under no_grad (the hand-written SGD step), refused on a
leaf that requires grad while recording, recorded on any other tensor; and the version counter, which
makes a backward through a node whose tensors changed in place afterwards raise, naming the op, its
scope and the tensor."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, optim
from minigrad.nn import init

IN_PLACE = {
    "add_": lambda t: t.add_(1.0), "sub_": lambda t: t.sub_(1.0), "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(2.0), "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(3.0),
    "clamp_": lambda t: t.clamp_(min=0.0), "copy_": lambda t: t.copy_(np.ones(3)),
}


def _iadd(t):
    t += 1.0


def _isub(t):
    t -= 1.0


def _imul(t):
    t *= 2.0


def _itruediv(t):
    t /= 2.0


AUGMENTED = {"+=": _iadd, "-=": _isub, "*=": _imul, "/=": _itruediv}


def test_the_hand_written_sgd_step_updates_the_parameter_itself():
    rng = np.random.default_rng(0)
    w = mg.Tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    x = rng.standard_normal((5, 3))
    same, before = w, w.data.copy()
    for step in range(3):
        loss = ((mg.Tensor(x) @ w) ** 2).mean()
        loss.backward()
        g = w.grad.data.copy()
        with mg.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
        np.testing.assert_allclose(w.data, before - 0.1 * g, rtol=1e-15)
        before = w.data.copy()
        assert w is same and w.is_leaf and w.requires_grad and w._version == step + 1
        assert not w.grad.data.any()


@pytest.mark.parametrize("op", [*IN_PLACE.values(), *AUGMENTED.values()],
                         ids=[*IN_PLACE, *AUGMENTED])
def test_a_leaf_that_requires_grad_refuses_while_recording(op):
    w = mg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad cannot be modified in place"):
        op(w)
    np.testing.assert_array_equal(w.data, [1.0, -2.0, 3.0])
    assert w._version == 0
    with mg.no_grad():
        op(w)  # allowed there
    assert w._version == 1 and w.requires_grad and w.is_leaf


@pytest.mark.parametrize("name", IN_PLACE)
def test_each_op_writes_into_the_memory_and_returns_the_tensor(name):
    base = np.array([1.0, -2.0, 3.0])
    t = mg.Tensor(base)
    view = t.data
    out = IN_PLACE[name](t)
    expected = {"add_": base + 1, "sub_": base - 1, "mul_": base * 2, "div_": base / 2, "zero_": 0 * base,
                "fill_": np.full(3, 3.0), "clamp_": np.clip(base, 0, None), "copy_": np.ones(3)}[name]
    assert out is t and t.data is view and t._version == 1
    np.testing.assert_array_equal(view, expected)


def test_the_alias_sees_the_change_as_in_pytorch():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    y = x.detach()  # shares x's memory
    z = y
    y -= 1
    assert z is y
    np.testing.assert_array_equal(x.data, [0.0, 1.0])


def test_on_a_tensor_computed_from_others_the_op_is_recorded():
    x = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    same = y
    y.mul_(2).add_(x)  # y = 2 (x * 1) + x
    assert y is same and y.op == "add" and y._version == 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])


def test_a_constant_becomes_a_node_when_what_is_added_requires_grad():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    total = mg.zeros(2)
    total += x * x
    assert total.requires_grad and total.op == "add"
    total.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_a_saved_input_modified_afterwards_makes_backward_raise_naming_op_scope_and_tensor():
    w = mg.Tensor([1.0, 2.0], requires_grad=True, name="weight")
    x = mg.Tensor([3.0, 4.0], requires_grad=True)
    with mg.scope("layer0"), mg.scope(mg.step_scope(1)):
        loss = (w * x).sum()
    with mg.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError) as err:
        loss.backward()
    msg = str(err.value)
    for part in ("op 'mul'", f"scope 'layer0/{mg.step_scope(1)}'", "input 0", "named 'weight'", "shape (2,)",
                 "version 1"):
        assert part in msg, msg
    assert w.grad is None and x.grad is None  # the check runs before the op's backward


def test_an_output_modified_afterwards_makes_backward_raise():
    x = mg.Tensor([0.5, 1.0], requires_grad=True)
    z = x.exp()  # exp's backward reads its own output
    with mg.no_grad():
        z.mul_(2)
    with pytest.raises(RuntimeError, match="op 'exp'.*its output"):
        z.sum().backward()


def test_an_output_no_backward_reads_may_change_in_place_and_gradients_follow_its_new_value():
    """Linear's backward reads x and W, not y: y's memory may be reused (as zoo.unroll reuses the
    projection's for the gates), and what is recorded after the change is differentiated as it reads."""
    x = mg.Tensor([[1.0, 2.0]], requires_grad=True)
    w = mg.Tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    y = F.linear(x, w)
    with mg.no_grad():
        y.mul_(3)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * y.data @ w.data)
    assert y._version == 1


def test_nodes_that_used_a_tensor_before_it_was_recorded_in_place_refuse():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y  # used y's old value
    y.add_(1)
    with pytest.raises(RuntimeError, match="op 'mul'.*was modified by an in-place operation"):
        z.sum().backward()
    y.sum().backward()  # the in-place op's own graph is fine
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_a_graph_recorded_after_the_change_is_fine_and_costs_no_check():
    w = mg.Tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        w.add_(1)
    loss = (w * w).sum()
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [4.0, 6.0])


def test_an_optimizer_step_invalidates_graphs_recorded_before_it():
    """The GAN bug PyTorch catches: a loss computed before the step, backpropagated after it."""
    mg.manual_seed(0)
    lin = nn.Linear(2, 1)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    loss = lin(mg.randn(4, 2)).pow(2).mean()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="named 'weight'"):
        loss.backward()


def test_reinitialising_a_parameter_counts_as_an_in_place_change():
    w = nn.Parameter(np.ones((2, 2)))
    y = (w * w).sum()
    init.zeros_(w)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="in-place operation"):
        y.backward()


@pytest.mark.parametrize("call, match", [
    (lambda: mg.Tensor([1, 2]).mul_(1.5), "float64, which this int64 tensor cannot hold"),
    (lambda: mg.zeros(3).add_(mg.ones(2, 3)), r"result has shape \(2, 3\), but this tensor has shape \(3,\)"),
    (lambda: mg.ones(3).expand(2, 3).zero_(), "read-only"),
])
def test_what_cannot_be_done_in_place_is_refused_clearly(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


def test_fill_and_copy_convert_to_the_tensors_dtype():
    i = mg.Tensor([1, 2, 3])
    i.fill_(2.7)
    assert i.dtype == np.int64 and i.tolist() == [2, 2, 2]
    i.copy_(np.array([1.9, -1.9, 0.5]))
    assert i.tolist() == [1, -1, 0]
    f = mg.zeros(3)
    f += np.arange(3.0)  # float64 into float32
    assert f.dtype == np.float32 and f.tolist() == [0.0, 1.0, 2.0]


def test_clone_is_a_copy_that_in_place_ops_leave_the_original_alone():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    with mg.no_grad():
        c.zero_()
    np.testing.assert_array_equal(x.data, [1.0, 2.0])
    d = x.clone()
    (d * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_a_refused_op_changes_nothing():
    x = mg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match="cannot change the shape"):
        y.add_(mg.ones(2, 3))  # recorded path
    assert y._version == 0 and y.op == "mul"
    c = mg.zeros(3)
    with pytest.raises(RuntimeError, match="cannot change the shape"):
        c.add_(mg.ones(2, 3))  # written path
    assert c._version == 0 and not c.data.any()
    (y * y).sum().backward()  # y's graph is intact
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])
