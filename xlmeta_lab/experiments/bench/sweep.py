"""How the engine's advantage over a plain per-task loop changes with the meta-batch and the inner loop.

``xlmeta bench`` times fixed cases; this sweeps one of them, sine regression with second- or first-order
MAML, over the number of tasks per meta-batch and the number of inner steps, with the same interleaved timing
(:func:`xlmeta_lab.experiments.bench.engine.run_case`). The expectation to test: ``vmap`` turns T small tasks into one
call, so the loop's per-task Python and kernel-launch overhead is what it saves, and the saving should grow
with T; more inner steps add work per task to both sides alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.experiments.bench.engine import Case, Row, run_case
from xlmeta_lab.meta import LossFn, Task

#: ``(tasks, inner_steps)``: the task count grows at one inner step, then the inner steps at 25 tasks.
SWEEP: tuple[tuple[int, int], ...] = ((5, 1), (25, 1), (100, 1), (25, 2), (25, 5))


def sine_batch(generator: torch.Generator, n_tasks: int) -> tuple[nn.Module, LossFn, list[Task]]:
    """The bench's sine case (Finn et al.'s 1-40-40-1 network, 10 support + 10 query points) with ``n_tasks``."""
    model = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))
    tasks = sine_tasks(n_tasks, generator=generator, n_support=10, n_query=10, dtype=torch.float32)
    return model, nn.functional.mse_loss, tasks


def speed_sweep(
    pairs: Sequence[tuple[int, int]] = SWEEP, *, method: str = "maml", repeats: int = 10, threads: int = 1
) -> list[tuple[int, Row]]:
    """``(tasks, row)`` for each ``(tasks, inner_steps)`` pair, timed on ``threads`` torch threads (1 gives
    ratios that mean the same on a shared machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return [
            (
                n_tasks,
                run_case(
                    Case(f"sine x{n_tasks}", partial(sine_batch, n_tasks=n_tasks), method, steps, 0.01, 0.0),
                    repeats,
                ),
            )
            for n_tasks, steps in pairs
        ]
    finally:
        torch.set_num_threads(previous)


def format_sweep(rows: Sequence[tuple[int, Row]]) -> str:
    """One line per pair: tasks, inner steps, engine and loop meta-steps per second, their ratio with its spread."""
    lines = [f"{'tasks':>5} {'inner steps':>11} {'path':>5} {'engine/s':>9} {'loop/s':>8} {'ratio':>6} {'+-':>5}"]
    for n_tasks, r in rows:
        lines.append(
            f"{n_tasks:>5} {r.inner_steps:>11} {r.path:>5} {r.engine_steps_per_s:>9.1f} {r.loop_steps_per_s:>8.1f} "
            f"{r.ratio:>6.2f} {r.ratio_spread:>5.2f}"
        )
    return "\n".join(lines)
