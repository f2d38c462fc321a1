"""Shared fixtures: where the real public data live, and where the repository is."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Real public data: ``$SCACT_DATA``, or ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("SCACT_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; in CI its absence is a failure, elsewhere a skip."""
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data folder {path} is missing (set SCACT_DATA)")
        pytest.skip(f"real data folder {path} not found (set SCACT_DATA)")
    return path
