"""Long-range dependency experiments: does a cell carry information across T steps?

* ``adding`` — the adding problem (Hochreiter & Schmidhuber 1997): two channels per step, a value
  and a marker; predict the sum of the two marked values, one in each half of the sequence. The
  model is many-to-one regression (``zoo.models.forecaster.Forecaster`` with two inputs). Always
  predicting 1.0 scores the target's variance, MSE 1/6 = 0.167; "solved" means test MSE < 0.01.
* ``copy`` — copy memory (Arjovsky et al. 2016): read 10 symbols, wait ``delay`` steps, write them
  back. The model is a tagger (``zoo.models.classifier.SequenceTagger``), one class per step;
  "solved" means 99% of the copied symbols right on the test set. The length here is the delay
  (sequences are delay + 20 steps long). It needs many more steps than the adding problem: at the
  default 3,000 steps per run it is not expected to be solved (the curves show how far each cell
  gets); pass ``--steps`` for more.

Every cell is trained at every length from the same seed with fresh batches each step, and
evaluated on a fixed held-out test set every ``eval_every`` steps. The field's claim — gradients
through a vanilla RNN vanish over long lags, while the LSTM's and GRU's additive state updates keep
them alive — shows up as the rnn curves staying at the baseline as the length grows.

``minigrad experiment adding --cells rnn,lstm,gru --lengths 10,50,100`` prints a table (cell x
length -> final test error and the step at which it was solved), and writes to ``--out``
``<task>.svg`` (test error against steps, log scale, one panel per length), ``results.json`` (every
setting, curve and time) and ``results.md``.
"""
from __future__ import annotations

import argparse
import platform
import time
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
from zoo.models.classifier import SequenceTagger, TaggerConfig
from zoo.models.common import CELLS
from zoo.models.forecaster import Forecaster, ForecasterConfig, evaluate_mse
from zoo.tasks import ADDING_BASELINE_MSE, SOLVED_MSE, adding_batch, copy_memory_baseline, copy_memory_batch
from zoo.train import TrainConfig, Trainer

from .files import write_json, write_svg, write_text
from .flags import add_training_arguments, config_from_args, positive_int
from .runs import make_folder, run_dir

__all__ = ["EXPERIMENTS", "DEFAULT_STEPS", "Settings", "RunResult", "run_one", "run_experiment", "results_table",
           "plot_results", "add_arguments", "run_from_args"]

COPY_SOLVED_ACCURACY = 0.99
DEFAULT_STEPS = 3000  # per run; LSTM and GRU solve the adding problem at T=50 within it (a slow test)


@dataclass
class Settings:
    """Model and data settings shared by every run of an experiment (training limits are a ``TrainConfig``)."""
    hidden_size: int = 64
    batch_size: int = 64
    forget_bias: float = 1.0
    n_test: int = 1000
    n_copy: int = 10     # copy: symbols to remember
    n_symbols: int = 8   # copy: alphabet size
    seed: int = 0


@dataclass
class RunResult:
    """One cell at one length: the test curve, whether and when it was solved, and the time it took."""
    task: str
    cell: str
    length: int
    metric: str                 # "test_mse" (adding) or "test_cross_entropy" (copy)
    baseline: float             # the metric of the trivial predictor
    steps: int
    seconds: float
    curve: list = field(default_factory=list)  # one dict per evaluation: step, metric (copy: accuracy), elapsed
    solved_at: int | None = None  # first evaluated step that met the criterion
    solved_seconds: float | None = None  # training time until then

    @property
    def final(self) -> float:
        """The metric at the last evaluation (NaN if there was none)."""
        return self.curve[-1][self.metric] if self.curve else float("nan")

    @property
    def best(self) -> float:
        """The lowest metric of any evaluation (NaN if there was none)."""
        return min(c[self.metric] for c in self.curve) if self.curve else float("nan")


