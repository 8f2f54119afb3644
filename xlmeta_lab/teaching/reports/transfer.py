"""Notebook 05's sentences: which source languages transfer to French and why (paired effects, similarity,
rank association, gradient alignment, compute saved), generated from the numbers with the wording rules of
:mod:`xlmeta_lab.teaching.reports.wording`: no claim without an interval over at least 3 units."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.experiments.protocol.stats import (
    ALPHA,
    MIN_UNITS_FOR_INTERVAL,
    Interval,
    crossed_difference,
    holm,
    mean_ci,
    permutation_p_value,
    spearman,
    units_of,
)
from xlmeta_lab.experiments.studies import savings
from xlmeta_lab.teaching.reports.wording import direction, holm_text, judged, paired_family


def effect_sentence(row: Mapping[str, Any], change: str, unit: str = "points") -> str:
    """What ``change`` (e.g. "adding zh to en+es") did to French accuracy, worded by the paired interval and its
    Holm correction over the sentences printed with it: helped, hurt ("negative transfer"), no effect shown, or no
    claim when the units are too few."""
    diff, low, high, k = 100 * row["diff"], 100 * row["diff_low"], 100 * row["diff_high"], row["K"]
    where = f"for {row['condition'].split('@')[0]} at K={k}"
    if math.isnan(diff):
        return f"{change} {where}: no paired comparison."
    way = judged(row)
    if way == "few":
        return f"{change} {where}: {diff:+.1f} {unit} from {row['n']} unit(s): no interval, no claim."
    interval = f"{diff:+.1f} {unit}, 95% CI [{low:+.1f}, {high:+.1f}], n={row['n']}"
    if way == "down":
        return f"{change} lowered French accuracy {where}: {interval}, {holm_text(row)}. Negative transfer."
    if way == "up":
        return f"{change} raised French accuracy {where}: {interval}, {holm_text(row)}."
    if way == "marginal":
        return f"{change} {where}: no effect shown after correction, {interval}, {holm_text(row)}."
    return f"{change} {where}: no effect shown, {interval} (the interval contains 0)."


def paired_effects(
    result: ProtocolResult, changes: Sequence[tuple[str, str, str]], ks: Iterable[int], test_set: str
) -> str:
    """One :func:`effect_sentence` per K for each ``(change, condition, baseline)``, Holm-corrected over all of
    them (one family: the sentences printed together)."""
    ks = list(ks)
    rows = paired_family(result, [(name, baseline) for _, name, baseline in changes], ks, test_set)
    labels = [change for change, _, _ in changes for _ in ks]
    return "\n".join(effect_sentence(row, change) for row, change in zip(rows, labels))


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
    measure: str,
    rho: float,
    p_value: float,
    n_languages: int,
    units_per_language: int,
    what: str,
    *,
    p_holm: float | None = None,
    family: int = 1,
) -> str:
    """The rank correlation between a similarity measure and transfer, worded by its permutation p-value after
    Holm's correction over the ``family`` of such tests printed together (``p_holm``; the raw p when alone); no
    verdict when each language's accuracy rests on fewer than 3 units (the quick profile). A significant rank
    correlation over a handful of languages is stated as an association among *these* languages, not a rule."""
    p_holm = p_value if p_holm is None else p_holm
    numbers = f"Spearman rho {rho:+.2f} over {n_languages} languages, permutation p = {p_value:.3f}"
    if family > 1:
        numbers += f" (Holm-corrected over {family} tests: {p_holm:.3f})"
    if math.isnan(rho):
        return f"{measure} vs {what}: no rank correlation (one of them is constant)."
    if units_per_language < MIN_UNITS_FOR_INTERVAL:
        return f"{measure} vs {what}: {numbers}; each accuracy from {units_per_language} unit(s): no verdict."
    if p_holm < ALPHA:
        higher_or_lower = "higher" if rho > 0 else "lower"
        return (
            f"{measure} vs {what}: {numbers}. Among these {n_languages} languages a higher {measure} goes with "
            f"{higher_or_lower} French accuracy: an association, too few languages for a rule."
        )
    return f"{measure} vs {what}: {numbers}. No association shown with {n_languages} languages."


def association_lines(
    measures: Mapping[str, Mapping[str, float]],
    accuracy: Mapping[str, Mapping[str, float]],
    units_per_language: int,
    what: str,
    seed: int = 0,
) -> str:
    """Every (similarity measure, method) rank correlation of ``measures[m][lang]`` with ``accuracy[method][lang]``,
    each with its permutation p-value, Holm-corrected over the whole table: with 4 measures x 2 methods, eight
    uncorrected tests at 0.05 would find a "rule" by chance a third of the time."""
    tests = []
    for measure, values in measures.items():
        for method, by_lang in accuracy.items():
            langs = [lang for lang in values if lang in by_lang]
            xs, ys = [values[lang] for lang in langs], [by_lang[lang] for lang in langs]
            rho, p = spearman(xs, ys), permutation_p_value(xs, ys, seed=seed)
            tests.append((measure, method, rho, p, len(langs)))
    adjusted = holm([p for *_, p, _ in tests])
    family = sum(not math.isnan(p) for *_, p, _ in tests)
    return "\n".join(
        association_sentence(
            measure, rho, p, n, units_per_language, f"{method}'s {what}", p_holm=p_adj, family=family
        )
        for (measure, method, rho, p, n), p_adj in zip(tests, adjusted)
    )


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
    lines = [
        f"{what} needed to reach {100 * target:.1f}% (grid {', '.join(map(str, grid))}; unit-level 95% intervals, the "
        "(seed, draw) units treated as independent):"
    ]
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
    lines = [f"{condition} - {baseline}: French accuracy by {what} (paired, points, unit-level 95% intervals)"]
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
    """``method`` at K trained on each single source language, ordered by its French accuracy on ``test_set``
    (each with its crossed 95% half-width): a description of the test scores; the single source a later choice
    could use is the one best on the French holdout, named at the end."""
    rows = {lang: result.get(f"{method}@{lang}", k, test_set) for lang in singles}
    ranked = sorted(rows, key=lambda lang: -rows[lang]["mean"])
    order = ", ".join(f"{lang} {_mean_text(rows[lang])}" for lang in ranked)
    chosen = result.best_on_holdout([f"{method}@{lang}" for lang in singles]).split("@", 1)[1]
    return f"{method} at K={k} on {test_set}, trained on one language: {order}. Best on the French holdout: {chosen}."


def _mean_text(row: Mapping[str, Any]) -> str:
    """``81.2% ± 1.4`` (the crossed half-width), or the bare mean with too few units."""
    if row["n"] < MIN_UNITS_FOR_INTERVAL or math.isnan(row["ci_low"]):
        return f"{100 * row['mean']:.1f}%"
    return f"{100 * row['mean']:.1f}% ± {100 * (row['ci_high'] - row['mean']):.1f}"


def annotation_drop(
    result: ProtocolResult, singles: Sequence[str], method: str, k: int, same_project: str, other_project: str
) -> str:
    """How much each single source's French accuracy falls from a test set annotated by the project the support
    and holdout come from (``same_project``, fr GSD) to one annotated by another (``other_project``, fr PUD),
    paired over the same (seed, draw) units, with crossed intervals Holm-corrected over the languages.

    A source treebank from the same annotation project as French GSD (Spanish GSD) can look good on fr GSD for its
    shared conventions, not its language; if so, its drop is larger than the others'. This measures that."""
    drops = {}
    for lang in singles:
        name = f"{method}@{lang}"
        drops[lang] = crossed_difference(
            units_of(result.rows, name, k, same_project), units_of(result.rows, name, k, other_project)
        )
    if not drops or any(d.n == 0 for d in drops.values()):
        return f"{method} at K={k}: no units on both {same_project} and {other_project}, no comparison."
    adjusted = dict(zip(drops, holm([d.p_value for d in drops.values()])))
    ranked = sorted(drops, key=lambda lang: -drops[lang].mean)
    parts = []
    for lang in ranked:
        d = drops[lang]
        if d.n < MIN_UNITS_FOR_INTERVAL or math.isnan(d.low):
            parts.append(f"{lang} {100 * d.mean:+.1f} (n={d.n}, no interval)")
        else:
            parts.append(f"{lang} {100 * d.mean:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}]")
    line = (
        f"{method} at K={k}, trained on one language, {same_project} minus {other_project} accuracy (paired, points, "
        f"largest first): {', '.join(parts)}."
    )
    if all(d.n >= MIN_UNITS_FOR_INTERVAL for d in drops.values()):
        significant = [lang for lang in ranked if adjusted[lang] < ALPHA]
        line += (
            f" Holm-corrected over the {len(drops)} languages, a drop is shown for: {', '.join(significant) or 'none'}."
        )
    return line
