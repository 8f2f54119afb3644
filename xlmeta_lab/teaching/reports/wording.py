"""Results into the sentences and tables a notebook prints, worded by what the numbers show.

Every interpretive sentence in the workbook comes from here or from the notebook-specific modules that word their
results with the rules below (:mod:`~xlmeta_lab.teaching.reports.udpos` for notebook 03,
:mod:`~xlmeta_lab.teaching.reports.topics` for 04, :mod:`~xlmeta_lab.teaching.reports.transfer` for 05), generated from
the measured numbers and their intervals, so a notebook never states a claim its own run does not back. Each
function returns text (lines joined by newlines) and prints nothing, so the notebooks decide what to show and tests
can read it.

This module keeps the rules (when a difference has an interval, which way it points, how a paired row is worded)
and the sentences several notebooks share, so their thresholds and wording can be reviewed together.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.results import ProtocolResult, summarise
from xlmeta_lab.experiments.protocol.stats import ALPHA, MIN_UNITS_FOR_INTERVAL, Interval, holm


def show_tagged(sentences: Sequence[Sentence], n: int = 2, max_words: int | None = None) -> str:
    """The first ``n`` sentences, each word over its tag, aligned in columns."""
    blocks = []
    for sentence in sentences[:n]:
        pairs = list(zip(sentence.forms, sentence.tags))[:max_words]
        widths = [max(len(form), len(tag)) for form, tag in pairs]
        words = "  " + " ".join(form.ljust(w) for (form, _), w in zip(pairs, widths))
        tags = "  " + " ".join(tag.ljust(w) for (_, tag), w in zip(pairs, widths))
        blocks.append(f"{words}\n{tags}\n")
    return "\n".join(blocks)


def describe_difference(row: Mapping[str, Any], unit: str = "points") -> str:
    """A sentence for a paired difference, worded by what its interval shows after Holm's correction over its
    table (:func:`judged`): no claim the data lack."""
    diff, low, high = (100 * row[k] for k in ("diff", "diff_low", "diff_high"))
    name, base, k = row["condition"], row["baseline"], row["K"]
    if math.isnan(diff):
        return f"{name} has no paired comparison with {base} at K={k}."
    way = judged(row)
    if way == "few":
        return (
            f"{name} is {diff:+.1f} {unit} against {base} at K={k}, from {row['n']} unit(s): "
            "no interval, no claim."
        )
    interval = f"{diff:+.1f} {unit}, 95% CI [{low:+.1f}, {high:+.1f}], n={row['n']}"
    return {
        "up": f"At K={k}, {name} beats {base}: {interval}; {holm_text(row)}.",
        "down": f"At K={k}, {name} is worse than {base}: {interval}; {holm_text(row)}.",
        "marginal": f"At K={k}, {name} and {base} cannot be told apart: {interval}; {holm_text(row)}.",
        "unclear": f"At K={k}, {name} and {base} cannot be told apart: {interval} (the interval contains 0).",
    }[way]


def headline(result: ProtocolResult, name: str, k: int, test_set: str | None = None) -> str:
    """``name``'s accuracy at K with its interval; the bare mean when the units are too few for one (the paired
    difference beside it, :func:`difference_headline`, says how few)."""
    row = result.get(name, k, test_set)
    if row["n"] < MIN_UNITS_FOR_INTERVAL or math.isnan(row["ci_low"]):
        return f"{name} {100 * row['mean']:.1f}%"
    return f"{name} {100 * row['mean']:.1f}% ± {100 * (row['ci_high'] - row['mean']):.1f}"


def difference_headline(result: ProtocolResult, name: str, k: int, test_set: str | None = None) -> str:
    """``name`` minus its baseline at K, paired, with its interval (or the unit count when too few)."""
    row = result.get(name, k, test_set)
    if row["n"] < MIN_UNITS_FOR_INTERVAL or math.isnan(row["diff_low"]):
        return f"{100 * row['diff']:+.1f} pts vs {row['baseline']}; {row['n']} unit(s): no interval"
    return (
        f"{100 * row['diff']:+.1f} pts vs {row['baseline']} "
        f"[{100 * row['diff_low']:+.1f}, {100 * row['diff_high']:+.1f}]"
    )


def zero_shot_sentence(result: ProtocolResult, test_set: str | None = None, model: str = "tagger") -> str:
    """The joint model with no target sentences against an untrained ``model``, paired over the same seeds and
    draws, and whether that is transfer: only when the paired interval lies above zero (one pre-planned
    comparison, so no family correction)."""
    test_set = test_set or result.summary[0]["test_set"]
    row = paired_row(result, "joint", "scratch", 0, test_set)
    zero, scratch = result.get("joint", 0, test_set), result.get("scratch", 0, test_set)
    numbers = (
        f"Zero-shot (joint, no French): {100 * zero['mean']:.1f}% on {test_set} against {100 * scratch['mean']:.1f}% "
        f"for an untrained {model}, paired difference {paired_text(row)} points"
    )
    if not has_interval(row):
        return f"{numbers}: too few units for an interval, no claim about transfer."
    if row["diff_low"] > 0:
        return f"{numbers}: what was learned on en/es carries over before any French is seen."
    if row["diff_high"] < 0:
        return f"{numbers}: joint is worse than an untrained {model} here, the opposite of transfer."
    return f"{numbers}: the interval contains 0, so this run shows no transfer without French."


def comparisons_at(
    result: ProtocolResult, conditions: Sequence[str], ks: Iterable[int], test_set: str | None = None
) -> str:
    """The condition chosen on the French holdout, then per K its test accuracy and each condition's paired
    difference to the baseline (Holm-corrected over the table, :func:`family_note`)."""
    best = result.best_on_holdout(conditions)
    lines = [
        f"Best on the French holdout (what a choice may read): {best} "
        f"({100 * result.holdout_accuracy(best):.1f}% holdout accuracy)."
    ]
    for k in ks:
        row = result.get(best, k, test_set)
        lines.append(f"K={k}: {best} {100 * row['mean']:.1f}% on {row['test_set']}.")
        lines += [
            "  " + describe_difference(result.get(name, k, test_set))
            for name in conditions
            if name != row["baseline"]
        ]
    lines.append(family_note(result, test_set))
    return "\n".join(lines)


def small_sample_note(n_seeds: int, n_draws: int, profile: str) -> str:
    """A warning when seeds x draws are too few to separate conditions (empty when they suffice)."""
    if n_seeds * n_draws >= 6:
        return ""
    return (
        f"(Only {n_seeds} seed(s) x {n_draws} draws in profile {profile!r}: intervals are wide; "
        "the full profile has the units to separate conditions.)"
    )


def at_grid_edge(result: ProtocolResult, name: str, protocol: ProtocolConfig) -> bool:
    """Whether ``name``'s chosen budget sits on the edge of the grid (the best may lie beyond it)."""
    budget = result.budgets[name]
    if budget.steps == 0:  # no fine-tuning: its lr was never used, and 0 steps is the grid's floor by design
        return False
    return budget.lr in (min(protocol.lrs), max(protocol.lrs)) or budget.steps == max(protocol.steps)