# the two tasks ---------------------------------------------------------------------------------------
class _Adding:
    metric, baseline_label = "test_mse", "always 1.0"

    def __init__(self, length: int, s: Settings):
        self.length = length
        self.baseline = ADDING_BASELINE_MSE
        # the test set has its own seed, apart from the training batches' generator
        self.test = adding_batch(s.n_test, length, np.random.default_rng([s.seed, length, 1]))
        self.batch_size = s.batch_size

    def model(self, cell: str, s: Settings):
        return Forecaster(ForecasterConfig(input_size=2, output_size=1, mode="many_to_one", cell=cell,
                                           hidden_size=s.hidden_size, forget_bias=s.forget_bias))

    def batches(self, rng):
        return adding_batch(self.batch_size, self.length, rng)

    def evaluate(self, model) -> dict:
        mse = evaluate_mse(model, *self.test)
        return {"test_mse": mse, "solved": mse < SOLVED_MSE}


class _Copy:
    metric, baseline_label = "test_cross_entropy", "blanks, then guesses"

    def __init__(self, delay: int, s: Settings):
        self.length, self.n_copy, self.n_symbols = delay, s.n_copy, s.n_symbols
        self.baseline = copy_memory_baseline(delay, s.n_copy, s.n_symbols)
        test_rng = np.random.default_rng([s.seed, delay, 1])
        self.test = copy_memory_batch(s.n_test, delay, test_rng, s.n_copy, s.n_symbols)
        self.batch_size = s.batch_size

    def model(self, cell: str, s: Settings):
        return SequenceTagger(TaggerConfig(vocab_size=s.n_symbols + 2, num_classes=s.n_symbols + 1, cell=cell,
                                           embed_dim=16, hidden_size=s.hidden_size, forget_bias=s.forget_bias))

    def batches(self, rng):
        return copy_memory_batch(self.batch_size, self.length, rng, self.n_copy, self.n_symbols)

    def evaluate(self, model) -> dict:
        x, y = self.test
        total, hits = 0.0, 0
        for i in range(0, len(x), 500):
            logits, _ = model(x[i:i + 500])
            V = logits.shape[-1]
            total += float(F.cross_entropy(logits.reshape(-1, V), y[i:i + 500].reshape(-1), reduction="sum").data)
            hits += int(np.sum(logits.data[:, -self.n_copy:].argmax(-1) == y[i:i + 500, -self.n_copy:]))
        accuracy = hits / (len(x) * self.n_copy)
        return {"test_cross_entropy": total / y.size, "copy_accuracy": accuracy,
                "solved": accuracy >= COPY_SOLVED_ACCURACY}


EXPERIMENTS = {"adding": _Adding, "copy": _Copy}


# running -------------------------------------------------------------------------------------------
def run_one(task: str, cell: str, length: int, settings: Settings, train: TrainConfig,
            progress: bool = True) -> RunResult:
    """Train one cell at one length; the model's initial weights come from ``settings.seed``."""
    if task not in EXPERIMENTS:
        raise ValueError(f"experiment must be one of {tuple(EXPERIMENTS)}, got {task!r}")
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
    problem = EXPERIMENTS[task](length, settings)
    mg.manual_seed(settings.seed)
    model = problem.model(cell, settings)
    # one bar per run with the latest test error in its readout: a line per evaluation would be
    # hundreds of lines over a whole experiment, and the table at the end sums them up
    trainer = Trainer(model, problem.batches, config=train, evaluate=problem.evaluate, progress=progress,
                      print_evals=False, desc=f"{task}-{length} {cell}")
    history = trainer.fit()
    curve = [{k: v for k, v in r.items() if k not in ("kind", "solved")} for r in history.evals]
    solved = next((r for r in history.evals if r["solved"]), None)
    return RunResult(task, cell, length, problem.metric, problem.baseline, history.step, round(history.elapsed, 4),
                     curve, solved and solved["step"], solved and round(solved["elapsed"], 4))


