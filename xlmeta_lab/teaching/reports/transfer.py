"""Notebook 05's sentences: which source languages transfer to French and why (paired effects, similarity,
rank association, gradient alignment, compute saved), generated from the numbers with the wording rules of
:mod:`xlmeta_lab.teaching.reports.wording`: no claim without an interval over at least 3 units."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL, Interval, mean_ci
from xlmeta_lab.experiments.studies import savings
from xlmeta_lab.teaching.reports.wording import direction, interval_direction, paired_row


def effect_sentence(row: Mapping[str, Any], change: str, unit: str = "points") -> str:
    """What ``change`` (e.g. "adding zh to en+es") did to French accuracy, worded by the paired interval:
    helped, hurt ("negative transfer"), no effect shown, or no claim when the units are too few."""
    diff, low, high, k = 100 * row["diff"], 100 * row["diff_low"], 100 * row["diff_high"], row["K"]
    where = f"for {row['condition'].split('@')[0]} at K={k}"
    if math.isnan(diff):
        return f"{change} {where}: no paired comparison."
    way = interval_direction(row)
    if way == "few":
        return f"{change} {where}: {diff:+.1f} {unit} from {row['n']} unit(s): no interval, no claim."
    interval = f"{diff:+.1f} {unit}, 95% CI [{low:+.1f}, {high:+.1f}], n={row['n']}"
    if way == "down":
        return f"{change} lowered French accuracy {where}: {interval}. Negative transfer."
    if way == "up":
        return f"{change} raised French accuracy {where}: {interval}."
    return f"{change} {where}: no effect shown, {interval} (the interval contains 0)."


def paired_effects(
    result: ProtocolResult, changes: Sequence[tuple[str, str, str]], ks: Iterable[int], test_set: str
) -> str:
    """One :func:`effect_sentence` per K for each ``(change, condition, baseline)``."""
    ks = list(ks)
    return "\n".join(
        effect_sentence(paired_row(result, name, baseline, k, test_set), change)
        for change, name, baseline in changes
        for k in ks
    )


def similarity_table(
    similarities: Mapping[str, Mapping[str, float]], distances: Mapping[str, float] | None = None
) -> str:
    """Each source language's similarity to French per measure (and its URIEL+ distance when given)."""
    measures = list(next(iter(similarities.values())))
    head = [*measures, *(["URIEL+ syntactic distance"] if distances else [])]
    lines = ["lang  " + "  ".join(f"{m:>26s}" for m in head)]
    for lang, values in similarities.items():
        cells = [values[m] for m in measures] + ([distances[lang]] if distances else [])
        lines.append(f"{lang:5s} " + "  ".join(f"{v:26.3f}" for v in cells))
    return "\n".join(lines)


def association_sentence(
    measure: str, rho: float, p_value: float, n_languages: int, units_per_language: int, what: str
) -> str:
    """The rank correlation between a similarity measure and transfer, worded by its permutation p-value;
    no verdict when each language's accuracy rests on fewer than 3 units (the quick profile)."""
    numbers = f"Spearman rho {rho:+.2f} over {n_languages} languages, permutation p = {p_value:.3f}"
    if math.isnan(rho):
        return f"{measure} vs {what}: no rank correlation (one of them is constant)."
    if units_per_language < MIN_UNITS_FOR_INTERVAL:
        return f"{measure} vs {what}: {numbers}; each accuracy from {units_per_language} unit(s): no verdict."
    if p_value < 0.05:
        higher_or_lower = "higher" if rho > 0 else "lower"
        return f"{measure} vs {what}: {numbers}. Languages with a higher {measure} give {higher_or_lower} French accuracy."
    return f"{measure} vs {what}: {numbers}. No association shown with {n_languages} languages."


