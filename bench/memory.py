"""Peak-memory workload: resident-memory growth of one W3 training step, each engine in a fresh process.

Run by the suite as ``python -m bench.memory IMPL STEPS``; prints one JSON line. In the child:
build the model and optimizer, take one warm-up step (lazy optimizer state, first-call caches),
hand freed heap back to the OS (``malloc_trim``), reset the peak counter (``/proc/self/clear_refs``)
and measure the peak growth (``VmHWM`` - ``VmRSS`` before) of the next step; the first step's growth
is reported too. With STEPS > 2 it keeps training and records ``VmRSS`` and the number of live
minigrad Tensors after every step, which show whether a training loop holds on to old graphs. float64, so the numbers compare with
``PERF_NOTES.md`` (the activations BPTT must keep are about 16 MiB there).
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import subprocess
import sys
from dataclasses import replace

IMPLS = ("minigrad", "minigrad manual cell", "numpy time-batched", "torch fused", "torch manual cell")
MiB = 1024 * 1024


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} field")


def _reset_peak() -> bool:
    """Set VmHWM back to the current RSS (Linux >= 4.0); False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _peak_growth(step) -> tuple:
    """Run ``step()``; return (peak RSS growth in bytes, whether the peak counter could be reset)."""
    _trim()
    before = _status("VmRSS")
    reset = _reset_peak()
    if not reset:
        before = _status("VmHWM")
    step()
    return _status("VmHWM") - before, reset


def child(impl_name: str, steps: int) -> dict:
    """Run in the fresh process: measure implementation ``impl_name`` over ``steps`` steps."""
    from . import lstm_lm
    from .harness import torch_or_none

    torch = torch_or_none() if impl_name.startswith("torch") else None
    cfg = replace(lstm_lm.W3, dtype="float64")
    impls = {i.name: i for i in lstm_lm.make_impls(cfg, torch)}
    # keep only the measured engine alive
    impl = impls.pop(impl_name)
    impls.clear()
    gc.collect()
    first, reset = _peak_growth(impl.step)
    second, _ = _peak_growth(impl.step)
    rss, live = [], []
    for _ in range(max(0, steps - 2)):
        impl.step()
        rss.append(_status("VmRSS"))
        live.append(_live_tensors() if impl_name == "minigrad" else None)
    return {"impl": impl_name, "first_step": first, "step": second, "peak_reset": reset, "rss": rss,
            "live_tensors": live}


def _live_tensors() -> int:
    """minigrad Tensors alive right now: parameters and optimizer state only, if no graph survives."""
    import minigrad
    return sum(1 for o in gc.get_objects() if isinstance(o, minigrad.Tensor))


def measure(impl_name: str, steps: int = 2) -> dict:
    """Run ``child`` in a fresh interpreter; returns its JSON result (or {'error': ...})."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "bench.memory", impl_name, str(steps)],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        return {"impl": impl_name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
