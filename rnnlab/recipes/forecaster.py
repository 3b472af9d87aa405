"""``minigrad train forecaster [--mode many_to_many --cell gru ...]``: a ``zoo.models.Forecaster`` on
``zoo.tasks.sine_task`` (a noisy sum of sines), measured against the persistence baseline, with a
chart of its forecasts."""
from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np

import minigrad as mg
from zoo.models.forecaster import Forecaster, ForecasterConfig, evaluate_mse
from zoo.tasks import FORECAST_MODES, sine_task
from zoo.train import evaluating

from ..files import write_json, write_svg
from ..flags import add_model_arguments, add_training_arguments, config_from_args, positive_int
from ..runs import fit, run_dir, run_numbers, sample_batches

__all__ = ["add_train_arguments", "train_from_args"]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``minigrad train forecaster`` (next values of a noisy sum of sines)."""
    g = parser.add_argument_group("task")
    g.add_argument("--mode", choices=FORECAST_MODES, default="many_to_one",
                   help="predict the value after the window, or the next value at every step")
    g.add_argument("--window", type=positive_int, default=32, help="input steps per example (default 32)")
    g.add_argument("--series-length", type=positive_int, default=2000, help="steps of the series (default 2000)")
    g.add_argument("--components", type=positive_int, default=3, help="sines in the mixture (default 3)")
    g.add_argument("--noise", type=float, default=0.05, help="standard deviation of the noise (default 0.05)")
    add_model_arguments(parser, cell="gru", hidden=32)
    add_training_arguments(parser, steps=800, lr=3e-3, eval_every=100)


def train_from_args(args: argparse.Namespace) -> dict:
    """``minigrad train forecaster``: train, print the test MSE next to the persistence baseline's,
    save the run and a chart of the forecasts; return the numbers."""
    train = config_from_args(args)  # every flag is checked before any work
    out = run_dir(args, f"forecaster_{args.mode}")
    task = sine_task(args.window, args.mode, args.series_length, n_components=args.components, noise=args.noise,
                     seed=args.seed)
    config = ForecasterConfig(mode=args.mode, cell=args.cell, hidden_size=args.hidden, num_layers=args.layers,
                              dropout=args.dropout, forget_bias=args.forget_bias)
    mg.manual_seed(args.seed)
    model = Forecaster(config)
    history = fit(
        model, sample_batches(task.train, args.batch_size), config=train, out=out, resume=args.resume,
        progress=not args.quiet, desc=f"forecaster {args.cell}",
        evaluate=lambda m: {"test_mse": evaluate_mse(m, task.test.x, task.test.y)},
        run_config={"kind": "forecaster", "model": asdict(config),
                    "task": {"window": args.window, "mode": args.mode, "n_steps": args.series_length,
                             "n_components": args.components, "noise": args.noise, "seed": args.seed}})
    persistence = task.info["persistence_mse"]
    result = {"mode": args.mode, "cell": args.cell, **run_numbers(history),
              "train_mse": evaluate_mse(model, task.train.x, task.train.y),
              "test_mse": evaluate_mse(model, task.test.x, task.test.y),
              "persistence_mse": persistence, "noise_mse": args.noise ** 2}
    result["skill"] = 1 - result["test_mse"] / persistence
    write_json(out / "results.json", result)
    print(f"forecaster ({args.mode}, {args.cell}, {history.step} steps, {history.elapsed:.1f} s): test MSE "
          f"{result['test_mse']:.5f} vs persistence {persistence:.5f} (skill {result['skill']:+.1%}; "
          f"the noise alone costs {result['noise_mse']:.5f})")
    chart = _plot_forecast(model, task, out / "forecast.svg")
    print(f"checkpoint, metrics and results in {out}/" + (f"; chart {chart}" if chart else ""))
    return result


def _plot_forecast(model: Forecaster, task, path):
    """The test series with the one-step forecasts and persistence's, as SVG (None without matplotlib)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    with evaluating(model):
        pred, _ = model(task.test.x)
    split, window = task.info["split"], task.info["window"]
    many = task.info["mode"] == "many_to_many"
    truth = (task.test.y[:, -1] if many else task.test.y)[:, 0]
    guess = (pred.data[:, -1] if many else pred.data)[:, 0]
    t = split + window + np.arange(len(truth))  # the step each target belongs to
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    ax.plot(t, task.info["clean"][t], color="0.75", lw=3, label="clean signal")
    ax.plot(t, truth, color="0.3", lw=1, label="series (target)")
    ax.plot(t, task.test.x[:, -1, 0], color="tab:orange", lw=1, ls="--", label="persistence")
    ax.plot(t, guess, color="tab:blue", lw=1.2, label=f"{model.config.cell} forecast")
    ax.set_xlabel("time step (test part of the series)")
    ax.set_title("one-step-ahead forecasts on held-out steps")
    ax.legend(loc="upper right", fontsize=8, ncol=2)
    fig.tight_layout()
    return write_svg(fig, path)
