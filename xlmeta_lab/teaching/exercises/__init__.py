"""Exercises with checks that explain a wrong answer: ``check("01.2", my_function)`` in a notebook.

The notebooks hold the solutions between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` markers (read by
:mod:`~xlmeta_lab.teaching.exercises.blocks`); ``xlmeta workbook --student DIR`` replaces them with the first
hint and ``raise NotImplementedError`` (see :mod:`xlmeta_lab.teaching.student`), :func:`hint` reveals the next
hint on request, :func:`check` reports such a function as *not done yet* instead of stopping the notebook, and
:func:`exercises_done` closes each notebook with how many were done.
"""

# Importing a notebook's module registers its exercises.
from xlmeta_lab.teaching.exercises import (  # noqa: F401
    derivation,
    engine,
    readings,
    sentences,
    topics,
    toy,
    transfer,
    tuning,
    udpos,
)
from xlmeta_lab.teaching.exercises.core import (
    Exercise,
    ExerciseFailed,
    check,
    exercises_done,
    hint,
    lookup,
    registered,
    require_done,
)

__all__ = ["Exercise", "ExerciseFailed", "check", "exercises_done", "hint", "lookup", "registered", "require_done"]
