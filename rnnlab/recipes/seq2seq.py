"""``minigrad train seq2seq`` and ``minigrad translate``: a ``zoo.models.Seq2Seq`` trained on a task
of ``zoo.tasks.seq2seq`` (dates, reversal, sorting, addition) with the defaults that reach 99%,
then used from its checkpoint alone.

``train_task`` is the recipe as a function (the demo and the slow tests call it); ``translate``
refuses what the model cannot read: characters outside its vocabulary and, for the dates task,
texts that are no date it was trained on (``written_date``: ``"31 Feb 2020"``).
"""
from __future__ import annotations

import argparse
import datetime
import pathlib
import re

import numpy as np

import minigrad as mg
from zoo.models.attention import ATTENTIONS
from zoo.models.common import CELLS
from zoo.models.seq2seq import AttentionMap, Seq2Seq, Seq2SeqConfig, Translator, attention_svg, batch_arrays, evaluate
from zoo.tasks.seq2seq import DATE_FORMATS, MONTHS, SEQ2SEQ_TASKS, Seq2SeqTask, format_date, make_seq2seq_task
from zoo.train import TrainConfig, Trainer

from ..files import write_text
from ..flags import add_training_arguments, check_flags, config_from_args, positive_int
from ..runs import fit, run_dir

__all__ = ["TASK_DEFAULTS", "train_task", "write_attention_svg", "written_date", "check_source",
           "add_train_arguments", "train_from_args", "add_translate_arguments", "translate_from_args"]

# Per task: the task's options, model sizes, batch size and steps (Adam, lr 3e-3 with cosine decay)
# that reach >= 99% exact match on the held-out pairs (measured; see tests/test_seq2seq_slow.py).
TASK_DEFAULTS = {
    "dates": dict(task={}, model=dict(embed_size=32, hidden_size=64), batch_size=64, steps=600),
    "reversal": dict(task=dict(length=10), model=dict(embed_size=32, hidden_size=64), batch_size=64, steps=600),
    "sorting": dict(task=dict(length=10), model=dict(embed_size=32, hidden_size=64), batch_size=64, steps=1500),
    "addition": dict(task=dict(max_digits=3), model=dict(embed_size=32, hidden_size=128), batch_size=64,
                     steps=4000),
}
DEFAULT_LR = 3e-3
DEFAULT_EVAL_EVERY = 500


def _schedule(steps: int | None) -> str:
    """Our default learning-rate schedule: cosine decay when the number of steps is known (the last
    steps at a small rate settle the accuracy), else constant."""
    return "constant" if steps is None else "cosine"


