"""gradcheck finds wrong gradients, says where, and leaves its inputs as it found them."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Function, Tensor


class Square(Function):
    """x**2 whose backward is wrong at one flat index (``bad``), by ``+1``."""

    op = "square"

    def forward(self, a, bad=None):
        self.a = a
        return a * a

    def backward(self, g):
        grad = g * 2 * self.a
        bad = self.options.get("bad")
        if bad is not None:
            grad = grad.copy()
            grad.reshape(-1)[bad] += 1.0
        return (grad,)


def x64(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


def test_correct_gradients_pass():
    x, y = x64(3, 4), x64(4, seed=1)
    assert mg.gradcheck(lambda a, b: (a * b).tanh() @ b, [x, y])


def test_a_wrong_element_is_reported_as_the_worst():
    x = x64(3, 4)
    with pytest.raises(mg.GradcheckError, match=r"worst at input 0, index \(1, 2\)") as info:
        mg.gradcheck(lambda a: Square.apply(a, bad=6), [x])
    m = info.value.mismatch
    assert (m.input, m.index) == (0, (1, 2))
    assert m.analytic - m.numeric == pytest.approx(1.0, abs=1e-5)
    assert mg.gradcheck(lambda a: Square.apply(a, bad=6), [x], raise_exception=False) is False


def test_large_inputs_are_caught_by_random_directions():
    """Above max_full elements only samples are checked one by one; the projections on random
    directions still see an error in an element no sample hit."""
    x = x64(50, 40)
    with pytest.raises(mg.GradcheckError, match="random direction"):
        mg.gradcheck(lambda a: Square.apply(a, bad=1999), [x], samples=4)
    assert mg.gradcheck(lambda a: Square.apply(a), [x], samples=4)


def test_inputs_are_restored_and_may_be_used_through_closures():
    W = x64(3, 3)
    W.grad = Tensor(np.full((3, 3), 7.0))
    before = W.data.copy()
    x = Tensor(np.ones(3))

    def model():  # uses W through the closure, as a model uses its parameters
        return (W @ x).sigmoid()

    assert mg.gradcheck(lambda *_: model(), [W])
    np.testing.assert_array_equal(W.data, before)
    np.testing.assert_array_equal(W.grad.data, 7.0)
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda *_: Square.apply(W, bad=0), [W])
    np.testing.assert_array_equal(W.data, before)


def test_an_input_computed_by_an_op_is_checked_as_a_leaf_of_its_own():
    """``x.double()`` of a float32 tensor requiring grad is what the dtype error suggests."""
    x = Tensor(np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert mg.gradcheck(lambda a: a.tanh() * a, [x.double()])
    with pytest.raises(mg.GradcheckError, match=r"worst at input 0, index \(1, 0\)"):
        mg.gradcheck(lambda a: Square.apply(a, bad=3), [x.double()])
    assert x.grad is None


def test_every_output_of_a_tuple_is_checked():
    x = x64(4)
    assert mg.gradcheck(lambda a: (a.exp(), a * 3), [x])
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda a: (a.exp(), Square.apply(a, bad=2)), [x])


def test_bad_calls_are_explained():
    with pytest.raises(TypeError, match=r"float32.*\.double\(\)"):
        mg.gradcheck(lambda a: a * 2, [Tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        mg.gradcheck(lambda a: a * 2, [Tensor([1.0])])
    with pytest.raises(mg.GradcheckError, match="does not depend"):
        mg.gradcheck(lambda a: Tensor([1.0]), [x64(1)])
