"""Exercises with checks that explain a wrong answer: ``check("01.2", my_function)`` in a notebook.

The notebooks hold the solutions between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` markers; ``xlmeta workbook
--student DIR`` replaces them with ``raise NotImplementedError`` (see :mod:`xlmeta_lab.teaching.student`), and
:func:`check` reports such a function as *not done yet* instead of stopping the notebook.
"""

# Importing a notebook's module registers its exercises.
from xlmeta_lab.teaching.exercises import derivation, engine, sentences, toy, transfer, udpos  # noqa: F401
from xlmeta_lab.teaching.exercises.core import Exercise, ExerciseFailed, check, lookup, registered

__all__ = ["Exercise", "ExerciseFailed", "check", "lookup", "registered"]
