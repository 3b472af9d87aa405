"""``make demo`` (``python -m rnnlab.demo --out out``): the zoo's main job on the embedded defaults, in
a few minutes on two CPU cores.

1. the 'hello' RNN of the classic lecture learns to spell "hello" from "h"; its loss is drawn as a
   scalar graph (every multiply, add and tanh of four time steps);
2. a character-level LSTM trains on the Python standard library's own sources for a fixed time,
   with samples before and after and the validation bits per character;
3. a sequence-to-sequence GRU with additive attention learns to translate written dates
   ("22 Nov 2026" -> "2026-11-22"), with a few translations and the held-out exact match;
4. pictures in ``--out``: the trained LSTM unrolled (cells and ops), the gradient flow through
   time of the trained and an untrained LSTM, the attention heatmap, the loss curves.

``--quick`` shrinks everything to a smoke run of about twenty seconds. Pictures whose tools are
missing (graphviz's ``dot``, matplotlib) are skipped with a note; everything else still runs.

Like ``minigrad train``, the demo never replaces a trained run: when ``--out`` already holds a
checkpoint in ``charlm/`` or ``seq2seq_dates/`` it refuses before any work (one line, exit status
2), unless ``--overwrite``.
"""
from __future__ import annotations

import json
import math
import pathlib
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
import minigrad.nn.functional as F
import viz
from viz.flow import gradient_flow
from viz.plots import plot_gradient_flow
from zoo import unfused
from zoo.models.charlm import CharLM, CharLMConfig, evaluate_bpc, run_config
from zoo.models.hello import HelloRNN, scalar_hello
from zoo.models.seq2seq import Translator
from zoo.tasks import hello_data, load_corpus
from zoo.train import METRICS, TrainConfig, Trainer

from .cli import guarded
from .files import write_json, write_svg
from .flags import Parser, check_flags
from .recipes.seq2seq import train_task, write_attention_svg
from .runs import refuse_existing

RUNS = ("charlm", "seq2seq_dates")  # the folders of --out holding the demo's trained runs


@dataclass(frozen=True)
class Plan:
    """Sizes and time budgets of one demo run."""
    charlm_seconds: float
    charlm_embed: int
    charlm_hidden: int
    eval_chars: int          # validation characters for the reported bits per character
    seq2seq_seconds: float
    seq2seq_model: dict      # Seq2SeqConfig fields
    seq2seq_task: dict       # date_task options
    flow_steps: int          # time steps of the gradient-flow window
    sample_chars: int


FULL = Plan(charlm_seconds=110, charlm_embed=64, charlm_hidden=256, eval_chars=50_000, seq2seq_seconds=80,
            seq2seq_model={}, seq2seq_task={}, flow_steps=40, sample_chars=240)
QUICK = Plan(charlm_seconds=4, charlm_embed=16, charlm_hidden=32, eval_chars=4_000, seq2seq_seconds=4,
             seq2seq_model=dict(embed_size=8, hidden_size=16), seq2seq_task=dict(n_train=2_000, n_test=100),
             flow_steps=12, sample_chars=60)


@dataclass
class Report:
    """What the demo wrote and measured, and what it had to skip."""
    out: pathlib.Path
    files: list = field(default_factory=list)    # (path, what it shows)
    numbers: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def wrote(self, path, what: str) -> None:
        """Note a file written, for the summary."""
        self.files.append((pathlib.Path(path), what))

    def skip(self, what: str, why: BaseException | str) -> None:
        """Note (and print) a part left out, and why."""
        note = f"skipped {what}: {' '.join(str(why).split())}"
        self.notes.append(note)
        print(f"  note: {note}")

    def picture(self, what: str, draw) -> None:
        """Run ``draw() -> path``; a missing tool (graphviz, matplotlib, a module) skips it with a note."""
        try:
            self.wrote(draw(), what)
        except (ImportError, RuntimeError, OSError) as e:
            self.skip(what, e)

    def summary(self, seconds: float) -> str:
        """Where everything is and what was measured, as text."""
        lines = [f"Done in {seconds:.0f} s. Everything is in {self.out}/:"]
        width = max([len(str(p.relative_to(self.out))) for p, _ in self.files] + [0])
        lines += [f"  {str(p.relative_to(self.out)):<{width}}  {what}" for p, what in self.files]
        lines += ["Numbers:"] + [f"  {k}: {v}" for k, v in self.numbers.items()]
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 88 - len(title)))


