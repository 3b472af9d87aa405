"""``python -m bench [--quick] [--only W1,W3] [--repeats N] [--out FILE] [--profile W1]``

Runs the suite, prints every table and writes them to ``bench/RESULTS.md`` (a partial run with
``--only`` writes only when ``--out`` is given, so it never replaces a full table by a part).
Exits non-zero if two implementations of a workload disagree.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import lstm_lm, memory, opcost, rnn_lm, scalar, seq2seq
from .engines import SEQUENCE
from .harness import (
    Mismatch, check_agreement, fmt_ms, load_average, machine_info, time_interleaved, torch_or_none,
)

REFERENCE = "numpy time-batched"


@dataclass
class Workload:
    """A timed workload: its implementations (built given torch or None), the tolerance they must
    agree to, and the speed targets it is judged by."""

    key: str
    title: str
    make: object  # torch -> list of Impl
    rtol: float  # agreement tolerance (relative to each gradient's largest entry)
    targets: list = field(default_factory=list)  # (implementation, max minigrad/impl ratio, source)


# the unrolled default against the opt-in sequence kernels: more than 10% slower anywhere keeps them
KEEP_SEQUENCE = (SEQUENCE, 1.1, "issue 11: keep fused='sequence' (opt-in) if missed")
WORKLOADS = [
    Workload("W1", "char-RNN (min-char-rnn) V=65 H=100 T=25 B=1, one-hot, Adagrad, float64",
             lambda torch: rnn_lm.make_impls(rnn_lm.W1, torch), 1e-8,
             [("numpy per-step loop", 1.5, "issue 2"), ("numpy time-batched", 1.6, "issue 11"),
              ("torch fused", 0.5, "issue 11"), KEEP_SEQUENCE]),
    Workload("W2", "char-RNN V=65 H=256 T=50 B=32, one-hot, Adagrad, float32",
             lambda torch: rnn_lm.make_impls(rnn_lm.W2, torch), 2e-4,
             [("numpy time-batched", 1.05, "issue 11"), ("torch fused", 1.0, "issue 7"), KEEP_SEQUENCE]),
    Workload("W3", "LSTM LM V=65 E=64 H=256 T=35 B=32, Adam, float32",
             lambda torch: lstm_lm.make_impls(lstm_lm.W3, torch), 2e-4,
             [("numpy time-batched", 1.05, "issue 11"), ("torch fused", 1.0, "issue 11, stretch"), KEEP_SEQUENCE]),
    Workload("W4", "2-layer LSTM seq2seq V=20 E=64 H=128 10+10 steps B=32, Adam, float32",
             lambda torch: seq2seq.make_impls(seq2seq.W4, torch), 2e-4,
             [("numpy time-batched", 1.05, "issue 11"), ("torch fused", 1.0, "issue 11, stretch"), KEEP_SEQUENCE]),
]
EXTRAS = ("opcost", "scalar", "memory")
ALL = [w.key for w in WORKLOADS] + list(EXTRAS)


class Report:
    """Collects markdown sections and target verdicts while printing them as they come."""

    def __init__(self):
        self.sections: list = []
        self.verdicts: list = []
        self.failures: list = []

    def section(self, title: str, lines: list) -> None:
        """Print a section and keep it for RESULTS.md."""
        text = "\n".join(lines)
        print(f"\n## {title}\n{text}", flush=True)
        self.sections.append(f"## {title}\n\n{text}\n")


def table(header: list, rows: list) -> list:
    """A markdown table as lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def verdict(measured: float, limit: float) -> str:
    """'met', or by how much ``measured`` exceeds ``limit``."""
    return "met" if measured <= limit else f"missed by {measured / limit:.2f}x"


def run_workload(w: Workload, torch, repeats: int, min_time: float, rep: Report) -> None:
    """Check a workload's implementations agree, then time them interleaved and report the ratios."""
    impls = w.make(torch)
    ref = next(i for i in impls if i.name == REFERENCE)
    ref_lg = ref.loss_and_grads()
    worst = 0.0
    try:
        for impl in impls:
            if impl is not ref:
                worst = max(worst, check_agreement(ref.name, ref_lg, impl.name, impl.loss_and_grads(), w.rtol))
    except Mismatch as e:
        rep.failures.append(f"{w.key}: {e}")
        rep.section(f"{w.key}: {w.title}", [f"**DISAGREEMENT — not timed:** {e}"])
        return
    timings = time_interleaved({i.name: i.step for i in impls}, repeats, min_time)
    mg_t = timings["minigrad"]
    rows = []
    for impl in impls:
        t = timings[impl.name]
        ratio = "" if impl.name == "minigrad" else f"{mg_t.median / t.median:.2f} ({mg_t.min / t.min:.2f})"
        rows.append([impl.name, fmt_ms(t.median), fmt_ms(t.min), fmt_ms(t.max), ratio, impl.note])
    lines = table(["implementation", "median ms", "min ms", "max ms", "minigrad ÷ this: medians (mins)", "note"],
                  rows)
    lines.append("")
    lines.append(f"Loss and every gradient agree with `{REFERENCE}` (worst relative error {worst:.1e}, "
                 f"tolerance {w.rtol:.0e}); {repeats} interleaved repeats.")
    rep.section(f"{w.key}: {w.title}", lines)
    for name, limit, source in w.targets:
        if name in timings:
            ratio = mg_t.median / timings[name].median
            rep.verdicts.append([w.key, f"minigrad ÷ {name}", f"{ratio:.2f} ({mg_t.min / timings[name].min:.2f})",
                                 f"<= {limit}", source, verdict(ratio, limit)])


