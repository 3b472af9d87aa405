"""Learning-rate schedules: closed forms, composition, state dicts, and PyTorch's lr sequences."""
import math

import numpy as np
import pytest

from minigrad import optim
from minigrad.io import load, save
from minigrad.nn import Parameter, StateDictError
from minigrad.optim import lr_scheduler as sched

BASES = (0.1, 0.02)  # two parameter groups with their own learning rates


def _optimizer(cls=optim.SGD):
    return cls([{"params": [Parameter([1.0])], "lr": BASES[0]}, {"params": [Parameter([2.0])], "lr": BASES[1]}])


def _sequence(scheduler, steps):
    lrs = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return lrs


def _warmup_cosine(opt):
    return sched.SequentialLR(opt, [sched.LinearLR(opt, start_factor=0.1, total_iters=4),
                                    sched.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)], milestones=[4])


# (make scheduler, expected lr of a group with base lr b after t steps)
CASES = {
    "StepLR": (lambda o: sched.StepLR(o, step_size=3, gamma=0.5), lambda b, t: b * 0.5 ** (t // 3)),
    "MultiStepLR": (lambda o: sched.MultiStepLR(o, milestones=[7, 2, 7], gamma=0.1),
                    lambda b, t: b * 0.1 ** ((t >= 2) + 2 * (t >= 7))),
    "ExponentialLR": (lambda o: sched.ExponentialLR(o, gamma=0.9), lambda b, t: b * 0.9 ** t),
    "CosineAnnealingLR": (lambda o: sched.CosineAnnealingLR(o, T_max=8, eta_min=1e-3),
                          lambda b, t: 1e-3 + (b - 1e-3) * (1 + math.cos(math.pi * t / 8)) / 2),
    "LambdaLR": (lambda o: sched.LambdaLR(o, lambda t: 1 / (1 + t)), lambda b, t: b / (1 + t)),
    "LinearLR": (lambda o: sched.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4),
                 lambda b, t: b * (0.25 + 0.75 * min(t, 4) / 4)),
    "SequentialLR": (_warmup_cosine,
                     lambda b, t: b * (0.1 + 0.9 * t / 4) if t < 4
                     else 1e-3 + (b - 1e-3) * (1 + math.cos(math.pi * (t - 4) / 10)) / 2),
}


@pytest.mark.parametrize("name", CASES)
def test_schedule_follows_its_closed_form(name):
    make, expected = CASES[name]
    opt = _optimizer()
    lrs = _sequence(make(opt), 25)
    for t, got in enumerate(lrs):
        np.testing.assert_allclose(got, [expected(b, t) for b in BASES], rtol=1e-13, err_msg=f"step {t}")
    assert [g["lr"] for g in opt.param_groups] == lrs[-1]


def test_cosine_reaches_eta_min_at_T_max_and_comes_back():
    opt = _optimizer()
    lrs = _sequence(sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.01), 10)
    assert lrs[5] == pytest.approx([0.01, 0.01], abs=1e-15)
    assert lrs[10] == pytest.approx(list(BASES), rel=1e-14)


def test_lambda_per_group():
    opt = _optimizer()
    s = sched.LambdaLR(opt, [lambda t: 2.0 ** t, lambda t: 1.0])
    assert _sequence(s, 2)[-1] == pytest.approx([BASES[0] * 4, BASES[1]])
    with pytest.raises(ValueError, match="2 parameter groups"):
        sched.LambdaLR(opt, [lambda t: 1.0])


def test_a_later_scheduler_starts_from_the_original_lrs():
    opt = _optimizer()
    sched.ExponentialLR(opt, gamma=0.5).step()
    second = sched.StepLR(opt, step_size=10)
    assert second.base_lrs == list(BASES)


@pytest.mark.parametrize("make, message", [
    (lambda o: sched.StepLR(o, step_size=0), "step_size"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: sched.LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), "end_factor"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2)], milestones=[3]), "milestones"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2), sched.StepLR(_optimizer(), 2)], milestones=[3]),
     "same optimizer"),
])
def test_invalid_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make(_optimizer())


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trips_through_a_file_and_resumes_exactly(name, tmp_path):
    make = CASES[name][0]
    opt = _optimizer()
    s = make(opt)
    _sequence(s, 5)
    save({"optimizer": opt.state_dict(), "scheduler": s.state_dict()}, tmp_path / "s.npz")
    rest = _sequence(s, 12)[1:]
    opt2 = _optimizer()
    s2 = make(opt2)
    state = load(tmp_path / "s.npz")
    s2.load_state_dict(state["scheduler"])
    assert s2.get_last_lr() == [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in state["optimizer"]["param_groups"]]
    assert _sequence(s2, 12)[1:] == rest


def test_load_state_dict_errors():
    opt = _optimizer()
    with pytest.raises(StateDictError, match="gamma"):
        sched.StepLR(opt, 3).load_state_dict(sched.CosineAnnealingLR(_optimizer(), 5).state_dict())
    one_group = optim.SGD([Parameter([1.0])], lr=0.1)
    with pytest.raises(StateDictError, match="1 parameter group"):
        sched.StepLR(one_group, 3).load_state_dict(sched.StepLR(opt, 3).state_dict())


def test_get_last_lr_is_a_copy_and_repr_shows_options():
    s = sched.StepLR(_optimizer(), step_size=3, gamma=0.5)
    s.get_last_lr().append(1.0)
    assert len(s.get_last_lr()) == 2
    assert repr(s) == "StepLR(step_size=3, gamma=0.5, last_epoch=0)"


# PyTorch oracle -----------------------------------------------------------------------------------
def _torch_scheduler(torch, name, opt):
    s = torch.optim.lr_scheduler
    return {
        "StepLR": lambda: s.StepLR(opt, step_size=3, gamma=0.5),
        "MultiStepLR": lambda: s.MultiStepLR(opt, milestones=[7, 2, 7], gamma=0.1),
        "ExponentialLR": lambda: s.ExponentialLR(opt, gamma=0.9),
        "CosineAnnealingLR": lambda: s.CosineAnnealingLR(opt, T_max=8, eta_min=1e-3),
        "LambdaLR": lambda: s.LambdaLR(opt, lambda t: 1 / (1 + t)),
        "LinearLR": lambda: s.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=4),
        "SequentialLR": lambda: s.SequentialLR(
            opt, [s.LinearLR(opt, start_factor=0.1, total_iters=4), s.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)],
            milestones=[4]),
    }[name]()


@pytest.mark.parametrize("name", CASES)
def test_lr_sequence_matches_torch(name):
    torch = pytest.importorskip("torch")
    topt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": b} for b in BASES])
    ts = _torch_scheduler(torch, name, topt)
    theirs = [ts.get_last_lr()]
    for _ in range(25):
        topt.step()
        ts.step()
        theirs.append(ts.get_last_lr())
    ours = _sequence(CASES[name][0](_optimizer()), 25)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
