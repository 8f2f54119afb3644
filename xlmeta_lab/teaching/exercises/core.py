"""How an exercise is checked: run the learner's function, compare with the workbook's answer, explain a miss.

A check that only says ``AssertionError`` teaches nothing. Each check here compares the learner's result
with the reference and, when they differ, tries the mistakes people actually make (a flipped sign, a
missing Hessian term, a mean where the formula sums, one step too many) and names the one that matches;
failing that it says by how much, and where, the answer misses.

A function whose body still raises ``NotImplementedError`` (a student copy, see
:mod:`xlmeta_lab.teaching.student`) is *not done yet*, not wrong: the check says so and hands back the
workbook's own solution, in a banner that says so, so the rest of the notebook still runs. The checks of a
session are counted, and a notebook's last cell prints ``exercises done: n of m`` (:func:`exercises_done`).
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
    "exercises_done",
    "hint",
    "registered",
    "require_done",
]


class ExerciseFailed(Exception):
    """The learner's answer is wrong; the message says how, specifically enough to fix it."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its key (``"01.3"``: notebook 01, exercise 3), what it asks, its hints, the checker (raises
    :class:`ExerciseFailed`), and the workbook's solution (used when the learner has not done it yet).

    The hints come in layers, as a tutor gives them: the idea, then the formula, then the code. A student copy
    shows only the first; :func:`hint` reveals the next on request, so reading the code is a choice, not the
    default. ``open`` marks an open-ended exercise: many answers are right, and the check tests that an answer
    is sound (honest measurements, a conclusion its own numbers support) instead of comparing with one value.
    """

    key: str
    title: str
    hints: tuple[str, ...]
    #: ``checker(answer)`` returns the line saying what passed; an open exercise's ``checker(answer, *inputs)``
    #: returns that line and the learner's finding.
    checker: Callable[..., Any]
    solution: Callable[..., Any]
    open: bool = False

    def __post_init__(self) -> None:
        if not 1 <= len(self.hints) <= 3 or not all(h.strip() for h in self.hints):
            raise ValueError(f"exercise {self.key} needs one to three non-empty hints (idea, formula, code)")

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


def exercise(
    key: str,
    title: str,
    *,
    hints: Sequence[str],
    solution: Callable[..., Any],
    open: bool = False,  # noqa: A002 - the word the notebooks' cell tag uses
) -> Callable:
    """Register the decorated function as the checker of exercise ``key``; it returns a line saying what passed.

    ``hints``: the idea, then the formula, then the code (one to three of them, in that order).
    """

    def register(checker: Callable[..., Any]) -> Callable[..., Any]:
        if key in _REGISTRY:
            raise ValueError(f"exercise {key} is registered twice")
        _REGISTRY[key] = Exercise(key, title, tuple(hints), checker, solution, open)
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


#: What the checks of this session found, by key: ``"correct"`` or ``"not done yet"`` (a wrong answer raises and
#: leaves the key unrecorded, so it counts as not done). Read by :func:`exercises_done`.
_OUTCOMES: dict[str, str] = {}
#: How many hint levels of each exercise have been shown; the student copy's stub shows the first.
_SHOWN: dict[str, int] = {}

CORRECT = "correct"
NOT_DONE = "not done yet"


def hint(key: str, level: int | None = None) -> str:
    """Print and return hint ``level`` of exercise ``key``; without ``level``, the next one not yet shown.

    The levels are the idea, the formula, then the code: ask for the next only after trying with the last.
    """
    item = lookup(key)
    shown = _SHOWN.get(key, 1)
    level = min(shown + 1, len(item.hints)) if level is None else level
    if not 1 <= level <= len(item.hints):
        raise ValueError(f"exercise {key} has hints 1 to {len(item.hints)}; asked for {level}")
    _SHOWN[key] = max(shown, level)
    text = f"exercise {item.number}, hint {level} of {len(item.hints)}: {item.hints[level - 1]}"
    if level < len(item.hints):
        text += f'  (next: hint("{key}"))'
    print(text)
    return item.hints[level - 1]


def fallback_banner(item: Exercise) -> str:
    """The box a notebook prints when it goes on without the learner's answer: with the workbook's solution, or,
    for an open-ended exercise (which has no single answer to stand in for the learner's), without one."""
    if item.open:
        lines = [
            f"exercise {item.number} is not done yet: it is open-ended, so nothing stands in for your",
            "answer; the notebook goes on without it (its rubric says what a good answer holds)",
        ]
    else:
        lines = [
            f"exercise {item.number} is not done yet: from here on this notebook uses the WORKBOOK'S",
            "solution, not yours; its results are the workbook's until you write the function above",
        ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line:<{width}} |" for line in lines), rule])


def check(key: str, answer: Callable[..., Any], *inputs: Any) -> Any:
    """Check the learner's ``answer`` to exercise ``key``; return what the rest of the notebook should use.

    Right: prints what was checked and returns ``answer`` (for an open-ended exercise, whose checker runs
    ``answer(*inputs)``, the finding it returned). Not done yet (``NotImplementedError``): prints ``exercise N:
    not done yet`` with the first hint and a banner saying how the notebook goes on, and returns the workbook's
    solution (``None`` for an open-ended exercise), so a student copy runs top to bottom. Wrong: raises
    :class:`ExerciseFailed` saying what is wrong. Either way :func:`exercises_done` counts it.
    """
    item = lookup(key)
    if inputs and not item.open:
        raise TypeError(f"exercise {key} is checked on its own problems: check({key!r}, your_function)")
    _OUTCOMES.pop(key, None)
    try:
        passed = item.checker(answer, *inputs)
    except NotImplementedError:
        _OUTCOMES[key] = NOT_DONE
        print(f"exercise {item.number}: {NOT_DONE} ({item.title}). Hint 1 of {len(item.hints)}: {item.hints[0]}")
        if len(item.hints) > 1:
            print(f'  more: hint("{key}") shows the next hint')
        print(fallback_banner(item))
        return None if item.open else item.solution
    except ExerciseFailed as failure:
        raise ExerciseFailed(f"{item.label}: {failure}") from None
    except Exception as error:  # the learner's code broke: say where, keep the traceback as the cause
        raise ExerciseFailed(
            f"{item.label}: your function raised {type(error).__name__}: {error}. Hint: {item.hints[0]}"
        ) from error
    _OUTCOMES[key] = CORRECT
    if item.open:
        passed, finding = passed
    print(f"exercise {item.number}: {CORRECT}. {passed}")
    return finding if item.open else answer


def require_done(key: str) -> None:
    """Raise :class:`ExerciseFailed` unless exercise ``key``'s check has run and passed in this session.

    :func:`check` lets a notebook go on without an answer, which is right for a learner and wrong for a grader:
    an nbgrader test cell calls this, so an exercise not done scores zero instead of the workbook's points.
    """
    item = lookup(key)
    if _OUTCOMES.get(key) != CORRECT:
        raise ExerciseFailed(f"{item.label}: {_OUTCOMES.get(key, 'not checked')}, so no points")


def exercises_done(notebook: str) -> tuple[int, int]:
    """Print ``exercises done: n of m`` for ``notebook`` (e.g. ``"02"``), naming those not done; return (n, m).

    Counts the checks run in this session: an exercise whose check has not run, or raised, is not done.
    """
    keys = [e.key for e in registered(notebook)]
    done = [k for k in keys if _OUTCOMES.get(k) == CORRECT]
    missing = [k for k in keys if k not in done]
    print(f"exercises done: {len(done)} of {len(keys)}" + (f" (not yet: {', '.join(missing)})" if missing else ""))
    return len(done), len(keys)


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
