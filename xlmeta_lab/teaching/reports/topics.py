"""Notebook 04's sentences: what more training languages bought, and accuracy against the chance levels of a
topic classifier, generated from the paired numbers (the wording rules of :mod:`xlmeta_lab.teaching.reports.wording`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.teaching.reports.wording import (
    describe_difference,
    has_interval,
    interval_direction,
    paired_family,
    paired_row,
)


def languages_report(
    result: ProtocolResult, methods: Sequence[str], sizes: Sequence[int], k: int, test_set: str
) -> str:
    """What more training languages bought at K, in sentences generated from the paired numbers.

    Conditions are named ``"<method>@<N>"`` (:func:`xlmeta_lab.experiments.studies.sib200.sweep_name`). For each method:
    its accuracy at each N, and the paired difference between the most and the fewest languages; then, at each
    N, each meta-learner against joint; then one line that says which way the evidence points (or that it does
    not point anywhere).
    """
    first, last = sizes[0], sizes[-1]
    lines = [
        f"French accuracy at K={k} per topic, by number of training languages (same outer steps and meta-batch):"
    ]
    for method in methods:
        cells = ", ".join(
            f"{n}: {100 * result.get(f'{method}@{n}', k, test_set)['mean']:.1f}%" for n in sizes
        )
        lines.append(f"  {method:8s} {cells}")
    lines.append(f"\n{last} languages against {first}, same method (paired over seeds x draws):")
    verdicts: dict[str, str] = {}
    for method in methods:
        row = paired_row(result, f"{method}@{last}", f"{method}@{first}", k, test_set)
        lines.append("  " + describe_difference(row))
        verdicts[method] = interval_direction(row)
    meta = [
        m for m in methods if not m.startswith("joint")
    ]  # joint-proto is joint's own model, not meta-learned
    if "joint" in methods and meta:
        lines.append("\nMeta-learners against joint trained on the same languages:")
        for n in sizes:
            lines += [
                "  " + describe_difference(paired_row(result, f"{m}@{n}", f"joint@{n}", k, test_set))
                for m in meta
            ]
    helped = [m for m, v in verdicts.items() if v == "up"]
    hurt = [m for m, v in verdicts.items() if v == "down"]
    if all(v == "few" for v in verdicts.values()):
        lines.append(f"\n=> Too few units for an interval: this run cannot say what {last} languages buy.")
    elif not helped and not hurt:
        lines.append(
            f"\n=> Going from {first} to {last} languages changed French accuracy by an amount this run cannot "
            "tell from zero, for every method."
        )
    else:
        parts = []
        if helped:
            parts.append(f"{last} languages helped {', '.join(helped)}")
        if hurt:
            parts.append(f"hurt {', '.join(hurt)}")
        rest = [m for m, v in verdicts.items() if v not in ("up", "down")]
        if rest:
            parts.append(f"could not be told apart from {first} for {', '.join(rest)}")
        lines.append(f"\n=> At the same training budget, {'; '.join(parts)} (paired 95% intervals).")
    return "\n".join(lines)


def chance_sentence(accuracy: float, uniform: float, majority: float, name: str) -> str:
    """``name``'s accuracy beside the two chance levels a topic classifier must beat."""
    if accuracy > majority:
        verdict = "above both chance levels"
    elif accuracy > uniform:
        verdict = "above 1/N but not above always answering the most frequent topic"
    else:
        verdict = "at or below chance"
    return (
        f"{name}: {100 * accuracy:.1f}%, {verdict} (1/N = {100 * uniform:.1f}%, "
        f"majority topic = {100 * majority:.1f}%)."
    )


#: A training loss within this fraction of ln(N), or above it, is "at chance": the model still spreads its bets
#: evenly, or does worse than that.
AT_CHANCE_TOLERANCE = 0.02


def loss_at_chance(loss: float, n_way: int) -> bool:
    """Whether a cross-entropy ``loss`` over ``n_way`` classes is no better than a uniform guess (ln N): within
    :data:`AT_CHANCE_TOLERANCE` of it *or above it*, since a loss above ln N is a guess worse than uniform, not
    a model that learned something (a symmetric test called Reptile's 2.08 against ln 7 = 1.95 "learned")."""
    return loss >= (1 - AT_CHANCE_TOLERANCE) * math.log(n_way)


def training_at_chance(final_losses: dict[str, Sequence[float]], n_way: int) -> str:
    """Which methods ended meta-training with the loss of a uniform guess over ``n_way`` topics (ln N), one
    sentence each; empty when none did. For a meta-learner that is the query loss *after* adaptation: an inner step
    that changes nothing, so the initialisation learned no way to adapt (whatever its validation accuracy says)."""
    uniform = math.log(n_way)
    lines = []
    for method, losses in final_losses.items():
        mean = sum(losses) / len(losses)
        if loss_at_chance(mean, n_way):
            lines.append(
                f"{method}: final training loss {mean:.3f}, ln {n_way} = {uniform:.3f}: no better than a uniform "
                "guess after adaptation, so it learned nothing to adapt with; its French numbers below are those of "
                "an untrained initialisation."
            )
    return "\n".join(lines)


