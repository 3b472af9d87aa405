"""Timing, agreement checks and machine facts shared by every workload."""
from __future__ import annotations

import datetime
import math
import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Impl", "Timing", "Mismatch", "time_interleaved", "check_agreement", "machine_info", "load_average",
    "torch_or_none", "fmt_ms",
]


class Mismatch(AssertionError):
    """Two implementations of one workload disagree; the message names both and the worst entry."""


@dataclass
class Impl:
    """One implementation of a workload.

    ``step()`` runs forward + backward + optimizer update (the timed unit). ``loss_and_grads()``
    runs forward + backward only and returns ``(loss, {name: gradient})`` in the workload's
    canonical parameter layout, for the agreement check.
    """

    name: str
    step: object
    loss_and_grads: object
    note: str = ""


@dataclass
class Timing:
    """Per-call seconds of every repeat (each repeat times ``number`` calls and divides)."""

    name: str
    number: int
    samples: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def min(self) -> float:
        return float(np.min(self.samples))

    @property
    def max(self) -> float:
        return float(np.max(self.samples))


def _calibrate(fn, min_time: float) -> int:
    """How many calls make one repeat last at least ``min_time`` seconds (after two warm-up calls)."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, math.ceil(min_time / one))


def time_interleaved(fns: dict, repeats: int, min_time: float = 0.02) -> dict:
    """Time every callable in ``fns`` (name -> fn) ``repeats`` times, interleaved.

    Repeats alternate between the implementations (with a rotating start), so a change of load on
    a shared machine hits all of them alike and the ratios stay meaningful. The garbage collector
    stays on: it is part of what users pay (``timeit`` would switch it off).
    """
    names = list(fns)
    timings = {n: Timing(n, _calibrate(fns[n], min_time)) for n in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            fn, t = fns[name], timings[name]
            t0 = time.perf_counter()
            for _ in range(t.number):
                fn()
            t.samples.append((time.perf_counter() - t0) / t.number)
    return timings


def _as64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def check_agreement(ref_name: str, ref: tuple, name: str, other: tuple, rtol: float) -> float:
    """Check loss and every gradient of ``other`` against ``ref``; return the worst relative error.

    Each gradient is compared relative to its own largest magnitude (so float32 round-off on
    tiny entries does not count as disagreement); the loss relative to its value.
    """
    (l0, g0), (l1, g1) = ref, other
    if set(g0) != set(g1):
        raise Mismatch(f"{name} returns gradients for {sorted(g1)}, {ref_name} for {sorted(g0)}")
    worst = abs(l1 - l0) / max(abs(l0), 1e-30)
    if not worst <= rtol:
        raise Mismatch(f"{name} loss {l1!r} differs from {ref_name} loss {l0!r} (relative error {worst:.2e})")
    for key in g0:
        a, b = _as64(g0[key]), _as64(g1[key])
        if a.shape != b.shape:
            raise Mismatch(f"gradient '{key}': {name} has shape {b.shape}, {ref_name} has {a.shape}")
        scale = max(float(np.abs(a).max()), 1e-30)
        err = float(np.abs(a - b).max()) / scale
        if not err <= rtol:
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(a - b))), a.shape))
            raise Mismatch(
                f"gradient '{key}' of {name} differs from {ref_name}: at {idx} {float(b[idx])!r} vs {float(a[idx])!r} "
                f"(error {err:.2e} of the largest entry, tolerance {rtol:.0e})")
        worst = max(worst, err)
    return worst


def torch_or_none():
    """PyTorch set to one thread, or None when it is not installed (it is optional)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # the config layout differs between numpy versions; it is only a label
        return "unknown"


def blas_kernel() -> str:
    """The BLAS library and the kernel it runs on this CPU (threadpoolctl's report, when installed).

    OpenBLAS picks its kernel at load time unless ``OPENBLAS_CORETYPE`` names one; the kernel
    decides float32 GEMM speed by about 2x (Haswell against SkylakeX), so tables say which ran.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see it)"
    found = [f"{i.get('internal_api', '?')} {i.get('version', '')} {i.get('architecture', '?')} kernel, "
             f"{i.get('num_threads', '?')} thread(s)" for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(found) or "none found"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews absolute times."""
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def machine_info(torch=None) -> dict:
    """What the numbers depend on: CPU, cores, library versions, thread and allocator settings."""
    env = {k: os.environ[k] for k in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_TOP_PAD_", "MINIGRAD_MALLOC") if k in os.environ}
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load average (1/5/15 min) at start": load_average(),
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({_blas()})",
        "BLAS kernel": blas_kernel(),
        "torch": torch.__version__ + f" ({torch.get_num_threads()} thread)" if torch else "not installed",
        "environment": ", ".join(f"{k}={v}" for k, v in env.items()) or "none set",
    }


def fmt_ms(seconds: float) -> str:
    """Seconds as milliseconds with three significant digits or so."""
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"
