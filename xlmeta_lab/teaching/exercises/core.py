"""How an exercise is checked: run the learner's function, compare with the workbook's answer, explain a miss.

A check that only says ``AssertionError`` teaches nothing. Each check here compares the learner's result
with the reference and, when they differ, tries the mistakes people actually make (a flipped sign, a
missing Hessian term, a mean where the formula sums, one step too many) and names the one that matches;
failing that it says by how much, and where, the answer misses.

A function whose body still raises ``NotImplementedError`` (a student copy, see
:mod:`xlmeta_lab.teaching.student`) is *not done yet*, not wrong: the check says so and hands back the
workbook's own solution, so the rest of the notebook still runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "Exercise",
    "ExerciseFailed",
    "as_numbers",
    "check",
    "compare_tensors",
    "exercise",
    "registered",
]


class ExerciseFailed(Exception):
    """The learner's answer is wrong; the message says how, specifically enough to fix it."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its key (``"01.3"``: notebook 01, exercise 3), what it asks, the one-line hint a student
    copy shows, the checker (raises :class:`ExerciseFailed`), and the workbook's solution (used when the
    learner has not done it yet)."""

    key: str
    title: str
    hint: str
    checker: Callable[[Callable[..., Any]], str]
    solution: Callable[..., Any]

    @property
    def notebook(self) -> str:
        return self.key.split(".")[0]

    @property
    def number(self) -> int:
        return int(self.key.split(".")[1])

    @property
    def label(self) -> str:
        return f"exercise {self.number} ({self.title})"


_REGISTRY: dict[str, Exercise] = {}


def exercise(key: str, title: str, *, hint: str, solution: Callable[..., Any]) -> Callable:
    """Register the decorated function as the checker of exercise ``key``; it returns a line saying what passed."""

    def register(checker: Callable[[Callable[..., Any]], str]) -> Callable[[Callable[..., Any]], str]:
        if key in _REGISTRY:
            raise ValueError(f"exercise {key} is registered twice")
        _REGISTRY[key] = Exercise(key, title, hint, checker, solution)
        return checker

    return register


def registered(notebook: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one notebook, e.g. ``"01"``), in order."""
    found = [e for e in _REGISTRY.values() if notebook is None or e.notebook == notebook]
    return sorted(found, key=lambda e: (e.notebook, e.number))


def lookup(key: str) -> Exercise:
    if key not in _REGISTRY:
        raise KeyError(f"no exercise {key!r}; known: {', '.join(e.key for e in registered())}")
    return _REGISTRY[key]


def check(key: str, answer: Callable[..., Any]) -> Callable[..., Any]:
    """Check the learner's ``answer`` to exercise ``key``; return what the rest of the notebook should use.

    Right: prints what was checked and returns ``answer``. Not done yet (``NotImplementedError``): prints
    ``exercise N: not done yet`` with the hint and returns the workbook's solution, so a student copy runs
    top to bottom. Wrong: raises :class:`ExerciseFailed` saying what is wrong.
    """
    item = lookup(key)
    try:
        passed = item.checker(answer)
    except NotImplementedError:
        print(f"exercise {item.number}: not done yet ({item.title}). Hint: {item.hint}")
        print("  (the rest of the notebook uses the workbook's solution)")
        return item.solution
    except ExerciseFailed as failure:
        raise ExerciseFailed(f"{item.label}: {failure}") from None
    except Exception as error:  # the learner's code broke: say where, keep the traceback as the cause
        raise ExerciseFailed(
            f"{item.label}: your function raised {type(error).__name__}: {error}. Hint: {item.hint}"
        ) from error
    print(f"exercise {item.number}: correct. {passed}")
    return answer


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:80]


def compare_tensors(
    got: object,
    expected: Tensor,
    *,
    what: str,
    mistakes: Mapping[str, Tensor] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> str:
    """Compare ``got`` with ``expected``; on a miss raise :class:`ExerciseFailed` naming the mistake.

    ``mistakes`` maps a hint to the value a known mistake produces (e.g. the first-order gradient for "you
    dropped the Hessian term"); the first that ``got`` matches is the message. Then a flipped sign and a
    constant factor are tried, and otherwise the message gives the largest difference and where it is.
    """
    if not isinstance(got, Tensor):
        raise ExerciseFailed(f"{what} should be a tensor of shape {tuple(expected.shape)}; got {_describe(got)}")
    if got.shape != expected.shape:
        raise ExerciseFailed(
            f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
            + (" (did you return one value per task instead of their sum?)" if got.dim() > expected.dim() else "")
        )
    got = got.detach().to(expected.dtype)
    if not torch.isfinite(got).all():
        raise ExerciseFailed(f"{what} contains NaN or inf")

    def close(a: Tensor, b: Tensor) -> bool:
        return torch.allclose(a, b, rtol=rtol, atol=atol)

    if close(got, expected):
        return f"{what} matches to {float((got - expected).abs().max()):.0e}"
    for hint, value in (mistakes or {}).items():
        if close(got, value.detach().to(expected.dtype)):
            raise ExerciseFailed(f"{what} is off: {hint}")
    if close(got, -expected):
        raise ExerciseFailed(f"{what} has the wrong sign: it is exactly minus the right answer")
    denominator = float(expected.pow(2).sum())
    if denominator > 0 and expected.numel() > 1:  # one number is always some factor times another
        factor = float((got * expected).sum()) / denominator
        if abs(factor - 1) > 1e-3 and close(got, factor * expected):
            raise ExerciseFailed(
                f"{what} points the right way but is {factor:.4g} times too large: look for a missing or extra "
                "constant (a learning rate, a number of steps or tasks, a mean where the formula sums)"
            )
    difference = (got - expected).abs()
    worst = int(difference.reshape(-1).argmax())
    relative = float(difference.norm() / expected.norm().clamp_min(1e-30))
    raise ExerciseFailed(
        f"{what} differs from the reference by up to {float(difference.max()):.3g} (entry {worst}: yours "
        f"{float(got.reshape(-1)[worst]):.6g}, expected {float(expected.reshape(-1)[worst]):.6g}; relative error "
        f"{relative:.2%}, tolerance rtol={rtol:g})"
    )


def as_numbers(got: object, *, what: str, names: Sequence[str]) -> Tensor:
    """``got`` as a float64 tensor of ``len(names)`` numbers, for :func:`compare_tensors`; raises
    :class:`ExerciseFailed` saying what was expected when it is not that (a number for one name, a tuple in
    ``names`` order for several; an object with those attributes, such as an ``Interval``, is accepted too)."""
    wanted = names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"
    if len(names) > 1 and all(hasattr(got, name) for name in names):
        got = tuple(getattr(got, name) for name in names)
    if isinstance(got, Tensor):
        got = got.detach().reshape(-1).tolist()
    if len(names) == 1 and not isinstance(got, (list, tuple)):
        got = [got]
    if not isinstance(got, (list, tuple)) or len(got) != len(names):
        raise ExerciseFailed(f"{what} should be {wanted}; got {_describe(got)}")
    try:
        return torch.tensor([float(value) for value in got], dtype=torch.float64)
    except (TypeError, ValueError):
        raise ExerciseFailed(f"{what} should be {wanted}, all numbers; got {_describe(got)}") from None
