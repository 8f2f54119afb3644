"""Shared fixtures: the data, found the way the package finds it, and a private output folder.

The tests resolve data exactly as the workbook does (``$XLMETA_DATA`` if set, else the user cache, where a
missing file is downloaded once when online); CI sets ``XLMETA_DATA`` to its read-only mirror. When no data can
be found at all, the tests that need it are skipped with one reason saying how to provide it; the others run.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from xlmeta_lab.data import sources
from xlmeta_lab.teaching.notebook import ENV_OUTPUT


@functools.cache
def located_data() -> tuple[Path | None, str]:
    """The folder holding every registered file, or ``None`` and why not (resolved once per session)."""
    try:
        return sources.resolve_all(), ""
    except sources.DataError as error:
        return None, str(error)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    folder, problem = located_data()
    if folder is None:
        first = problem.splitlines()[0]
        pytest.skip(f"no data: {first} Set {sources.ENV_DATA} or run `xlmeta data fetch` once online.")
    return folder


@pytest.fixture(scope="session", autouse=True)
def notebook_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Notebooks executed by the tests write results and checkpoints here, never into the checkout."""
    out = tmp_path_factory.mktemp("notebook-outputs")
    os.environ[ENV_OUTPUT] = str(out)
    return out