# 1. hello ------------------------------------------------------------------------------------------
def hello(report: Report, seed: int) -> None:
    """Train the 'hello' RNN and draw its loss as a scalar graph."""
    _section("1/4  the 'hello' RNN (vocabulary h e l o, 3 hidden units)")
    mg.manual_seed(seed)
    model = HelloRNN()
    data = hello_data()
    print(f"  before training: 'h' -> {model.generate('h')!r}")
    h = Trainer(model, lambda rng: (data.x, data.y), config=TrainConfig(steps=200, lr=0.05, clip_norm=None,
                                                                         eval_every=0), progress=False).fit()
    spelled = model.generate("h")
    print(f"  after {h.step} steps (loss {h.losses[-1]:.4f}): 'h' -> {spelled!r}")
    report.numbers["hello"] = f"'h' -> {spelled!r} after {h.step} steps, loss {h.losses[-1]:.4f}"

    def draw():
        scalar = scalar_hello(model)  # the same weights in scalar Values
        scalar.loss.backward()
        # ~600 DOT nodes op by op; each named value with the arithmetic that feeds only it reads at a glance
        return viz.render(scalar.loss, report.out / "hello_scalar_graph.svg", detail="named",
                          title="the trained 'hello' RNN as a scalar graph: h_t = tanh(W_xh x_t + W_hh h_t-1 + b), "
                                "loss over 4 steps, shaded by gradient")

    report.picture("the trained 'hello' RNN's loss as a graph of scalar Values (4 steps)", draw)


# 2. char-level LSTM -------------------------------------------------------------------------------
def charlm(report: Report, plan: Plan, seed: int, progress: bool):
    """Train the char-LSTM for the plan's time; return the model and the corpus."""
    _section(f"2/4  a character-level LSTM on the standard library's sources ({plan.charlm_seconds:g} s)")
    corpus = load_corpus()
    mg.manual_seed(seed)
    model = CharLM(CharLMConfig(len(corpus.vocab), "lstm", plan.charlm_embed, plan.charlm_hidden))
    print(f"  {corpus!r}; LSTM embed {plan.charlm_embed}, hidden {plan.charlm_hidden}, "
          f"{model.num_parameters():,} parameters")
    rng = np.random.default_rng(seed)
    print("  sample before training:\n" + _indent(model.sample(corpus.vocab, "def ", plan.sample_chars // 3,
                                                               temperature=0.8, rng=rng)))

    def batches(r):
        w = corpus.windows(32, 64, r)  # (B, T + 1): inputs w[:, :-1], next-character targets w[:, 1:]
        return w[:, :-1], w[:, 1:]

    out = report.out / "charlm"
    trainer = Trainer(model, batches, config=TrainConfig(steps=None, max_seconds=plan.charlm_seconds, lr=2e-3,
                                                          clip_norm=1.0, eval_every=0, seed=seed),
                      evaluate=lambda m: {"val_bpc": evaluate_bpc(m, corpus, max_chars=plan.eval_chars)},
                      out_dir=out, run_config=run_config(model, corpus.vocab, source=corpus.source, batch=32, seq=64),
                      progress=progress, print_evals=False, desc="char-LSTM")  # the bpc is printed below
    history = trainer.fit()
    bpc = history.last_eval["val_bpc"] if history.last_eval else float("nan")
    print(f"  {history.step} steps in {history.elapsed:.0f} s; validation {bpc:.3f} bits/char "
          f"(first {plan.eval_chars:,} validation characters; uniform guessing: "
          f"{math.log2(len(corpus.vocab)):.2f})")
    print("  sample after training (temperature 0.8):\n" + _indent(
        model.sample(corpus.vocab, "def ", plan.sample_chars, temperature=0.8, rng=rng)))
    report.numbers["char-LSTM validation bits/char"] = (f"{bpc:.3f} after {history.step} steps "
                                                        f"({history.elapsed:.0f} s)")
    report.wrote(out / "checkpoint.npz", f"the char-LSTM checkpoint: minigrad sample {out / 'checkpoint.npz'} "
                                         "--prime 'def ' --temperature 0.8")
    report.wrote(out / METRICS, "its training log (JSON lines)")
    return model, corpus


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.split("\n"))


