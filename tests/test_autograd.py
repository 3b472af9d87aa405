"""The Tensor backward driver: accumulation, graph release, grad modes, hooks, anomaly mode, custom Functions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Function, Tensor
from minigrad import testing as mt


def leaf(*values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def test_fan_out_and_broadcasting_sum_into_one_gradient():
    x = leaf(1.0, 2.0)
    y = x * x + x.exp() + (x[None, :] * Tensor(np.ones((3, 1)))).sum(axis=0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + np.exp(x.data) + 3)


def test_leaves_accumulate_across_backward_calls_and_intermediates_keep_none():
    x = leaf(1.0, -2.0)
    for k in (1, 2, 3):
        h = x * 3
        h.sum().backward()
        np.testing.assert_array_equal(x.grad.data, [3.0 * k, 3.0 * k])
        assert h.grad is None and not h.is_leaf and x.is_leaf


def test_first_gradient_is_a_copy():
    """The leaf's .grad must not alias an array the graph (or the caller) still holds."""
    x = leaf(1.0, 2.0)
    g = np.array([5.0, 7.0])
    x.backward(g)
    x.backward(g)
    np.testing.assert_array_equal(g, [5.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [10.0, 14.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [8.0])


def test_second_backward_through_a_released_graph_says_what_to_do():
    x = leaf(2.0)
    with mg.scope("t=0"):
        h = x.tanh()
    y = (h * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"'tanh' \(scope 't=0'\)"):
        (h * 3).sum().backward()


def test_backward_on_a_non_scalar_needs_a_gradient():
    y = leaf(1.0, 2.0) * 2
    with pytest.raises(RuntimeError, match=r"scalar.*shape \(2,\).*gradient="):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), the tensor has shape \(2,\)"):
        y.backward(np.ones(3))
    y.backward(Tensor([1.0, -1.0]))


def test_backward_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


# grad modes ------------------------------------------------------------------------------------------
def test_no_grad_records_nothing_and_restores_the_mode():
    x = leaf(1.0)
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.parents == () and y.is_leaf


def test_no_grad_as_a_decorator_and_enable_grad_inside():
    x = leaf(1.0)

    @mg.no_grad()
    def infer(t):
        """Doc kept."""
        inner = t * 2
        with mg.enable_grad():
            recorded = t * 3
        return inner, recorded

    inner, recorded = infer(x)
    assert infer.__doc__ == "Doc kept."
    assert not inner.requires_grad and recorded.requires_grad
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def nested(n):
        return nested(n - 1) if n else mg.is_grad_enabled()

    assert nested(3) is False and mg.is_grad_enabled()


def test_set_grad_enabled_and_restore_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.set_grad_enabled(False):
            assert not mg.is_grad_enabled()
            1 / 0
    assert mg.is_grad_enabled()
    with mg.no_grad(), mg.set_grad_enabled(True):
        assert (leaf(1.0) * 2).requires_grad


def test_detach_shares_data_and_stops_gradients():
    x = leaf(1.0, 2.0)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])  # d acts as a constant
    assert np.shares_memory(x.detach().data, x.data)


# hooks, retain_grad, keep_grads ------------------------------------------------------------------------
def test_hook_sees_and_replaces_the_gradient_then_is_removed():
    x = leaf(1.0, 2.0)
    seen = []
    h = x * 3
    handle = h.register_hook(lambda g: seen.append(g.data.copy()) or g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * 3 * x.data)
    np.testing.assert_allclose(x.grad.data, 10 * 2 * 9 * x.data)  # upstream sees the replacement

    x.grad = None
    h = x * 3
    hook = h.register_hook(lambda g: g * 10)
    hook.remove()
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * 9 * x.data)
    handle.remove()  # removing twice is harmless


def test_hook_on_a_leaf_and_bad_hook_results():
    x = leaf(1.0, 2.0)
    x.register_hook(lambda g: np.zeros(2))
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    y = leaf(1.0)
    y.register_hook(lambda g: np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(3,\), expected \(1,\)"):
        (y * 2).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(print)


def test_retain_grad_on_a_hidden_state():
    """h_t = a*h_{t-1} + x_t and L = sum(h_T), so dL/dh_t = a^(T-t)."""
    a, T = 0.7, 6
    xs = [leaf(float(t), 1.0) for t in range(T)]
    h = Tensor(np.zeros(2))
    hs = []
    for x in xs:
        h = h * a + x
        hs.append(h.retain_grad())
    h.sum().backward()
    for t, ht in enumerate(hs, start=1):
        np.testing.assert_allclose(ht.grad.data, [a ** (T - t)] * 2)
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).retain_grad()


def test_keep_grads_stores_every_gradient_and_keeps_the_graph():
    x = leaf(0.5, -0.5)
    with mg.keep_grads():
        h = x.tanh()
        y = (h * 2).sum()
        y.backward()
    np.testing.assert_allclose(h.grad.data, [2.0, 2.0])
    np.testing.assert_allclose(y.grad.data, 1.0)
    assert all(n.grad is not None for n in mg.toposort(y) if n.requires_grad)
    y.backward()  # the graph was kept
    np.testing.assert_allclose(x.grad.data, 2 * 2 * (1 - np.tanh(x.data) ** 2))