def alignment_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per method and kind of pair (within a language, across sources, with French): the mean gradient cosine
    at the first and the last checkpoint, and whether it rose, with an interval over seeds when there are 3+."""
    lines = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        first, last = min(r["step"] for r in mine), max(r["step"] for r in mine)
        for kind, label in (("within", "within a language"), ("across", "across sources"), ("target", "with French")):
            per_seed = {}
            for seed in dict.fromkeys(r["seed"] for r in mine):
                at = {s: [r["cosine"] for r in mine if r["kind"] == kind and r["seed"] == seed and r["step"] == s]
                      for s in (first, last)}  # fmt: skip
                if at[first] and at[last]:
                    per_seed[seed] = (sum(at[first]) / len(at[first]), sum(at[last]) / len(at[last]))
            if not per_seed:
                continue
            start = sum(a for a, _ in per_seed.values()) / len(per_seed)
            end = sum(b for _, b in per_seed.values()) / len(per_seed)
            change = mean_ci([b - a for a, b in per_seed.values()])
            span = f"{change.mean:+.3f} [{change.low:+.3f}, {change.high:+.3f}]"
            verdict = {
                "few": f"from {change.n} seed(s): no interval, no claim about the change",
                "up": f"it rose: {span} over {change.n} seeds",
                "down": f"it fell: {span} over {change.n} seeds",
                "unclear": f"no change shown: {span}",
            }[direction(change)]
            lines.append(
                f"{method:8s} {label:18s} cosine {start:+.3f} at step {first} -> {end:+.3f} at step {last}; {verdict}"
            )
    return "\n".join(lines)


def _saving_text(row: Mapping[str, Any]) -> str:
    """The paired saving of one summary row against its baseline, in words; empty when there is none."""
    saved, baseline = row["saved"], row["baseline"]
    if saved is None:
        return ""
    span = f"{saved.mean:+.1f} [{saved.low:+.1f}, {saved.high:+.1f}] over {saved.n} paired units"
    return {
        "few": f"saves {saved.mean:+.1f} against {baseline} ({saved.n} paired unit(s): no claim)",
        "up": f"saves {span} against {baseline}",
        "down": f"needs MORE than {baseline}: {span}",
        "unclear": f"no saving shown against {baseline}: {span}",
    }[direction(saved)]


def savings_lines(
    summary: Sequence[Mapping[str, Any]],
    target: float,
    what: str,
    grid: Sequence[int],
    versus: Sequence[Mapping[str, Any]] = (),
) -> str:
    """Compute saved, per condition: the ``what`` (French sentences, fine-tuning steps) needed to reach
    ``target``, with an interval only when every unit reached it, and the paired saving against the baseline;
    then each row of ``versus`` (a summary against another baseline, e.g. the meta-learner against joint).
    Units censored at either end of the grid are named, because a mean over them is a bound, not a measurement."""
    lines = [f"{what} needed to reach {100 * target:.1f}% (grid {', '.join(map(str, grid))}):"]
    for row in summary:
        reached = f"{row['reached']}/{row['units']} units reach it"
        need = row["needed"]
        if need is None:
            need_text = "no mean: some units never reach it within the grid"
        elif need.n < MIN_UNITS_FOR_INTERVAL:
            need_text = f"mean {need.mean:.1f} (no interval, {need.n} unit(s))"
        else:
            need_text = f"mean {need.mean:.1f}, 95% CI [{need.low:.1f}, {need.high:.1f}]"
        line = f"  {row['condition']:14s} {reached}; {need_text}"
        if row.get("at_floor"):
            line += (
                f" ({row['at_floor']} unit(s) already there at the grid's first value, {row['floor']}: they need at"
                " most that, so the mean is an upper bound and any saving a lower bound)"
            )
        if saved := _saving_text(row):
            line += f"; {saved}"
        if row.get("beyond_grid"):
            line += f"; in {row['beyond_grid']} more unit(s) only this one reaches it (a saving beyond the grid)"
        lines.append(line)
    lines += [f"  {row['condition']:14s} {_saving_text(row)}" for row in versus if row["saved"] is not None]
    return "\n".join(lines)


def gap_lines(gaps: Mapping[int, Interval], condition: str, baseline: str, what: str) -> str:
    """``condition - baseline`` accuracy along a savings grid (:func:`~xlmeta_lab.experiments.studies.savings.paired_gaps`),
    in points, each value with its paired interval and which way it points."""
    words = {"up": "ahead", "down": "behind", "unclear": "no difference shown", "few": "too few units for a claim"}
    lines = [f"{condition} - {baseline}: French accuracy by {what} (paired, points)"]
    for x, gap in gaps.items():
        span = f"{100 * gap.mean:+.1f}" if gap.n < MIN_UNITS_FOR_INTERVAL else (
            f"{100 * gap.mean:+.1f} [{100 * gap.low:+.1f}, {100 * gap.high:+.1f}]"
        )
        lines.append(f"  {x:>4}: {span} ({words[direction(gap)]})")
    return "\n".join(lines)


def savings_report(
    rows: Sequence[Mapping[str, Any]],
    target: float,
    *,
    ks: Sequence[int],
    steps: Sequence[int],
    condition: str,
    joint: str,
) -> str:
    """Section 7 of notebook 05 in words: for French sentences (at the most steps) and fine-tuning steps (at the
    largest K), what each initialisation needs to reach ``target`` and saves against scratch, what ``condition``
    saves against ``joint``, and the paired gap between their curves at every grid value."""
    blocks = []
    for over, what, grid, fixed in (
        ("K", "French sentences", ks, f"{max(steps)} steps"),
        ("steps", "fine-tuning steps", steps, f"K = {max(ks)}"),
    ):
        needs = savings.needed(rows, target, over)
        versus = [
            row
            for row in savings.summarise_needed(needs, baseline=joint, floor=min(grid))
            if row["condition"] == condition
        ]
        summary = savings.summarise_needed(needs, floor=min(grid))
        blocks.append(savings_lines(summary, target, what, grid, versus=versus))
        gaps = savings.paired_gaps(rows, condition, joint, over)
        blocks.append(gap_lines(gaps, condition, joint, f"{what}, at {fixed}"))
    return "\n".join(blocks)


def best_single_source(
    result: ProtocolResult, singles: Sequence[str], method: str, k: int, test_set: str
) -> str:
    """The single source language that gives ``method`` the best French accuracy at K, and the worst."""
    means = {lang: result.get(f"{method}@{lang}", k, test_set)["mean"] for lang in singles}
    ranked = sorted(means, key=lambda lang: -means[lang])
    order = ", ".join(f"{lang} {100 * means[lang]:.1f}%" for lang in ranked)
    return f"{method} at K={k}, trained on one language: {order} (best {ranked[0]}, worst {ranked[-1]})."
