"""Optimizers: every update against a plain numpy transcription of PyTorch's documented algorithm,
parameter groups, state dicts, errors, and (if PyTorch is installed) 20-step trajectories."""
import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import minigrad as mg
from minigrad import optim
from minigrad.io import load, save
from minigrad.nn import Parameter, StateDictError


# numpy transcriptions of the documented algorithms (float64, one formula per line) -------------
def ref_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    b, out = None, []
    for g in grads:
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def ref_adam(theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled=False):
    (b1, b2), m, v, v_max, out = betas, 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2 ** t)
        else:
            v_hat = v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    state_sum, out = initial_accumulator_value, []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        lr_t = lr / (1 + (t - 1) * lr_decay)
        if weight_decay != 0:
            g = g + weight_decay * theta
        state_sum = state_sum + g ** 2
        theta = theta - lr_t * g / (np.sqrt(state_sum) + eps)
        out.append(theta)
    return out


def ref_rmsprop(theta, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                maximize=False):
    v, b, g_ave, out = 0.0, 0.0, 0.0, []
    for g in grads:
        g = -g if maximize else g
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g ** 2
        v_tilde = v
        if centered:
            g_ave = alpha * g_ave + (1 - alpha) * g
            v_tilde = v_tilde - g_ave ** 2
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (np.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


# hyper-parameter strategies -----------------------------------------------------------------------
small = st.sampled_from([0.0, 0.0, 1e-3, 0.1])  # decays and dampening: often exactly zero
lrs = st.floats(1e-4, 0.5)
betas = st.tuples(st.floats(0.0, 0.99), st.floats(0.5, 0.9999))


@st.composite
def sgd_options(draw):
    nesterov = draw(st.booleans())
    momentum = draw(st.floats(0.1, 0.99) if nesterov else st.sampled_from([0.0, 0.5, 0.9]))
    return dict(lr=draw(lrs), momentum=momentum, dampening=0.0 if nesterov else draw(small),
                weight_decay=draw(small), nesterov=nesterov, maximize=draw(st.booleans()))


adam_options = st.fixed_dictionaries(dict(
    lr=lrs, betas=betas, eps=st.floats(1e-8, 1e-2), weight_decay=small, amsgrad=st.booleans(),
    maximize=st.booleans()))
adagrad_options = st.fixed_dictionaries(dict(
    lr=lrs, lr_decay=small, weight_decay=small, initial_accumulator_value=st.sampled_from([0.0, 0.1, 1.0]),
    eps=st.floats(1e-10, 1e-3), maximize=st.booleans()))
rmsprop_options = st.fixed_dictionaries(dict(
    lr=lrs, alpha=st.floats(0.5, 0.999), eps=st.floats(1e-8, 1e-3), weight_decay=small,
    momentum=st.sampled_from([0.0, 0.5, 0.9]), centered=st.booleans(), maximize=st.booleans()))

OPTIMIZERS = {  # name: (class, options, numpy reference)
    "SGD": (optim.SGD, sgd_options(), ref_sgd),
    "Adam": (optim.Adam, adam_options, ref_adam),
    "AdamW": (optim.AdamW, adam_options, functools.partial(ref_adam, decoupled=True)),
    "Adagrad": (optim.Adagrad, adagrad_options, ref_adagrad),
    "RMSprop": (optim.RMSprop, rmsprop_options, ref_rmsprop),
}

# values on a 0.01 grid: no subnormals, so both sides round alike
values = st.integers(-1000, 1000).map(lambda i: i / 100)


def _param(arr, dtype=np.float64):
    return Parameter(np.array(arr), dtype=dtype)


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(data=st.data())
def test_steps_follow_the_documented_algorithm(name, data):
    cls, options, ref = OPTIMIZERS[name]
    kw = data.draw(options, label="options")
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, max_side=4), label="shape")
    theta0 = data.draw(arrays(np.float64, shape, elements=values), label="theta0")
    grads = data.draw(st.lists(arrays(np.float64, shape, elements=values), min_size=1, max_size=6), label="grads")
    p = _param(theta0)
    opt = cls([p], **kw)
    for g, expected in zip(grads, ref(theta0, grads, **kw)):
        p.grad = mg.Tensor(g)
        opt.step()
        np.testing.assert_allclose(p.data, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters_keep_float32_state(name):
    cls = OPTIMIZERS[name][0]
    model = mg.nn.Linear(3, 2)
    opt = cls(model.parameters(), lr=0.01)
    x = mg.randn(4, 3)
    for _ in range(2):
        opt.zero_grad()
        ((model(x) - 1.0) ** 2).mean().backward()
        opt.step()
    for p in model.parameters():
        assert p.dtype == np.float32
        for v in opt.state.get(p, {}).values():
            assert isinstance(v, int) or v.dtype == np.float32


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_reloading_the_state_after_module_to_converts_it(name):
    """Module.to's documented remedy: state built before a dtype change is cast by a reload."""
    cls, kw = OPTIMIZERS[name][0], {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    model = mg.nn.Linear(3, 2)
    opt = cls(model.parameters(), lr=0.01, **kw)
    x = mg.randn(4, 3)

    def step():
        opt.zero_grad()
        ((model(x) - 1.0) ** 2).mean().backward()
        opt.step()
    step()
    model.double()
    x = x.double()
    opt.load_state_dict(opt.state_dict())
    step()
    arrays = [v for p in model.parameters() for v in opt.state[p].values() if isinstance(v, np.ndarray)]
    assert arrays and all(v.dtype == np.float64 for v in arrays)
    assert all(p.dtype == np.float64 for p in model.parameters())


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameters_without_grad_are_skipped(name):
    cls = OPTIMIZERS[name][0]
    a, b = _param([1.0, 2.0]), _param([3.0])
    opt = cls([a, b], lr=0.1)
    a.grad = mg.Tensor([0.5, -0.5], dtype=np.float64)
    opt.step()
    assert b.data.tolist() == [3.0] and b not in opt.state
    assert a.data.tolist() != [1.0, 2.0]


def test_param_groups_take_their_own_options():
    a, b = _param([1.0, -1.0]), _param([2.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    ga, gb = [np.array([0.3, 0.2]), np.array([0.1, 0.1])], [np.array([1.0]), np.array([-2.0])]
    for k in range(2):
        a.grad, b.grad = mg.Tensor(ga[k]), mg.Tensor(gb[k])
        opt.step()
    np.testing.assert_allclose(a.data, ref_sgd(np.array([1.0, -1.0]), ga, lr=0.1)[-1], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref_sgd(np.array([2.0]), gb, lr=0.5, momentum=0.9)[-1], rtol=1e-12)


def test_add_param_group_and_its_checks():
    a, b = _param([1.0]), _param([2.0])
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.9) and opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, a], lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([mg.Tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([a * 2], lr=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-1.0), "learning rate"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.AdamW(p, eps=-1e-8), "epsilon"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "alpha"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "momentum"),
    (lambda p: optim.RMSprop([{"params": p, "weight_decay": -1.0}]), "weight_decay"),
])
def test_invalid_options_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([_param([1.0])])


def test_zero_grad_to_none_or_in_place():
    a = _param([1.0, 2.0])
    opt = optim.SGD([a], lr=0.1)
    a.grad = mg.Tensor([3.0, 4.0], dtype=np.float64)
    opt.zero_grad(set_to_none=False)
    assert a.grad.data.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None


def test_step_with_closure_returns_the_loss():
    a = _param([3.0])
    opt = optim.SGD([a], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0 and a.data.tolist() == [1.5]  # 3 - 0.25 * 2 * 3


def _run(opt, params, grads):
    for g in grads:
        for p, gp in zip(params, g):
            p.grad = mg.Tensor(gp)
        opt.step()


@pytest.mark.parametrize("name, kw", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1)), ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
])
def test_state_dict_round_trips_through_a_file_and_resumes_exactly(name, kw, tmp_path):
    cls = OPTIMIZERS[name][0]
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    grads = [[rng.standard_normal((3, 2)), rng.standard_normal(2)] for _ in range(6)]
    params = [_param(a) for a in start]
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], **kw)
    _run(opt, params, grads[:3])
    save(opt.state_dict(), tmp_path / "opt.npz")
    resumed = [_param(p.data) for p in params]
    opt2 = cls([{"params": resumed[:1]}, {"params": resumed[1:]}], lr=123.0)
    opt2.load_state_dict(load(tmp_path / "opt.npz"))
    assert opt2.param_groups[1]["lr"] == 0.05
    _run(opt, params, grads[3:])
    _run(opt2, resumed, grads[3:])
    for p, q in zip(params, resumed):
        assert np.array_equal(p.data, q.data)


