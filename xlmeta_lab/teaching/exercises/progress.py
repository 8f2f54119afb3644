"""A learner's progress, read from executed notebooks: which exercises each one has done.

A teaching assistant collects executed student copies (one folder, or one sub-folder per learner) and wants
one table, not thirty notebooks to scroll. Every check prints ``exercise N: correct`` or ``exercise N: not done
yet``, a wrong answer stops its cell with an ``ExerciseFailed`` error, and the last cell prints ``exercises
done: n of m``; this module reads those outputs back (``xlmeta workbook --progress DIR``). It reads what the
notebook printed, nothing else, so an exercise whose check never ran (the notebook stopped earlier) is
reported as *not reached*, and a notebook that did not reach its last cell says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from xlmeta_lab.teaching.exercises.core import CORRECT, NOT_DONE, registered

_OUTCOME = re.compile(rf"^exercise (?P<number>\d+): (?P<outcome>{CORRECT}|{NOT_DONE})\b", re.M)
_WRONG = re.compile(r"^exercise (?P<number>\d+) \(")
_CLOSING = "exercises done:"
WRONG = "wrong"
NOT_REACHED = "not reached"


@dataclass(frozen=True)
class NotebookProgress:
    """One executed notebook: its learner (the sub-folder, '' for none), name, each exercise's outcome, and
    whether the notebook ran to its closing ``exercises done`` line."""

    learner: str
    notebook: str
    outcomes: dict[str, str]
    finished: bool

    @property
    def done(self) -> list[str]:
        return [key for key, outcome in self.outcomes.items() if outcome == CORRECT]


def notebook_progress(path: Path, learner: str = "") -> NotebookProgress:
    """The outcome of every exercise of the executed notebook ``path``, as its outputs report it (the last
    report of an exercise wins: a learner may run a check again after fixing the answer)."""
    prefix = path.name[:2]
    by_number = {e.number: e.key for e in registered(prefix)}
    outcomes = dict.fromkeys(by_number.values(), NOT_REACHED)
    finished = False
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                wrong = _WRONG.match(output.get("evalue", ""))
                if output.get("ename") == "ExerciseFailed" and wrong and int(wrong["number"]) in by_number:
                    outcomes[by_number[int(wrong["number"])]] = WRONG
                continue
            text = output.get("text", "")
            for found in _OUTCOME.finditer(text):
                if int(found["number"]) in by_number:
                    outcomes[by_number[int(found["number"])]] = found["outcome"]
            finished = finished or _CLOSING in text
    return NotebookProgress(learner, path.stem, outcomes, finished)


def folder_progress(folder: Path) -> list[NotebookProgress]:
    """Every executed workbook notebook under ``folder`` (``NN_name.ipynb``, at any depth), by learner."""
    paths = sorted(p for p in folder.rglob("[0-9][0-9]_*.ipynb") if not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"no executed notebooks (NN_name.ipynb) under {folder}")
    return [notebook_progress(p, str(p.parent.relative_to(folder)).replace(".", "")) for p in paths]


def format_progress(rows: list[NotebookProgress]) -> str:
    """One line per notebook (and learner): n of m done, then what is not done, by how it stands."""
    width = max(len(r.notebook) for r in rows)
    learners = max(len(r.learner) for r in rows)
    lines = []
    for r in rows:
        head = (f"{r.learner:<{learners}}  " if learners else "") + f"{r.notebook:<{width}}"
        rest = [f"{len(r.done)} of {len(r.outcomes)} done"]
        for state in (WRONG, NOT_DONE, NOT_REACHED):
            keys = [key for key, outcome in r.outcomes.items() if outcome == state]
            if keys:
                rest.append(f"{state}: {', '.join(keys)}")
        if not r.finished:
            rest.append("did not reach its last cell")
        lines.append(f"{head}  " + "; ".join(rest))
    done = sum(len(r.done) for r in rows)
    lines.append(f"{done} of {sum(len(r.outcomes) for r in rows)} exercises done in {len(rows)} notebooks")
    return "\n".join(lines)
