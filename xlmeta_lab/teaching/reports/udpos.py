"""Notebook 03's sentences: the quality target, the switch-language and genre comparisons, what adaptation changed
per tag and whether more tasks helped, generated from the paired numbers with the wording rules of
:mod:`xlmeta_lab.teaching.reports.wording`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.experiments.protocol.stats import MIN_UNITS_FOR_INTERVAL
from xlmeta_lab.teaching.reports.wording import (
    describe_difference,
    family_note,
    has_interval,
    judged,
    ks_of,
    paired_family,
)


def quality_verdicts(
    result: ProtocolResult,
    meta: Sequence[str],
    ks: Sequence[int],
    test_set: str,
    *,
    over_scratch: float = 7.0,
    over_joint: float = 1.0,
) -> tuple[str, dict[int, bool]]:
    """The workbook's quality target, judged per K: the best meta-learner, chosen on the French holdout, beats
    scratch by ``over_scratch`` points and the joint baseline by ``over_joint`` points, its paired difference
    significant after Holm's correction over the table (:func:`~xlmeta_lab.teaching.reports.wording.judged`)."""
    best = result.best_on_holdout(meta)
    lines = [
        f"Best meta-learner on the French holdout: {best} ({100 * result.holdout_accuracy(best):.1f}%; "
        + ", ".join(f"{m} {100 * result.holdout_accuracy(m):.1f}%" for m in meta if m != best)
        + "); the test sets below only score it."
    ]
    verdicts: dict[int, bool] = {}
    for k in ks:
        row, scratch = result.get(best, k, test_set), result.get("scratch", k, test_set)
        gain = 100 * (row["mean"] - scratch["mean"])
        lines.append(f"\nK={k}: {best} {100 * row['mean']:.1f}%, {gain:+.1f} points over scratch.")
        lines += ["  " + describe_difference(result.get(m, k, test_set)) for m in meta]
        if row["n"] < MIN_UNITS_FOR_INTERVAL:
            lines.append(f"  target not judged at K={k}: {row['n']} unit(s) give no interval.")
            continue
        verdicts[k] = gain >= over_scratch and judged(row) == "up" and 100 * row["diff"] >= over_joint
        lines.append(f"  target {'MET' if verdicts[k] else 'MISSED'} at K={k}.")
    lines.append(family_note(result, test_set))
    if verdicts and not all(verdicts.values()):
        lines.append(
            "\nThe target is missed in this run: say so, and look at the paired intervals above rather than at the "
            "means."
        )
    return "\n".join(lines), verdicts


def paired_against(result: ProtocolResult, pairs: Mapping[str, str], ks: Iterable[int], test_set: str) -> str:
    """Each ``{condition: baseline}`` pair's paired difference per K (e.g. MAML on ten tasks against on two),
    Holm-corrected over the pairs x K printed."""
    rows = paired_family(result, list(pairs.items()), ks, test_set)
    return "\n".join("  " + describe_difference(row) for row in rows)


def switch_language(
    result: ProtocolResult, names: Sequence[str], k: int, test_set: str | None = None
) -> list[str]:
    """The initialisations that are poor as they are (10 points under zero-shot joint at K=0) yet as good as
    joint after K sentences (within 1 point): "switch language" initialisations."""
    zero = result.get("joint", 0, test_set)["mean"]
    joint_after = result.get("joint", k, test_set)["mean"]
    return [
        name
        for name in names
        if name not in ("scratch", "joint")
        and result.get(name, 0, test_set)["mean"] < zero - 0.10
        and result.get(name, k, test_set)["mean"] >= joint_after - 0.01
    ]


def switch_language_verdict(
    result: ProtocolResult, names: Sequence[str], k: int, test_set: str | None = None
) -> str:
    """Whether ``result`` holds a "switch language" initialisation (:func:`switch_language`), in one sentence."""
    found = switch_language(result, names, k, test_set)
    if found:
        return f"Poor as it is yet as good as joint after K={k}, a 'switch language' initialisation: {', '.join(found)}."
    return (
        f"No initialisation is both poor as it is (10 points under zero-shot joint) and as good as joint after "
        f"K={k}: no 'switch language' initialisation here."
    )


