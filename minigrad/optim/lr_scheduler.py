"""Learning-rate schedules with PyTorch's names: call ``step()`` once per step (or epoch), after
``optimizer.step()``.

Every schedule here is a closed-form function of the step count ``last_epoch`` and the groups'
initial learning rates ``base_lrs`` (PyTorch's ``_get_closed_form_lr``), so its state is a few
numbers, resuming is exact, and schedules compose (``SequentialLR``) without drift. Like PyTorch,
building a scheduler applies its step-0 learning rate at once.
"""
from __future__ import annotations

import math
from bisect import bisect_right

from ..nn.module import StateDictError
from .optimizer import Optimizer, require

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "LinearLR", "SequentialLR"]


class LRScheduler:
    """Base class: sets each group's ``lr`` to ``lr_at(last_epoch)`` at every ``step()``.

    Subclasses define ``_lr(i, base_lr, t)`` (group ``i``'s learning rate after ``t`` steps)
    and list their constructor options in ``_options`` (saved in the state dict).
    """

    _options: tuple = ()

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs a minigrad Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        # the first scheduler on an optimizer records the starting lrs; later ones reuse them
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def _lr(self, i: int, base_lr: float, t: int) -> float:
        raise NotImplementedError

    def lr_at(self, t: int) -> list:
        """The learning rate of every group after ``t`` calls of ``step()`` (t=0: just built)."""
        return [self._lr(i, base, t) for i, base in enumerate(self.base_lrs)]

    def step(self) -> None:
        """Advance one step and write the new learning rates into the optimizer's groups."""
        self.last_epoch += 1
        self._apply(self.lr_at(self.last_epoch))

    def _apply(self, lrs: list) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Step count, base learning rates and options (numbers and lists only)."""
        state = {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                 "last_lr": list(self._last_lr)}
        for name in self._options:
            value = getattr(self, name)
            state[name] = list(value) if isinstance(value, (list, tuple)) else value
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a ``state_dict()``; options are taken from it (as PyTorch does) and the
        optimizer's learning rates are set to the saved ones."""
        self._check_state(state_dict)
        self._set_state(state_dict)
        self._apply(state_dict["last_lr"])

    def _check_state(self, state_dict: dict) -> None:
        name = type(self).__name__
        keys = ("last_epoch", "base_lrs", "last_lr", *self._options)
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise StateDictError(f"{name}.load_state_dict: missing {missing} (saved by another scheduler?)")
        groups = len(self.optimizer.param_groups)
        for k in ("base_lrs", "last_lr"):
            if len(state_dict[k]) != groups:
                raise StateDictError(f"{name}.load_state_dict: '{k}' has {len(state_dict[k])} entries, "
                                     f"the optimizer {groups} parameter group(s)")

    def _set_state(self, state_dict: dict) -> None:
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        for k in self._options:
            setattr(self, k, state_dict[k])

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._options)
        return f"{type(self).__name__}({options}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (t // step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    _options = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        require(int(step_size) == step_size and step_size > 0, f"step_size must be a positive integer, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """``lr = base_lr * gamma ** (number of milestones <= t)``."""

    _options = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        return base_lr * self.gamma ** bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** t``."""

    _options = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2`` (SGDR without
    restarts; past ``T_max`` the cosine carries on, as in PyTorch)."""

    _options = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        require(T_max > 0, f"T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(t)``; one function, or a list with one per group.

    The functions are not part of the state dict (as in PyTorch): build the scheduler with the
    same functions before ``load_state_dict``.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            require(len(lr_lambda) == n, f"LambdaLR: {len(lr_lambda)} lr_lambda functions for {n} parameter groups")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        return base_lr * self.lr_lambdas[i](t)


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): the factor on ``base_lr`` goes from ``start_factor`` to
    ``end_factor`` over ``total_iters`` steps, then stays at ``end_factor``."""

    _options = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5):
        require(0 < start_factor <= 1, f"start_factor must lie in (0, 1], got {start_factor}")
        require(0 <= end_factor <= 1, f"end_factor must lie in [0, 1], got {end_factor}")
        require(total_iters > 0, f"total_iters must be positive, got {total_iters}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def _lr(self, i, base_lr, t):
        progress = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` restarted from its
    step 0, and so on: e.g. ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=w),
    CosineAnnealingLR(opt, T_max=n - w)], milestones=[w])`` for warm-up then cosine decay."""

    _options = ("milestones",)

    def __init__(self, optimizer: Optimizer, schedulers, milestones):
        self.schedulers, self.milestones = list(schedulers), [int(m) for m in milestones]
        require(len(self.schedulers) >= 1, "SequentialLR needs at least one scheduler")
        require(len(self.milestones) == len(self.schedulers) - 1,
                f"SequentialLR: {len(self.schedulers)} schedulers need {len(self.schedulers) - 1} milestones, "
                f"got {len(self.milestones)}")
        require(self.milestones == sorted(self.milestones), f"SequentialLR: milestones {self.milestones} must increase")
        for s in self.schedulers:
            require(s.optimizer is optimizer, "SequentialLR: every scheduler must drive the same optimizer")
        super().__init__(optimizer)

    def lr_at(self, t: int) -> list:
        k = bisect_right(self.milestones, t)
        return self.schedulers[k].lr_at(t - (self.milestones[k - 1] if k else 0))

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["schedulers"] = [s.state_dict() for s in self.schedulers]
        return state

    def _check_state(self, state_dict: dict) -> None:
        super()._check_state(state_dict)
        subs = state_dict.get("schedulers")
        if not isinstance(subs, list) or len(subs) != len(self.schedulers):
            raise StateDictError(f"SequentialLR.load_state_dict: expected 'schedulers' with "
                                 f"{len(self.schedulers)} entries")
        for s, sub in zip(self.schedulers, subs):
            s._check_state(sub)

    def _set_state(self, state_dict: dict) -> None:
        super()._set_state(state_dict)
        for s, sub in zip(self.schedulers, state_dict["schedulers"]):
            s._set_state(sub)