def test_state_dict_layout_is_pytorchs_and_holds_copies():
    a, b = _param([1.0]), _param([2.0])
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.Tensor([1.0], dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert set(sd["state"]) == {0} and sd["state"][0]["step"] == 1
    sd["state"][0]["exp_avg"][0] = 99.0
    assert opt.state[a]["exp_avg"][0] != 99.0


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    a, b = _param([1.0, 2.0]), _param([3.0])
    opt = optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = mg.Tensor([1.0, 1.0], dtype=np.float64), mg.Tensor([1.0], dtype=np.float64)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros(5)
    sd["state"][7] = {"step": 1}
    before = opt.state_dict()
    with pytest.raises(StateDictError) as err:
        opt.load_state_dict(sd)
    assert "shape (5,)" in str(err.value) and "parameter 7" in str(err.value) and len(err.value.problems) == 2
    assert np.array_equal(opt.state[a]["exp_avg"], before["state"][0]["exp_avg"])
    with pytest.raises(StateDictError, match="another kind of optimizer"):
        opt.load_state_dict(optim.SGD([a, b], lr=0.1).state_dict())
    with pytest.raises(StateDictError, match="2 parameter group"):
        opt.load_state_dict(optim.Adam([{"params": [a]}, {"params": [b]}]).state_dict())


def test_repr_lists_groups():
    text = repr(optim.SGD([_param([1.0])], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_centered_rmsprop_never_takes_the_square_root_of_a_negative():
    # constant gradients drive v - g_ave^2 to round-off level, where it can come out negative
    p = _param(np.ones(4))
    opt = optim.RMSprop([p], lr=1e-6, alpha=0.5, centered=True)
    for _ in range(80):
        p.grad = mg.Tensor(np.full(4, 0.1))
        opt.step()
    assert np.isfinite(p.data).all()


# PyTorch oracle -----------------------------------------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("name, kw", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_20_steps_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(name) + len(kw))
    m = rng.standard_normal((4, 4))
    hessian = m @ m.T / 4 + 0.1 * np.eye(4)

    def grad(x):  # gradient of a convex quadratic plus a bounded wiggle; it feeds back on the path
        return hessian @ x + 0.5 * np.sin(3 * x) + 0.2

    starts = [rng.standard_normal(4), rng.standard_normal(4)]
    ours = [_param(x) for x in starts]
    theirs = [torch.tensor(x, requires_grad=True) for x in starts]
    group_kw = {"lr": kw["lr"] / 2}  # a second group with its own learning rate
    opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], **group_kw}], **kw)
    ref = getattr(torch.optim, name)([{"params": theirs[:1]}, {"params": theirs[1:], **group_kw}], **kw)
    for _ in range(20):
        for p, q in zip(ours, theirs):
            p.grad = mg.Tensor(grad(p.data))
            q.grad = torch.from_numpy(grad(q.detach().numpy()))
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert math.isfinite(float(np.abs(ours[0].data).max()))
