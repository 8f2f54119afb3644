"""Independent work units on several processes: how many processes, and running the units on them.

The long parts of a full profile split into units that share nothing while they run: a (method, seed) training
run, a condition's budget choice, a (condition, seed)'s scored rows. Each unit is computed by the same function
whether it runs here or in a worker, from the same inputs, so the results do not depend on how many workers
computed them (with the same number of torch threads per process: a matrix product may sum in another order
on another thread count). Workers are *spawned* (a fresh interpreter that imports the package), not forked: a
forked copy of a process whose OpenMP threads have run can hang, and a Jupyter kernel is such a process.

How many: ``workers=None`` reads :data:`WORKERS_VARIABLE` (``XLMETA_WORKERS``), which ``xlmeta workbook
--workers N`` sets for the notebooks it runs, so a notebook's full profile uses every core without a
notebook cell changing; unset, one process does everything, as before. More workers than this process may use
cores is capped at the cores, with a warning: the extra processes would only take turns on the same cores.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.multiprocessing as mp

#: The environment variable a run reads its number of workers from when none is passed.
WORKERS_VARIABLE = "XLMETA_WORKERS"

Shared = TypeVar("Shared")
Unit = TypeVar("Unit")
Result = TypeVar("Result")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the system has one, e.g. under a
    container's or a scheduler's limit), not every core the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(requested: int | None = None) -> int:
    """The processes to run units on: ``requested``, else ``$XLMETA_WORKERS``, else 1.

    Fewer than 1 is refused (naming where the number came from); more than :func:`available_cores` is capped
    at the cores with a warning.
    """
    source = "workers"
    if requested is None:
        text = os.environ.get(WORKERS_VARIABLE, "").strip()
        if not text:
            return 1
        source = WORKERS_VARIABLE
        try:
            requested = int(text)
        except ValueError:
            raise ValueError(f"{WORKERS_VARIABLE}={text!r}: give a whole number of processes") from None
    if requested < 1:
        raise ValueError(f"{source} must be at least 1, got {requested}")
    cores = available_cores()
    if requested > cores:
        warnings.warn(
            f"{source}={requested}, but this process may use {cores} CPU core(s): running {cores} worker(s); "
            "more would only take turns on the same cores",
            stacklevel=2,
        )
        return cores
    return requested


def run_units(
    function: Callable[[Shared, Unit], Result],
    units: Sequence[Unit],
    shared: Shared,
    workers: int = 1,
) -> Iterator[tuple[int, Result]]:
    """``(i, function(shared, units[i]))`` for every unit, each as soon as it is done.

    ``function`` must be importable (defined at a module's top level): a spawned worker looks it up by name.
    ``shared`` (sentences, encoder, settings) goes to each worker once, a unit (a model, a seed) with the unit.
    With one worker the units run here, in order; with more, on ``min(workers, len(units))`` spawned processes
    of ``torch.get_num_threads() // workers`` threads each, in the order they finish, so a caller that saves
    each result as it arrives loses at most the units still running when it is stopped. A warning a unit
    raises in a worker is raised again here (a worker's own console is not the notebook's); so is its error.
    """
    if workers <= 1 or len(units) <= 1:
        for index, unit in enumerate(units):
            yield index, function(shared, unit)
        return
    processes = min(workers, len(units))
    threads = max(1, torch.get_num_threads() // processes)
    context = mp.get_context("spawn")
    with context.Pool(processes, initializer=_start_worker, initargs=(shared, threads)) as pool:
        jobs = [(function, index, unit) for index, unit in enumerate(units)]
        for index, result, caught in pool.imap_unordered(_run_one, jobs):
            for warning in caught:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            yield index, result


_shared: Any = None  # a worker's copy of ``shared``, set once when it starts


def _start_worker(shared: Any, threads: int) -> None:
    global _shared
    _shared = shared
    torch.set_num_threads(threads)


def _run_one(
    job: tuple[Callable[[Any, Any], Any], int, Any],
) -> tuple[int, Any, list[warnings.WarningMessage]]:
    function, index, unit = job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(_shared, unit)
    return index, result, [_picklable(w) for w in caught]


def _picklable(warning: warnings.WarningMessage) -> warnings.WarningMessage:
    """The warning with its message as text of the same category: a warning's arguments need not pickle."""
    message = warning.message
    if isinstance(message, Warning):
        message = type(message)(str(message))
    return warnings.WarningMessage(message, warning.category, warning.filename, warning.lineno)
