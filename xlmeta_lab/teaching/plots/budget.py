"""Figures for the protocol along the adaptation budget: accuracy against fine-tuning steps, and each condition's
paired gap to the baseline at the same budget. Steps are drawn on evenly spaced positions (0, 1, 2, 5, ... 400 are
settings of the experiment, not a scale), intervals and colours as in :mod:`~xlmeta_lab.teaching.plots.protocol`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from xlmeta_lab.experiments.protocol.budget_curve import HOLDOUT, SEED_STEP
from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL
from xlmeta_lab.teaching.plots.protocol import accuracy_line, band_note, colours_for, has_interval


def _rows(summary: Sequence[Mapping[str, Any]], test_set: str, k: int) -> list[Mapping[str, Any]]:
    return [r for r in summary if r["test_set"] == test_set and r["K"] == k]


def plot_budget_curve(
    summary: Sequence[Mapping[str, Any]], *, test_set: str, k: int, ax: Axes | None = None
) -> Axes:
    """Accuracy after each step budget (its rate chosen on the holdout), one line per condition with its band;
    the seed's one step at the inner rate as an open marker beside the 1-step position."""
    rows = _rows(summary, test_set, k)
    steps = sorted({r["steps"] for r in rows if r["rule"] == HOLDOUT})
    x_of = {s: i for i, s in enumerate(steps)}
    names = list(dict.fromkeys(r["condition"] for r in rows))
    colours = colours_for(names)
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    for name in names:
        line = sorted(
            (r for r in rows if r["condition"] == name and r["rule"] == HOLDOUT), key=lambda r: r["steps"]
        )
        accuracy_line(ax, [x_of[r["steps"]] for r in line], line, name, colours[name])
        for r in (r for r in rows if r["condition"] == name and r["rule"] == SEED_STEP):
            ax.plot(x_of.get(1, 1) + 0.25, 100 * r["mean"], "o", mfc="none", color=colours[name], ms=6)
    ax.plot([], [], "o", mfc="none", color="k", label="1 step at the inner lr (the seed's)")
    ax.set_xticks(range(len(steps)), [str(s) for s in steps])
    ax.set_xlabel("fine-tuning steps (0: none), the rate of each chosen on the French holdout")
    ax.set_ylabel("token accuracy on test (%)")
    ax.set_title(f"K={k}, {test_set}\n{band_note(rows)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_budget_gaps(
    summary: Sequence[Mapping[str, Any]],
    *,
    test_set: str,
    k: int,
    conditions: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Each condition minus the baseline after the same number of steps, paired over (seed, draw), with its 95%
    interval where there are enough units: where along the budget a meta-learned start is ahead, and where not."""
    rows = [r for r in _rows(summary, test_set, k) if r["rule"] == HOLDOUT and not math.isnan(r["diff"])]
    steps = sorted({r["steps"] for r in rows})
    names = list(conditions or dict.fromkeys(r["condition"] for r in rows))
    colours = colours_for(names)
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    offset = 0.6 / max(1, len(names))
    for i, name in enumerate(names):
        line = sorted((r for r in rows if r["condition"] == name), key=lambda r: r["steps"])
        xs = [steps.index(r["steps"]) + (i - (len(names) - 1) / 2) * offset for r in line]
        ax.plot(xs, [100 * r["diff"] for r in line], "o-", color=colours[name], label=name, lw=1.4, ms=4)
        for x, r in zip(xs, line):
            if has_interval(r):
                ax.plot([x, x], [100 * r["diff_low"], 100 * r["diff_high"]], color=colours[name], lw=1)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(steps)), [str(s) for s in steps])
    ax.set_xlabel("fine-tuning steps")
    baseline = rows[0]["baseline"] if rows else "baseline"
    ax.set_ylabel(f"accuracy minus {baseline} (points)")
    n = max((r["n"] for r in rows), default=0)
    bars = "95% CI" if n >= MIN_UNITS_FOR_INTERVAL else f"no intervals: n = {n} pairs"
    ax.set_title(f"K={k}: paired gap to {baseline} at the same budget, {bars}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax
