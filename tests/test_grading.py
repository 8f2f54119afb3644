"""nbgrader: the course folder ``xlmeta workbook --nbgrader`` writes grades a solved notebook full and an untouched
one zero.

The fast tests read the source notebook's nbgrader metadata; the slow one runs nbgrader itself on notebook 01 (the
smallest): ``generate_assignment`` makes the learners' release, then ``autograde`` grades two submissions, the
solved source and the untouched release, and the gradebook holds full points and zero.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from xlmeta_lab.teaching.exercises import lookup, registered
from xlmeta_lab.teaching.exercises.grading import BEGIN, END, OPEN_POINTS, POINTS, nbgrader_source

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENT = "01_maml_derivation"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_region_and_a_locked_test_with_points(path: Path) -> None:
    source, graded = nbgrader_source(nbformat.read(path, as_version=4), path.name)
    keys = [e.key for e in registered(path.stem[:2])]
    assert graded == keys
    meta = [c.metadata["nbgrader"] for c in source.cells]
    assert len({m["grade_id"] for m in meta}) == len(meta), "grade ids are unique"
    solutions = [c for c in source.cells if c.metadata["nbgrader"]["solution"]]
    assert len(solutions) == len(keys)
    for cell in solutions:
        assert BEGIN in cell.source and END in cell.source and not cell.metadata["nbgrader"]["locked"]
    tests = [c for c in source.cells if c.metadata["nbgrader"]["grade"]]
    assert [c.source.splitlines()[-1] for c in tests] == [f'require_done("{k}")' for k in keys]
    assert [c.metadata["nbgrader"]["points"] for c in tests] == [
        OPEN_POINTS if lookup(k).open else POINTS for k in keys
    ]
    others = [m for m in meta if not m["solution"]]
    assert all(m["locked"] for m in others), "every cell but the answers is locked"


def test_workbook_nbgrader_writes_a_course_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from xlmeta_lab.cli import main

    assert main(["workbook", "--nbgrader", str(tmp_path), "--only", "01"]) == 0
    assert (tmp_path / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    assert "ClearSolutions.begin_solution_delimeter" in (tmp_path / "nbgrader_config.py").read_text()
    assert "5 graded exercises" in capsys.readouterr().out


def _nbgrader(course: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=1500
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.notebook
def test_autograde_gives_a_solved_copy_full_points_and_an_untouched_one_zero(tmp_path: Path) -> None:
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    from xlmeta_lab.cli import main

    course = tmp_path / "course"
    assert main(["workbook", "--nbgrader", str(course), "--only", "01"]) == 0
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    released = release.read_text()
    assert "raise NotImplementedError()" in released and BEGIN not in released
    for learner, copy in (("solved", course / "source" / ASSIGNMENT / release.name), ("untouched", release)):
        (course / "submitted" / learner / ASSIGNMENT).mkdir(parents=True)
        shutil.copy(copy, course / "submitted" / learner / ASSIGNMENT / release.name)
    _nbgrader(course, "autograde", ASSIGNMENT, "--force")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        solved = gradebook.find_submission(ASSIGNMENT, "solved")
        untouched = gradebook.find_submission(ASSIGNMENT, "untouched")
        assert solved.max_score == POINTS * len(registered("01")) > 0
        assert solved.score == solved.max_score
        assert untouched.score == 0
