"""The figures of notebook 06: the engine's speed against the plain loop, and the memory of one meta-step.

Plotting only; the numbers come from :mod:`xlmeta_lab.experiments.bench.sweep` and
:mod:`xlmeta_lab.experiments.bench.memory`. Methods keep the workbook's colours (:func:`colour_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from xlmeta_lab.teaching.plots.protocol import colour_of


def plot_speed_sweep(rows: Sequence[tuple[int, Any]]) -> Figure:
    """The engine/loop ratio (with its spread) against tasks per meta-batch, and against inner steps."""
    fig, (by_tasks, by_steps) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    one_step = sorted((n, r) for n, r in rows if r.inner_steps == 1)
    fixed = max(set(n for n, r in rows if r.inner_steps > 1) or {0})
    several = sorted((r.inner_steps, r) for n, r in rows if n == fixed)
    for ax, points, label in ((by_tasks, one_step, "tasks per meta-batch (1 inner step)"),
                              (by_steps, several, f"inner steps ({fixed} tasks)")):
        if not points:
            continue
        xs = [x for x, _ in points]
        ax.errorbar(xs, [r.ratio for _, r in points], yerr=[r.ratio_spread for _, r in points], fmt="o-",
                    color=colour_of(points[0][1].method, 0), capsize=3, label=points[0][1].method)
        ax.axhline(1, color="k", lw=0.8)
        ax.set(xlabel=label, xscale="log" if ax is by_tasks else "linear")
        ax.set_xticks(xs, [str(x) for x in xs])
    by_tasks.set_ylabel("engine speed / plain loop speed")
    by_tasks.legend()
    fig.suptitle("How much faster one vmap'ed call is than a loop over tasks (1 thread, interleaved timings)")
    fig.tight_layout()
    return fig


def plot_memory(rows: Sequence[Any], description: str) -> Figure:
    """Peak memory of one meta-step per method: against inner steps, and against tasks per meta-batch."""
    fig, (by_steps, by_tasks) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    fixed_tasks = max((r.tasks for r in rows if r.inner_steps > 1), default=None)
    for i, method in enumerate(dict.fromkeys(r.method for r in rows)):
        mine = [r for r in rows if r.method == method and r.peak_mib is not None]
        steps = sorted((r.inner_steps, r.peak_mib) for r in mine if r.tasks == fixed_tasks)
        tasks = sorted((r.tasks, r.peak_mib) for r in mine if r.inner_steps == 1)
        for ax, points in ((by_steps, steps), (by_tasks, tasks)):
            if points:
                ax.plot(*zip(*points), "o-", color=colour_of(method, i), label=method)
    by_steps.set(xlabel=f"inner steps ({fixed_tasks} tasks)", ylabel="peak memory of one meta-step (MiB)")
    by_tasks.set(xlabel="tasks per meta-batch (1 inner step)")
    by_steps.legend()
    fig.suptitle(f"Memory: {description}", fontsize=9)
    fig.tight_layout()
    return fig