def budget_lines(result: ProtocolResult, protocol: ProtocolConfig) -> str:
    """The fine-tuning budget each condition got on the holdout, flagged when it sits on the grid's edge."""
    lines = ["fine-tuning budgets (chosen on the French holdout):"]
    for name, budget in result.budgets.items():
        edge = at_grid_edge(result, name, protocol) and len(protocol.lrs) > 1
        note = " (at the edge of the grid: the grid may be too small)" if edge else ""
        lines.append(
            f"  {name:12s} lr={budget.lr} steps={budget.steps}, holdout accuracy "
            f"{100 * budget.holdout_acc:.1f}%{note}"
        )
    return "\n".join(lines)


#: A last step count that adds less holdout accuracy than this (points) counts as a flattened curve: well under the
#: 95% interval half-width of a trained condition's test accuracy at K = 5 in notebook 03's full run (1.2 to 1.5
#: points), so smaller than the noise the comparisons are read against.
FLAT_GAIN_POINTS = 0.5


def steps_curve(result: ProtocolResult, protocol: ProtocolConfig) -> str:
    """Holdout accuracy along the step counts of the grid at each condition's chosen lr, and what the last step
    count added over the one before: where a budget sits at the grid's largest step count, whether more steps
    were still buying accuracy there or the curve had flattened (a budget read back without its grid is left out).
    """
    steps = sorted(protocol.steps)
    if len(steps) < 2:
        return f"one step count in the grid ({steps[0]}): no curve to read."
    width = max(len(n) for n in result.budgets) + 1
    lines = [
        "holdout accuracy (%) along the fine-tuning steps, at each condition's chosen lr:",
        "condition".ljust(width) + "".join(f"{s:>8d}" for s in steps) + "   last step count added",
    ]
    gains = {}
    for name, budget in result.budgets.items():
        curve = [budget.grid.get((budget.lr, s)) for s in steps]
        if any(c is None for c in curve):
            continue
        means = [100 * statistics.fmean(c) for c in curve]
        gains[name] = means[-1] - means[-2]
        lines.append(
            name.ljust(width) + "".join(f"{m:8.1f}" for m in means) + f"   {gains[name]:+.2f} points"
        )
    if gains:
        largest = max(gains.values())
        lines.append(
            f"Going from {steps[-2]} to {steps[-1]} steps changed holdout accuracy by at most {largest:+.2f} points "
            f"(all {len(gains)} conditions): "
            + (
                "the budgets at the edge gain little from more steps; the curve has flattened."
                if largest < FLAT_GAIN_POINTS
                else "accuracy was still rising at the edge: a larger step count may do better."
            )
        )
    return "\n".join(lines)


