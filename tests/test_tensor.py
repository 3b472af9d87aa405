"""Creating tensors, their attributes and dtypes, factories and randomness, and error messages."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor


def test_dtypes_follow_pytorch():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(3.5).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor([True]).dtype == np.bool_
    assert Tensor(np.ones(2, dtype=np.float64)).dtype == np.float64  # numpy arrays keep theirs
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    mg.set_default_dtype(np.float64)
    assert Tensor([1.0]).dtype == np.float64 and mg.zeros(2).dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        mg.set_default_dtype(np.int32)


def test_public_constructor_copies_and_accepts_tensors():
    a = np.array([1.0, 2.0])
    t = Tensor(a)
    a[0] = 9.0
    assert t.data[0] == 1.0
    u = Tensor(t, requires_grad=True)
    assert u.requires_grad and not np.shares_memory(u.data, t.data)
    with pytest.raises(TypeError, match="cannot make a Tensor from str"):
        Tensor("abc")


def test_integer_tensors_cannot_require_grad_and_say_why():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients.*int64"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        mg.arange(3, requires_grad=True)


def test_attributes():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.numel(), len(t)) == ((2, 3), 2, 6, 2)
    # PyTorch's meanings: size() is the shape, size(d) one length, dim() the rank
    assert (t.size(), t.size(0), t.size(-1), t.dim()) == ((2, 3), 2, 3, 2)
    assert t.numpy() is t.data
    assert t.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert [row.tolist() for row in t] == [[0, 1, 2], [3, 4, 5]]
    s = Tensor(2.5)
    assert (s.item(), float(s), int(s), bool(s)) == (2.5, 2.5, 2, True)
    with pytest.raises(ValueError, match=r"one element.*\(2, 3\)"):
        t.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    assert len({t, s, t}) == 2  # hashable by identity


def test_requires_grad_and_leaf_rules():
    x = Tensor([1.0]).requires_grad_()
    assert x.requires_grad and x.is_leaf and x.op == ""
    y = x * 2
    assert not y.is_leaf and y.op == "mul"
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


def test_no_assignment_in_place():
    with pytest.raises(TypeError, match=r"not assigned in place by index \(x\[i\] = v\)"):
        Tensor([1.0, 2.0])[0] = 3.0


def test_numpy_operands_on_the_left_give_tensors():
    x = Tensor(np.ones(2), requires_grad=True)
    for y in (np.ones(2) + x, np.ones(2) * x, np.ones((2, 2)) @ x, np.ones(2) - x):
        assert isinstance(y, Tensor) and y.requires_grad


def test_repr_is_readable():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.], dtype=float32)"
    x = Tensor([1.0], requires_grad=True)
    assert repr(x) == "Tensor([1.], dtype=float32, requires_grad=True)"
    with mg.scope("t=0"):
        y = x * 2
    assert repr(y) == "Tensor([2.], dtype=float32, op='mul', scope='t=0')"
    assert "..." in repr(mg.zeros(1000))


# factories ------------------------------------------------------------------------------------------
def test_factories():
    assert mg.zeros(2, 3).shape == mg.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(mg.ones(2).data, [1, 1])
    np.testing.assert_array_equal(mg.full((2,), 7).data, [7, 7])
    assert mg.full(3, 1.5).dtype == np.float32
    np.testing.assert_array_equal(mg.eye(2, 3).data, np.eye(2, 3))
    assert mg.arange(4).dtype == np.int64 and mg.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(mg.arange(2, 8, 2).data, [2, 4, 6])
    x = mg.zeros(2, dtype=np.float64, requires_grad=True)
    assert x.requires_grad and mg.zeros_like(x).dtype == np.float64 and not mg.zeros_like(x).requires_grad
    np.testing.assert_array_equal(mg.ones_like(x, dtype=np.int64).data, [1, 1])


def test_random_factories_are_reproducible():
    mg.manual_seed(3)
    a = [mg.randn(2, 3), mg.rand(4), mg.uniform(5, low=-2, high=-1)]
    state = mg.get_rng_state()
    after = mg.randn(2)
    mg.manual_seed(3)
    b = [mg.randn(2, 3), mg.rand(4), mg.uniform(5, low=-2, high=-1)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.data, y.data)
        assert x.dtype == np.float32
    mg.set_rng_state(state)
    np.testing.assert_array_equal(mg.randn(2).data, after.data)
    assert ((a[2].data >= -2) & (a[2].data < -1)).all() and ((a[1].data >= 0) & (a[1].data < 1)).all()
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(mg.randn(3, generator=g1).data, mg.randn(3, generator=g2).data)
    assert mg.randn(2, requires_grad=True, dtype=np.float64).requires_grad


# errors name what was wrong ------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, pattern", [
    (lambda: Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 6))), mg.ShapeError, r"matmul: shapes \(3, 4\) and \(5, 6\)"),
    (lambda: Tensor(np.ones(3)) @ Tensor(2.0), mg.ShapeError, r"matmul: .*at least 1 dimension.*\(3,\) and \(\)"),
    (lambda: mg.zeros(2, 3).reshape(4), mg.ShapeError, r"reshape: .*shape \(2, 3\) \(6 elements\) into \(4,\)"),
    (lambda: mg.zeros(2, 3).permute(0, 0), mg.ShapeError, r"permute: \(0, 0\) is not a permutation"),
    (lambda: mg.zeros(2, 3).expand(4, 3), mg.ShapeError, r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"),
    (lambda: mg.zeros(2, 3).expand(3), ValueError, r"expand: target \(3,\) has fewer axes"),
    (lambda: mg.zeros(3).transpose(), mg.ShapeError, r"transpose: axes -2 and -1 are out of range for shape \(3,\)"),
    (lambda: mg.cat([mg.zeros(2, 3), mg.zeros(3, 2)]), ValueError, r"cat: shapes \[\(2, 3\), \(3, 2\)\] differ outside dim 0"),
    (lambda: mg.stack([mg.zeros(2), mg.zeros(3)]), ValueError, r"stack: .*same shape.*\(2,\), \(3,\)"),
    (lambda: mg.cat([]), ValueError, r"cat\(\) needs at least one tensor"),
    (lambda: mg.zeros(5).split([2, 2]), ValueError, r"split sizes \[2, 2\] sum to 4, but dim 0 has length 5"),
    (lambda: mg.zeros(5).split(0), ValueError, "split size must be positive"),
    (lambda: mg.zeros(2).clip(), ValueError, "clip.. needs at least one of min and max"),
    (lambda: mg.zeros(1).var(), ValueError, r"var: 1 element\(s\) per reduction is too few for correction=1"),
    (lambda: mg.zeros(0, 2).mean(axis=0), ValueError, r"mean: reducing over an empty axis of shape \(0, 2\)"),
    (lambda: mg.zeros(0).max(), mg.ShapeError, r"max: cannot reduce an empty tensor of shape \(0,\)"),
])
def test_errors_name_what_was_wrong(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_shape_errors_are_value_errors():
    assert issubclass(mg.ShapeError, ValueError)


def test_comparing_a_float32_tensor_with_a_python_float_compares_in_float32():
    x = mg.tensor([0.1, 0.5], dtype=np.float32)  # 0.1 in float32 is 0.10000000149..., above the float64 0.1
    assert (x == 0.1).data.tolist() == [True, False] and (x != 0.1).data.tolist() == [False, True]
    assert (x > 0.1).data.tolist() == [False, True] and (x <= 0.1).data.tolist() == [True, False]
    assert (x >= 0.1).data.tolist() == [True, True] and (x < 0.5).data.tolist() == [True, False]
    assert (x == mg.tensor([0.1, 0.2], dtype=np.float32)).data.tolist() == [True, False]
