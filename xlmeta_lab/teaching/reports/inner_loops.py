"""Tables and sentences for the inner-loop study: does meta-training through the test-time budget widen the regime?

Two readings of one :class:`~xlmeta_lab.experiments.protocol.budget_curve.CurveResult` whose conditions are inner-loop
variants (``maml-3``, ``maml-1-sgd``, ...; :mod:`~xlmeta_lab.experiments.studies.inner_loops`) beside joint:
each variant against joint at the same budget (the curve's own pairing, Holm over all its comparisons, every K's),
and each variant against its method trained with one inner step (re-paired here, Holm over that method's
comparisons at one K). The variant called best at a budget is the one with the best French *holdout* accuracy there,
never the test's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xlmeta_lab.experiments.bench.meta_step import StepCost, format_costs
from xlmeta_lab.experiments.protocol.budget_curve import HOLDOUT, CurveResult, read_curve, summarise_curve
from xlmeta_lab.experiments.results import read_results
from xlmeta_lab.teaching.reports.regime import best_meta_at, budgets_of, holdout_rows
from xlmeta_lab.teaching.reports.wording import ALPHA, has_interval, judged, paired_text, steps_text

#: The stretch goal of the regime issue: a matched inner loop keeps this lead (points) after this many steps.
STRETCH = (2.0, 25)


def method_of(variant: str) -> str:
    """``maml`` of ``maml-3`` and ``maml-1-sgd``."""
    return variant.split("-", 1)[0]


def _cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return ""
    mark = " *" if has_interval(row) and judged(row) in ("up", "down") else ""
    return paired_text(row) + mark


def variant_table(curve: CurveResult, test_set: str, k: int) -> str:
    """Every variant's paired difference to the baseline after each test budget, and its mean accuracy; ``*``:
    significant after Holm over the run's comparisons with the baseline (every K's, as the curve corrects them)."""
    rows = holdout_rows(curve, test_set, k)
    names = list(dict.fromkeys(name for name, _ in rows))
    budgets = budgets_of(curve)
    first = next(iter(rows.values()))
    baseline, family = first["baseline"], first["holm_family"]
    width = 30
    lines = [
        f"K={k}, {test_set}: paired difference to {baseline} at the same budget, points [95% CI] "
        f"(* Holm p < {ALPHA:g} over the run's {family} comparisons with {baseline}), then mean accuracy %",
        "variant".ljust(14) + "".join(steps_text(s).rjust(width) for s in budgets) + "   accuracy by budget",
    ]
    for name in names:
        cells = "".join(
            _cell(rows.get((name, s)) if name != baseline else None).rjust(width) for s in budgets
        )
        means = " / ".join(f"{100 * rows[(name, s)]['mean']:.1f}" for s in budgets if (name, s) in rows)
        lines.append(name.ljust(14) + cells + "   " + means)
    return "\n".join(lines)


def against_one_step(curve: CurveResult, test_set: str, k: int) -> dict[str, list[dict[str, Any]]]:
    """Per method, its variants' summary rows paired with the same method trained with one inner step (``<method>-1``),
    at the same budget; Holm over each method's rows. Methods without a one-step variant are left out."""
    names = list(dict.fromkeys(r["condition"] for r in curve.rows))
    out = {}
    for method in dict.fromkeys(method_of(n) for n in names if n != curve.protocol.baseline):
        reference = f"{method}-1"
        mine = [n for n in names if method_of(n) == method]
        if reference not in mine or len(mine) < 2:
            continue
        rows = [r for r in curve.rows if r["condition"] in mine and r["test_set"] == test_set and r["K"] == k]
        out[method] = [r for r in summarise_curve(rows, reference) if r["condition"] != reference]
    return out


def widening_lines(curve: CurveResult, test_set: str, k: int) -> str:
    """At one K: for each budget the best variant on the holdout and its lead over the baseline; each method's
    variants against its one-step training; and the stretch goal (a lead of ``STRETCH`` points after its steps)."""
    lines = []
    rows = holdout_rows(curve, test_set, k)
    baseline = next(iter(rows.values()))["baseline"]
    variants = [n for n in dict.fromkeys(name for name, _ in rows) if n != baseline]
    for steps in budgets_of(curve):
        best = best_meta_at(curve, variants, steps)
        row = rows[(best, steps)]
        lines.append(f"K={k}, after {steps_text(steps)}: best on the holdout {best}, {paired_text(row)} vs {baseline} "
                     f"({judged(row)})")  # fmt: skip
    for method, paired in against_one_step(curve, test_set, k).items():
        for name in dict.fromkeys(r["condition"] for r in paired):
            cells = [f"{r['steps']}: {paired_text(r)}" + (" *" if judged(r) in ("up", "down") else "")
                     for r in sorted(paired, key=lambda r: r["steps"])
                     if r["condition"] == name and r["rule"] == HOLDOUT]  # fmt: skip
            lines.append(f"  {name} - {method}-1 at the same budget: " + "; ".join(cells))
    stretch = stretch_line(curve, test_set, k)
    return "\n".join(lines + ([stretch] if stretch else []))