def run_opcost(torch, repeats: int, rep: Report) -> None:
    """Report the fixed cost of one recorded op against numpy by hand (and torch)."""
    rows = []
    for label, res in opcost.measure(repeats, torch):
        engines = ["minigrad", "numpy by hand"] + (["torch"] if torch is not None else [])
        cells = [f"{res[e][0]:.1f} ({res[e][1]:.1f}–{res[e][2]:.1f})" for e in engines]
        overhead = res["minigrad"][0] - res["numpy by hand"][0]
        rows.append([label, *cells, f"{overhead:.1f}"])
        rep.verdicts.append(["opcost", f"{label}: minigrad µs forward + backward", f"{res['minigrad'][0]:.1f}",
                             "<= 4", "issue 11", verdict(res["minigrad"][0], 4.0)])
    header = ["op (forward + backward)", "minigrad µs", "numpy by hand µs"]
    header += ["torch µs"] if torch is not None else []
    lines = table(header + ["minigrad overhead µs/op"], rows)
    lines += ["", f"Chains of {opcost.N} ops, each timing divided by {opcost.N}; median (min–max) over "
              f"{repeats} repeats. 'numpy by hand' does the same forward and backward arithmetic with no engine."]
    rep.section("Fixed cost per recorded op", lines)


def run_scalar(repeats: int, rep: Report) -> None:
    """Report minigrad.Value against the micrograd design on the 'hello' RNN."""
    diff = scalar.check_agreement(4)
    rows = []
    for T in (4, 50):
        res = {}
        for engine, Val in (("minigrad.Value", scalar.mg.Value), ("micrograd design", scalar.MicroValue)):
            for gc_on in (True, False):
                res[engine, gc_on] = scalar.time_per_node(Val, T, repeats, gc_on)
        nodes = res["minigrad.Value", True][3]
        for engine in ("minigrad.Value", "micrograd design"):
            on, off = res[engine, True], res[engine, False]
            rows.append([T, nodes, engine, f"{on[0]:.2f} ({on[1]:.2f}–{on[2]:.2f})", f"{off[0]:.2f}",
                         f"{res['micrograd design', True][0] / on[0]:.2f}"])
        ratio = res["minigrad.Value", True][0]
        rep.verdicts.append([f"scalar T={T}", "minigrad.Value µs/node, GC on", f"{ratio:.2f}", "<= 1.5",
                             "issue 7", verdict(ratio, 1.5)])
    max_T = scalar.micrograd_max_steps()
    lines = table(["T", "nodes", "engine", "µs/node GC on", "µs/node GC off", "micrograd(GC on) ÷ this"], rows)
    lines += ["", f"'hello' RNN (vocabulary h e l o, hidden 8), forward + backward, one graph per call; "
              f"median (min–max) of {repeats} repeats. Both engines build the same graph (same node count; "
              f"loss and gradients agree to {diff:.0e}).",
              f"The micrograd design's recursive topological sort raises RecursionError beyond T = "
              f"{max_T} steps (default recursion limit {sys.getrecursionlimit()}); minigrad.Value has no limit."
              if max_T is not None else "The micrograd design backpropagated every length tried."]
    rep.section("Scalar engine: the 'hello' RNN", lines)


def run_memory(torch, loop_steps: int, rep: Report) -> None:
    """Report the peak memory of one W3 step per implementation and RSS over a training loop."""
    names = [n for n in memory.IMPLS if torch is not None or not n.startswith("torch")]
    res = {n: memory.measure(n, loop_steps if n == "minigrad" else 2) for n in names}
    rows = []
    for n in names:
        r = res[n]
        if "error" in r:
            rows.append([n, "error", r["error"], ""])
            continue
        rows.append([n, f"{r['step'] / memory.MiB:.1f}", f"{r['first_step'] / memory.MiB:.1f}",
                     "" if n == "minigrad" else f"{res['minigrad']['step'] / r['step']:.2f}"
                     if "step" in res.get("minigrad", {}) else ""])
    lines = table(["implementation", "peak growth of a step (MiB)", "first step (MiB)", "minigrad ÷ this"], rows)
    mg = res.get("minigrad", {})
    if "step" in mg and "step" in res.get(REFERENCE, {}):
        ratio = mg["step"] / res[REFERENCE]["step"]
        rep.verdicts.append(["memory", f"W3 step peak RSS growth, minigrad ÷ {REFERENCE}", f"{ratio:.2f}",
                             "<= 1.1", "issue 11", verdict(ratio, 1.1)])
    if mg.get("rss"):
        rss, live = np.array(mg["rss"]) / memory.MiB, mg["live_tensors"]
        settle = min(3, len(rss) - 1)  # index into rss, which starts after step 3
        growth = rss[settle:].max() - rss[settle]
        steady = len(set(live[settle:])) == 1
        lines += ["", f"minigrad training loop ({len(rss) + 2} steps): RSS after step 3 {rss[0]:.1f} MiB, after "
                  f"step {settle + 3} {rss[settle]:.1f} MiB, largest later {rss[settle:].max():.1f} MiB, last "
                  f"{rss[-1]:.1f} MiB; live minigrad Tensors after each step from step 3: "
                  f"{min(live)}–{max(live)} ({'constant' if steady else 'changing'} from step {settle + 3})."]
        rep.verdicts.append(["memory", f"RSS growth after step {settle + 3} of the training loop; live tensors",
                             f"{growth:.1f} MiB; {'constant' if steady else 'changing'}", "no growth", "issue 7",
                             "met" if steady and growth < 2.0 else "missed (see the memory section)"])
    lines += ["", "One W3 step in float64, each engine in a fresh process: peak RSS (VmHWM) minus RSS just before "
              "the step, measured on the step after a warm-up step (optimizer state exists, freed heap trimmed); "
              "'first step' is the same measure on the very first step."]
    rep.section("Peak memory: one W3 training step", lines)