def negative_transfer_verdict(negative: ProtocolResult, k: int, close: str, label: str = "en") -> str:
    """Whether adding a distant language to the ``close`` one lowered target accuracy at K (paired)."""
    row = negative.get(close, k)
    if not has_interval(row):
        return (
            f"=> At K={k}, {close.split()[0]} alone is {100 * row['diff']:+.1f} points against {row['baseline']}, "
            f"from {row['n']} unit(s): no interval, no claim about negative transfer."
        )
    if judged(row) == "up":
        return (
            f"=> At K={k}, adding {label} to {close.split()[0]} hurt French ({paired_text(row)}, {holm_text(row)}): "
            "negative transfer from the distant language."
        )
    if row["diff"] > 0:
        return (
            f"=> At K={k}, {close.split()[0]} alone scores higher than {row['baseline']} on average "
            f"({paired_text(row)}), but not significantly after Holm's correction: a hint of negative transfer that "
            "this run cannot confirm."
        )
    return f"=> At K={k}, adding {label} did not hurt French in this run: no negative transfer shown."


def reference_report(
    path: str | Path,
    test_set: str,
    result: ProtocolResult | None = None,
    conditions: Sequence[str] | None = None,
) -> str:
    """The committed full run's table on ``test_set``, labelled as the reference and not this run (or a line
    saying there is none yet); given this run's ``result``, then each condition at the Ks both runs have: this
    run's mean beside the reference's mean and the reference's paired difference to its baseline, with the
    verdict its interval gives."""
    path = Path(path)
    if not path.exists():
        return f"\nNo reference results at {path} yet."
    reference = ProtocolResult.read(path)
    commit = (reference.provenance.get("git", {}).get("commit") or "?")[:10]
    seeds = reference.provenance.get("seed")
    seeds = len(seeds) if isinstance(seeds, list) else "?"
    lines = [
        f"\nREFERENCE (profile full, committed, git {commit}, {seeds} seeds x {reference.protocol.n_draws} draws), "
        "not this run:",
        reference.table(test_set),
    ]
    if result is None:
        return "\n".join(lines)
    mine = {(r["condition"], r["K"]) for r in result.summary if r["test_set"] == test_set}
    theirs = {(r["condition"], r["K"]) for r in reference.summary if r["test_set"] == test_set}
    names = [
        n for n in dict.fromkeys(r["condition"] for r in reference.summary) if any(n == c for c, _ in mine)
    ]
    names = [n for n in names if conditions is None or n in conditions]
    ks = sorted({k for _, k in mine & theirs})
    lines.append(
        f"\nThis run beside the reference on {test_set}, at the K both have (accuracy %; the reference's paired "
        "difference to its baseline, in points, with its 95% CI; verdicts Holm-corrected over its table):"
    )
    width = max([12, *(len(n) for n in names)])
    lines.append(f"{'condition':{width}s} {'K':>3s} {'this run':>14s} {'reference':>12s}   reference, paired")
    for name in names:
        for k in ks:
            if (name, k) not in mine & theirs:
                continue
            here, there = result.get(name, k, test_set), reference.get(name, k, test_set)
            half = (
                f" ± {100 * (there['ci_high'] - there['mean']):.1f}" if has_interval(there, "ci_low") else ""
            )
            this_run = f"{100 * here['mean']:.1f} (n={here['n']})"
            committed = f"{100 * there['mean']:.1f}{half}"
            lines.append(f"{name:{width}s} {k:3d} {this_run:>14s} {committed:>12s}   {verdict_of(there)}")
    return "\n".join(lines)


# -- sentences that interpret a result -------------------------------------------------------------------------


