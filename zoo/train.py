"""One training loop for every model: progress bar, evaluation, clipping, schedules, metrics log,
checkpoints (every N steps and on Ctrl-C) and exact resumption.

A step is ``out, loss = model(*batch)``, ``loss.backward()``, gradient-norm clipping,
``optimizer.step()``, ``optimizer.zero_grad()``, then the learning-rate schedule's step. The trainer
owns the data generator (``batches(rng)`` draws one batch per step) and checkpoints it with the
model, optimizer, schedule, global generator and history, so ``Trainer.resume`` continues a run
exactly as if it had never stopped.

Files in ``out_dir``: ``metrics.jsonl`` (one JSON object per line: ``{"kind": "train", "step",
"loss", "lr", "grad_norm", "tokens_per_s", "elapsed"}`` every ``log_every`` steps and ``{"kind":
"eval", "step", <metrics>, "elapsed"}`` after each evaluation) and ``checkpoint.npz``
(``minigrad.io.save_checkpoint``; ``config`` holds ``run_config``).

Ctrl-C stops the run cleanly: pressed during the forward or backward pass, the unfinished step is
abandoned (its random draws undone); pressed during the update, the update finishes first. Either
way the checkpoint holds the last completed step and ``fit`` returns with ``History.interrupted``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import pathlib
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

import minigrad as mg
from minigrad import io, optim
from minigrad.nn.utils import clip_grad_norm_
from minigrad.optim import lr_scheduler
from minigrad.tensors import as_array

__all__ = ["TrainConfig", "Trainer", "History", "TrainingError", "CHECKPOINT", "METRICS", "SCHEDULES",
           "make_scheduler", "evaluating"]

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.jsonl"
SCHEDULES = ("constant", "cosine")


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a checkpoint that does not fit); the message says why."""


@dataclass
class TrainConfig:
    """How long and how to train; saved in every checkpoint."""
    steps: int | None = 1000          # optimizer steps (None: until max_seconds)
    max_seconds: float | None = None  # wall-clock budget over the whole run; whichever limit comes first
    lr: float = 2e-3
    clip_norm: float | None = 1.0     # joint gradient 2-norm limit (None: no clipping)
    warmup: int = 0                   # linear warm-up steps (LinearLR), then constant or cosine
    schedule: str = "constant"        # "constant" | "cosine" (cosine needs steps)
    eval_every: int = 200             # steps between evaluations (0 = only at the end)
    ckpt_every: int | None = None     # steps between checkpoints (needs out_dir)
    log_every: int = 10
    seed: int = 0                     # seeds the data generator handed to ``batches``

    def __post_init__(self):
        if self.steps is None and self.max_seconds is None:
            raise ValueError("TrainConfig: give steps or max_seconds (or both), else training never ends")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"TrainConfig: steps must be >= 0, got {self.steps}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"TrainConfig: max_seconds must be positive, got {self.max_seconds}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: lr must be positive, got {self.lr}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(f"TrainConfig: clip_norm must be positive or None, got {self.clip_norm}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"TrainConfig: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "cosine" and self.steps is None:
            raise ValueError("TrainConfig: the cosine schedule needs a number of steps")
        if self.warmup < 0 or (self.steps is not None and self.schedule == "cosine" and self.warmup >= self.steps):
            raise ValueError(f"TrainConfig: warmup must be >= 0 (and below steps for cosine), got {self.warmup}")
        for name in ("eval_every", "log_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig: {name} must be >= 0, got {getattr(self, name)}")
        if self.ckpt_every is not None and self.ckpt_every < 1:
            raise ValueError(f"TrainConfig: ckpt_every must be positive or None, got {self.ckpt_every}")


@dataclass
class History:
    """What a run produced: ``losses[i]`` is step i+1's training loss; ``records`` are the lines
    of ``metrics.jsonl``; ``evals`` the evaluation records among them."""
    losses: list = field(default_factory=list)
    records: list = field(default_factory=list)
    step: int = 0
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def evals(self) -> list:
        """The evaluation records, in order."""
        return [r for r in self.records if r["kind"] == "eval"]

    @property
    def last_eval(self) -> dict | None:
        """The latest evaluation record, or None."""
        evals = self.evals
        return evals[-1] if evals else None


def _default_tokens(batch) -> int:
    """The element count of the batch's first array (the inputs)."""
    first = batch[0]
    return int(as_array(first).size)


def make_scheduler(optimizer, config: TrainConfig):
    """The learning-rate schedule ``config`` asks for, or None for a constant rate without warm-up."""
    warm = (lr_scheduler.LinearLR(optimizer, start_factor=1.0 / (config.warmup + 1), end_factor=1.0,
                                  total_iters=config.warmup) if config.warmup else None)
    if config.schedule == "constant":
        return warm
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps - config.warmup)
    if warm is None:
        return cosine
    return lr_scheduler.SequentialLR(optimizer, [warm, cosine], milestones=[config.warmup])


