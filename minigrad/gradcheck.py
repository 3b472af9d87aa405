"""``gradcheck``: analytic gradients against central finite differences, in float64."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .modes import no_grad
from .tensors import Tensor

__all__ = ["gradcheck", "GradcheckError"]


@dataclass
class Mismatch:
    """The worst disagreement found: which input, where, and both numbers."""

    input: int | str
    index: tuple | str
    analytic: float
    numeric: float

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; ``mismatch`` holds the worst element."""

    def __init__(self, message: str, mismatch: Mismatch | None = None):
        super().__init__(message)
        self.mismatch = mismatch


def _scalarize(out, weights: list | None, rng: np.random.Generator):
    """Reduce the output(s) to one scalar with fixed random weights, so every output element counts."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    outs = [o for o in outs if isinstance(o, Tensor)]
    if weights is None:
        weights = [rng.standard_normal(o.shape) for o in outs]
    total = None
    for o, w in zip(outs, weights):
        term = (o * w).sum() if o.requires_grad else Tensor(float(np.sum(o.data * w)), dtype=np.float64)
        total = term if total is None else total + term
    return total, weights


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              max_full: int = 400, samples: int = 64, directions: int = 8, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    ``fn(*inputs)`` returns a Tensor or a tuple of them; it may also use the inputs through a
    closure (model parameters), because inputs are perturbed in place. Outputs are reduced to a
    scalar ``L = sum(w * out)`` with fixed random ``w``. An input of at most ``max_full`` elements
    is checked element by element (its full Jacobian-vector product); a larger one at ``samples``
    random elements plus ``directions`` random-direction projections over all inputs. Inputs must
    be float64; one computed by an op (``x.double()`` of a tensor requiring grad) is checked as a
    leaf of its own holding its values. Returns True, or raises ``GradcheckError`` naming the
    worst element.
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need float64 "
                            "(convert with .double() or create with dtype=float64)")
    for i in checked:
        if not inputs[i].is_leaf:
            # its gradient would flow on to the leaves it came from and never be stored on it
            inputs[i] = Tensor(inputs[i].data, requires_grad=True)
    rng = np.random.default_rng(seed)
    saved_grads = [inputs[i].grad for i in checked]
    saved_data = [inputs[i].data for i in checked]
    for i in checked:  # private writable copies: perturbation must not touch the caller's arrays
        inputs[i].data = np.array(inputs[i].data, dtype=np.float64, copy=True)
        inputs[i].grad = None
    try:
        loss, weights = _scalarize(fn(*inputs), None, rng)
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
        loss.backward()
        analytic = [np.zeros(inputs[i].shape) if inputs[i].grad is None else inputs[i].grad.data.copy()
                    for i in checked]

        def value() -> float:
            with no_grad():  # finite differences need no graph
                return float(_scalarize(fn(*inputs), weights, rng)[0].data)

        worst = None
        fails = []

        def compare(which, index, a: float, n: float) -> None:
            nonlocal worst
            m = Mismatch(which, index, float(a), float(n))
            if worst is None or m.error > worst.error:
                worst = m
            if m.error > atol + rtol * abs(n):
                fails.append(m)

        for k, i in enumerate(checked):
            x = inputs[i].data
            flat = x.reshape(-1)
            picks = range(flat.size) if flat.size <= max_full else rng.choice(flat.size, samples, replace=False)
            for j in picks:
                old = flat[j]
                flat[j] = old + eps
                up = value()
                flat[j] = old - eps
                down = value()
                flat[j] = old
                index = tuple(int(v) for v in np.unravel_index(j, x.shape))
                compare(i, index, analytic[k].reshape(-1)[j], (up - down) / (2 * eps))
        if any(inputs[i].data.size > max_full for i in checked):
            for _ in range(directions):
                dirs = [rng.standard_normal(inputs[i].shape) for i in checked]
                for i, d in zip(checked, dirs):
                    inputs[i].data += eps * d
                up = value()
                for i, d in zip(checked, dirs):
                    inputs[i].data -= 2 * eps * d
                down = value()
                for i, d in zip(checked, dirs):
                    inputs[i].data += eps * d
                a = sum(float(np.sum(g * d)) for g, d in zip(analytic, dirs))
                compare("all", "random direction", a, (up - down) / (2 * eps))
    finally:
        for i, d, g in zip(checked, saved_data, saved_grads):
            inputs[i].data, inputs[i].grad = d, g
    if fails:
        bad = max(fails, key=lambda m: m.error)
        msg = (f"gradcheck failed: {len(fails)} mismatch(es); worst at input {bad.input}, index {bad.index}: "
               f"analytic {bad.analytic:.8g} vs numeric {bad.numeric:.8g} (|diff| {bad.error:.3g}, "
               f"atol {atol}, rtol {rtol})")
        if raise_exception:
            raise GradcheckError(msg, bad)
        return False
    return True
