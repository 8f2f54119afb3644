"""The solution blocks of a notebook cell: where each exercise's answer starts and ends.

The workbook's notebooks hold every answer between two marker lines,

    # BEGIN SOLUTION (exercise 01.2)
    ...
    # END SOLUTION

and everything made from a notebook reads them the same way: a student copy replaces each block with a stub
(:mod:`xlmeta_lab.teaching.student`), an nbgrader source marks it as a solution region, and the tests compare a
stub's words with the block's code. A malformed block (unclosed, nested, an unknown key) is refused here, once,
so none of those can silently hand out an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from xlmeta_lab.teaching.exercises.core import Exercise, lookup

#: The tag of a notebook cell that holds an exercise's answer; an open-ended one is tagged ``open`` as well.
EXERCISE_TAG = "exercise"
OPEN_TAG = "open"
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION \(exercise (?P<key>\d\d\.\d+)\)[ \t]*$")
_END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")


@dataclass(frozen=True)
class SolutionBlock:
    """One answer: its exercise, the indentation of its marker lines, and the code between them."""

    exercise: Exercise
    indent: str
    code: str


def replace_solutions(
    source: str, where: str, replacement: Callable[[SolutionBlock], list[str]]
) -> tuple[str, list[SolutionBlock]]:
    """``source`` with each solution block (markers included) replaced by ``replacement(block)``'s lines.

    ``where`` names the cell in errors. Returns the new source and the blocks found, in order.
    """
    out: list[str] = []
    blocks: list[SolutionBlock] = []
    inside: tuple[str, str, list[str]] | None = None  # key, indent, code lines
    for number, line in enumerate(source.splitlines(), start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if inside is not None:
                raise ValueError(f"{where}, line {number}: BEGIN SOLUTION inside the block of exercise {inside[0]}")
            lookup(begin["key"])  # KeyError names the known keys
            inside = (begin["key"], begin["indent"], [])
        elif end:
            if inside is None:
                raise ValueError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            block = SolutionBlock(lookup(inside[0]), inside[1], "\n".join(inside[2]))
            blocks.append(block)
            out += replacement(block)
            inside = None
        elif inside is not None:
            inside[2].append(line)
        else:
            out.append(line)
    if inside is not None:
        raise ValueError(f"{where}: the block of exercise {inside[0]} is never closed with # END SOLUTION")
    return "\n".join(out), blocks


def solution_blocks(source: str, where: str) -> list[SolutionBlock]:
    """The solution blocks of ``source``, in order (the source itself unchanged)."""
    return replace_solutions(source, where, lambda block: [])[1]


def checked_cells(cells: list, name: str) -> list[tuple[int, list[SolutionBlock]]]:
    """``(index, blocks)`` of every code cell of a notebook that holds solution blocks.

    A cell tagged ``exercise`` must hold a block and a cell holding one must be tagged: the tag is what a
    reader, nbgrader and the layout test go by, so the two must never disagree.
    """
    found = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        tagged = EXERCISE_TAG in cell.metadata.get("tags", [])
        blocks = solution_blocks(cell.source, where)
        if tagged and not blocks:
            raise ValueError(f"{where} is tagged {EXERCISE_TAG!r} but holds no # BEGIN SOLUTION block")
        if blocks and not tagged:
            raise ValueError(f"{where} holds a solution block but is not tagged {EXERCISE_TAG!r}")
        if blocks:
            found.append((index, blocks))
    return found
