"""One repository address, in pyproject's ``[project.urls]``: every Colab badge and every install cell use it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
GITHUB = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", REPOSITORY)


def badge_target(notebook: str) -> str:
    assert GITHUB, f"[project.urls] Repository must be a GitHub address, not {REPOSITORY}"
    return f"https://colab.research.google.com/github/{GITHUB[1]}/blob/main/notebooks/{notebook}.ipynb"


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_its_colab_badge_and_installs_from_the_same_repository(script: Path) -> None:
    cells = jupytext.read(script).cells
    title = cells[0].source
    assert cells[0].cell_type == "markdown" and f"]({badge_target(script.stem)})" in title, (
        f"{script.name}: the first cell needs the Colab badge linking to {badge_target(script.stem)}"
    )
    installs = [c.source for c in cells if c.cell_type == "code" and "google.colab" in c.source]
    assert len(installs) == 1, f"{script.name}: one install cell, run only on Colab"
    assert f'"xlmeta-lab @ git+{REPOSITORY}"' in installs[0], f"{script.name}: install from {REPOSITORY}"
    assert "torch" not in installs[0], "never pin torch in an install cell: Colab keeps its own"


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_readme_has_each_notebooks_badge(script: Path) -> None:
    assert badge_target(script.stem) in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("script", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_states_objectives_prerequisites_time_and_takeaways(script: Path) -> None:
    cells = jupytext.read(script).cells
    top = "\n".join(c.source for c in cells[:2] if c.cell_type == "markdown")
    for block in ("**Learning objectives.**", "**Prerequisites**", "**Run time**"):
        assert block in top, f"{script.name}: the first cell must state {block}"
    assert re.search(r"`quick`[^.]{0,40}?\d[\d.]*\s*(s\b|seconds?|min|minutes?)", top), f"{script.name}: state the measured quick time"
    markdown = [c.source for c in cells if c.cell_type == "markdown"]
    assert any(m.lstrip().startswith("## What to take away") for m in markdown[-3:]), (
        f"{script.name}: end with a '## What to take away' section"
    )


def test_reference_results_ship_inside_the_package() -> None:
    from xlmeta_lab.teaching.notebook import reference_dir

    shipped = {p.name for p in reference_dir().glob("*.json")}
    assert "03_en_es_to_fr-full.json" in shipped
    assert reference_dir().is_relative_to(ROOT / "xlmeta_lab")
    assert (ROOT / "results" / "reference").resolve() == reference_dir().resolve(), (
        "results/reference must stay a link to the packaged copy, so there is one set of reference files"
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any("reference/" in pattern for pattern in pyproject["tool"]["setuptools"]["package-data"]["xlmeta_lab"])


def test_jupyter_tooling_is_an_extra_not_a_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for tool in ("jupyterlab", "papermill", "ipykernel", "jupytext"):
        assert tool not in core, f"{tool} would disturb Colab's own runtime: keep it in the notebooks extra"
        assert any(tool in d for d in project["optional-dependencies"]["notebooks"])