def run_experiment(task: str, cells, lengths, settings: Settings, train: TrainConfig,
                   progress: bool = True) -> list[RunResult]:
    """Every cell at every length, lengths in the outer loop (short runs finish first)."""
    return [run_one(task, cell, length, settings, train, progress) for length in lengths for cell in cells]


# reporting -----------------------------------------------------------------------------------------
def _short(x: float, decimals: int) -> str:
    """``x`` with ``decimals`` decimals, or two significant digits when that would show 0 (a short
    run's 0.031 s is not "0.0")."""
    return f"{x:.{decimals}f}" if x >= 10 ** -decimals or x == 0 else f"{x:.2g}"


def _solved_text(r: RunResult) -> str:
    return "not solved" if r.solved_at is None else f"solved at {r.solved_at}"


def _cell_text(r: RunResult) -> str:
    if r.task == "copy":
        return f"{r.final:.4f} nats, {r.curve[-1]['copy_accuracy']:.1%} right ({_solved_text(r)})"
    return f"{r.final:.4f} ({_solved_text(r)})"


def results_table(results: list[RunResult]) -> str:
    """A markdown grid (cell x length -> final test error and the step it was solved at), then one
    row per run with its best error, baseline, time to solve and training time."""
    cells = list(dict.fromkeys(r.cell for r in results))
    lengths = list(dict.fromkeys(r.length for r in results))
    by = {(r.cell, r.length): r for r in results}
    task, metric = results[0].task, results[0].metric
    what = "T" if task == "adding" else "delay"
    solved = "test MSE < 0.01" if task == "adding" else f"{COPY_SOLVED_ACCURACY:.0%} of the copied symbols right"
    lines = [f"final {metric} (solved: {solved})", "",
             "| cell | " + " | ".join(f"{what}={n}" for n in lengths) + " |", "|---|" + "---|" * len(lengths)]
    for c in cells:
        lines.append(f"| {c} | " + " | ".join(_cell_text(by[c, n]) if (c, n) in by else "-" for n in lengths) + " |")
    lines += ["", f"| cell | {what} | final {metric} | best | baseline | solved at step | seconds to solve "
                  "| steps | seconds | ms/step |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.cell} | {r.length} | {r.final:.4f} | {r.best:.4f} | {r.baseline:.4f} | "
                     f"{'-' if r.solved_at is None else r.solved_at} | "
                     f"{'-' if r.solved_seconds is None else _short(r.solved_seconds, 0)} | {r.steps} | "
                     f"{_short(r.seconds, 1)} | {_short(1000 * r.seconds / max(r.steps, 1), 0)} |")
    return "\n".join(lines)


