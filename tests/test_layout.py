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


# Rooms, lowest first: a module may import its own room or a lower one, never a higher room or a sibling of equal
# rank. The package's own layers, then the rooms inside ``experiments`` and ``teaching`` (a module directly in a
# package's folder is that package's base room).
LAYERS = ["meta", "data", "episodes", "models", "experiments", "teaching", "cli"]
ROOMS = {
    "experiments": {"": 0, "adaptation": 1, "protocol": 2, "training": 2, "studies": 3, "deployment": 4, "bench": 4},
    "teaching": {"": 0, "reports": 1, "plots": 2, "exercises": 3},
    "cli": {"": 0, "reference_runs": 1},
}
TEACHING_TOP = {"student", "widgets", "workbook"}  # they gather exercises and plots for a notebook


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of_package() -> dict[str, set[str]]:
    """Every module's imports of the package, including those inside functions (a lazy import is an arrow too)."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    arrows: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("xlmeta_lab"):
                for alias in node.names:  # ``from pkg import module`` points at the module itself
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name.startswith("xlmeta_lab")}
        arrows[name] = {target for target in targets if target != name}
    return arrows


def _room(module: str) -> tuple[int, str, int]:
    """(layer, room, rank inside the layer) of a module such as ``xlmeta_lab.experiments.protocol.run``."""
    parts = module.split(".")[1:]
    if not parts:
        return (-1, "", 0)
    layer = LAYERS.index(parts[0]) if parts[0] in LAYERS else -1
    rooms = ROOMS.get(parts[0])
    if rooms is None or len(parts) < 2:
        return (layer, "", 0)
    if parts[1] in rooms:
        return (layer, parts[1], rooms[parts[1]])
    if parts[0] == "teaching" and parts[1] in TEACHING_TOP:
        return (layer, "top", 4)
    return (layer, "", 0)


def test_imports_never_climb_to_a_higher_room() -> None:
    """The seams the README's Layout draws: meta -> data -> ... -> cli, and inside ``experiments`` the base ->
    adaptation -> protocol / training (neither imports the other) -> studies -> deployment / bench."""
    climbing = []
    for module, targets in _imports_of_package().items():
        if module == "xlmeta_lab":  # the package's front door: ``from xlmeta_lab import load_tagger``
            continue
        here = _room(module)
        for target in targets:
            there = _room(target)
            if there[0] > here[0] or (
                there[0] == here[0] and there[1] != here[1] and (there[2] > here[2] or there[2] == here[2])
            ):
                climbing.append(f"{module} -> {target}")
    assert not climbing, f"imports that climb to a higher room or sideways to an equal one: {sorted(climbing)}"


def test_no_import_circles_between_modules() -> None:
    arrows = _imports_of_package()
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(arrows.get(module, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(arrows):
        if module not in state:
            visit(module, [module])
    assert not circles, f"import circles: {circles}"


@pytest.mark.parametrize("folder", sorted({p.parent for p in PACKAGE.rglob("*.py")}), ids=lambda p: p.name)
def test_folders_stay_small_and_their_names_carry_no_folder(folder: Path) -> None:
    """A newcomer finds a concept's home by its folder: more than 15 modules in one folder, or a word that starts or
    ends three sibling names (``bench_*``, ``*_report``), is a subpackage waiting to be made."""
    stems = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
    assert len(stems) <= 15, f"{folder.relative_to(ROOT)} holds {len(stems)} modules: split it into subpackages"
    for end in (0, -1):
        words = [stem.split("_")[end] for stem in stems if "_" in stem]
        counts = {word: sum(1 for stem in stems if stem.split("_")[end] == word) for word in words}
        repeated = {word: n for word, n in counts.items() if n >= 3}
        assert not repeated, f"{folder.relative_to(ROOT)}: names sharing a {('prefix', 'suffix')[end]}: {repeated}"


def test_reference_holds_results_only() -> None:
    scripts = sorted(p.name for p in (PACKAGE / "reference").glob("*.py"))
    assert not scripts, f"reference/ holds results; move {scripts} into experiments/studies"