def train_task(task_name: str = "dates", *, steps: int | None = None, max_seconds: float | None = None,
               lr: float = DEFAULT_LR, seed: int = 0, config=None, batch_size: int | None = None,
               progress: bool = True, out_dir=None, resume: bool = False, beam: int = 1,
               task_options: dict | None = None, **model_options) -> tuple[Seq2Seq, Seq2SeqTask, dict]:
    """Train a ``Seq2Seq`` on a task of ``zoo.tasks.seq2seq`` and measure it on the held-out pairs.

    Training runs for ``steps`` (default: the task's ``TASK_DEFAULTS``) or ``max_seconds``,
    whichever ends first; ``config`` (a ``zoo.train.TrainConfig``) replaces steps, max_seconds,
    lr and seed altogether. ``model_options`` are ``Seq2SeqConfig`` fields (``attention="dot"``,
    ``cell="lstm"``, ...) over the task's defaults; ``task_options`` go to the task's builder.
    With ``out_dir`` the trainer writes ``metrics.jsonl`` and ``checkpoint.npz``, which
    ``Translator.load`` and ``minigrad translate`` read; ``resume`` continues that checkpoint,
    which must have been made with the same model and task options.

    Returns ``(model, task, metrics)`` with the model in eval mode; metrics: ``exact_match``
    (greedy, held-out split), ``exact_match_beam{beam}`` if ``beam > 1``, ``loss``,
    ``train_seconds``, ``steps``.
    """
    if task_name not in SEQ2SEQ_TASKS:
        raise ValueError(f"unknown seq2seq task {task_name!r}; choose one of {', '.join(SEQ2SEQ_TASKS)}")
    if resume and out_dir is None:
        raise ValueError("resume: give the out_dir whose checkpoint to continue")
    defaults = TASK_DEFAULTS[task_name]
    task_options = {**defaults["task"], **(task_options or {})}
    task = make_seq2seq_task(task_name, **task_options)
    if config is None:
        steps = defaults["steps"] if steps is None and max_seconds is None else steps
        config = TrainConfig(steps=steps, max_seconds=max_seconds, lr=lr, schedule=_schedule(steps),
                             eval_every=DEFAULT_EVAL_EVERY, seed=seed)
    batch_size = batch_size or defaults["batch_size"]

    def batches(rng):
        return batch_arrays(task.sample(batch_size, rng))

    model_config = Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), **{**defaults["model"], **model_options})
    mg.manual_seed(config.seed)  # dropout masks and scheduled-sampling coins
    translator = Translator.from_task(Seq2Seq(model_config, generator=np.random.default_rng(config.seed)), task)
    options = dict(progress=progress, desc=f"seq2seq {task_name}", evaluate=lambda m: evaluate(translator, task),
                   tokens=lambda batch: int(np.count_nonzero(batch[3])))  # target tokens, EOS included
    if out_dir is None:
        history = Trainer(translator.model, batches, config=config, **options).fit()
    else:
        history = fit(translator.model, batches, config=config, out=pathlib.Path(out_dir), resume=resume,
                      run_config=translator.run_config(task={"name": task_name, "options": task_options}),
                      **options)
    last = history.last_eval
    metrics = evaluate(translator, task) if last is None or last["step"] != history.step else {
        k: last[k] for k in ("exact_match", "loss")}
    if beam > 1:
        metrics.update(evaluate(translator, task, beam=beam))
    metrics.update(train_seconds=history.elapsed, steps=history.step)
    translator.model.eval()
    return translator.model, task, metrics


