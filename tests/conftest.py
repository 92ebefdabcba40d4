"""Shared fixtures: where the real dataset samples are, and seeded helpers.

The real samples live outside the repository (never committed). Their folder
comes from ``FMLTC_DATA_DIR`` (the Makefile points it at ``../shared/data``).
When the folder is missing, tests that need it are skipped, except under
``CI=true``, where a missing sample is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("FMLTC_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if path.exists():
        return path
    message = f"real dataset sample not found: {path} (set FMLTC_DATA_DIR)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder with the real samples (``cicids2017/``, ``bot_iot/``, ...)."""
    return _require(_data_dir())


@pytest.fixture(scope="session")
def real_dataset_dir(real_data_dir):
    """A function returning the folder of one dataset, failing/skipping if absent."""

    def get(name: str) -> Path:
        return _require(real_data_dir / name)

    return get


@pytest.fixture
def one_torch_thread():
    """Tiny models run faster on one intra-op thread (no spin-waiting on a busy
    two-core machine); the results do not depend on the thread count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
