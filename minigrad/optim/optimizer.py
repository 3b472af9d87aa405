"""``Optimizer``: parameter groups, per-parameter state and state dicts shared by every optimizer.

Subclasses define ``_check(group)`` (validate one group's hyper-parameters) and
``_step_group(group)`` (update the group's parameters in place). Updates run on the parameters'
numpy arrays with in-place ops and a few reusable scratch buffers, so a step allocates almost
nothing.
"""
from __future__ import annotations

import numpy as np

from ..function import modified_in_place
from ..modes import enable_grad
from ..nn.module import StateDictError
from ..tensors import Tensor

__all__ = ["Optimizer"]


def require(ok: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``ok`` (hyper-parameter checks read as one line each)."""
    if not ok:
        raise ValueError(message)


class Optimizer:
    """Base of all optimizers (PyTorch's layout).

    ``params`` is an iterable of tensors, or of dicts each holding ``"params"`` plus options that
    override ``defaults`` for that group. ``param_groups`` is a list of such dicts (edit
    ``group["lr"]`` to change a learning rate); ``state`` maps each parameter to a dict of its
    buffers (numpy arrays) and counters (ints), created on the parameter's first update.
    """

    def __init__(self, params, defaults: dict):
        self._check(defaults)
        self.defaults = dict(defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        self._scratch: dict = {}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of tensors or of dicts, got a single "
                "Tensor; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (missing options take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} of the group is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"parameter {i} of the group has dtype {p.dtype}; only floating tensors can be optimized")
            if not p.is_leaf:
                raise ValueError(f"parameter {i} of the group is not a leaf (op '{p.op}'); optimize leaves only")
            if id(p) in seen:
                raise ValueError(f"parameter {i} appears twice in the same parameter group")
            seen.add(id(p))
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if seen & taken:
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        self._check(group)
        self.param_groups.append(group)

    # the step -----------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``None``, or zeros in place when ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates the loss) is optional."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _check(self, group: dict) -> None:
        raise NotImplementedError

    def _step_group(self, group: dict) -> None:
        raise NotImplementedError

    def _init_state(self, p: Tensor, group: dict) -> dict:
        """A parameter's state before its first update."""
        return {}

    def _with_grads(self, group: dict, weight_decay: float):
        """(parameter, gradient from ``_grad``, state) for each parameter of ``group`` that has a
        gradient; once the caller has updated it, the parameter counts as modified in place."""
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, weight_decay, maximize)
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = self._init_state(p, group)
            yield p, g, state
            modified_in_place(p)  # updated in place: a graph recorded before may not backward

    def _buffer(self, like: np.ndarray, slot: int) -> np.ndarray:
        """A scratch array shaped like ``like``; parameters of one shape share it (updated one by one)."""
        key = (like.shape, like.dtype, slot)
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty(like.shape, like.dtype)
        return buf

    def _grad(self, p: Tensor, weight_decay: float, maximize: bool) -> np.ndarray:
        """The gradient the update uses: negated if maximizing, plus ``weight_decay * p`` (L2).

        The result is read-only for the caller (it may be ``p.grad``'s own array); it lives in
        scratch slot 0 when it had to be computed, so updates use slots 1 and 2 for their work.
        """
        g = p.grad.data
        if g.shape != p.data.shape:
            raise ValueError(f"a parameter of shape {p.data.shape} has a gradient of shape {g.shape}")
        if maximize:
            g = np.negative(g, out=self._buffer(g, 0))
        if weight_decay != 0:
            decay = np.multiply(p.data, weight_decay, out=self._buffer(g, 1))
            g = np.add(g, decay, out=self._buffer(g, 0))
        return g

    # state dicts --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or number}}, "param_groups": [options + "params": [index]]}``.

        Parameters are numbered in group order, as in PyTorch; arrays are copies.
        """
        index: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: v.copy() if isinstance(v, np.ndarray) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by ``state_dict`` (from an optimizer of the same kind,
        built on parameters of the same shapes in the same order).

        Everything is checked before anything changes; all problems are reported together in one
        ``StateDictError``. Arrays are copied and cast to their parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise StateDictError(f"{name}.load_state_dict: expected keys 'state' and 'param_groups', got {keys}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if len(saved_groups) != len(self.param_groups):
            raise StateDictError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                                 f"group(s), the optimizer {len(self.param_groups)}")
        problems = []
        by_index = {}
        for gi, (own, saved) in enumerate(zip(self.param_groups, saved_groups)):
            missing = [k for k in ("params", *self.defaults) if k not in saved]
            if missing:
                problems.append(f"group {gi} lacks {missing} (saved by another kind of optimizer?)")
                continue
            if len(saved["params"]) != len(own["params"]):
                problems.append(f"group {gi} holds {len(saved['params'])} parameter(s) in the state dict, "
                                f"{len(own['params'])} in the optimizer")
            by_index.update(zip(saved["params"], own["params"]))
        new_state = {}
        for key, entries in saved_state.items():
            p = by_index.get(key)
            if p is None:
                problems.append(f"state for parameter {key!r}, which no group holds")
                continue
            new = {}
            for k, v in entries.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape:
                        problems.append(f"state '{k}' of parameter {key}: shape {v.shape} in the state dict, "
                                        f"{p.shape} in the optimizer")
                        continue
                    v = v.astype(p.dtype, copy=True)
                new[k] = v
            new_state[p] = new
        if problems:
            raise StateDictError(f"{name}.load_state_dict: {len(problems)} problem(s):\n  " + "\n  ".join(problems),
                                 problems)
        for own, saved in zip(self.param_groups, saved_groups):
            params = own["params"]
            own.clear()
            own.update({k: v for k, v in saved.items() if k != "params"}, params=params)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
