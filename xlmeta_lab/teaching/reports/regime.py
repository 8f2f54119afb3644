"""Sentences and tables for the protocol along the adaptation budget (notebook 03, "Where meta-learning wins").

Every number comes from a :class:`~xlmeta_lab.experiments.protocol.budget_curve.CurveResult`; every verdict reads
its paired difference after Holm's correction over the whole curve's table (:func:`~.wording.judged`), and every
"best" meta-learner is the one with the best French *holdout* accuracy at that budget, never the test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from xlmeta_lab.experiments.protocol.budget_curve import HOLDOUT, SEED_STEP, CurveResult
from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.teaching.reports.wording import (
    ALPHA,
    has_interval,
    judged,
    paired_text,
    steps_text,
    verdict_of,
)


def budgets_of(curve: CurveResult) -> list[int]:
    """The step budgets of the curve whose rate was chosen on the holdout, in order."""
    return sorted({r["steps"] for r in curve.summary if r["rule"] == HOLDOUT})


def holdout_rows(curve: CurveResult, test_set: str, k: int) -> dict[tuple[str, int], dict[str, Any]]:
    """The curve's summary rows at one K and test set whose rate the holdout chose, by (condition, steps): the rows
    every reading of the curve compares (the seed's own step is a separate rule)."""
    return {(r["condition"], r["steps"]): r for r in curve.summary
            if r["test_set"] == test_set and r["K"] == k and r["rule"] == HOLDOUT}  # fmt: skip


def best_meta_at(curve: CurveResult, metas: Sequence[str], steps: int) -> str:
    """Of ``metas``, the one with the best French holdout accuracy at ``steps`` (ties: the first named)."""
    scored = [m for m in metas if steps in curve.lrs.get(m, {})]
    if not scored:
        raise KeyError(f"none of {list(metas)} has a rate chosen at {steps} steps")
    return max(scored, key=lambda m: (curve.lrs[m][steps].holdout_acc, -list(metas).index(m)))


def _mark(row: Mapping[str, Any]) -> str:
    return " *" if not math.isnan(row["diff"]) and judged(row) in ("up", "down") else ""


def curve_table(curve: CurveResult, test_set: str, k: int) -> str:
    """Accuracy of every condition after each step budget at one K, then each one's paired difference to the
    baseline at the same budget (``*``: significant after Holm over the whole curve)."""
    names = list(dict.fromkeys(r["condition"] for r in curve.summary))
    rows = {(r["condition"], r["steps"], r["rule"]): r for r in curve.summary
            if r["test_set"] == test_set and r["K"] == k}  # fmt: skip
    budgets = [(s, HOLDOUT) for s in budgets_of(curve)]
    if any(rule == SEED_STEP for _, _, rule in rows):
        budgets.append((1, SEED_STEP))
    label = {HOLDOUT: steps_text, SEED_STEP: lambda _: f"1 step, lr {curve.settings.seed_lr}"}
    width, first = 27, 18
    lines = [
        f"K={k}, {test_set}: accuracy % (mean over seeds x draws), rate chosen on the holdout per budget"
    ]
    lines.append("budget".ljust(first) + "".join(n.rjust(9) for n in names))
    for steps, rule in budgets:
        cells = [rows.get((n, steps, rule)) for n in names]
        text = "".join((f"{100 * c['mean']:.1f}" if c else "").rjust(9) for c in cells)
        lines.append(label[rule](steps).ljust(first) + text)
    baseline = next(iter(rows.values()))["baseline"] if rows else "joint"
    others = [n for n in names if n != baseline]
    lines.append(
        f"\npaired difference to {baseline} at the same budget, points [95% CI] (* Holm p < {ALPHA:g})"
    )
    lines.append("budget".ljust(first) + "".join(n.rjust(width) for n in others))
    for steps, rule in budgets:
        cells = [rows.get((n, steps, rule)) for n in others]
        text = "".join((paired_text(c) + _mark(c) if c else "").rjust(width) for c in cells)
        lines.append(label[rule](steps).ljust(first) + text)
    return "\n".join(lines)


def steps_worth(curve: CurveResult, name: str, baseline: str, k: int, test_set: str) -> dict[int, int | None]:
    """For each step budget of ``name``: the fewest steps of the grid after which ``baseline``'s mean accuracy is at
    least as high (``None``: not within the grid). A reading of the means; the intervals are in the table."""
    mean = {key: row["mean"] for key, row in holdout_rows(curve, test_set, k).items()}
    budgets = budgets_of(curve)
    return {
        s: next((b for b in budgets if mean.get((baseline, b), -1.0) >= mean[(name, s)]), None)
        for s in budgets
        if (name, s) in mean
    }


def regime_sentence(curve: CurveResult, metas: Sequence[str], k: int, test_set: str) -> str:
    """Where the best meta-learned start (on the holdout, at each budget) is ahead of the baseline at one K: by its
    own 95% interval and after Holm's correction over the whole curve (both, since with five training seeds the
    correction over a curve's many comparisons is strict), how many baseline steps its largest lead is worth, and
    from which budget on the two cannot be told apart."""
    budgets = [s for s in budgets_of(curve) if s > 0]
    rows = holdout_rows(curve, test_set, k)
    best = {s: best_meta_at(curve, metas, s) for s in budgets}
    points = {s: rows[(best[s], s)] for s in budgets if (best[s], s) in rows}
    if not points:
        return f"K={k}: no step budget was scored."
    baseline = next(iter(points.values()))["baseline"]
    if not all(has_interval(r) for r in points.values()):
        return f"K={k}: too few units for an interval at some budget, so no claim on where an edge lies."
    ahead = [s for s, r in points.items() if judged(r) in ("up", "marginal") and r["diff"] > 0]
    kept = [s for s in ahead if judged(points[s]) == "up"]
    family = next(iter(points.values()))["holm_family"]
    if not ahead:
        largest = max(points, key=lambda s: points[s]["diff"])
        return (
            f"K={k}: at no step budget is the best meta-learned start (chosen on the holdout at each budget) ahead "
            f"of {baseline}, even by its own interval; its largest gap is {paired_text(points[largest])} points "
            f"({best[largest]}, {steps_text(largest)})."
        )
    top = max(ahead, key=lambda s: points[s]["diff"])
    worth = steps_worth(curve, best[top], baseline, k, test_set)[top]
    worth_text = (
        f"a level {baseline} reaches after {steps_text(worth)}" if worth is not None
        else f"a level {baseline} does not reach within {steps_text(max(budgets))}"
    )  # fmt: skip
    after = [s for s in budgets if s > max(ahead) and s not in ahead]
    last = max(budgets)
    end = (
        f"From {steps_text(after[0])} on the two cannot be told apart ({paired_text(points[after[0]])} at {after[0]}"
        + (f", {paired_text(points[last])} at {last})." if after[0] != last else ").")
        if after else f"It is still there at the largest budget measured ({paired_text(points[last])} at {last})."
    )  # fmt: skip
    holm = (
        f"after Holm's correction over the curve's {family} comparisons, after {steps_text(kept)}"
        if kept else f"after Holm's correction over the curve's {family} comparisons, at no budget"
    )  # fmt: skip
    return (
        f"K={k}: the best meta-learned start is ahead of {baseline} after {steps_text(ahead)} by "
        f"its own 95% interval ({holm}); the largest lead is {paired_text(points[top])} points after {steps_text(top)} "
        f"({best[top]}, {100 * points[top]['mean']:.1f}%, {worth_text}). {end}"
    )


def seed_step_sentence(curve: CurveResult, metas: Sequence[str], k: int, test_set: str) -> str:
    """The seed's own adaptation, one step at the training inner rate: each meta-learner against the baseline's one
    step at the same rate, and what the holdout's rate for one step changes."""
    rows = {(r["condition"], r["rule"]): r for r in curve.summary
            if r["test_set"] == test_set and r["K"] == k and r["steps"] == 1}  # fmt: skip
    parts = []
    for name in metas:
        seed, tuned = rows.get((name, SEED_STEP)), rows.get((name, HOLDOUT))
        if seed is None:
            continue
        rate = curve.lrs[name][1].lr if 1 in curve.lrs.get(name, {}) else None
        tuned_text = (
            f"; at the holdout's rate for one step ({rate}) {100 * tuned['mean']:.1f}%" if tuned else ""
        )
        parts.append(f"{name} {100 * seed['mean']:.1f}% ({paired_text(seed)} vs joint){tuned_text}")
    if not parts:
        return f"K={k}: the seed step was not scored."
    return (
        f"K={k}, one step at lr {curve.settings.seed_lr} (the seed's theta* = theta - alpha grad L): "
        + "; ".join(parts)
    )


def goal_lines(
    curve: CurveResult,
    metas: Sequence[str],
    test_set: str,
    targets: Mapping[int, float],
    max_steps: int,
) -> str:
    """The regime's goal at each K of ``targets`` (points): at some budget of at most ``max_steps`` steps, the best
    meta-learned start on the holdout beats the baseline by at least the target, significant after Holm."""
    lines = []
    for k, target in ((k, t) for k, t in targets.items() if k in curve.settings.ks):
        rows = {key: row for key, row in holdout_rows(curve, test_set, k).items() if 0 < key[1] <= max_steps}
        points = {
            s: rows[(best_meta_at(curve, metas, s), s)]
            for _, s in rows
            if (best_meta_at(curve, metas, s), s) in rows
        }
        if not points:
            lines.append(f"K={k}: no budget of at most {max_steps} steps was scored.")
            continue
        if not all(has_interval(r) for r in points.values()):
            lines.append(
                f"K={k}, target +{target:g} points within {max_steps} steps: too few units, no claim."
            )
            continue
        own = sorted(
            s for s, r in points.items() if 100 * r["diff"] >= target and judged(r) in ("up", "marginal")
        )
        met = [s for s in own if judged(points[s]) == "up"]
        best = max(points, key=lambda s: points[s]["diff"])
        verdict = "met" if met else "met by its own interval only" if own else "missed"
        lines.append(
            f"K={k}, target +{target:g} points within {max_steps} steps: {verdict}; largest "
            f"{paired_text(points[best])} ({points[best]['condition']}, {steps_text(best)}"
            + (f"; own interval at {steps_text(own)}" if own else "")
            + (f", Holm at {', '.join(map(str, met))})" if met else ")")
        )
    return "\n".join(lines)


def far_end_line(result: ProtocolResult, metas: Sequence[str], ks: Sequence[int], test_set: str) -> str:
    """The curve's far end: the protocol's own budget (the most steps its holdout chose), the best meta-learner on
    the holdout against the baseline at the curve's Ks, with the protocol table's verdicts."""
    best = result.best_on_holdout([m for m in metas if m in result.budgets])
    budget = result.budgets[best]
    rows = [
        r for r in result.summary if r["condition"] == best and r["test_set"] == test_set and r["K"] in ks
    ]
    parts = [f"K={r['K']} {verdict_of(r)}" for r in sorted(rows, key=lambda r: r["K"])]
    return (
        f"after the protocol's own budget ({budget.steps} steps at lr {budget.lr}, chosen on the holdout), {best}: "
        + "; ".join(parts)
    )
