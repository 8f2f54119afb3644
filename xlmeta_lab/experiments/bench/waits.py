"""``xlmeta bench``'s waits: work a learner sits through in a notebook, timed against the budget it was written to.

A notebook promises that some things are quick: the toy languages appear at once, an exercise's check answers
before the learner's attention wanders. Those promises are measured here and not in the tests, because a clock
on a shared 2-core machine measures the neighbours as much as the code: each wait is the median of a few
repeats on one thread, printed beside its budget and its spread, so a slow row can be told from a noisy one.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch

from xlmeta_lab.data.toy import make_toy_languages


@dataclass(frozen=True)
class Wait:
    """Something a learner waits for (``run``), and the seconds a notebook's text leads them to expect."""

    name: str
    run: Callable[[], object]
    budget_s: float


@dataclass(frozen=True)
class WaitRow:
    """One wait's median and spread (min to max) over the repeats, and whether the median is within budget."""

    name: str
    median_s: float
    fastest_s: float
    slowest_s: float
    budget_s: float
    within: bool


def data_waits() -> list[Wait]:
    """The waits below the notebooks' own code: notebook 02 builds 3 x 1000 toy sentences in a cell of its own."""
    return [Wait("toy languages, 3 x 1000 sentences", partial(make_toy_languages, 1000), 1.0)]


def time_waits(waits: Sequence[Wait], repeats: int = 5, threads: int = 1) -> list[WaitRow]:
    """Each wait run once to warm up, then ``repeats`` times on ``threads`` torch threads; what it prints is
    dropped."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = []
        for wait in waits:
            with contextlib.redirect_stdout(io.StringIO()):  # an exercise's check prints its verdict each time
                wait.run()
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    wait.run()
                    times.append(time.perf_counter() - start)
            median = statistics.median(times)
            rows.append(WaitRow(wait.name, median, min(times), max(times), wait.budget_s, median <= wait.budget_s))
        return rows
    finally:
        torch.set_num_threads(previous)


def format_waits(rows: Sequence[WaitRow], repeats: int) -> str:
    """One line per wait: its median seconds, the fastest and slowest repeat, the budget and the verdict."""
    width = max(len(r.name) for r in rows) + 2
    lines = [
        f"waits a learner sits through (median of {repeats}, fastest-slowest, against the notebook's budget)",
        f"{'what':<{width}}{'median':>8}{'range':>16}{'budget':>8}  within budget",
    ]
    for r in rows:
        spread = f"{r.fastest_s:.2f}-{r.slowest_s:.2f} s"
        lines.append(
            f"{r.name:<{width}}{r.median_s:>7.2f}s{spread:>16}{r.budget_s:>7.1f}s  {'yes' if r.within else 'NO'}"
        )
    return "\n".join(lines)
