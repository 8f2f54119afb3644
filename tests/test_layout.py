"""The package's shape stays as the README's "Layout" section describes it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xlmeta_lab"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_hold_no_definitions_but_the_exercises(notebook: Path) -> None:
    """Notebooks explain, call and plot; functions and classes live in the package. The one exception is the
    learner's own code: a function in a cell tagged ``exercise``."""
    defined = []
    for cell in jupytext.read(notebook).cells:
        if cell.cell_type != "code" or "exercise" in cell.metadata.get("tags", []):
            continue
        tree = ast.parse(jupytext_source_as_python(cell.source))
        defined += [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    assert not defined, f"{notebook.name} defines {defined} outside exercise cells: move them into xlmeta_lab"


def jupytext_source_as_python(source: str) -> str:
    """A cell's source without IPython magics, which are not Python."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


@pytest.mark.parametrize("module", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small_or_say_they_are_one_concept(module: Path) -> None:
    lines = module.read_text(encoding="utf-8").count("\n")
    docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8"))) or ""
    assert lines <= 450 or "one concept:" in docstring.lower(), (
        f"{module.relative_to(ROOT)} has {lines} lines: split it, or say in its docstring why it is one concept"
    )


def test_no_reference_to_files_or_issues_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|STYLE\.md|\bissue \d+|\bissue #\d+")
    sources = [*PACKAGE.rglob("*.py"), *NOTEBOOKS, *ROOT.glob("tests/*.py")]
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sources
        if path.name != "test_layout.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert not hits, f"references to files or issues outside the repository: {hits}"


def test_every_subpackage_says_what_lives_in_it() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} has no docstring"