def profile_minigrad(key: str) -> None:
    """Print a cProfile of minigrad's training step on workload ``key``."""
    w = next(w for w in WORKLOADS if w.key == key)
    impl = next(i for i in w.make(None) if i.name == "minigrad")
    impl.step()
    prof = cProfile.Profile()
    n = 20 if key == "W1" else 3
    prof.enable()
    for _ in range(n):
        impl.step()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    print(f"cProfile of {n} minigrad {key} steps (sorted by own time):\n{out.getvalue()}")


def main(argv=None) -> int:
    """The command line (module docs); returns the exit status."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    ap.add_argument("--quick", action="store_true", help="few repeats: a smoke run, noisy numbers")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(ALL)}")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per implementation (default 11, quick 3)")
    ap.add_argument("--out", default=None, help="where to write the results (default bench/RESULTS.md)")
    ap.add_argument("--profile", metavar="W", choices=[w.key for w in WORKLOADS],
                    help="print a cProfile of minigrad's step on one workload instead of benchmarking")
    args = ap.parse_args(argv)
    if args.profile:
        profile_minigrad(args.profile)
        return 0
    only = [s.strip() for s in args.only.split(",") if s.strip()] or ALL
    unknown = [s for s in only if s not in ALL]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    repeats = args.repeats or (3 if args.quick else 11)
    if repeats < 1:
        ap.error("--repeats must be at least 1")
    min_time = 0.005 if args.quick else 0.02

    torch = torch_or_none()
    info = machine_info(torch)
    rep = Report()
    started = time.perf_counter()
    print("minigrad benchmarks: " + "; ".join(f"{k}: {v}" for k, v in info.items()), flush=True)
    for w in WORKLOADS:
        if w.key in only:
            run_workload(w, torch, repeats, min_time, rep)
    if "opcost" in only:
        run_opcost(torch, repeats, rep)
    if "scalar" in only:
        run_scalar(repeats, rep)
    if "memory" in only:
        run_memory(torch, 20 if args.quick else 50, rep)
    if rep.verdicts:
        rep.section("Targets (ratios from this run)",
                    table(["workload", "measure", "measured: medians (mins)", "target", "source", "verdict (medians)"],
                          rep.verdicts))

    info["load average (1/5/15 min) at end"] = load_average()
    out = args.out or (None if args.only else str(Path(__file__).with_name("RESULTS.md")))
    if out:
        write_results(out, info, rep, args, repeats, time.perf_counter() - started)
        print(f"\nwrote {out}")
    else:
        print("\npartial run (--only): results not written; pass --out FILE to write them")
    if rep.failures:
        print("\nDISAGREEMENTS:\n" + "\n".join(rep.failures), file=sys.stderr)
        return 1
    return 0


def write_results(path: str, info: dict, rep: Report, args, repeats: int, seconds: float) -> None:
    """Write RESULTS.md: how it was made, the machine, every section."""
    cmd = "python -m bench" + "".join(
        f" {flag}" for flag, on in (("--quick", args.quick), (f"--only {args.only}", args.only),
                                    (f"--repeats {args.repeats}", args.repeats)) if on)
    head = [
        "# minigrad benchmark results", "",
        f"Written by `{cmd}` in {seconds:.0f} s. Times are per training step (forward + BPTT + optimizer "
        "update) unless a table says otherwise; every implementation of a workload runs in one process on "
        "the same initial weights and batch, after checking that all give the same loss and gradients. "
        "Repeats are interleaved across implementations so load changes hit all alike; the garbage "
        "collector stays on; one BLAS/torch thread. On a shared machine absolute times drift: "
        "read the ratios.", "",
        *table(["machine", ""], [[k, v] for k, v in info.items()]), "",
    ]
    Path(path).write_text("\n".join(head) + "\n" + "\n".join(rep.sections))


if __name__ == "__main__":
    sys.exit(main())
