"""Shared test set-up: hypothesis profiles, and engine state restored after every test.

``HYPOTHESIS_PROFILE=thorough pytest`` runs every property test with many more examples.
"""
import os

# One BLAS thread, as `make test` sets: on 2 shared cores OpenBLAS threads slow small products
# down by 10-100x. Set before numpy is first imported (by minigrad below) to take effect.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import functools  # noqa: E402
import inspect  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import minigrad as mg  # noqa: E402

settings.register_profile("minigrad", deadline=None, max_examples=20,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", parent=settings.get_profile("minigrad"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minigrad"))


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    """A test that changes the default dtype must not change it for the tests after it."""
    dtype = mg.get_default_dtype()
    yield
    mg.set_default_dtype(dtype)


def pytest_collection_modifyitems(items):
    """Mark the oracle tests, those that compare against PyTorch, so that ``make test-oracle`` (run
    with torch installed) runs only them: a test that takes a ``torch`` fixture, lives in a module
    that imported torch, or calls ``pytest.importorskip("torch")`` itself."""
    for item in items:
        fn = getattr(item, "function", None)
        if fn is not None and ("torch" in getattr(item, "fixturenames", ())
                               or type(getattr(item.module, "torch", None)).__name__ == "module"
                               or _asks_for_torch(fn)):
            item.add_marker(pytest.mark.oracle)


@functools.lru_cache(maxsize=None)
def _asks_for_torch(fn) -> bool:
    return 'importorskip("torch")' in inspect.getsource(fn)
