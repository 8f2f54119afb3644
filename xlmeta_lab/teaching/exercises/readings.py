"""Open-ended exercises that read measurements: one adaptation step against 25 (notebook 03), a meta-learner
against joint at a K of the learner's choice (04), and which source language the similarity measures predict
to transfer best (05).

Each is cheap: it adapts an initialisation the notebook already trained, or reads the protocol's units and the
similarity table. The checks (:mod:`xlmeta_lab.teaching.exercises.findings`) accept any sound choice and recompute
every derived number from the learner's own inputs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from xlmeta_lab.experiments.protocol.results import ProtocolResult
from xlmeta_lab.experiments.protocol.stats import paired_difference, spearman, units_of
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, exercise
from xlmeta_lab.teaching.exercises.findings import (
    Recorded,
    fields,
    require_best,
    require_claim,
    require_close,
)
from xlmeta_lab.teaching.exercises.measures import BudgetMeasure

#: ``units(condition, k)``: the protocol's ``{(seed, draw): accuracy}`` of one condition at one K.
Units = Callable[[str, int], Mapping[tuple[Hashable, Hashable], float]]

def protocol_units(result: ProtocolResult, test_set: str) -> Units:
    """``units(condition, k)`` of one protocol run on one test set, for exercise 04.4."""

    def units(condition: str, k: int) -> Mapping[tuple[Hashable, Hashable], float]:
        return units_of(result.rows, condition, k, test_set)

    return units


# -- 03.4: one adaptation step, or 25? ------------------------------------------------------------------------


def one_step_or_many(measure: BudgetMeasure) -> dict[str, Any]:
    """The workbook's answer: 0, 1 and 25 steps on two support draws, and the share of the gain one step makes."""
    draws = [0, 1]
    accuracy = {steps: [measure(steps, draw) for draw in draws] for steps in (0, 1, 25)}
    mean = {steps: sum(values) / len(values) for steps, values in accuracy.items()}
    share = (mean[1] - mean[0]) / (mean[25] - mean[0])
    return {"draws": draws, "accuracy": accuracy, "one_step_share": share, "one_step_is_most": share >= 0.5}


@exercise(
    "03.4",
    "one adaptation step, or 25?",
    hints=(
        "MAML was trained to adapt in one inner step: measure how much of 25 steps' gain over no adaptation "
        "one step already makes, on the same support draws",
        "share = (mean_1 - mean_0) / (mean_25 - mean_0), each mean over the same draws; one step is most of it "
        "when share >= 0.5",
        "accuracy = {s: [measure(s, d) for d in draws] for s in (0, 1, 25)}, then the means and the share",
    ),
    solution=one_step_or_many,
    open=True,
)
def check_one_step_or_many(answer: Callable[..., Any], measure: BudgetMeasure) -> tuple[str, dict]:
    recorded = Recorded(measure, key=lambda steps, draw: (int(steps), int(draw)))
    finding = fields(answer(recorded), ["draws", "accuracy", "one_step_share", "one_step_is_most"])
    draws, accuracy = list(finding["draws"]), finding["accuracy"]
    if len(set(draws)) < 2:
        raise ExerciseFailed("use at least two support draws: one draw's luck is not a finding")
    if not isinstance(accuracy, Mapping) or not {0, 1, 25} <= set(accuracy):
        raise ExerciseFailed("'accuracy' should have the step counts 0 (no adaptation), 1 and 25 as keys")
    mean = {}
    for steps, values in accuracy.items():
        if len(values) != len(draws):
            raise ExerciseFailed(f"accuracy[{steps}] has {len(values)} values for {len(draws)} draws: pair them")
        mean[steps] = statistics.fmean(
            recorded.require(v, steps, d, what=f"accuracy[{steps}] on draw {d}") for v, d in zip(values, draws)
        )
    gain = mean[25] - mean[0]
    if gain <= 0:
        raise ExerciseFailed(
            f"25 steps do not beat no adaptation here ({mean[25]:.3f} against {mean[0]:.3f}), so there is no gain "
            "to share: is the measure's learning rate the protocol's?"
        )
    share = require_close(
        finding["one_step_share"], (mean[1] - mean[0]) / gain, what="'one_step_share'",
        how="(mean at 1 step - mean at 0) / (mean at 25 - mean at 0)",
    )
    require_claim(finding["one_step_is_most"], share >= 0.5, what="'one_step_is_most'", because=f"the share is {share:.2f}")
    line = (
        f"measured on {len(draws)} draws: {100 * mean[0]:.1f}% -> {100 * mean[1]:.1f}% (1 step) -> "
        f"{100 * mean[25]:.1f}% (25 steps); one step makes {share:.0%} of the gain"
    )
    return line, finding


# -- 04.4: a meta-learner against joint, at a K you choose ----------------------------------------------------


def versus_joint(units: Units, methods: Sequence[str], ks: Sequence[int]) -> dict[str, Any]:
    """The workbook's answer: the first meta-learner at the smallest K above 0, paired with joint."""
    method, k = next(m for m in methods if m != "joint"), min(k for k in ks if k > 0)
    interval = paired_difference(units(method, k), units("joint", k))
    verdict = "better" if interval.low > 0 else "worse" if interval.high < 0 else "no claim"
    return {"method": method, "k": k, "difference": (interval.mean, interval.low, interval.high), "verdict": verdict}


