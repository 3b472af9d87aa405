"""A training run's folder: a new run never replaces another, a resumed one continues its own.

``run_dir`` names a run's folder (``<--out>/<name>``) and checks it before any work, creating
nothing: a new run refuses a folder that already holds a checkpoint (unless ``--overwrite``), and
``--resume`` needs one. ``fit`` trains, or continues the checkpoint after ``check_resume`` has
checked that it was made with the same settings (``differences`` lists what is not) and that
``--steps`` lies ahead of it; it says what it did when it took no step. ``run_numbers`` sums
up a finished run; ``sample_batches`` is the usual ``batches(rng)`` for the trainer.
"""
from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

import minigrad as mg
from minigrad import io
from zoo.train import CHECKPOINT, Trainer, TrainConfig

__all__ = ["run_dir", "make_folder", "existing_step", "refuse_existing", "differences", "check_resume", "fit",
           "run_numbers", "sample_batches"]

# config field -> the flag that sets it (fields of the models' configs and of the saved task settings)
_RENAMED = {"hidden_size": "--hidden", "embed_dim": "--embed", "embed_size": "--embed", "num_layers": "--layers",
            "source": "--data", "batch": "--batch-size", "name": "--task", "n_steps": "--series-length",
            "n_components": "--components"}
_SAME = {"cell", "embed", "hidden", "layers", "dropout", "forget_bias", "bidirectional", "condition", "mode",
         "attention", "attention_size", "teacher_forcing", "text", "n_train", "n_test", "seed", "length",
         "max_number", "encoding", "level", "test_fraction", "window", "noise", "max_digits", "seq"}
_SHOWN = 8  # vocabulary entries shown in a difference


