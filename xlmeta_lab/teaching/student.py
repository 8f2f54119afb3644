"""Student copies of the notebooks: every solution replaced by a stub that says what to write.

The repository's notebooks are the *solutions*: each exercise cell (tagged ``exercise``) holds its answer
between two marker lines (:mod:`xlmeta_lab.teaching.exercises.blocks`),

    # BEGIN SOLUTION (exercise 01.2)
    ...
    # END SOLUTION

A student copy keeps everything else and replaces each block with the exercise's *first* hint (the idea,
never the code: the formula and the code come one at a time from ``hint("01.2")``) and
``raise NotImplementedError("Exercise 2: ...")``, indented as the block was. The check cell that follows
(:func:`xlmeta_lab.teaching.exercises.check`) reports such a function as "not done yet", says in a banner that
the notebook goes on with the workbook's own solution, and the notebook runs top to bottom, which CI verifies.
Student copies are generated (``xlmeta workbook --student DIR``), never committed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

from xlmeta_lab.teaching.exercises.blocks import SolutionBlock, checked_cells, replace_solutions

#: Width of a stub's comment lines, indentation included.
_WIDTH = 110


def stub_lines(block: SolutionBlock) -> list[str]:
    """What replaces a solution block: the first hint as comments, where to get the next, and the raise."""
    item, indent = block.exercise, block.indent
    first = f"Exercise {item.number} ({item.title}), hint 1 of {len(item.hints)}: {item.hints[0]}"
    lines = textwrap.wrap(first, _WIDTH - len(indent) - 2, break_on_hyphens=False)
    if len(item.hints) > 1:
        lines.append(f'Stuck? hint("{item.key}") shows the next hint: the formula, then the code.')
    return [f"{indent}# {line}" for line in lines] + [
        f'{indent}raise NotImplementedError("Exercise {item.number}: {item.title}")'
    ]


def stub_solutions(source: str, where: str) -> tuple[str, list[str]]:
    """``source`` with each solution block replaced by its stub, and the keys of the blocks replaced.

    ``where`` names the cell in errors: an unclosed or nested block, or an unknown exercise key, is a
    mistake in the notebook and must not produce a student copy that silently gives the answer away.
    """
    stubbed, blocks = replace_solutions(source, where, stub_lines)
    return stubbed, [block.exercise.key for block in blocks]


def student_notebook(notebook: nbformat.NotebookNode, name: str) -> tuple[nbformat.NotebookNode, list[str]]:
    """A student copy of ``notebook`` and the exercises it stubs out; every exercise cell must hold a block."""
    copy = nbformat.from_dict(notebook)
    keys: list[str] = []
    for index, _ in checked_cells(copy.cells, name):
        cell = copy.cells[index]
        cell.source, replaced = stub_solutions(cell.source, f"{name}, cell {index}")
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
