"""Shared fixtures and markers of the specmeta Python suite.

Markers (applied by `pytest_collection_modifyitems`, so a test only writes
`@pytest.mark.needs_cuda` etc.):
  needs_cuda   skipped with reason "no CUDA GPU visible" unless torch is
               importable and torch.cuda.is_available()
  needs_torch  skipped unless torch is importable
  needs_cupy   skipped unless cupy is importable and sees a GPU

Randomness: the `rng` fixture is a numpy Generator seeded freshly each run
(or from `pytest --seed=<int>` to replay one). The seed is recorded in the
test's user_properties and printed in the report of every failing test that
used it.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import reference` from any rootdir

_SEED_PROPERTY = "specmeta_rng_seed"


def _torch():
    try:
        import torch
    except Exception:  # ImportError, or a broken install
        return None
    return torch


def _cupy_with_gpu():
    try:
        import cupy
    except Exception:
        return None
    try:
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:
        return None


TORCH = _torch()
CUDA_VISIBLE = bool(TORCH is not None and TORCH.cuda.is_available())
CUPY = _cupy_with_gpu()

_SKIPS = {
    "needs_cuda": (not CUDA_VISIBLE, "no CUDA GPU visible"),
    "needs_torch": (TORCH is None, "torch is not installed"),
    "needs_cupy": (CUPY is None, "cupy is not installed or sees no GPU"),
}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_cuda: needs torch and a visible CUDA GPU (skipped otherwise)")
    config.addinivalue_line("markers", "needs_torch: needs torch (skipped otherwise)")
    config.addinivalue_line("markers", "needs_cupy: needs cupy and a visible GPU (skipped otherwise)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name, (skip, reason) in _SKIPS.items():
            if skip and item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in item.user_properties:
            if name == _SEED_PROPERTY:
                report.sections.append(
                    ("specmeta random seed", f"rng seed = {value}; replay with pytest --seed={value}")
                )


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=None, help="replay the random inputs of an earlier run")


@pytest.fixture
def rng_seed(request) -> int:
    """This test's seed: fresh each run unless --seed is given."""
    given = request.config.getoption("--seed")
    seed = given if given is not None else secrets.randbits(63)
    request.node.user_properties.append((_SEED_PROPERTY, seed))
    return seed


@pytest.fixture
def rng(rng_seed) -> np.random.Generator:
    return np.random.default_rng(rng_seed)


@pytest.fixture
def torch_mod():
    if TORCH is None:
        pytest.skip("torch is not installed")
    return TORCH


@pytest.fixture
def cupy_mod():
    if CUPY is None:
        pytest.skip("cupy is not installed or sees no GPU")
    return CUPY