# 3. seq2seq with attention -----------------------------------------------------------------------
def seq2seq(report: Report, plan: Plan, seed: int, progress: bool):
    """Train the date translator with attention for the plan's time; return it."""
    _section(f"3/4  date translation with additive attention ({plan.seq2seq_seconds:g} s)")
    out = report.out / "seq2seq_dates"
    model, task, metrics = train_task("dates", max_seconds=plan.seq2seq_seconds, seed=seed,
                                      progress=progress, out_dir=out, task_options=plan.seq2seq_task,
                                      attention="additive", **plan.seq2seq_model)
    translator = Translator.from_task(model, task)
    sources = [s for s, _ in task.test[:6]]
    for (source, target), got in zip(task.test[:6], translator(sources)):
        print(f"  {source!r:>32} -> {got!r}" + ("" if got == target else f"   (expected {target!r})"))
    print(f"  exact match on {len(task.test):,} held-out dates: {metrics['exact_match']:.1%} "
          f"after {metrics['steps']} steps ({metrics['train_seconds']:.0f} s)")
    report.numbers["date translation exact match"] = (f"{metrics['exact_match']:.1%} of {len(task.test):,} "
                                                      f"held-out dates after {metrics['steps']} steps "
                                                      f"({metrics['train_seconds']:.0f} s)")
    report.wrote(out / "checkpoint.npz", f"the seq2seq checkpoint: minigrad translate {out / 'checkpoint.npz'} "
                                         "'3 March 1999'")

    def heatmap():
        return write_attention_svg(translator.attention(sources[0]), report.out / "attention_heatmap.svg",
                                   title=f"{sources[0]!r} -> {translator([sources[0]])[0]!r}")

    report.picture("where the decoder looks: attention weights of one translation", heatmap)
    return model


# 4. pictures ---------------------------------------------------------------------------------------
def unrolled_graphs(report: Report, model: CharLM, corpus) -> None:
    """Draw the trained char-LSTM unrolled over a few steps, cell by cell and op by op."""
    vocab = corpus.vocab
    for detail, steps in (("cells", 8), ("ops", 3)):
        def draw(detail=detail, steps=steps):
            text = "def f(x):"[:steps + 1]
            ids = vocab.encode(text)
            with unfused(), mg.keep_grads():  # every op of every step, not one fused node
                _, loss = model(ids[None, :-1], ids[None, 1:])
                loss.backward()
            model.zero_grad()
            return viz.render(loss, report.out / f"charlm_unrolled_{detail}.svg", names=model, detail=detail,
                              title=f"the trained char-LSTM unrolled over {steps} steps of {text!r} "
                                    f"(detail={detail!r}), shaded by gradient")

        report.picture(f"the trained char-LSTM's graph unrolled over {steps} steps, detail={detail!r}", draw)