def chance_levels(labels: Sequence[str], n_classes: int) -> tuple[float, float, str]:
    """``(1/N, the majority topic's share, the majority topic)`` of a test set's gold ``labels``."""
    top, count = Counter(labels).most_common(1)[0]
    return 1 / n_classes, count / len(labels), top


def chance_verdict(row: Mapping[str, Any], uniform: float, majority: float) -> str:
    """Where a summary row's 95% interval lies against the two chance levels, in a few words."""
    if not has_interval(row, low="ci_low"):
        return f"no interval from {row['n']} unit(s): no verdict"
    if row["ci_low"] > majority:
        return "above the majority topic"
    if row["ci_high"] < uniform:
        return "below 1/N"
    if row["ci_low"] > uniform:
        return "above 1/N, not above the majority topic"
    return "at chance (its interval holds 1/N)"


def accuracy_text(row: Mapping[str, Any]) -> str:
    """A summary row's mean accuracy with its 95% interval, ``31.7% [25.0, 38.4]`` (the mean alone without one)."""
    interval = f" [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]" if has_interval(row, low="ci_low") else ""
    return f"{100 * row['mean']:.1f}%{interval}"


def chance_report(
    result: ProtocolResult,
    names: Sequence[str],
    ks: Sequence[int],
    test_set: str,
    uniform: float,
    majority: float,
) -> str:
    """Every condition at every K against 1/N and the majority topic's share, each with its 95% interval."""
    lines = [
        f"Against chance on {test_set} (1/N = {100 * uniform:.1f}%, majority topic = {100 * majority:.1f}%), "
        "mean [95% CI]:"
    ]
    for name in names:
        cells = []
        for k in ks:
            row = result.get(name, k, test_set)
            cells.append(f"K={k}: {accuracy_text(row)} {chance_verdict(row, uniform, majority)}")
        lines.append(f"  {name}: " + "; ".join(cells))
    return "\n".join(lines)


def chance_takeaway(
    result: ProtocolResult,
    names: Sequence[str],
    meta: Sequence[str],
    ks: Sequence[int],
    test_set: str,
    uniform: float,
    majority: float,
) -> str:
    """The lesson's conclusion, generated: at each K which conditions' intervals clear the majority topic (a
    statement about every condition, not a choice of one by its test score), then each meta-learner against
    joint (paired, Holm-corrected over exactly these comparisons)."""
    lines = []
    for k in ks:
        rows = {name: result.get(name, k, test_set) for name in names}
        if not any(has_interval(row, low="ci_low") for row in rows.values()):
            lines.append(f"K={k}: too few units for intervals; no verdict against chance.")
            continue
        above = [
            n
            for n, row in rows.items()
            if chance_verdict(row, uniform, majority) == "above the majority topic"
        ]
        at = [
            n for n, row in rows.items() if chance_verdict(row, uniform, majority).startswith(("at", "below"))
        ]
        said = f"K={k}: above the majority topic ({100 * majority:.1f}%) with its whole interval: " + (
            ", ".join(above) if above else "no condition"
        )
        lines.append(said + (f"; at chance: {', '.join(at)}." if at else "."))
    positive = [k for k in ks if k > 0]
    if "joint" in names and meta and positive:
        family = paired_family(result, [(m, "joint") for m in meta], positive, test_set)
        lines.append("Meta-learners against joint, same seeds and draws:")
        lines += ["  " + describe_difference(row) for row in family]
    return "\n".join(lines)


def diagnosis(
    *,
    source_accuracy: Mapping[str, float],
    final_loss: Mapping[str, float],
    zero_shot: float,
    budgets: Mapping[str, tuple[float, int]],
    n_way: int,
    uniform: float,
    majority: float,
) -> str:
    """A result at chance, taken apart in the order an instructor would: did the model learn the *source*
    task (held-out source accuracy after adaptation, training loss against ln N), does anything transfer with
    no French at all (zero-shot), and did fine-tuning help or hurt (the budget the holdout chose)."""
    lines = []
    for name, accuracy in source_accuracy.items():
        loss = final_loss.get(name, math.nan)
        learned = accuracy > majority and not loss_at_chance(loss, n_way)
        lines.append(
            f"{name}: held-out source accuracy after adaptation {100 * accuracy:.1f}%, final training loss "
            f"{loss:.3f} (ln {n_way} = {math.log(n_way):.3f}): "
            + (
                "it learned the source task."
                if learned
                else "it did not learn the source task: fix training first."
            )
        )
    transfer = "above" if zero_shot > majority else "not above"
    lines.append(
        f"joint with no French (zero-shot): {100 * zero_shot:.1f}%, {transfer} the majority topic "
        f"({100 * majority:.1f}%; 1/N = {100 * uniform:.1f}%)."
    )
    refused = [name for name, (_, steps) in budgets.items() if steps == 0]
    if refused:
        lines.append(f"the holdout chose no fine-tuning (steps = 0) for {', '.join(refused)}.")
    return "\n".join(lines)
