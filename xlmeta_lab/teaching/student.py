"""Student copies of the notebooks: every solution replaced by a stub that says what to write.

The repository's notebooks are the *solutions*: each exercise cell (tagged ``exercise``) holds its answer
between two marker lines,

    # BEGIN SOLUTION (exercise 01.2)
    ...
    # END SOLUTION

A student copy keeps everything else and replaces each block with the exercise's one-line hint and
``raise NotImplementedError("Exercise 2: ...")``, indented as the block was. The check cell that follows
(:func:`xlmeta_lab.teaching.exercises.check`) reports such a function as "not done yet" and lets the
notebook go on with the workbook's own solution, so a student copy runs top to bottom, which CI verifies.
Student copies are generated (``xlmeta workbook --student DIR``), never committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from xlmeta_lab.teaching.exercises import lookup

EXERCISE_TAG = "exercise"
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION \(exercise (?P<key>\d\d\.\d+)\)[ \t]*$")
_END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")


def stub_solutions(source: str, where: str) -> tuple[str, list[str]]:
    """``source`` with each solution block replaced by its stub, and the keys of the blocks replaced.

    ``where`` names the cell in errors: an unclosed or nested block, or an unknown exercise key, is a
    mistake in the notebook and must not produce a student copy that silently gives the answer away.
    """
    out: list[str] = []
    keys: list[str] = []
    inside: str | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if inside is not None:
                raise ValueError(f"{where}, line {number}: BEGIN SOLUTION inside the block of exercise {inside}")
            inside = begin["key"]
            exercise = lookup(inside)  # KeyError names the known keys
            keys.append(inside)
            indent = begin["indent"]
            out.append(f"{indent}# Exercise {exercise.number}, hint: {exercise.hint}")
            out.append(f'{indent}raise NotImplementedError("Exercise {exercise.number}: {exercise.title}")')
        elif end:
            if inside is None:
                raise ValueError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: the block of exercise {inside} is never closed with # END SOLUTION")
    return "\n".join(out), keys


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """A student copy of ``notebook`` and the exercises it stubs out; every exercise cell must hold a block."""
    copy = nbformat.from_dict(notebook)
    keys: list[str] = []
    for index, cell in enumerate(copy.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        tagged = EXERCISE_TAG in cell.metadata.get("tags", [])
        cell.source, replaced = stub_solutions(cell.source, where)
        if tagged and not replaced:
            raise ValueError(f"{where} is tagged {EXERCISE_TAG!r} but holds no # BEGIN SOLUTION block")
        if replaced and not tagged:
            raise ValueError(f"{where} holds a solution block but is not tagged {EXERCISE_TAG!r}")
        keys += replaced
    copy.metadata["xlmeta_student_copy"] = True
    return copy, keys


def write_student_copies(notebooks: list[Path], out_dir: Path) -> dict[Path, list[str]]:
    """Write a student copy of each ``.ipynb`` into ``out_dir``; returns each copy with its exercise keys."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[Path, list[str]] = {}
    for path in notebooks:
        copy, keys = student_notebook(nbformat.read(path, as_version=4), path.name)
        target = out_dir / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"refusing to overwrite the solution notebook {path} with its student copy")
        nbformat.write(copy, target)
        written[target] = keys
    return written