def gradient_flow_chart(report: Report, model: CharLM, corpus, plan: Plan, seed: int) -> None:
    """Chart ||dL/dh_t|| and ||dh_T/dh_t|| of the trained and of an untrained char-LSTM."""
    def draw():
        window = corpus.val_ids[:plan.flow_steps + 1]
        x, y = window[None, :-1], window[None, 1:]
        mg.manual_seed(seed)
        untrained = CharLM(model.config)
        flows = {}
        for name, m in (("trained LSTM", model), ("untrained LSTM", untrained)):
            m.eval()
            out, _, states = m.rnn(m.embedding(x), return_states=True)
            logits = m.head(out)
            loss = F.cross_entropy(logits[:, -1], y[:, -1])  # read at the last step only
            flows[name] = gradient_flow(loss, states.h[0][0])
            m.zero_grad()
        return plot_gradient_flow(flows, report.out / "gradient_flow.svg",
                                  title=f"char-LSTM: how far back the last character's gradient reaches "
                                        f"({plan.flow_steps} steps)")

    report.picture("gradient flow through time, trained vs untrained char-LSTM", draw)


def loss_curves(report: Report) -> None:
    """Chart both training runs' losses (from their metrics logs) side by side; the date
    translator's on a log axis, as its loss falls by three orders of magnitude."""
    runs = {"char-LSTM (bits/char)": (report.out / "charlm" / METRICS, "linear"),
            "date seq2seq (nats/token, log scale)": (report.out / "seq2seq_dates" / METRICS, "log")}

    def draw():
        from matplotlib.figure import Figure

        present = {name: ([json.loads(s) for s in path.read_text().splitlines()], yscale)
                   for name, (path, yscale) in runs.items() if path.is_file()}
        fig = Figure(figsize=(5 * len(present), 3.6), layout="constrained")
        for ax, (name, (records, yscale)) in zip(np.atleast_1d(fig.subplots(1, len(present))), present.items()):
            scale = 1 / math.log(2) if "bits" in name else 1.0
            train = [r for r in records if r["kind"] == "train"]
            ax.plot([r["step"] for r in train], [r["loss"] * scale for r in train], label="training loss")
            evals = [r for r in records if r["kind"] == "eval" and ("val_bpc" in r or "loss" in r)]
            if evals:
                key = "val_bpc" if "val_bpc" in evals[0] else "loss"
                ax.plot([r["step"] for r in evals], [r[key] for r in evals], "o", label=f"held out ({key})")
            ax.set_yscale(yscale)
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3, which="both" if yscale == "log" else "major")
            ax.legend()
        return write_svg(fig, report.out / "loss_curves.svg")

    report.picture("loss curves of both training runs", draw)


def main(argv=None) -> dict:
    """Run the demo; return the headline numbers (also written to ``summary.json``)."""
    parser = Parser(prog="python -m rnnlab.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out", help="folder for pictures, checkpoints and logs (default out)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of about twenty seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace the trained runs already in --out ({', '.join(RUNS)})")
    args = parser.parse_args(argv)
    check_flags(args)
    out = pathlib.Path(args.out)
    if not args.overwrite:
        for name in RUNS:  # before any work: a demo never replaces a trained run
            refuse_existing(out / name, "write elsewhere with --out DIR, or replace it with --overwrite")
    plan = QUICK if args.quick else FULL
    started = time.perf_counter()
    report = Report(out)
    report.out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress

    hello(report, args.seed)
    lm, corpus = charlm(report, plan, args.seed, progress)
    seq2seq(report, plan, args.seed, progress)
    _section("4/4  pictures")
    unrolled_graphs(report, lm, corpus)
    gradient_flow_chart(report, lm, corpus, plan, args.seed)
    loss_curves(report)
    seconds = time.perf_counter() - started
    summary = report.summary(seconds)
    print("\n" + summary)
    numbers = {**report.numbers, "seconds": round(seconds, 1), "notes": report.notes,
               "files": {str(p.relative_to(report.out)): what for p, what in report.files}}
    write_json(report.out / "summary.json", numbers)
    return numbers


def _run(argv) -> int:
    main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(guarded(lambda: _run(sys.argv[1:]), prog="python -m rnnlab.demo"))