@exercise(
    "04.4",
    "a meta-learner against joint, at a K you choose",
    hints=(
        "choose a meta-learner and a K, and say only what the run supports: better, worse, or no claim when "
        "the 95% interval of the paired difference includes zero (or there is none)",
        "difference = mean and 95% t-interval of acc_meta(u) - acc_joint(u) over the shared (seed, draw) "
        "units; better if low > 0, worse if high < 0, else no claim",
        "interval = paired_difference(units(method, k), units('joint', k)); (interval.mean, interval.low, "
        "interval.high)",
    ),
    solution=versus_joint,
    open=True,
)
def check_versus_joint(
    answer: Callable[..., Any], units: Units, methods: Sequence[str], ks: Sequence[int]
) -> tuple[str, dict]:
    finding = fields(answer(units, methods, ks), ["method", "k", "difference", "verdict"])
    method, k = finding["method"], finding["k"]
    if method not in methods or method == "joint":
        raise ExerciseFailed(f"'method' should be one of the meta-learners {[m for m in methods if m != 'joint']}")
    if k not in ks or k == 0:
        raise ExerciseFailed(f"'k' should be one of the protocol's K above 0: {[k for k in ks if k > 0]}")
    interval = paired_difference(units(method, k), units("joint", k))
    told = finding["difference"]
    if not isinstance(told, (tuple, list)) or len(told) != 3:
        raise ExerciseFailed("'difference' should be (mean, low, high)")
    how = "the paired difference over the shared (seed, draw) units, with its 95% t-interval"
    for name, value, expected in zip(("mean", "low", "high"), told, (interval.mean, interval.low, interval.high)):
        require_close(value, expected, what=f"the difference's {name}", how=how)
    supported = (
        "better" if interval.low > 0 else "worse" if interval.high < 0 else "no claim"
    ) if not math.isnan(interval.low) else "no claim"
    if finding["verdict"] != supported:
        raise ExerciseFailed(
            f"the verdict is {finding['verdict']!r}, but the interval [{interval.low:+.3f}, {interval.high:+.3f}] "
            f"supports {supported!r}: claim a direction only when the interval excludes zero"
        )
    line = f"{method} - joint at K={k}: {100 * interval.mean:+.1f} points over {interval.n} units, {supported}"
    return line, finding


# -- 05.4: predict the best source language, then compare ---------------------------------------------------


def predict_best_source(similarities: Mapping[str, Mapping[str, float]], accuracy: Mapping[str, float]) -> dict:
    """The workbook's answer: the character 3-gram overlap predicts; Spearman's rho over the languages."""
    measure = next(iter(next(iter(similarities.values()))))
    langs = sorted(accuracy)
    predicted = max(langs, key=lambda lang: similarities[lang][measure])
    measured = max(langs, key=accuracy.get)
    rho = spearman([similarities[lang][measure] for lang in langs], [accuracy[lang] for lang in langs])
    return {"measure": measure, "predicted": predicted, "measured": measured, "agree": predicted == measured,
            "rank_correlation": rho}


@exercise(
    "05.4",
    "predict the best source language, then compare",
    hints=(
        "pick one similarity measure and commit to its prediction before you look at the accuracies; then "
        "ask whether the whole ranking, not only the winner, agrees",
        "predicted = the language most similar to French by your measure; measured = the language with the "
        "highest accuracy; rank agreement = Spearman's rho between the two columns",
        "predicted = max(langs, key=lambda l: similarities[l][measure]); rho = spearman([...similarities], "
        "[...accuracy]) from xlmeta_lab.experiments.protocol.stats",
    ),
    solution=predict_best_source,
    open=True,
)
def check_predict_best_source(
    answer: Callable[..., Any], similarities: Mapping[str, Mapping[str, float]], accuracy: Mapping[str, float]
) -> tuple[str, dict]:
    finding = fields(
        answer(similarities, accuracy), ["measure", "predicted", "measured", "agree", "rank_correlation"]
    )
    langs = sorted(accuracy)
    names = sorted({name for lang in langs for name in similarities[lang]})
    measure = finding["measure"]
    if measure not in names:
        raise ExerciseFailed(f"'measure' should be one of the similarity measures {names}")
    by_similarity = {lang: similarities[lang][measure] for lang in langs}
    require_best(by_similarity, finding["predicted"], what="'predicted'")
    require_best(dict(accuracy), finding["measured"], what="'measured'")
    require_claim(
        finding["agree"], finding["predicted"] == finding["measured"], what="'agree'",
        because=f"predicted {finding['predicted']}, measured {finding['measured']}",
    )
    rho = spearman([by_similarity[lang] for lang in langs], [accuracy[lang] for lang in langs])
    require_close(finding["rank_correlation"], rho, what="'rank_correlation'", how="Spearman's rho over the languages")
    line = (
        f"{measure} predicts {finding['predicted']}, the run's best is {finding['measured']}; "
        f"rank correlation {rho:+.2f} over {len(langs)} languages"
    )
    return line, finding
