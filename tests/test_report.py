"""The sentences notebooks 02 and 03 print are worded by the numbers: a claim only where the interval backs it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.results import Budget, ProtocolResult, summarise, write_protocol_results
from xlmeta_lab.experiments.protocol.stats import holm
from xlmeta_lab.teaching.reports.transfer import best_single_source
from xlmeta_lab.teaching.reports.udpos import (
    before_and_after,
    more_tasks_verdict,
    paired_against,
    per_tag_sentences,
    quality_verdicts,
    switch_language,
)
from xlmeta_lab.teaching.reports.wording import (
    comparisons_at,
    describe_difference,
    head_only_sentence,
    judged,
    reference_report,
    steps_and_advantage,
    steps_curve,
    steps_text,
    verdict_of,
    zero_shot_sentence,
)

KS = (0, 1, 5, 20)
PROTOCOL = ProtocolConfig(ks=KS, n_draws=5, lrs=(0.1,), steps=(25, 50, 100))

#: Mean accuracy per condition and K: anil falls further behind joint as K grows, maml's lead shrinks,
#: maml-genres trails maml, and "switch" is poor at K=0 yet as good as joint afterwards.
MEANS = {
    "scratch": (0.05, 0.40, 0.56, 0.69),
    "joint": (0.46, 0.53, 0.67, 0.76),
    "maml": (0.46, 0.56, 0.69, 0.762),
    "anil": (0.48, 0.535, 0.62, 0.69),
    "maml-genres": (0.44, 0.55, 0.68, 0.755),
    "switch": (0.20, 0.52, 0.68, 0.76),
}


def result_with(n_seeds: int, n_draws: int) -> ProtocolResult:
    rows = []
    for name, means in MEANS.items():
        for k, mean in zip(KS, means):
            for seed in range(n_seeds):
                for draw in range(1 if k == 0 else n_draws):
                    wobble = 0.01 * ((seed * 7 + draw * 3) % 5 - 2)  # the same for every condition: paired
                    noise = 0.001 * ((seed + draw + len(name)) % 3 - 1)
                    rows.append(
                        {"condition": name, "K": k, "seed": seed, "draw": draw, "test_set": "t",
                         "accuracy": mean + wobble + noise}
                    )  # fmt: skip
    budgets = {name: Budget(0.1, 100 if name != "anil" else 50, HOLDOUT[name]) for name in MEANS}
    return ProtocolResult(rows, summarise(rows), budgets, PROTOCOL)


#: Holdout accuracy per condition, ranked against the test means on purpose: on test maml leads the meta-learners
#: at every K > 0, on the holdout maml-genres does. Every choice must follow the holdout.
HOLDOUT = {"scratch": 0.50, "joint": 0.66, "maml": 0.64, "anil": 0.60, "maml-genres": 0.68, "switch": 0.55}


@pytest.fixture(scope="module")
def full() -> ProtocolResult:
    return result_with(3, 5)


@pytest.fixture(scope="module")
def quick() -> ProtocolResult:
    return result_with(1, 2)


def test_a_head_only_gap_that_grows_is_said_to_grow(full: ProtocolResult, quick: ProtocolResult) -> None:
    text = head_only_sentence(full, "anil", "t")
    assert "anil is behind joint at K=5, 20" in text and "the gap grows with K" in text
    assert "no claim" in head_only_sentence(quick, "anil", "t")


def test_an_advantage_that_shrinks_is_said_to_shrink(full: ProtocolResult, quick: ProtocolResult) -> None:
    text = steps_and_advantage(full, "maml", 1, PROTOCOL, "t")
    assert "1 inner step;" in text and "50 or 100 fine-tuning steps" in text
    assert "5 of 6 conditions took the largest step count" in text
    assert "The advantage shrinks from +3.0 at K=1 to +0.2 at K=20" in text
    assert "no claim about how the advantage changes" in steps_and_advantage(quick, "maml", 1, PROTOCOL, "t")


def test_a_switch_language_initialisation_is_named_and_its_absence_said(full: ProtocolResult) -> None:
    assert switch_language(full, list(MEANS), 5, "t") == ["switch"]
    text = before_and_after(full, [n for n in MEANS if n != "switch"], 5, "t")
    assert "no 'switch language' initialisation here" in text and "<-" not in text


def test_more_tasks_that_do_not_help_are_said_not_to(full: ProtocolResult, quick: ProtocolResult) -> None:
    text = more_tasks_verdict(full, "maml-genres", "maml", "t")
    assert "did not help at any K" in text and "worse at K=" in text
    assert "no claim" in more_tasks_verdict(quick, "maml-genres", "maml", "t")


def test_verdicts_need_an_interval(full: ProtocolResult, quick: ProtocolResult) -> None:
    assert verdict_of(full.get("maml", 5)).endswith("vs joint: beats joint")
    assert verdict_of(full.get("anil", 5)).endswith("worse than joint")
    assert verdict_of(quick.get("maml", 5)).endswith("no claim")
    assert verdict_of(full.get("joint", 5)) == "(the baseline)"


def test_per_tag_sentences_come_from_the_counts() -> None:
    before = {
        "NOUN": (80, 100),
        "PUNCT": (95, 100),
        "VERB": (10, 100),
        "ADJ": (0, 60),
        "PROPN": (40, 80),
        "X": (0, 9),
    }
    after = {
        "NOUN": (75, 100),
        "PUNCT": (95, 100),
        "VERB": (60, 100),
        "ADJ": (5, 60),
        "PROPN": (20, 80),
        "X": (0, 9),
    }
    text = per_tag_sentences(before, after, 20)
    assert "zero-shot best PUNCT 95%, NOUN 80%, PROPN 50%" in text
    assert "Largest gains from K=20 sentences: VERB +50, ADJ +8 points." in text
    assert "Lower after K=20 than zero-shot: PROPN -25, NOUN -5 points." in text
    assert "Still under 20% after K=20: ADJ." in text and "Too few words to judge: X (9)." in text


def test_the_reference_is_shown_beside_this_run_with_its_verdicts(
    full: ProtocolResult, quick: ProtocolResult, tmp_path: Path
) -> None:
    paths = write_protocol_results(
        full, "ref", config={"protocol": PROTOCOL.to_dict()}, seeds=[0, 1, 2], out_dir=tmp_path
    )
    text = reference_report(paths["json"], "t", quick)
    assert "REFERENCE (profile full, committed, git" in text and "3 seeds x 5 draws" in text
    beside = text.split("This run beside the reference")[1]
    maml_k5 = next(line for line in beside.splitlines() if line.startswith("maml ") and " 5 " in line)
    assert "(n=2)" in maml_k5 and "beats joint" in maml_k5
    assert "This run beside" not in reference_report(paths["json"], "t")
    assert "No reference results" in reference_report(tmp_path / "missing.json", "t")


def test_negative_transfer_needs_an_interval_too(quick: ProtocolResult) -> None:
    from xlmeta_lab.teaching.reports.wording import negative_transfer_verdict

    text = negative_transfer_verdict(quick, 5, close="maml", label="en")
    assert "from 2 unit(s): no interval, no claim about negative transfer" in text


def test_training_at_chance_names_only_methods_whose_loss_is_still_ln_n() -> None:
    from xlmeta_lab.teaching.reports.topics import training_at_chance

    text = training_at_chance({"maml": [0.70, 0.60], "fomaml": [1.946, 1.950], "reptile": [1.80, 1.70]}, 7)
    assert len(text.splitlines()) == 1 and text.startswith("fomaml: final training loss 1.948, ln 7 = 1.946")
    assert training_at_chance({"maml": [0.7]}, 7) == ""
    # a loss above ln N is a guess worse than uniform, not a model that learned (notebook 04's Reptile: 2.078)
    assert training_at_chance({"reptile": [2.10, 2.056]}, 7).startswith("reptile: final training loss 2.078")


def test_the_diagnosis_does_not_call_a_loss_above_ln_n_learned() -> None:
    from xlmeta_lab.teaching.reports.topics import diagnosis

    common = {"zero_shot": 0.317, "budgets": {}, "n_way": 7, "uniform": 1 / 7, "majority": 0.25}
    above = diagnosis(source_accuracy={"reptile": 0.262}, final_loss={"reptile": 2.078}, **common)
    assert "reptile: held-out source accuracy after adaptation 26.2%" in above
    assert "it did not learn the source task" in above
    learned = diagnosis(source_accuracy={"fomaml": 0.278}, final_loss={"fomaml": 0.688}, **common)
    assert "it learned the source task" in learned


def _budget(lr: float, steps: int, curve: dict[int, float]) -> Budget:
    grid = {(lr, s): (acc, acc) for s, acc in curve.items()} | {(0.3, s): (0.1, 0.1) for s in curve}
    return Budget(lr, steps, curve[steps], grid)


def test_the_steps_curve_says_whether_the_last_step_count_still_paid() -> None:
    protocol = ProtocolConfig(ks=(5,), lrs=(0.1, 0.3), steps=(100, 200, 400))
    flat = {"joint": _budget(0.1, 400, {100: 0.750, 200: 0.755, 400: 0.757})}
    text = steps_curve(ProtocolResult([], [], flat, protocol), protocol)
    assert "75.0    75.5    75.7" in text and "+0.20 points" in text
    assert "at most +0.20 points" in text and "flattened" in text
    rising = {**flat, "scratch": _budget(0.1, 400, {100: 0.60, 200: 0.63, 400: 0.66})}
    text = steps_curve(ProtocolResult([], [], rising, protocol), protocol)
    assert "+3.00 points" in text and "still rising" in text
    # A budget read back from a results file has no grid: it is left out, not shown as zeros.
    bare = {"joint": Budget(0.1, 400, 0.757)}
    assert "joint" not in steps_curve(ProtocolResult([], [], bare, protocol), protocol)


def test_a_grid_of_one_step_count_has_no_curve_to_read() -> None:
    protocol = ProtocolConfig(ks=(5,), lrs=(0.1,), steps=(15,))
    result = ProtocolResult([], [], {"joint": _budget(0.1, 15, {15: 0.7})}, protocol)
    assert steps_curve(result, protocol) == "one step count in the grid (15): no curve to read."


def test_every_choice_follows_the_holdout_where_holdout_and_test_rankings_disagree(full: ProtocolResult) -> None:
    meta = ["maml", "anil", "maml-genres"]
    by_test = max(meta, key=lambda m: full.get(m, 5, "t")["mean"])
    assert by_test == "maml" and full.best_on_holdout(meta) == "maml-genres"  # the rankings do disagree
    text, verdicts = quality_verdicts(full, meta, [5, 20], "t")
    assert text.startswith("Best meta-learner on the French holdout: maml-genres (68.0%")
    assert "K=5: maml-genres 68." in text and "K=5: maml " not in text
    compared = comparisons_at(full, ["joint", *meta], [5], "t")
    assert "Best on the French holdout (what a choice may read): maml-genres" in compared
    assert "K=5: maml-genres" in compared
    singles = ProtocolResult(
        [{**r, "condition": f"maml@{r['condition']}"} for r in full.rows if r["condition"] in ("maml", "maml-genres")],
        [], {"maml@maml": full.budgets["maml"], "maml@maml-genres": full.budgets["maml-genres"]}, PROTOCOL,
    )  # fmt: skip
    singles.summary = summarise(singles.rows, baseline=None)
    assert best_single_source(singles, ["maml", "maml-genres"], "maml", 5, "t").endswith(
        "Best on the French holdout: maml-genres."
    )


def test_no_notebook_or_report_chooses_a_condition_by_a_test_mean() -> None:
    """The pattern every test-set choice took: ``max(names, key=... ["mean"])``. Choices call best_on_holdout."""
    root = Path(__file__).resolve().parents[1]
    sources = [*root.glob("notebooks/*.py"), *root.glob("xlmeta_lab/teaching/reports/*.py")]
    choosing = re.compile(r"max\([^()]*key=lambda[^\n]*\[.mean.\]")
    offenders = [f"{p.name}: {m.group(0)}" for p in sources for m in choosing.finditer(p.read_text())]
    assert offenders == []


def test_a_holdout_choice_needs_a_budget() -> None:
    result = ProtocolResult([], [], {}, PROTOCOL)
    with pytest.raises(KeyError, match="no budget"):
        result.best_on_holdout(["maml"])


def test_the_zero_shot_sentence_carries_its_paired_interval(full: ProtocolResult, quick: ProtocolResult) -> None:
    text = zero_shot_sentence(full, "t")
    assert re.search(r"paired difference \+41\.0 \[\+\d+\.\d, \+\d+\.\d\] points", text)
    assert text.endswith("carries over before any French is seen.")
    rows = [{**r, "accuracy": r["accuracy"] + (0.4 if r["condition"] == "scratch" else 0.0)
             + (0.02 * (r["seed"] - 1) if r["condition"] == "joint" else 0.0)} for r in full.rows]  # fmt: skip
    close = ProtocolResult(rows, summarise(rows), full.budgets, PROTOCOL)
    assert close.get("joint", 0)["mean"] - close.get("scratch", 0)["mean"] > 0.005
    assert "the interval contains 0, so this run shows no transfer" in zero_shot_sentence(close, "t")
    assert "too few units" in zero_shot_sentence(quick, "t")


def test_summaries_correct_the_table_with_holm(full: ProtocolResult) -> None:
    rows = [r for r in full.summary if r["test_set"] == "t"]
    tested = [r for r in rows if not math.isnan(r["diff_p"])]
    assert len(tested) == 5 * len(KS) and all(r["holm_family"] == len(tested) for r in rows)
    assert [r["diff_p_holm"] for r in tested] == pytest.approx(holm([r["diff_p"] for r in tested]))


def test_an_interval_that_excludes_zero_alone_is_no_verdict_after_holm() -> None:
    row = {"condition": "maml", "baseline": "joint", "K": 5, "n": 15, "diff": 0.012, "diff_low": 0.001,
           "diff_high": 0.023, "diff_p": 0.04, "diff_p_holm": 0.32, "holm_family": 8}  # fmt: skip
    assert judged(row) == "marginal"
    assert verdict_of(row).endswith("cannot be told from joint after Holm's correction")
    text = describe_difference(row)
    assert "cannot be told apart" in text and "Holm-corrected p = 0.320 over 8 comparisons" in text
    assert judged({**row, "diff_p_holm": 0.01}) == "up"


def test_pairs_of_conditions_are_corrected_over_what_is_printed(full: ProtocolResult) -> None:
    text = paired_against(full, {"maml-genres": "maml"}, [5, 20], "t")
    assert len(text.splitlines()) == 2 and all("over 2 comparisons" in line or "contains 0" in line
                                               for line in text.splitlines())  # fmt: skip


def test_a_table_without_intervals_says_there_is_nothing_to_correct(quick: ProtocolResult) -> None:
    from xlmeta_lab.teaching.reports.wording import family_note

    assert family_note(quick, "t") == "(Too few units on t for any paired interval, so no verdict and nothing to correct.)"


def test_step_counts_read_as_english() -> None:
    assert steps_text(1) == "1 step"
    assert steps_text(25) == "25 steps"
    assert steps_text([1]) == "1 step"
    assert steps_text([1, 5, 10]) == "1, 5, 10 steps"