def existing_step(folder: pathlib.Path) -> int | str | None:
    """The step of the checkpoint in ``folder``, "unreadable" if it cannot be read, None if there is none."""
    path = pathlib.Path(folder) / CHECKPOINT
    if not path.exists():
        return None
    try:
        return int(mg.load(path)["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unreadable"


def refuse_existing(folder: pathlib.Path, ways: str) -> None:
    """ValueError if ``folder`` holds a checkpoint: one line naming it, its step and ``ways`` out."""
    step = existing_step(folder)
    if step is not None:
        at = "an unreadable checkpoint" if step == "unreadable" else f"a checkpoint at step {step:,}"
        raise ValueError(f"'{folder}' already holds {at}; {ways}")


def run_dir(args: argparse.Namespace, name: str) -> pathlib.Path:
    """``<--out>/<name>``, checked and not created: with ``--resume`` it must hold a checkpoint;
    without, it must not, unless ``--overwrite`` (ValueError saying the ways out)."""
    folder = pathlib.Path(args.out) / name
    if args.resume:
        if not (folder / CHECKPOINT).is_file():
            raise ValueError(f"--resume: there is no checkpoint at '{folder / CHECKPOINT}'")
    elif not args.overwrite:
        refuse_existing(folder, "continue it with --resume, write elsewhere with --out DIR, "
                                "or replace it with --overwrite")
    return folder


def make_folder(folder: pathlib.Path) -> None:
    """Create ``folder`` (and its parents); a ValueError naming it if that is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"cannot create the output folder '{folder}': {e.strerror}") from None


def _flag(path: str) -> str:
    """The flag that sets the config entry at dotted ``path``, or the path itself."""
    leaf = path.rsplit(".", 1)[-1]
    return _RENAMED.get(leaf) or (f"--{leaf.replace('_', '-')}" if leaf in _SAME else path)


def _vocabulary_difference(path: str, saved: dict, now: dict) -> str | None:
    """What differs between two vocabularies (``to_dict`` forms), or None if they are not both ones."""
    key = next((k for k in ("chars", "tokens") if isinstance(saved.get(k), list) and isinstance(now.get(k), list)),
               None)
    if key is None:
        return None
    what = "characters" if key == "chars" else "tokens"
    old, new = saved[key], now[key]
    gone, added = [c for c in old if c not in set(new)], [c for c in new if c not in set(old)]

    def some(items):
        return ", ".join(map(repr, items[:_SHOWN])) + (", ..." if len(items) > _SHOWN else "")

    parts = [f"{len(gone)} {what} only in the checkpoint's ({some(gone)})"] if gone else []
    parts += [f"{len(added)} only in the new data's ({some(added)})"] if added else []
    if not parts:
        parts = [f"the same {len(old)} {what} in another order" if sorted(old) == sorted(new)
                 else "other options"]
    return f"{path.replace('vocab', 'vocabulary')}: " + ", ".join(parts)


def differences(saved, now, path: str = "") -> list[str]:
    """What differs between two run configs (JSON-like), one entry per differing setting, named by
    its flag where one sets it: ``["--hidden: 8 in the checkpoint, 9 now"]``."""
    if isinstance(saved, dict) and isinstance(now, dict):
        if path and (described := _vocabulary_difference(path, saved, now)) is not None:
            return [] if saved == now else [described]
        out = []
        for key in list(saved) + [k for k in now if k not in saved]:
            out += differences(saved.get(key), now.get(key), f"{path}.{key}" if path else key)
        return out
    if saved == now:
        return []
    return [f"{_flag(path)}: {json.dumps(saved)} in the checkpoint, {json.dumps(now)} now"]


def check_resume(path: pathlib.Path, run_config: dict, config: TrainConfig) -> int:
    """The step of the checkpoint at ``path``; ValueError unless it was made with ``run_config``
    (the model, task and data settings; the message lists every difference) and lies behind
    ``config.steps``."""
    saved = mg.load(path)
    old, now = saved.get("config") or {}, json.loads(json.dumps(run_config))
    groups = [k for k in dict.fromkeys([*old, *now]) if differences(old.get(k), now.get(k), k)]
    if groups:
        differ = [d for k in groups for d in differences(old.get(k), now.get(k), k)]
        raise ValueError(f"--resume: the checkpoint at '{path}' was trained with other settings "
                         f"({', '.join(groups)} differ: {'; '.join(differ)}); pass the options of the original run")
    step = int(saved["step"])
    if config.steps is not None and config.steps < step:
        raise ValueError(f"--resume: the checkpoint at '{path}' is at step {step:,}, past --steps {config.steps}; "
                         f"--steps counts from the start of the run, so pass more than {step} (or --minutes)")
    if config.steps == step:
        print(f"nothing to train: the checkpoint at '{path}' is already at step {step:,} (--steps {config.steps})")
    return step


def fit(model, batches, *, config: TrainConfig, out: pathlib.Path, run_config: dict, resume: bool = False,
        progress: bool = True, announce: str | None = None, **options):
    """Train ``model`` with ``config`` into ``out`` (a folder ``run_dir`` checked), or with
    ``resume`` continue its checkpoint after ``check_resume``; ``announce`` is printed once the
    run is sure to go ahead. ``options`` (``evaluate``, ``desc``, ``tokens``, ``print_evals``) go
    to the ``Trainer``. Says so when it takes no step. Returns the History."""
    path = out / CHECKPOINT
    if resume:
        if check_resume(path, run_config, config) > 0:
            if announce:
                print(announce)
            return Trainer.resume(path, model, batches, config=config, progress=progress, **options).fit()
        # NOTE: a step-0 checkpoint (--steps 0) holds only the untrained model; continuing it is a new
        # run from those weights, whatever the schedule (it saved none to resume)
        io.load_checkpoint(path, model=model)
    make_folder(out)
    if announce:
        print(announce)
    history = Trainer(model, batches, config=config, out_dir=out, run_config=run_config, progress=progress,
                      **options).fit()
    if history.step == 0:
        why = "--steps 0" if config.steps == 0 else "the time ran out first"
        print(f"took no training step ({why}): '{path}' holds the untrained model")
    return history


def run_numbers(history) -> dict:
    """A finished run's ``steps``, ``train_seconds`` and ``final_loss`` (the mean of the last 20
    training losses; None if it took no step)."""
    return {"steps": history.step, "train_seconds": round(history.elapsed, 2),
            "final_loss": float(np.mean(history.losses[-20:])) if history.losses else None}


def sample_batches(examples, batch_size: int):
    """``batches(rng)`` for the trainer: ``batch_size`` distinct examples (all, if there are fewer)."""
    return lambda rng: examples.sample(min(batch_size, len(examples)), rng)