def steps_text(budgets: int | Iterable[int], noun: str = "step") -> str:
    """A budget or a list of budgets with its noun ("1 step", "2, 5, 10 steps"): the regime's sentences name step
    counts often, and a printed "1 steps" or "step(s)" is the first thing a reader stumbles on."""
    values = [budgets] if isinstance(budgets, int) else list(budgets)
    return f"{', '.join(map(str, values))} {noun if values == [1] else noun + 's'}"


def has_interval(row: Mapping[str, Any], low: str = "diff_low") -> bool:
    """Whether a row has enough units for an interval and one was computed: no verdict is drawn without one."""
    return row["n"] >= MIN_UNITS_FOR_INTERVAL and not math.isnan(row[low])


def paired_text(row: Mapping[str, Any]) -> str:
    """A row's paired difference in points: ``+1.5 [+0.8, +2.3]``, or ``+1.5 (n=2, no interval)``."""
    if math.isnan(row["diff"]):
        return "(the baseline)"
    if not has_interval(row):
        return f"{100 * row['diff']:+.1f} (n={row['n']}, no interval)"
    return f"{100 * row['diff']:+.1f} [{100 * row['diff_low']:+.1f}, {100 * row['diff_high']:+.1f}]"


def judged(row: Mapping[str, Any]) -> str:
    """What a summary row's paired difference shows: ``"up"`` or ``"down"`` when it is significant after Holm's
    correction over its table (``diff_p_holm`` below :data:`ALPHA`), ``"marginal"`` when its own 95% interval
    excludes 0 but the correction does not keep it, ``"unclear"`` when the interval holds 0, ``"few"`` when there
    are too few units for an interval."""
    if not has_interval(row):
        return "few"
    if row["diff_p_holm"] < ALPHA:
        return "up" if row["diff"] > 0 else "down"
    return "marginal" if row["diff_low"] > 0 or row["diff_high"] < 0 else "unclear"


def holm_text(row: Mapping[str, Any]) -> str:
    """The Holm-corrected p-value of a row's paired difference, in words."""
    p = row["diff_p_holm"]
    kept = "significant" if p < ALPHA else "not significant"
    shown = "< 0.001" if p < 0.001 else f"= {p:.3f}"
    return f"Holm-corrected p {shown} over {row['holm_family']} comparisons, {kept} at {ALPHA:g}"


def family_note(result: ProtocolResult, test_set: str | None = None) -> str:
    """What the intervals and verdicts of a result's table on ``test_set`` are: crossed, marginal 95% intervals,
    and verdicts corrected for the number of paired comparisons the table makes."""
    test_set = test_set or result.summary[0]["test_set"]
    family = next(r["holm_family"] for r in result.summary if r["test_set"] == test_set)
    if family == 0:
        return f"(Too few units on {test_set} for any paired interval, so no verdict and nothing to correct.)"
    return (
        f"(Intervals: 95%, crossed seeds x draws, each on its own. Verdicts: Holm-corrected over the {family} "
        f"paired comparisons on {test_set}, family-wise error {ALPHA:g}.)"
    )


def verdict_of(row: Mapping[str, Any]) -> str:
    """A row's paired difference to its baseline and what it shows after Holm's correction, in a few words."""
    if math.isnan(row["diff"]):
        return "(the baseline)"
    base = row["baseline"]
    word = {
        "few": "no claim",
        "up": f"beats {base}",
        "down": f"worse than {base}",
        "marginal": f"cannot be told from {base} after Holm's correction",
        "unclear": f"cannot be told from {base}",
    }[judged(row)]
    return f"{paired_text(row)} vs {base}: {word}"


def ks_of(result: ProtocolResult) -> list[int]:
    """The K values a result holds, in order."""
    return sorted({r["K"] for r in result.summary})


def head_only_sentence(result: ProtocolResult, name: str, test_set: str | None = None) -> str:
    """How an initialisation that adapts only its head (ANIL) fares against the baseline as K grows: behind or
    not, and whether the gap grows, judged by the paired intervals (no claim without them)."""
    rows = [result.get(name, k, test_set) for k in ks_of(result)]
    base = rows[0]["baseline"]
    text = (
        f"{name} minus {base}, paired, in points: "
        + "; ".join(f"K={r['K']} {paired_text(r)}" for r in rows)
        + "."
    )
    if not all(has_interval(r) for r in rows):
        return text + " Too few units for intervals: no claim about a gap."
    behind = [r for r in rows if judged(r) == "down"]
    if not behind:
        return text + f" {name} is behind {base} at no K (none significant after Holm): no deficit in this result."
    first, last = rows[0], rows[-1]
    text += f" {name} is behind {base} at K={', '.join(str(r['K']) for r in behind)}"
    if judged(last) == "down" and last["diff"] < first["diff"] - 0.01:
        text += (
            f", and the gap grows with K, from {100 * first['diff']:+.1f} at K={first['K']} to "
            f"{100 * last['diff']:+.1f} at K={last['K']}: more target sentences do not let it catch up"
        )
    elif judged(last) != "down":
        text += f", but not at K={last['K']}: the gap closes with more sentences"
    return text + f" (Holm-corrected over the {last['holm_family']} paired comparisons of its table)."