def before_and_after(result: ProtocolResult, names: Sequence[str], k: int, test_set: str) -> str:
    """Each initialisation as it is (K=0) and after K sentences, flagging a "switch language" one: poor as it
    is (10 points under zero-shot joint) yet as good as joint after adaptation; then the verdict."""
    switches = switch_language(result, names, k, test_set)
    lines = []
    for name in names:
        before, after = result.get(name, 0, test_set)["mean"], result.get(name, k, test_set)["mean"]
        note = (
            "  <- poor as it is, good after adaptation: a 'switch language' initialisation"
            if name in switches
            else ""
        )
        lines.append(f"{name:12s} K=0 {100 * before:5.1f}%  ->  K={k} {100 * after:5.1f}%{note}")
    lines.append(switch_language_verdict(result, names, k, test_set))
    return "\n".join(lines)


def per_tag_table(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]], k: int) -> str:
    """Per-tag accuracy before and after adaptation (``{tag: (correct, total)}``), most frequent tag first."""
    lines = [f"{'tag':6s} {'words':>6s} {'zero-shot':>10s} {f'K={k}':>8s}"]
    for tag, (correct, total) in sorted(before.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"{tag:6s} {total:6d} {100 * correct / total:9.1f}% {100 * after[tag][0] / total:7.1f}%")
    return "\n".join(lines)


def more_tasks_verdict(result: ProtocolResult, name: str, baseline: str, test_set: str) -> str:
    """Whether ``name`` (the same method on more, smaller tasks) beat ``baseline`` at any K > 0, paired and
    Holm-corrected over those Ks."""
    rows = paired_family(result, [(name, baseline)], [k for k in ks_of(result) if k > 0], test_set)
    if not rows or not all(has_interval(r) for r in rows):
        return f"{name} against {baseline}: too few units for intervals, no claim."
    by_way = {way: [r["K"] for r in rows if judged(r) == way] for way in ("up", "down")}
    unclear = [r["K"] for r in rows if r["K"] not in by_way["up"] + by_way["down"]]
    parts = [
        f"{label} at K={', '.join(map(str, ks))}"
        for label, ks in (("better", by_way["up"]), ("worse", by_way["down"]), ("cannot be told apart", unclear))
        if ks
    ]
    verdict = (
        "more tasks helped at some K."
        if by_way["up"]
        else "more tasks from the same languages did not help at any K."
    )
    return (
        f"{name} against {baseline} (Holm-corrected over {rows[0]['holm_family']} Ks): {'; '.join(parts)}: {verdict}"
    )


def per_tag_sentences(
    before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]], k: int, min_words: int = 50
) -> str:
    """What a per-tag table (``{tag: (correct, total)}`` before and after adaptation) shows, among tags with at
    least ``min_words`` words: which transfer best and worst as they are, which gain most from K sentences,
    which lose, which stay low."""
    judged = {tag: total for tag, (_, total) in before.items() if total >= min_words}
    skipped = [f"{tag} ({total})" for tag, (_, total) in before.items() if total < min_words]
    zero = {tag: 100 * before[tag][0] / total for tag, total in judged.items()}
    tuned = {tag: 100 * after[tag][0] / total for tag, total in judged.items()}
    ranked = sorted(zero, key=lambda tag: -zero[tag])
    gains = sorted(judged, key=lambda tag: zero[tag] - tuned[tag])
    lines = [
        f"Among tags with at least {min_words} words: zero-shot best {', '.join(f'{t} {zero[t]:.0f}%' for t in ranked[:3])}; "
        f"worst {', '.join(f'{t} {zero[t]:.0f}%' for t in ranked[-3:][::-1])}.",
        f"Largest gains from K={k} sentences: "
        + ", ".join(f"{t} {tuned[t] - zero[t]:+.0f}" for t in gains[:3] if tuned[t] > zero[t])
        + " points.",
    ]
    losses = [t for t in judged if tuned[t] < zero[t] - 2]
    if losses:
        lines.append(
            f"Lower after K={k} than zero-shot: "
            + ", ".join(
                f"{t} {tuned[t] - zero[t]:+.0f}" for t in sorted(losses, key=lambda t: tuned[t] - zero[t])
            )
            + " points."
        )
    low = [t for t in judged if tuned[t] < 20]
    if low:
        lines.append(f"Still under 20% after K={k}: {', '.join(low)}.")
    if skipped:
        lines.append(f"Too few words to judge: {', '.join(skipped)}.")
    return "\n".join(lines)