_COLORS = {"rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
_FLOOR = 1e-6  # a log axis cannot show 0


def plot_results(results: list[RunResult], path) -> object:
    """Test error against training steps, one panel per length, log scale, with the trivial
    baseline and (for the adding problem) the solved line; a dot marks where a run was solved.
    Returns the path, or None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    lengths = list(dict.fromkeys(r.length for r in results))
    task, metric = results[0].task, results[0].metric
    fig = Figure(figsize=(4.2 * len(lengths), 3.6))
    axes = fig.subplots(1, len(lengths), squeeze=False)[0]
    for ax, n in zip(axes, lengths):
        runs = [r for r in results if r.length == n]
        for r in runs:
            ax.plot([c["step"] for c in r.curve], [max(c[metric], _FLOOR) for c in r.curve],
                    color=_COLORS.get(r.cell), lw=1.5, label=r.cell)
            at = [max(c[metric], _FLOOR) for c in r.curve if c["step"] == r.solved_at]
            if at:
                ax.plot([r.solved_at], at, "o", color=_COLORS.get(r.cell), ms=4)
        ax.axhline(runs[0].baseline, color="0.4", ls="--", lw=1,
                   label=f"baseline: {EXPERIMENTS[task].baseline_label}")
        if task == "adding":
            ax.axhline(SOLVED_MSE, color="0.4", ls=":", lw=1, label="solved (0.01)")
        ax.set_yscale("log")
        ax.set_title(f"{'T' if task == 'adding' else 'delay'} = {n}")
        ax.set_xlabel("training step")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("test MSE" if task == "adding" else "test cross-entropy (nats/step)")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("the adding problem" if task == "adding" else "copy memory")
    fig.tight_layout()
    return write_svg(fig, path)


# command line --------------------------------------------------------------------------------------
def _name_list(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in CELLS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(CELLS)}; got {text!r}")
    return list(dict.fromkeys(names))


def _int_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected comma-separated lengths of at least 2, got {text!r}")
    return list(dict.fromkeys(values))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad experiment adding|copy``."""
    parser.add_argument("experiment", choices=tuple(EXPERIMENTS), help="adding problem or copy memory")
    parser.add_argument("--cells", type=_name_list, default=list(CELLS), help="cells to compare (default rnn,lstm,gru)")
    parser.add_argument("--lengths", type=_int_list, default=None,
                        help="sequence lengths (adding, default 10,50,100) or delays (copy, default 10,20,50)")
    parser.add_argument("--hidden", type=positive_int, default=64, help="hidden size (default 64)")
    parser.add_argument("--forget-bias", type=float, default=1.0, help="LSTM forget-gate bias at init (default 1.0)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="sequences per step (default 64)")
    parser.add_argument("--n-test", type=positive_int, default=1000, help="held-out test sequences (default 1000)")
    add_training_arguments(parser, steps=DEFAULT_STEPS, lr=2e-3, clip=1.0, eval_every=100, checkpoints=False)
    parser.epilog = (f"--steps and --minutes limit each run (one cell at one length), not the whole experiment; "
                     f"--eval-every sets the resolution of 'solved at step'. At the default {DEFAULT_STEPS:,} "
                     f"steps LSTM and GRU solve the adding problem at T=50; copy memory needs many more steps "
                     f"and is not expected to be solved at the default (its curves show how far each cell gets).")


def run_from_args(args: argparse.Namespace) -> dict:
    """``minigrad experiment``: run every cell at every length, print the table, write the chart
    and the results; return {"runs": [...], "files": [...]}."""
    train = config_from_args(args)  # every flag is checked before any work
    lengths = args.lengths or ([10, 50, 100] if args.experiment == "adding" else [10, 20, 50])
    settings = Settings(hidden_size=args.hidden, batch_size=args.batch_size, forget_bias=args.forget_bias,
                        n_test=args.n_test, seed=args.seed)
    out = run_dir(args, f"experiment_{args.experiment}")
    make_folder(out)
    started = time.perf_counter()
    results = run_experiment(args.experiment, args.cells, lengths, settings, train, progress=not args.quiet)
    table = results_table(results)
    print(table)
    about = {"experiment": args.experiment, "settings": asdict(settings), "train": asdict(train),
             "optimizer": "Adam", "total_seconds": round(time.perf_counter() - started, 1),
             "machine": {"python": platform.python_version(), "numpy": np.__version__,
                         "processor": platform.machine()}}
    write_json(out / "results.json", {**about, "runs": [{**asdict(r), "final": r.final, "best": r.best}
                                                        for r in results]})
    write_text(out / "results.md", f"# {args.experiment} experiment\n\nsettings: `{about['settings']}`, "
                                   f"training: `{about['train']}`\n\n{table}\n")
    files = [out / "results.json", out / "results.md"]
    chart = plot_results(results, out / f"{args.experiment}.svg")
    if chart is not None:
        files.append(chart)
    print("wrote " + ", ".join(str(f) for f in files))
    return {"runs": [{"cell": r.cell, "length": r.length, "final": r.final, "solved_at": r.solved_at,
                      "steps": r.steps, "seconds": r.seconds} for r in results],
            "files": [str(f) for f in files]}
