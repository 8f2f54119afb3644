"""Notebook 04's sentences: what more training languages bought, and accuracy against the chance levels of a
topic classifier, generated from the paired numbers (the wording rules of :mod:`xlmeta_lab.teaching.reports.wording`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.teaching.reports.wording import describe_difference, interval_direction, paired_row


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
    meta = [m for m in methods if m != "joint"]
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


#: A training loss within this fraction of ln(N) is "at chance": the model still spreads its bets evenly.
AT_CHANCE_TOLERANCE = 0.02


def training_at_chance(final_losses: dict[str, Sequence[float]], n_way: int) -> str:
    """Which methods ended meta-training with the loss of a uniform guess over ``n_way`` topics (ln N), one
    sentence each; empty when none did. For a meta-learner that is the query loss *after* adaptation: an inner step
    that changes nothing, so the initialisation learned no way to adapt (whatever its validation accuracy says)."""
    uniform = math.log(n_way)
    lines = []
    for method, losses in final_losses.items():
        mean = sum(losses) / len(losses)
        if abs(mean - uniform) <= AT_CHANCE_TOLERANCE * uniform:
            lines.append(
                f"{method}: final training loss {mean:.3f}, ln {n_way} = {uniform:.3f}: still a uniform guess after "
                "adaptation, so it learned nothing to adapt with; its French numbers below are those of an "
                "untrained initialisation."
            )
    return "\n".join(lines)
