"""Time-series forecasting: a sum of sines with Gaussian noise, cut into sliding windows.

The series is split in time: the first ``1 - test_fraction`` of the steps make the training windows,
the rest the test windows, so no test target (or input) is ever seen in training.
"""
from __future__ import annotations

import numpy as np

from .base import ArrayTask, Examples

__all__ = ["FORECAST_MODES", "sine_mixture", "forecast_windows", "sine_task"]

FORECAST_MODES = ("many_to_one", "many_to_many")


def sine_mixture(n_steps: int, rng: np.random.Generator, n_components: int = 3,
                 period_range: tuple[float, float] = (8.0, 64.0), noise: float = 0.05) -> tuple[np.ndarray, dict]:
    """A (n_steps,) float32 series ``sum_k a_k sin(2 pi t / P_k + phi_k) + noise * N(0, 1)`` and its
    parameters. Periods and phases are uniform; amplitudes are uniform in [0.5, 1) then scaled to
    sum to 1, so the clean signal stays within [-1, 1]."""
    if n_steps < 2 or n_components < 1 or noise < 0:
        raise ValueError(f"need n_steps >= 2, n_components >= 1, noise >= 0; got {n_steps}, {n_components}, {noise}")
    periods = rng.uniform(*period_range, size=n_components)
    phases = rng.uniform(0, 2 * np.pi, size=n_components)
    amplitudes = rng.uniform(0.5, 1.0, size=n_components)
    amplitudes /= amplitudes.sum()
    t = np.arange(n_steps)[:, None]
    clean = (amplitudes * np.sin(2 * np.pi * t / periods + phases)).sum(axis=1)
    series = clean + noise * rng.standard_normal(n_steps)
    params = {"periods": periods.tolist(), "phases": phases.tolist(), "amplitudes": amplitudes.tolist(),
              "noise": noise, "clean": clean.astype(np.float32)}
    return series.astype(np.float32), params


def forecast_windows(series: np.ndarray, window: int, mode: str = "many_to_one") -> Examples:
    """Every ``window``-step slice of ``series`` with what follows it.

    ``x`` (N, window, 1); ``y`` (N, 1) = the next value (many_to_one) or (N, window, 1) = the
    window shifted by one step (many_to_many); N = len(series) - window.
    """
    if mode not in FORECAST_MODES:
        raise ValueError(f"mode must be one of {FORECAST_MODES}, got {mode!r}")
    series = np.asarray(series)
    if not 1 <= window < len(series):
        raise ValueError(f"a window of {window} steps needs a series longer than that, got {len(series)} steps")
    # (N + 1, window) views; row i is series[i:i + window]
    views = np.lib.stride_tricks.sliding_window_view(series, window)
    x = views[:-1, :, None].copy()
    y = series[window:, None].copy() if mode == "many_to_one" else views[1:, :, None].copy()
    return Examples(x, y)


def sine_task(window: int = 32, mode: str = "many_to_one", n_steps: int = 2_000, test_fraction: float = 0.2,
              n_components: int = 3, noise: float = 0.05, seed: int = 0) -> ArrayTask:
    """Windows of one seeded sum-of-sines series, split in time.

    ``info`` holds the generating parameters, ``series`` and ``clean`` (the noise-free signal) for
    plotting, ``split`` (the first test step), and ``persistence_mse``: the test MSE of repeating
    the last seen value, the baseline a forecaster must beat.
    """
    rng = np.random.default_rng(seed)
    series, params = sine_mixture(n_steps, rng, n_components, noise=noise)
    split = n_steps - round(test_fraction * n_steps)
    if not window < min(split, n_steps - split):
        raise ValueError(f"window={window} does not fit both the {split} training and the "
                         f"{n_steps - split} test steps; lengthen n_steps or shorten the window")
    train = forecast_windows(series[:split], window, mode)
    test = forecast_windows(series[split:], window, mode)
    # repeating the last seen value: x_t predicts y_t = x_{t+1}
    guess = test.x[:, -1] if mode == "many_to_one" else test.x
    persistence = float(np.mean((guess - test.y) ** 2))
    return ArrayTask(f"sines-{mode}", train, test,
                     info={**params, "series": series, "split": split, "window": window, "mode": mode,
                           "persistence_mse": persistence})
