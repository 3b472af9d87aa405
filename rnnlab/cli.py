"""The ``minigrad`` command: train the zoo's models, sample and translate from checkpoints, run the
long-range experiments, render pictures.

    minigrad train charlm [--data FILE] [--cell lstm --hidden 256 --layers 2 --minutes 4 ...]
    minigrad train hello | seq2seq | classifier | tagger | conditioned | forecaster  [options]
    minigrad sample CHECKPOINT --prime "def " --temperature 0.8
    minigrad translate CHECKPOINT "3 March 1999" [--beam 4]
    minigrad experiment adding|copy --cells rnn,lstm,gru --lengths 10,50,100
    minigrad export CHECKPOINT OUT.safetensors   (the weights, for PyTorch's load_state_dict)
    minigrad render NAME -o PATH            (the ready-made pictures; see ``minigrad render --list``)

Each subcommand lives in its recipe module (``rnnlab.recipes``, ``rnnlab.experiments``,
``rnnlab.export``, ``rnnlab.pictures``) and is imported only when it is run; it registers its flags with
``add_*_arguments(parser)`` and runs with ``*_from_args(args)``. Bad input (a ``CLIError``, a
``ValueError``, an unreadable file) ends the command with one line on stderr and exit status 2;
``MINIGRAD_TRACEBACK=1`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from zoo.train import TrainingError

from .flags import CLIError, Parser

__all__ = ["CLIError", "main", "guarded", "build_parser", "TRAIN_MODELS", "COMMANDS"]


# name -> (module, function adding the flags, function running it, one-line help)
TRAIN_MODELS = {
    "charlm": ("rnnlab.recipes.charlm", "add_train_arguments", "train_from_args",
               "character-level language model on a UTF-8 file or the standard library's sources"),
    "hello": ("rnnlab.recipes.hello", "add_train_arguments", "train_from_args",
              "the classic 'hello' RNN: vocabulary h e l o, learns 'hello' from 'h'"),
    "seq2seq": ("rnnlab.recipes.seq2seq", "add_train_arguments", "train_from_args",
                "encoder-decoder with attention: dates, reversal, sorting, addition"),
    "classifier": ("rnnlab.recipes.classifier", "add_train_arguments", "train_from_args",
                   "many-to-one sequence classifier (parity, majority)"),
    "tagger": ("rnnlab.recipes.classifier", "add_tagger_train_arguments", "train_tagger_from_args",
               "synced many-to-many sequence tagger (character classes, running parity)"),
    "conditioned": ("rnnlab.recipes.conditioned", "add_train_arguments", "train_from_args",
                    "one-to-many generator conditioned on a feature vector (spell numbers in words)"),
    "forecaster": ("rnnlab.recipes.forecaster", "add_train_arguments", "train_from_args",
                   "time-series forecaster on sums of sines"),
}
COMMANDS = {
    "sample": ("rnnlab.recipes.charlm", "add_sample_arguments", "sample_from_args",
               "generate text from a charlm checkpoint"),
    "translate": ("rnnlab.recipes.seq2seq", "add_translate_arguments", "translate_from_args",
                  "translate with a seq2seq checkpoint"),
    "experiment": ("rnnlab.experiments", "add_arguments", "run_from_args",
                   "long-range experiments (adding problem, copy memory) across cells and lengths"),
    "export": ("rnnlab.export", "add_arguments", "export_from_args",
               "write a checkpoint's model weights as a .safetensors file PyTorch loads"),
}


def _load(module: str, *names: str):
    """The named functions of ``module``; CLIError if it (or they) cannot be imported."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):  # the module itself, not one it imports
            raise CLIError(f"{module} is not available in this installation") from None
        raise
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        raise CLIError(f"{module} does not provide {', '.join(missing)}")
    return [getattr(mod, n) for n in names]


def _wire(sub, name: str, spec: tuple, wanted: bool) -> None:
    """A subcommand parser; only the one being run imports its module (``--help`` lists the rest)."""
    module, add, run, about = spec
    p = sub.add_parser(name, help=about, description=about)
    if not wanted:
        return
    try:
        add_arguments, run_function = _load(module, add, run)
    except CLIError as e:
        p.set_defaults(run=lambda args, message=f"{p.prog}: {e}": _unavailable(message))
        return
    add_arguments(p)
    p.set_defaults(run=run_function)


def _unavailable(message: str):
    raise CLIError(message)


def _render(argv: list) -> int:
    try:
        (render,) = _load("rnnlab.pictures", "main")
    except CLIError as e:
        raise CLIError(f"minigrad render: {e}") from None
    return render(argv, prog="minigrad render")


def build_parser(argv: list | None = None) -> argparse.ArgumentParser:
    """The command's parser; the modules of the subcommand named in ``argv`` are imported and wired."""
    argv = list(sys.argv[1:] if argv is None else argv)
    words = [a for a in argv if not a.startswith("-")]
    parser = Parser(prog="minigrad", description="Train the zoo's recurrent models, sample and translate "
                     "from checkpoints, run the long-range experiments, export weights for PyTorch, render "
                     "pictures.",
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="Run 'minigrad COMMAND --help' for a command's options.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    train = commands.add_parser("train", help="train a model (minigrad train MODEL --help)",
                                description="Train one of the zoo's models.")
    models = train.add_subparsers(dest="model", metavar="MODEL", parser_class=Parser)
    for name, spec in TRAIN_MODELS.items():
        _wire(models, name, spec, wanted=words[:2] == ["train", name])
    for name, spec in COMMANDS.items():
        _wire(commands, name, spec, wanted=words[:1] == [name])
    commands.add_parser("render", help="render a ready-made picture (minigrad render --list)", add_help=False)
    return parser


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, OSError) and e.filename and str(e.filename) not in text:
        text += f": '{e.filename}'"
    return text


def guarded(work, prog: str = "minigrad") -> int:
    """Run ``work()`` and return its exit status: 0 (or what it returns), 2 for bad input (one
    line on stderr, starting with ``prog``), 130 when interrupted."""
    try:
        return work() or 0
    except (CLIError, ValueError, OSError, TrainingError) as e:
        if os.environ.get("MINIGRAD_TRACEBACK"):
            raise
        text = _one_line(e)
        print(text if text.startswith(prog) else f"{prog}: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _run(argv: list) -> int:
    if argv[:1] == ["render"]:
        return _render(argv[1:])
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if not hasattr(args, "run"):
        raise CLIError(f"minigrad train: choose a model: {', '.join(TRAIN_MODELS)}")
    args.run(args)
    return 0


def main(argv: list | None = None) -> int:
    """Run the command; return its exit status (0 ok, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return guarded(lambda: _run(argv))


if __name__ == "__main__":
    sys.exit(main())
