"""Results into the sentences and tables a notebook prints, worded by what the numbers show.

Every interpretive sentence in the workbook comes from here, generated from the measured numbers and their
intervals, so a notebook never states a claim its own run does not back. Each function returns text (lines
joined by newlines) and prints nothing, so the notebooks decide what to show and tests can read it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol import ProtocolResult, summarise
from xlmeta_lab.experiments.stats import MIN_UNITS_FOR_INTERVAL


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
    """A sentence for a paired difference, worded by what the interval shows (no claim the data lack)."""
    diff, low, high = (100 * row[k] for k in ("diff", "diff_low", "diff_high"))
    name, base, k = row["condition"], row["baseline"], row["K"]
    if math.isnan(diff):
        return f"{name} has no paired comparison with {base} at K={k}."
    if math.isnan(low) or row["n"] < MIN_UNITS_FOR_INTERVAL:
        return (
            f"{name} is {diff:+.1f} {unit} against {base} at K={k}, from {row['n']} unit(s): "
            "no interval, no claim."
        )
    interval = f"{diff:+.1f} {unit}, 95% CI [{low:+.1f}, {high:+.1f}], n={row['n']}"
    if low > 0:
        return f"At K={k}, {name} beats {base}: {interval}."
    if high < 0:
        return f"At K={k}, {name} is worse than {base}: {interval}."
    return f"At K={k}, {name} and {base} cannot be told apart: {interval} (the interval contains 0)."


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
    """The joint model with no target sentences against an untrained ``model``, and whether that is transfer."""
    zero, scratch = result.get("joint", 0, test_set), result.get("scratch", 0, test_set)
    verdict = (
        f"untrained {model}: what was learned on en/es carries over before any French is seen."
        if zero["mean"] - scratch["mean"] > 0.05
        else f"untrained {model}: no clear transfer without French in this run."
    )
    where = f" on {test_set}," if test_set else ""
    return (
        f"Zero-shot (joint, no French): {100 * zero['mean']:.1f}%{where} against {100 * scratch['mean']:.1f}% "
        f"for an {verdict}"
    )


def comparisons_at(
    result: ProtocolResult, conditions: Sequence[str], ks: Iterable[int], test_set: str | None = None
) -> str:
    """Per K: the condition with the highest mean, then each condition's paired difference to the baseline."""
    lines = []
    for k in ks:
        best = max(conditions, key=lambda name: result.get(name, k, test_set)["mean"])
        lines.append(
            f"K={k}: highest mean accuracy: {best} ({100 * result.get(best, k, test_set)['mean']:.1f}%)."
        )
        baseline = result.get(best, k, test_set)["baseline"]
        lines += [
            "  " + describe_difference(result.get(name, k, test_set))
            for name in conditions
            if name != baseline
        ]
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


def negative_transfer_verdict(negative: ProtocolResult, k: int, close: str, label: str = "en") -> str:
    """Whether adding a distant language to the ``close`` one lowered target accuracy at K (paired)."""
    row = negative.get(close, k)
    if row["diff_low"] > 0:
        return f"=> At K={k}, adding {label} to {close.split()[0]} hurt French: negative transfer from the distant language."
    if row["diff"] > 0:
        return (
            f"=> At K={k}, {close.split()[0]} alone scores higher than {row['baseline']} on average, but the interval "
            "includes 0: a hint of negative transfer that this run cannot confirm."
        )
    return f"=> At K={k}, adding {label} did not hurt French in this run: no negative transfer shown."


def quality_verdicts(
    result: ProtocolResult,
    meta: Sequence[str],
    ks: Sequence[int],
    test_set: str,
    *,
    over_scratch: float = 7.0,
    over_joint: float = 1.0,
) -> tuple[str, dict[int, bool]]:
    """The workbook's quality target, judged per K: the best meta-learner beats scratch by ``over_scratch``
    points and the joint baseline by ``over_joint`` points with the paired interval above zero."""
    lines = []
    verdicts: dict[int, bool] = {}
    for k in ks:
        best = max(meta, key=lambda m: result.get(m, k, test_set)["mean"])
        row, scratch = result.get(best, k, test_set), result.get("scratch", k, test_set)
        gain = 100 * (row["mean"] - scratch["mean"])
        verdicts[k] = gain >= over_scratch and row["diff_low"] > 0 and 100 * row["diff"] >= over_joint
        lines.append(
            f"\nK={k}: best meta-learner {best} {100 * row['mean']:.1f}%, {gain:+.1f} points over scratch."
        )
        lines += ["  " + describe_difference(result.get(m, k, test_set)) for m in meta]
        if row["n"] < MIN_UNITS_FOR_INTERVAL:
            del verdicts[k]
            lines.append(f"  target not judged at K={k}: {row['n']} unit(s) give no interval.")
        else:
            lines.append(f"  target {'MET' if verdicts[k] else 'MISSED'} at K={k}.")
    if verdicts and not all(verdicts.values()):
        lines.append(
            "\nThe target is missed in this run: say so, and look at the paired intervals above rather than at the "
            "means. With only two training languages, meta-learning has little to generalise over."
        )
    return "\n".join(lines), verdicts


