"""The global random generator behind factories, initializers and dropout, and its seeding."""
from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "generator", "get_rng_state", "set_rng_state"]

_GENERATOR = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator, so everything random after this repeats exactly."""
    global _GENERATOR
    _GENERATOR = np.random.default_rng(seed)
    return _GENERATOR


def generator(gen: np.random.Generator | None = None) -> np.random.Generator:
    """``gen`` if given, else the global generator."""
    return _GENERATOR if gen is None else gen


def get_rng_state() -> dict:
    """The global generator's state (a JSON-serialisable dict), for checkpoints."""
    return _GENERATOR.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _GENERATOR.bit_generator.state = state
