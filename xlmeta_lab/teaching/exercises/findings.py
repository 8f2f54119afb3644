"""What an open-ended exercise's check can demand of a finding, when many findings are right.

An open-ended exercise has no one answer: the learner picks a grid, a language, a budget. Its check therefore
asks whether the finding is *sound*, never whether it equals ours:

* every number was measured, by the measurement the notebook handed over (:class:`Recorded` remembers each
  call, so a typed-in or otherwise-made number is told apart from a measured one, at no extra cost);
* the design can answer the question (enough settings, the comparison the question needs);
* the conclusion is the one the learner's *own* numbers support (an argmax is an argmax, a verdict follows
  its interval).

Each helper raises :class:`~xlmeta_lab.teaching.exercises.core.ExerciseFailed` with what to change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from xlmeta_lab.teaching.exercises.core import ExerciseFailed


class Recorded:
    """A measurement that remembers each call's result (and answers a repeated call from memory).

    ``key`` turns a call's arguments into something hashable (default: the arguments themselves).
    """

    def __init__(self, measure: Callable[..., float], key: Callable[..., Hashable] | None = None) -> None:
        self.measure = measure
        self.key = key or (lambda *args: args)
        self.calls: dict[Hashable, float] = {}

    def __call__(self, *args: Any) -> float:
        key = self.key(*args)
        if key not in self.calls:
            self.calls[key] = float(self.measure(*args))
        return self.calls[key]

    def require(self, value: object, *args: Any, what: str) -> float:
        """``value`` as a float, refused unless it is what this measurement returned for ``args``."""
        key = self.key(*args)
        if key not in self.calls:
            raise ExerciseFailed(
                f"{what} was never measured: call the measure the notebook gave you for it (the check compares "
                "every number with what that measure returned)"
            )
        number = as_float(value, what=what)
        if not math.isclose(number, self.calls[key], rel_tol=1e-12, abs_tol=1e-12):
            raise ExerciseFailed(f"{what} is {number:.6g}, but the measure returned {self.calls[key]:.6g} for it")
        return number


def as_float(value: object, *, what: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ExerciseFailed(f"{what} should be a number; got {type(value).__name__} {value!r}"[:160]) from None


def fields(finding: object, names: Sequence[str], *, what: str = "your function") -> dict[str, Any]:
    """``finding`` as a dict that holds at least ``names``."""
    if not isinstance(finding, Mapping):
        raise ExerciseFailed(f"{what} should return a dict with keys {list(names)}; got {type(finding).__name__}")
    missing = [n for n in names if n not in finding]
    if missing:
        raise ExerciseFailed(f"{what} returned a dict without {missing}; it needs {list(names)}")
    return dict(finding)


def require_best(scores: Mapping[Any, float], chosen: object, *, what: str, lowest: bool = False) -> None:
    """``chosen`` is one of ``scores``' keys with the highest (``lowest``: the lowest) score; ties all pass."""
    if chosen not in scores:
        raise ExerciseFailed(f"{what} {chosen!r} is not one of yours: {sorted(scores, key=str)}")
    target = (min if lowest else max)(scores.values())
    if not math.isclose(scores[chosen], target, rel_tol=1e-12, abs_tol=1e-12):
        best = [k for k, v in scores.items() if math.isclose(v, target, rel_tol=1e-12, abs_tol=1e-12)]
        raise ExerciseFailed(
            f"{what} is {chosen!r} ({scores[chosen]:.4g}), but your own numbers put {best[0]!r} "
            f"{'lower' if lowest else 'higher'} ({target:.4g}): a conclusion has to follow from the measurements"
        )


def require_claim(claimed: object, supported: bool, *, what: str, because: str) -> None:
    """A yes/no conclusion, refused unless it is the one the learner's numbers support."""
    if not isinstance(claimed, bool):
        raise ExerciseFailed(f"{what} should be True or False; got {claimed!r}"[:160])
    if claimed != supported:
        raise ExerciseFailed(f"{what} is {claimed}, but your own numbers say {supported}: {because}")


def require_close(value: object, expected: float, *, what: str, how: str) -> float:
    """A number the learner derived from their measurements, recomputed here from the same measurements."""
    number = as_float(value, what=what)
    if math.isnan(expected) and math.isnan(number):
        return number
    if not math.isclose(number, expected, rel_tol=1e-9, abs_tol=1e-9):
        raise ExerciseFailed(f"{what} is {number:.6g}; from your measurements it is {expected:.6g} ({how})")
    return number
