"""The workbook as an nbgrader course: solution regions, locked check cells, points.

Instructors grade notebooks with nbgrader (https://nbgrader.readthedocs.io): a ``source/`` notebook marks each
answer as a *solution* region, each test as a locked, *graded* cell with points, and every other cell as locked
(nbgrader puts a locked cell back as the instructor wrote it before grading, so a learner cannot edit a check
into passing). ``xlmeta workbook --nbgrader DIR`` writes that folder from the notebooks:

* each exercise cell becomes a solution cell; its solution block, marked ``### BEGIN SOLUTION`` and ``### END
  SOLUTION`` (the notebook's own markers appear in its prose too), is what ``nbgrader generate_assignment``
  replaces with ``raise NotImplementedError()``, and the first hint is kept above it;
* after each cell that calls ``check("NN.M", ...)`` comes a locked test cell, ``require_done("NN.M")``, worth
  :data:`POINTS` (open-ended exercises :data:`OPEN_POINTS`: their rubric is the instructor's to add). ``check``
  itself lets a notebook go on without an answer; the test cell is what turns "not done" into zero points;
* every other cell is locked.

Each notebook is its own assignment, named as the notebook (``source/01_maml_derivation/``), and an
``nbgrader_config.py`` beside ``source/`` sets a cell timeout long enough for a notebook's quick profile.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from xlmeta_lab.teaching.exercises.blocks import SolutionBlock, checked_cells, replace_solutions
from xlmeta_lab.teaching.exercises.core import lookup

POINTS = 1
OPEN_POINTS = 2
_SCHEMA = 3
_CHECK = re.compile(r'check\(\s*"(?P<key>\d\d\.\d+)",')
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CONFIG = f"""# Written by `xlmeta workbook --nbgrader`: nbgrader's settings for the workbook's assignments.
c = get_config()  # noqa: F821 (nbgrader provides it)
c.Execute.timeout = 600  # seconds a cell may take; a notebook's quick profile stays well inside it
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
# The workbook's prose mentions "# BEGIN SOLUTION"; only these exact markers open and close an answer.
c.ClearSolutions.begin_solution_delimeter = "{BEGIN}"
c.ClearSolutions.end_solution_delimeter = "{END}"
"""


def _nbgrader_markers(block: SolutionBlock) -> list[str]:
    return [f"{block.indent}{BEGIN}", *block.code.splitlines(), f"{block.indent}{END}"]


def _metadata(grade_id: str, *, solution: bool = False, grade: bool = False, points: int = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": _SCHEMA,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def nbgrader_source(notebook: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """``notebook`` as an nbgrader source notebook, and the exercises it grades, in order."""
    copy = nbformat.from_dict(notebook)
    solution_cells = {index: blocks for index, blocks in checked_cells(copy.cells, name)}
    cells, graded = [], []
    for index, cell in enumerate(copy.cells):
        cell.setdefault("metadata", {})
        if index in solution_cells:
            (block, *more) = solution_cells[index]
            if more:
                raise ValueError(f"{name}, cell {index}: nbgrader grades one answer per cell; split the cell")
            item = block.exercise
            marked, _ = replace_solutions(cell.source, f"{name}, cell {index}", _nbgrader_markers)
            cell.source = f"# Exercise {item.number}, hint 1 of {len(item.hints)}: {item.hints[0]}\n{marked}"
            cell.metadata["nbgrader"] = _metadata(f"answer-{item.key.replace('.', '_')}", solution=True)
        else:
            cell.metadata["nbgrader"] = _metadata(f"locked-{index}")
        cells.append(cell)
        checked = _CHECK.findall(cell.source) if cell.cell_type == "code" else []
        for key in checked:
            points = OPEN_POINTS if lookup(key).open else POINTS
            test = nbformat.v4.new_code_cell(
                f"# Exercise {lookup(key).number}: {points} point(s) when its check above passes.\n"
                f'require_done("{key}")'
            )
            test.metadata["nbgrader"] = _metadata(f"test-{key.replace('.', '_')}", grade=True, points=points)
            cells.append(test)
            graded.append(key)
    answered = [b.exercise.key for blocks in solution_cells.values() for b in blocks]
    if sorted(graded) != sorted(answered):
        raise ValueError(f"{name}: exercises answered {answered} but checked {graded}; each needs both")
    setup = nbformat.v4.new_code_cell("from xlmeta_lab.teaching.exercises import require_done")
    setup.metadata["nbgrader"] = _metadata("locked-grading-import")
    copy.cells = [setup, *cells]
    copy.metadata.pop("xlmeta_student_copy", None)
    return copy, graded


def write_nbgrader_source(notebooks: list[Path], out_dir: Path) -> dict[Path, list[str]]:
    """Write ``out_dir/source/<notebook>/<notebook>.ipynb`` for each notebook and ``out_dir/nbgrader_config.py``;
    returns each written notebook with the exercises it grades."""
    written: dict[Path, list[str]] = {}
    for path in notebooks:
        source, keys = nbgrader_source(nbformat.read(path, as_version=4), path.name)
        target = out_dir / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source, target)
        written[target] = keys
    (out_dir / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    return written