# anomaly mode -----------------------------------------------------------------------------------------
def test_anomaly_mode_names_the_forward_op_and_scope():
    x = leaf(-1.0, 1.0)
    with mg.detect_anomaly(), mg.scope("layer0"), mg.scope("t=2"):
        with pytest.raises(mg.AnomalyError, match=r"forward of 'log' produced NaN in scope 'layer0/t=2'"):
            x.log()
    assert np.geterr()["invalid"] != "ignore"


def test_anomaly_mode_names_the_backward_op():
    x = leaf(0.0, 4.0)

    @mg.detect_anomaly()
    def run():
        with mg.scope("decoder"):
            y = x.sqrt()
        y.sum().backward()

    with pytest.raises(mg.AnomalyError, match=r"backward of 'sqrt' \(gradient for input 0\) produced Inf in scope 'decoder'"):
        run()


def test_without_anomaly_mode_nan_passes_silently():
    x = leaf(-1.0)
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().data).all()


# dtypes and custom Functions -------------------------------------------------------------------------------
def test_leaf_gradients_keep_the_leaf_dtype():
    x = leaf(1.0, 2.0, dtype=np.float32)
    y = (x * np.array([1.0, 2.0])).sum()  # a float64 constant promotes the forward to float64
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32


def test_casts_between_floats_are_differentiable_and_to_integers_constant():
    x = leaf(1.5, 2.5, dtype=np.float32)
    d = x.double()
    assert d.dtype == np.float64 and d.requires_grad
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, [3.0, 5.0])
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad
    assert x.float() is x


class Cube(Function):
    """A user-defined primitive: x**3 * scale."""

    op = "cube"

    def forward(self, a, scale):
        self.a = a
        return a ** 3 * scale

    def backward(self, g):
        assert self.needs_input_grad == (True,)
        return (g * 3 * self.a ** 2 * self.options["scale"],)


def test_a_user_function_is_recorded_and_checked():
    x = leaf(0.5, -1.5)
    y = Cube.apply(x, scale=2.0)
    assert y.op == "cube" and y.parents == (x,)
    mt.assert_gradients_match(lambda t: Cube.apply(t, scale=2.0), [x])
    with mg.no_grad():
        assert not Cube.apply(x, scale=1.0).requires_grad


class WrongShape(Function):
    op = "wrong_shape"

    def forward(self, a):
        return a * 2

    def backward(self, g):
        return (g.sum(),)


def test_a_wrongly_shaped_gradient_is_reported():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"shape \(\) reached a tensor of shape \(2,\)"):
        WrongShape.apply(x).sum().backward()


def test_numpy_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: .*\(input shapes \(2, 3\), \(4,\)\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))


def test_accumulation_in_place_never_writes_into_a_shared_gradient():
    # add hands one gradient array to both operands; the third contribution to x is added in
    # place, which must only touch the buffer the driver allocated for x, never y's gradient
    x = Tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    y = Tensor(np.full(3, 2.0), requires_grad=True, dtype=np.float64)
    ((x + y) + x + x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0, 1.0])


def test_slices_of_one_input_accumulate_into_one_buffer():
    # the unroll pattern: every step slices x[t]; gradients of all slices land in x.grad
    x = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True, dtype=np.float64)
    total = x[0] * 1.0
    for t in range(1, 4):
        total = total + x[t] * float(t + 1) + x[t, :2].sum()
    total.sum().backward()
    # x[t, :2].sum() is broadcast over the 3 elements of total, so its slice collects 3 per element
    expected = np.array([[1, 1, 1], [5, 5, 2], [6, 6, 3], [7, 7, 4]], dtype=np.float64)
    np.testing.assert_array_equal(x.grad.data, expected)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 6), n=st.integers(1, 4), k=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_a_weight_shared_by_many_matmuls_gets_the_sum_of_every_use(steps, n, k, seed):
    # MatMul sends the weight's gradient as Deferred factors: the engine forms one product over
    # all uses, which must equal sum_t y_t^T g_t formed use by use
    rng = np.random.default_rng(seed)
    w = mg.tensor(rng.standard_normal((k, k)) / k, requires_grad=True)
    y = mg.tensor(rng.standard_normal((n, k)), requires_grad=True)
    ys = [y.data]
    for _ in range(steps):
        y = (y @ w).tanh()
        ys.append(y.data)
    seen = []
    w.register_hook(lambda grad: seen.append(grad.data.copy()))
    (y * y).sum().backward()
    g, expected = 2 * ys[-1], np.zeros((k, k))
    for t in range(steps, 0, -1):
        da = g * (1 - ys[t] ** 2)
        expected += ys[t - 1].T @ da
        g = da @ w.data.T
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(seen[0], expected, rtol=1e-10, atol=1e-12)  # the hook saw the finished sum
