"""Exercises with checks that explain a wrong answer: ``check("01.2", my_function)`` in a notebook.

The notebooks hold the solutions between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` markers; ``xlmeta workbook
--student DIR`` replaces them with ``raise NotImplementedError`` (see :mod:`xlmeta_lab.teaching.student`), and
:func:`check` reports such a function as *not done yet* instead of stopping the notebook.
"""

from xlmeta_lab.teaching.exercises import (
    derivation,  # noqa: F401  (registers notebook 01's exercises)
    transfer,  # noqa: F401  (registers notebook 05's exercises)
)
from xlmeta_lab.teaching.exercises.core import Exercise, ExerciseFailed, check, lookup, registered

__all__ = ["Exercise", "ExerciseFailed", "check", "lookup", "registered"]
