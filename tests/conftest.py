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
from treebanks import write_conllu

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


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A toy checkpoint trained for 4 steps, and made-up French as CoNLL-U files: what ``xlmeta fewshot``
    reads, in seconds. Trained once per session; tests write only new files beside it."""
    from xlmeta_lab.data.toy import make_toy_languages
    from xlmeta_lab.experiments.config import TrainConfig
    from xlmeta_lab.experiments.training.loop import train

    folder = tmp_path_factory.mktemp("tiny")
    languages = make_toy_languages({"en": 60, "es": 60, "fr": 50}, seed=0)
    config = TrainConfig(method="fomaml", steps=4, eval_every=2, checkpoint_every=2, hidden=16, max_len=20)
    train({"en": languages["en"], "es": languages["es"]}, config, folder / "init", progress=False)
    return {
        "init": folder / "init",
        "support": write_conllu(folder / "support.conllu", languages["fr"][:30]),
        "test": write_conllu(folder / "test.conllu", languages["fr"][30:]),
        "folder": folder,
    }