def write_attention_svg(amap: AttentionMap, path, title: str | None = None) -> pathlib.Path:
    """Write ``attention_svg(amap)`` to ``path`` atomically; returns the path."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, attention_svg(amap, title))


# what the dates task writes -------------------------------------------------------------------------
DATE_RANGE = (datetime.date(1900, 1, 1), datetime.date(2099, 12, 31))  # date_task's default start and end
_DATE_FIELDS = {"d": r"(?P<day>\d{1,2})", "dd": r"(?P<day>\d{2})", "ord": r"(?P<day>\d{1,2})[a-z]{2}",
                "mm": r"(?P<month>\d{2})", "Y": r"(?P<year>\d{4})", "yy": r"(?P<yy>\d{2})",
                **dict.fromkeys(("Month", "Mon", "mon", "MON"), r"(?P<name>[A-Za-z]+)"),
                **dict.fromkeys(("Weekday", "Wkd"), r"[A-Za-z]+")}


def _date_regex(fmt: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", fmt)  # literal, field, literal, field, ..., literal
    return re.compile("".join(_DATE_FIELDS[p] if i % 2 else re.escape(p) for i, p in enumerate(parts)))


_DATE_REGEXES = [(fmt, _date_regex(fmt)) for fmt in DATE_FORMATS]


def written_date(text: str) -> datetime.date | None:
    """The day ``text`` writes in one of ``DATE_FORMATS``, exactly as the dates task writes it
    (weekday, capitals and ordinal suffix included), within ``DATE_RANGE``; None if there is none
    (``"31 Feb 2020"``, ``"Monday 22 November 2026"``: that day was a Sunday)."""
    for fmt, regex in _DATE_REGEXES:
        m = regex.fullmatch(text)
        if m is None:
            continue
        g = m.groupdict()
        if g.get("name") is not None:
            month = next((i + 1 for i, name in enumerate(MONTHS) if name[:3].lower() == g["name"][:3].lower()), 0)
        else:
            month = int(g["month"])
        year = int(g["year"]) if g.get("year") is not None else int(g["yy"]) + (1900 if int(g["yy"]) >= 69 else 2000)
        try:
            day = datetime.date(year, month, int(g["day"]))
        except ValueError:  # 31 February, month 13, ...
            continue
        if DATE_RANGE[0] <= day <= DATE_RANGE[1] and format_date(day, fmt) == text:
            return day
    return None


def check_source(text: str, translator: Translator, task_name: str | None) -> None:
    """ValueError unless the model can read ``text``: every character (or word) in its source
    vocabulary and, for the dates task, a date it was trained on."""
    vocab = translator.src_vocab
    unknown = sorted({t for t in vocab.tokenize(text) if t not in vocab.stoi})
    if unknown:
        what = "characters" if vocab.level == "char" else "words"
        raise ValueError(f"cannot translate {text!r}: {what} not in the model's source vocabulary: "
                         f"{', '.join(map(repr, unknown))}")
    if task_name == "dates" and vocab.tokenize(text) and written_date(text) is None:
        raise ValueError(f"cannot translate {text!r}: it is not a date the model was trained on (a real day "
                         f"from {DATE_RANGE[0].year} to {DATE_RANGE[1].year} written in one of the dates task's "
                         f"{len(DATE_FORMATS)} forms, such as '22 Nov 2026' or 'Sunday 22 November 2026')")


# the command line ---------------------------------------------------------------------------------
def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``minigrad train seq2seq`` (the trainer's come from ``add_training_arguments``)."""
    g = parser.add_argument_group("task")
    g.add_argument("--task", choices=list(SEQ2SEQ_TASKS), default="dates",
                   help="dates ('22 Nov 2026' -> '2026-11-22'), reversal, sorting or addition (default dates)")
    g.add_argument("--length", type=positive_int, help="sequence length for reversal and sorting (default 10)")
    g.add_argument("--max-digits", type=positive_int, help="digits per operand for addition (default 3)")
    g.add_argument("--n-train", type=positive_int, help="training pairs (default 20000)")
    g.add_argument("--n-test", type=positive_int, help="held-out pairs (default 1000)")
    g.add_argument("--batch-size", type=positive_int, help="pairs per step (default: the task's, 64)")
    g = parser.add_argument_group("model")
    g.add_argument("--attention", choices=ATTENTIONS, default="additive",
                   help="additive (Bahdanau), multiplicative (Luong general), dot, or none (default additive)")
    g.add_argument("--cell", choices=tuple(CELLS), default="gru", help="recurrent cell (default gru)")
    g.add_argument("--layers", type=positive_int, default=1, help="layers in encoder and decoder (default 1)")
    g.add_argument("--hidden", type=positive_int, help="hidden size (default: the task's)")
    g.add_argument("--embed", type=positive_int, help="embedding size (default: the task's)")
    g.add_argument("--attention-size", type=positive_int, help="additive attention's hidden size (default: hidden)")
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=True,
                   help="bidirectional encoder (default: yes)")
    g.add_argument("--dropout", type=float, default=0.0, help="dropout probability (default 0)")
    g.add_argument("--forget-bias", type=float, help="LSTM forget-gate bias at init (default: PyTorch's, 0)")
    g.add_argument("--teacher-forcing", type=float, default=1.0,
                   help="probability of feeding the true previous token; below 1: scheduled sampling (default 1)")
    g.add_argument("--beam", type=positive_int, default=1, help="also report exact match with this beam width")
    add_training_arguments(parser, steps=TASK_DEFAULTS["dates"]["steps"], lr=DEFAULT_LR,
                           eval_every=DEFAULT_EVAL_EVERY,
                           steps_help="per task: " + ", ".join(f"{k} {v['steps']}" for k, v in TASK_DEFAULTS.items()))
    parser.set_defaults(schedule=None)  # chosen in train_from_args: cosine unless only --minutes is given


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train seq2seq``: train (or resume), print the held-out accuracy and a few
    translations; writes ``<out>/seq2seq_<task>/`` (checkpoint.npz, metrics.jsonl, attention.svg)."""
    task_options = {k: v for k, v in (("n_train", args.n_train), ("n_test", args.n_test), ("length", args.length),
                                      ("max_digits", args.max_digits)) if v is not None}
    allowed = {"dates": {"n_train", "n_test"}, "reversal": {"n_train", "n_test", "length"},
               "sorting": {"n_train", "n_test", "length"}, "addition": {"n_train", "n_test", "max_digits"}}
    wrong = sorted(set(task_options) - allowed[args.task])
    if wrong:
        raise ValueError(f"{', '.join('--' + k.replace('_', '-') for k in wrong)} does not apply to the "
                         f"{args.task} task")
    args.default_steps = TASK_DEFAULTS[args.task]["steps"]
    if args.schedule is None:
        args.schedule = "constant" if args.steps is None and args.minutes is not None else "cosine"
    config = config_from_args(args)  # every flag is checked before any work
    out_dir = run_dir(args, f"seq2seq_{args.task}")
    model_options = {k: v for k, v in (("hidden_size", args.hidden), ("embed_size", args.embed),
                                       ("attention_size", args.attention_size)) if v is not None}
    model, task, metrics = train_task(
        args.task, config=config, batch_size=args.batch_size, progress=not args.quiet, out_dir=out_dir,
        resume=args.resume, beam=args.beam, task_options=task_options, attention=args.attention, cell=args.cell,
        num_layers=args.layers, bidirectional=args.bidirectional, dropout=args.dropout,
        teacher_forcing=args.teacher_forcing, forget_bias=args.forget_bias, **model_options)
    translator = Translator.from_task(model, task)
    c = model.config
    print(f"{task!r}; {c.attention} attention, {c.cell} x{c.num_layers}, hidden {c.hidden_size}: "
          f"{metrics['steps']} steps in {metrics['train_seconds']:.0f} s")
    beam = f", {metrics[f'exact_match_beam{args.beam}']:.2%} with beam {args.beam}" if args.beam > 1 else ""
    print(f"held-out exact match: {metrics['exact_match']:.2%} greedy{beam} ({len(task.test)} pairs)")
    sources = [s for s, _ in task.test[:5]]
    for (source, target), got in zip(task.test[:5], translator(sources)):
        print(f"  {source!r} -> {got!r}" + ("" if got == target else f"   (expected {target!r})"))
    checkpoint = out_dir / "checkpoint.npz"
    print(f"checkpoint: {checkpoint}  (minigrad translate {checkpoint} \"{sources[0]}\")")
    metrics["checkpoint"] = str(checkpoint)
    if model.attention is not None:
        path = write_attention_svg(translator.attention(sources[0]), out_dir / "attention.svg", title=sources[0])
        print(f"attention map: {path}")
        metrics["attention_map"] = str(path)
    return metrics


def add_translate_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``minigrad translate``."""
    parser.add_argument("checkpoint", help="a checkpoint written by 'minigrad train seq2seq'")
    parser.add_argument("text", nargs="+", help="source text(s) to translate, one translation printed per line")
    parser.add_argument("--beam", type=int, default=1, help="beam width (default 1: greedy)")
    parser.add_argument("--alpha", type=float, default=0.6,
                        help="beam search's length normalisation exponent (GNMT; default 0.6)")
    parser.add_argument("--show-attention", action="store_true",
                        help="write each translation's attention heatmap as SVG into --out")
    parser.add_argument("--out", default="out", help="folder for the heatmaps (default out)")


def translate_from_args(args: argparse.Namespace) -> dict:
    """``minigrad translate``: print one translation per text (and write heatmaps on request)."""
    check_flags(args)
    try:
        translator = Translator.load(args.checkpoint)
        saved = mg.load(args.checkpoint)["config"]
    except OSError as e:
        raise ValueError(f"cannot read checkpoint '{args.checkpoint}': {e.strerror or e}") from None
    if args.show_attention and translator.model.attention is None:
        raise ValueError("--show-attention: this model has no attention (it was trained with --attention none)")
    task = saved.get("task")
    for text in args.text:
        check_source(text, translator, task.get("name") if isinstance(task, dict) else None)
    translations = translator(args.text, beam=args.beam, alpha=args.alpha)
    for text in translations:
        print(text)
    result = {"translations": translations}
    if args.show_attention:
        paths = []
        for i, text in enumerate(args.text):
            name = "attention.svg" if len(args.text) == 1 else f"attention_{i + 1}.svg"
            paths.append(str(write_attention_svg(translator.attention(text, args.beam, args.alpha),
                                                 pathlib.Path(args.out) / name, title=text)))
            print(f"attention map: {paths[-1]}")
        result["attention_maps"] = paths
    return result