def steps_and_advantage(
    result: ProtocolResult, name: str, inner_steps: int, protocol: ProtocolConfig, test_set: str | None = None
) -> str:
    """Meta-training's inner steps against the fine-tuning steps the holdout chose, and how ``name``'s paired
    advantage over the baseline changes with K."""
    chosen = sorted({b.steps for b in result.budgets.values()})
    at_edge = [n for n, b in result.budgets.items() if b.steps == max(protocol.steps)]
    lines = [
        f"Meta-training adapted each episode with {steps_text(inner_steps, 'inner step')}; at test time the French "
        f"holdout chose {' or '.join(map(str, chosen))} fine-tuning steps (grid {', '.join(map(str, protocol.steps))})."
    ]
    if at_edge:
        lines.append(
            f"{len(at_edge)} of {len(result.budgets)} conditions took the largest step count in the grid: their best "
            "budget may lie beyond it."
        )
    rows = [result.get(name, k, test_set) for k in ks_of(result) if k > 0]
    base = rows[0]["baseline"]
    text = (
        f"{name} minus {base}, paired, in points: "
        + "; ".join(f"K={r['K']} {paired_text(r)}" for r in rows)
        + "."
    )
    if len(rows) < 2 or not all(has_interval(r) for r in rows):
        lines.append(text + " Too few units for intervals: no claim about how the advantage changes with K.")
        return "\n".join(lines)
    first, last = rows[0], rows[-1]
    if last["diff"] < first["diff"]:
        text += (
            f" The advantage shrinks from {100 * first['diff']:+.1f} at K={first['K']} to {100 * last['diff']:+.1f} "
            f"at K={last['K']}"
            + (", where the interval contains 0." if last["diff_low"] <= 0 <= last["diff_high"] else ".")
        )
    else:
        text += f" The advantage does not shrink between K={first['K']} and K={last['K']}."
    lines.append(text)
    return "\n".join(lines)


def paired_row(result: ProtocolResult, name: str, baseline: str, k: int, test_set: str) -> dict[str, Any]:
    """``name``'s summary row at K with the paired difference to ``baseline`` (same seeds and draws), its Holm
    correction over every comparison with ``baseline`` on ``test_set``; :func:`paired_family` corrects over just
    the comparisons a sentence reports."""
    for row in summarise(result.rows, baseline=baseline):
        if row["condition"] == name and row["K"] == k and row["test_set"] == test_set:
            return row
    raise KeyError(f"no result for {name!r} at K={k} on {test_set!r}")


def paired_family(
    result: ProtocolResult, comparisons: Sequence[tuple[str, str]], ks: Iterable[int], test_set: str
) -> list[dict[str, Any]]:
    """The rows of each ``(condition, baseline)`` at each K, with ``diff_p_holm`` and ``holm_family`` recomputed
    over exactly these comparisons: the family a report's sentences make claims from."""
    ks = list(ks)
    rows = [dict(paired_row(result, name, baseline, k, test_set)) for name, baseline in comparisons for k in ks]
    tested = sum(not math.isnan(r["diff_p"]) for r in rows)
    for row, adjusted in zip(rows, holm([r["diff_p"] for r in rows])):
        row.update(diff_p_holm=adjusted, holm_family=tested)
    return rows


def direction(interval: Interval) -> str:
    """Which way an interval points: ``"up"`` or ``"down"`` when it excludes 0, ``"unclear"`` when it holds 0,
    ``"few"`` when there are too few units for an interval (or none was computed)."""
    if interval.n < MIN_UNITS_FOR_INTERVAL or math.isnan(interval.low):
        return "few"
    return "up" if interval.low > 0 else "down" if interval.high < 0 else "unclear"


def interval_direction(row: Mapping[str, Any]) -> str:
    """:func:`judged` of a summary row's paired difference, with ``"marginal"`` (an interval that excludes 0 but
    does not survive Holm's correction) read as ``"unclear"``: the directions :func:`direction` gives."""
    way = judged(row)
    return "unclear" if way == "marginal" else way
