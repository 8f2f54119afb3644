"""Shared fixtures: where the data mirror is.

CI sets ``XLMETA_DATA=../shared/data``; a developer's checkout finds the same folder beside the repository.
A missing mirror fails the tests that need it, loudly: nothing is skipped in silence.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xlmeta_lab.data import sources
from xlmeta_lab.teaching.notebook import ENV_OUTPUT

MIRROR = Path(os.environ.get(sources.ENV_DATA) or Path(__file__).resolve().parents[2] / "shared" / "data")
# Notebooks executed by the tests run in their own kernels and find the data through the environment.
os.environ.setdefault(sources.ENV_DATA, str(MIRROR))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return sources.require_folder(MIRROR)


@pytest.fixture(scope="session", autouse=True)
def notebook_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Notebooks executed by the tests write results and checkpoints here, never into the checkout."""
    out = tmp_path_factory.mktemp("notebook-outputs")
    os.environ[ENV_OUTPUT] = str(out)
    return out