@contextlib.contextmanager
def evaluating(model):
    """Run the block with ``model`` in eval mode (no dropout) and without recording a graph; the
    model's previous mode comes back afterwards, also after an error."""
    was_training = model.training
    model.eval()
    try:
        with mg.no_grad():
            yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def _deferred_interrupt():
    """Hold Ctrl-C back while the block runs (the update of a step), then raise it.

    Only the main thread can handle signals; elsewhere the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


class Trainer:
    """Trains ``model`` on ``batches``; see the module docstring.

    ``batches(rng) -> tuple`` gives one step's ``model(...)`` arguments (targets included) from the
    trainer's seeded data generator. ``evaluate(model) -> dict`` runs in eval mode under no_grad.
    ``optimizer`` defaults to ``Adam(model.parameters(), lr=config.lr)``. ``tokens(batch) -> int``
    counts a batch's tokens for the tokens/s readout (default: the first array's size).
    ``out_dir`` receives the metrics log and checkpoints; ``run_config`` (JSON-like, e.g. the
    model's config and vocabulary) is stored as the checkpoint's ``config``.
    ``progress`` shows a tqdm bar; with it, each evaluation prints a line, or with
    ``print_evals=False`` (many short runs, or a caller that prints the result itself) only
    updates the bar's readout.
    """

    def __init__(self, model, batches: Callable, *, config: TrainConfig, optimizer=None,
                 evaluate: Callable | None = None, out_dir=None, run_config: dict | None = None,
                 tokens: Callable | None = None, progress: bool = True, print_evals: bool = True,
                 desc: str = "train"):
        if config.ckpt_every and out_dir is None:
            raise ValueError("Trainer: ckpt_every needs an out_dir to write checkpoints into")
        self.model, self.batches, self.config = model, batches, config
        self.evaluate, self.run_config = evaluate, run_config
        self.tokens = tokens or _default_tokens
        self.progress, self.print_evals, self.desc = progress, print_evals, desc
        self._readout = {}  # what the bar shows after the step count: loss, tokens/s, ...
        self.out_dir = None if out_dir is None else pathlib.Path(out_dir)
        self.params = list(model.parameters())
        if optimizer is None:
            optimizer = optim.Adam(self.params, lr=config.lr)
        self.optimizer = optimizer
        self.scheduler = make_scheduler(optimizer, config)
        self.data_rng = np.random.default_rng(config.seed)
        self.history = History()

    # paths -----------------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> pathlib.Path | None:
        """``out_dir/checkpoint.npz`` (None without an out_dir)."""
        return None if self.out_dir is None else self.out_dir / CHECKPOINT

    @property
    def metrics_path(self) -> pathlib.Path | None:
        """``out_dir/metrics.jsonl`` (None without an out_dir)."""
        return None if self.out_dir is None else self.out_dir / METRICS

    @property
    def step(self) -> int:
        """Optimizer steps completed so far."""
        return self.history.step

    # checkpoints -----------------------------------------------------------------------------------
    def save_checkpoint(self, path=None) -> pathlib.Path:
        """Write everything needed to resume exactly (atomically) to ``path`` or ``out_dir``."""
        path = pathlib.Path(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("Trainer.save_checkpoint: no path and no out_dir")
        h = self.history
        io.save_checkpoint(
            path, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler, step=h.step,
            config=self.run_config, generators={"data": self.data_rng},
            extra={"train_config": dataclasses.asdict(self.config), "elapsed": h.elapsed,
                   "losses": np.asarray(h.losses, dtype=np.float64), "records": h.records})
        return path

    @classmethod
    def resume(cls, path, model, batches, **kw) -> "Trainer":
        """A trainer that continues the checkpoint at ``path`` exactly where it stopped.

        ``model`` (and ``optimizer``, if given) must be built as for the original run; the training
        config comes from the checkpoint unless ``config=`` is given (e.g. with more steps).
        ``out_dir`` defaults to the checkpoint's folder; ``run_config`` to the saved one.
        """
        saved = io.load(path)
        extra = saved.get("extra") if isinstance(saved, dict) else None
        if not isinstance(extra, dict) or "train_config" not in extra:
            raise io.CheckpointError(f"cannot resume from '{path}': it is not a zoo.train checkpoint")
        kw.setdefault("config", TrainConfig(**extra["train_config"]))
        kw.setdefault("out_dir", pathlib.Path(path).parent)
        kw.setdefault("run_config", saved["config"])
        trainer = cls(model, batches, **kw)
        try:
            io.load_checkpoint(path, model=model, optimizer=trainer.optimizer, scheduler=trainer.scheduler,
                               generators={"data": trainer.data_rng})
        except (KeyError, ValueError) as e:  # CheckpointError and StateDictError are ValueErrors
            raise TrainingError(f"cannot resume from '{path}': {e}") from None
        trainer.history = History(losses=[float(x) for x in extra["losses"]], records=list(extra["records"]),
                                  step=int(saved["step"]), elapsed=float(extra["elapsed"]))
        return trainer

    # the loop --------------------------------------------------------------------------------------
    def _run_eval(self) -> dict:
        with evaluating(self.model):
            metrics = dict(self.evaluate(self.model))
        # numpy scalars (np.float32 above all) would not survive json.dumps
        return {k: v.item() if isinstance(v, np.generic) else v for k, v in metrics.items()}

    def _open_metrics(self):
        if self.out_dir is None:
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # A resumed run's log restarts from the checkpoint's records, dropping lines written after it.
        f = open(self.metrics_path, "w", encoding="utf-8")
        for r in self.history.records:
            f.write(json.dumps(r) + "\n")
        f.flush()
        return f

    def _record(self, log, record: dict) -> None:
        self.history.records.append(record)
        if log is not None:
            log.write(json.dumps(record) + "\n")
            log.flush()

    def _bar(self):
        return tqdm(total=self.config.steps, initial=self.history.step, desc=self.desc,
                    disable=not self.progress, unit="step", dynamic_ncols=True)

    def fit(self) -> History:
        """Train until ``steps`` or ``max_seconds`` is reached (or Ctrl-C); return the history.

        Evaluates once more at the end (unless just done) and, with ``out_dir``, saves a final
        checkpoint, also after Ctrl-C.
        """
        h = self.history
        log = self._open_metrics()
        try:
            with self._bar() as bar:
                self._loop(log, bar)
            if not h.interrupted and self.evaluate is not None and (not h.evals or h.evals[-1]["step"] != h.step):
                self._evaluate_now(log, None)
        except KeyboardInterrupt:
            h.interrupted = True
        finally:
            if log is not None:
                log.close()
        if self.out_dir is not None:
            self.save_checkpoint()
        if h.interrupted and self.progress:
            where = f"; checkpoint saved to {self.checkpoint_path}" if self.out_dir is not None else ""
            tqdm.write(f"interrupted after step {h.step}{where}")
        return h

    def _loop(self, log, bar) -> None:
        c, h = self.config, self.history
        started = time.perf_counter()
        base_elapsed = h.elapsed
        window_loss, window_steps, window_tokens, window_start = 0.0, 0, 0, started
        self.model.train()
        try:
            while not self._done(base_elapsed, started):
                loss, batch = self._forward_backward()
                with _deferred_interrupt():
                    grad_norm = clip_grad_norm_(self.params, c.clip_norm) if c.clip_norm is not None else None
                    lr = self.optimizer.param_groups[0]["lr"]
                    self.optimizer.step()
                    self.optimizer.zero_grad()
                    if self.scheduler is not None:
                        self.scheduler.step()
                    h.losses.append(loss)
                    h.step += 1
                    h.elapsed = base_elapsed + time.perf_counter() - started
                window_loss += loss
                window_steps += 1
                window_tokens += self.tokens(batch)
                bar.update(1)
                if c.log_every and h.step % c.log_every == 0:
                    now = time.perf_counter()
                    mean, tps = window_loss / window_steps, window_tokens / max(now - window_start, 1e-9)
                    self._record(log, {"kind": "train", "step": h.step, "loss": mean, "lr": lr,
                                       "grad_norm": grad_norm, "tokens_per_s": tps, "elapsed": h.elapsed})
                    self._show(bar, {"loss": f"{mean:.4f}", "tok/s": f"{tps:,.0f}", **self._time_left()})
                    window_loss, window_steps, window_tokens, window_start = 0.0, 0, 0, now
                if self.evaluate is not None and c.eval_every and h.step % c.eval_every == 0:
                    self._evaluate_now(log, bar)
                if c.ckpt_every and h.step % c.ckpt_every == 0:
                    self.save_checkpoint()
        except KeyboardInterrupt:
            h.interrupted = True
        finally:
            h.elapsed = base_elapsed + time.perf_counter() - started

    def _done(self, base_elapsed: float, started: float) -> bool:
        c, h = self.config, self.history
        if c.steps is not None and h.step >= c.steps:
            return True
        return c.max_seconds is not None and base_elapsed + time.perf_counter() - started >= c.max_seconds

    def _forward_backward(self) -> tuple:
        """Draw a batch, compute the loss and its gradients; return (loss as float, batch)."""
        rng_state = (self.data_rng.bit_generator.state, mg.get_rng_state())
        try:
            batch = self.batches(self.data_rng)
            _, loss = self.model(*batch)
            loss.backward()
        except KeyboardInterrupt:
            # undo the abandoned step's random draws, so the checkpoint resumes exactly
            self.data_rng.bit_generator.state = rng_state[0]
            mg.set_rng_state(rng_state[1])
            self.optimizer.zero_grad()
            raise
        value = float(loss.data)
        if not math.isfinite(value):
            self.optimizer.zero_grad()
            raise TrainingError(f"step {self.history.step + 1}: the training loss is {value}; lower the "
                                "learning rate or clip gradients harder")
        return value, batch

    def _evaluate_now(self, log, bar) -> dict:
        metrics = self._run_eval()
        record = {"kind": "eval", "step": self.history.step, **metrics, "elapsed": self.history.elapsed}
        self._record(log, record)
        if self.progress:
            shown = {k: f"{v:.4g}" if isinstance(v, float) else str(v) for k, v in metrics.items()}
            if self.print_evals:
                text = ", ".join(f"{k} {v}" for k, v in shown.items())
                (bar.write if bar is not None else tqdm.write)(f"step {self.history.step}: {text}")
            elif bar is not None:
                self._show(bar, shown)
        return metrics

    def _show(self, bar, items: dict) -> None:
        """Update the bar's readout with ``items`` (the latest of each is kept)."""
        self._readout.update(items)
        bar.set_postfix(self._readout, refresh=False)

    def _time_left(self) -> dict:
        if self.config.max_seconds is None:
            return {}
        return {"left": f"{max(self.config.max_seconds - self.history.elapsed, 0):.0f}s"}