def stretch_verdict(curve: CurveResult, test_set: str, k: int) -> tuple[str, str, Mapping[str, Any]] | None:
    """The stretch goal at one K: does the holdout's best variant after ``STRETCH[1]`` steps lead the baseline by
    ``STRETCH[0]`` points, Holm-corrected (``met``), by its own interval only, or not (``missed``)? The verdict, the
    variant and its summary row; None when the run has no such budget."""
    target, at = STRETCH
    if at not in budgets_of(curve):
        return None
    rows = {name: row for (name, steps), row in holdout_rows(curve, test_set, k).items() if steps == at}
    baseline = next(iter(rows.values()))["baseline"]
    best = best_meta_at(curve, [n for n in rows if n != baseline], at)
    row = rows[best]
    met = has_interval(row) and judged(row) == "up" and 100 * row["diff"] >= target
    own = has_interval(row) and judged(row) in ("up", "marginal") and 100 * row["diff"] >= target
    return ("met" if met else "met by its own interval only" if own else "missed"), best, row


def stretch_line(curve: CurveResult, test_set: str, k: int) -> str:
    """:func:`stretch_verdict` as the study's last line; empty when the run has no such budget."""
    found = stretch_verdict(curve, test_set, k)
    if found is None:
        return ""
    verdict, best, row = found
    target, at = STRETCH
    return f"stretch (a lead >= {target:g} points after {at} steps): {verdict}; {best} {paired_text(row)}"


def longer_loops_line(curve: CurveResult, test_set: str, k: int) -> str:
    """At one K, the variants that differ from their method's one-step training after Holm's correction (over the
    method's table): which longer or learned inner loops help, and at which budgets, or that none does."""
    found = []
    for method, paired in against_one_step(curve, test_set, k).items():
        for row in sorted(paired, key=lambda r: (r["condition"], r["steps"])):
            verdict = judged(row)
            if row["rule"] == HOLDOUT and verdict in ("up", "down"):
                word = "better" if verdict == "up" else "worse"
                found.append(
                    f"{row['condition']} {word} than {method}-1 after {steps_text(row['steps'])} ({paired_text(row)})"
                )
    if not found:
        return "no variant differs from its one-step training after Holm's correction"
    return "; ".join(found) + "; no other variant differs from its one-step training after Holm's correction"


def learned_rates_line(rows: list[Mapping[str, Any]]) -> str:
    """Meta-SGD's learned rates, averaged over its tensors and seeds, per inner step, beside the rate they started at."""
    means: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    start = {}
    for row in rows:
        means[row["variant"]][row["inner_step"]].append(row["mean_rate"])
        start[row["variant"]] = row["start"]
    parts = [
        f"{name} (from {start[name]:g}): "
        + ", ".join(f"step {s} {sum(v) / len(v):.3f}" for s, v in sorted(per_step.items()))
        for name, per_step in means.items()
    ]
    return "learned inner rates, mean over tensors and seeds: " + "; ".join(parts) if parts else ""


def inner_loops_report(path: str | Path) -> str:
    """Everything a reader of the inner-loop reference needs: its runs, each K's table and readings, what a meta-step
    of each variant costs (ratios to joint's, measured in one run), and what Meta-SGD learned."""
    curve = read_curve(path)
    tables = read_results(path)
    config = curve.provenance["config"]
    test_set = curve.rows[0]["test_set"]
    parts = [
        f"{len(curve.provenance['seed'])} training seed(s) x {curve.protocol.n_draws} draws, {test_set}; variants "
        f"{', '.join(config['variants'])}; rates from {list(curve.settings.lrs)} chosen on the holdout per budget"
    ]
    for k in curve.settings.ks:
        parts += [variant_table(curve, test_set, k), widening_lines(curve, test_set, k)]
    costs = [StepCost(**row) for row in tables.get("step_costs", [])]
    if costs:
        parts.append(
            f"one meta-step, median of repeats at 1 thread (memory: {config['step_costs_measured_with']})\n"
            + format_costs(costs, "joint")
        )
    rates = learned_rates_line(tables.get("learned_rates", []))
    return "\n\n".join(parts + ([rates] if rates else []))