def paired_against(result: ProtocolResult, pairs: Mapping[str, str], ks: Iterable[int], test_set: str) -> str:
    """Each ``{condition: baseline}`` pair's paired difference per K (e.g. MAML on ten tasks against on two)."""
    lines = []
    for name, baseline in pairs.items():
        rows = {
            r["K"]: r
            for r in summarise(result.rows, baseline=baseline)
            if r["test_set"] == test_set and r["condition"] == name
        }
        lines += ["  " + describe_difference(rows[k]) for k in ks]
    return "\n".join(lines)


def before_and_after(result: ProtocolResult, names: Sequence[str], k: int, test_set: str) -> str:
    """Each initialisation as it is (K=0) and after K sentences, flagging a "switch language" one: poor as it
    is (10 points under zero-shot joint) yet as good as joint after adaptation."""
    zero = result.get("joint", 0, test_set)["mean"]
    joint_after = result.get("joint", k, test_set)["mean"]
    lines = []
    for name in names:
        before, after = result.get(name, 0, test_set)["mean"], result.get(name, k, test_set)["mean"]
        switch = name != "scratch" and before < zero - 0.10 and after >= joint_after - 0.01
        note = (
            "  <- poor as it is, good after adaptation: a 'switch language' initialisation" if switch else ""
        )
        lines.append(f"{name:12s} K=0 {100 * before:5.1f}%  ->  K={k} {100 * after:5.1f}%{note}")
    return "\n".join(lines)


def per_tag_table(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]], k: int) -> str:
    """Per-tag accuracy before and after adaptation (``{tag: (correct, total)}``), most frequent tag first."""
    lines = [f"{'tag':6s} {'words':>6s} {'zero-shot':>10s} {f'K={k}':>8s}"]
    for tag, (correct, total) in sorted(before.items(), key=lambda kv: -kv[1][1]):
        lines.append(f"{tag:6s} {total:6d} {100 * correct / total:9.1f}% {100 * after[tag][0] / total:7.1f}%")
    return "\n".join(lines)


def reference_report(path: str | Path, test_set: str) -> str:
    """The committed full run's table on ``test_set``, labelled as the reference and not this run (or a line
    saying there is none yet)."""
    path = Path(path)
    if not path.exists():
        return f"\nNo reference results at {path} yet."
    reference = ProtocolResult.read(path)
    commit = (reference.provenance.get("git", {}).get("commit") or "?")[:10]
    return f"\nREFERENCE (profile full, committed, git {commit}), not this run:\n" + reference.table(test_set)


def _paired_row(result: ProtocolResult, name: str, baseline: str, k: int, test_set: str) -> dict[str, Any]:
    """``name``'s summary row at K with the paired difference to ``baseline`` (same seeds and draws)."""
    for row in summarise(result.rows, baseline=baseline):
        if row["condition"] == name and row["K"] == k and row["test_set"] == test_set:
            return row
    raise KeyError(f"no result for {name!r} at K={k} on {test_set!r}")


def languages_report(
    result: ProtocolResult, methods: Sequence[str], sizes: Sequence[int], k: int, test_set: str
) -> str:
    """What more training languages bought at K, in sentences generated from the paired numbers.

    Conditions are named ``"<method>@<N>"`` (:func:`xlmeta_lab.experiments.sib200.sweep_name`). For each method:
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
        row = _paired_row(result, f"{method}@{last}", f"{method}@{first}", k, test_set)
        lines.append("  " + describe_difference(row))
        verdicts[method] = _direction(row)
    meta = [m for m in methods if m != "joint"]
    if "joint" in methods and meta:
        lines.append("\nMeta-learners against joint trained on the same languages:")
        for n in sizes:
            lines += [
                "  " + describe_difference(_paired_row(result, f"{m}@{n}", f"joint@{n}", k, test_set))
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


def _direction(row: Mapping[str, Any]) -> str:
    if row["n"] < MIN_UNITS_FOR_INTERVAL or math.isnan(row["diff_low"]):
        return "few"
    if row["diff_low"] > 0:
        return "up"
    if row["diff_high"] < 0:
        return "down"
    return "unclear"


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
