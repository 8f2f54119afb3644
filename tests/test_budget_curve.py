"""The protocol along the adaptation budget: a rate per step count chosen on the holdout, rows that are the
protocol's own at the same budget, the seed's one step, one Holm family, a cache that resumes, and the sentences
that read it (best meta-learner on the holdout, never the test)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

import xlmeta_lab.experiments.protocol.budget_curve as curve_module
from xlmeta_lab.data.roles import split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
from xlmeta_lab.experiments.protocol.budget_curve import (
    HOLDOUT,
    SEED_STEP,
    CurveResult,
    CurveSettings,
    budget_curve,
    lrs_per_budget,
    read_curve,
    write_curve_results,
)
from xlmeta_lab.experiments.protocol.results import Budget
from xlmeta_lab.experiments.protocol.run import choose_budget, run_protocol
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.teaching.reports.regime import goal_lines, regime_sentence, steps_worth

TINY = TrainConfig(steps=30, meta_batch=4, support_size=5, query_size=8, max_len=14, max_word_len=8,
                   eval_every=30, checkpoint_every=1000, word_dim=16, char_dim=8, char_channels=16, hidden=32)  # fmt: skip
PROTOCOL = ProtocolConfig(ks=(0, 3), n_draws=2, lrs=(0.1,), steps=(4,), max_word_len=8, budget_draws=2)
SETTINGS = CurveSettings(steps=(0, 1, 3), lrs=(0.03, 0.3), ks=(3,), seed_lr=0.1)


@pytest.fixture(scope="module")
def toy() -> dict:
    return make_toy_languages({"en": 150, "es": 150, "fr": 260}, seed=0, relatedness=0.9)


@pytest.fixture(scope="module")
def trained(toy: dict) -> TrainedConditions:
    return train_conditions({"en": toy["en"], "es": toy["es"]}, TINY, ["joint", "maml"], seeds=[0, 1])


@pytest.fixture(scope="module")
def splits(toy: dict):  # type: ignore[no-untyped-def]
    return split_target(toy["fr"], holdout=40, test=100, seed=0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return tmp_path_factory.mktemp("curve-cache")


@pytest.fixture(scope="module")
def curve(trained: TrainedConditions, splits, cache) -> CurveResult:  # type: ignore[no-untyped-def]
    return budget_curve(trained.conditions, splits, trained.vocab, PROTOCOL, SETTINGS, cache=cache)


def test_each_step_count_gets_the_rate_a_one_budget_grid_would_choose_on_the_holdout(
    trained: TrainedConditions, splits, curve: CurveResult
) -> None:  # type: ignore[no-untyped-def]
    maml = trained.conditions[2]
    for steps in SETTINGS.steps:
        alone = replace(PROTOCOL, lrs=SETTINGS.lrs, steps=(steps,), budget_ks=SETTINGS.ks)
        expected = choose_budget(maml, splits.support_pool, splits.holdout, trained.encoder, alone)
        assert curve.lrs["maml"][steps].lr == expected.lr
        assert curve.lrs["maml"][steps].holdout_acc == pytest.approx(expected.holdout_acc, abs=1e-12)
    # a condition whose rates were chosen elsewhere is not re-chosen from the test set: the test is never given
    again = lrs_per_budget(maml, replace(splits, tests={}), trained.encoder, PROTOCOL, SETTINGS)
    assert {s: b.lr for s, b in again.items()} == {s: b.lr for s, b in curve.lrs["maml"].items()}


def test_curve_rows_are_the_protocols_rows_at_the_same_budget_and_the_seed_step_is_one_step_at_the_inner_rate(
    trained: TrainedConditions, splits, curve: CurveResult
) -> None:  # type: ignore[no-untyped-def]
    for condition in trained.conditions[1:]:  # joint and maml (scratch takes the same path)
        for steps, rule, lr in [
            (3, HOLDOUT, curve.lrs[condition.name][3].lr),
            (1, SEED_STEP, SETTINGS.seed_lr),
        ]:
            fixed = replace(PROTOCOL, ks=SETTINGS.ks, lrs=(lr,), steps=(steps,))
            protocol_rows = run_protocol([condition], splits, trained.vocab, fixed).rows
            mine = [r for r in curve.rows if r["condition"] == condition.name and r["steps"] == steps
                    and r["rule"] == rule]  # fmt: skip
            key = ("seed", "draw", "K", "test_set")
            assert sorted((tuple(r[k] for k in key), r["correct"], r["total"]) for r in mine) == sorted(
                (tuple(r[k] for k in key), r["correct"], r["total"]) for r in protocol_rows
            ), (condition.name, steps, rule)


def test_differences_pair_with_joint_at_the_same_budget_under_one_holm_family(curve: CurveResult) -> None:
    rows = [r for r in curve.summary if r["test_set"] == "test"]
    budgets = len(SETTINGS.steps) + 1  # and the seed step
    assert len(rows) == 3 * budgets  # scratch, joint, maml
    tested = [r for r in rows if not math.isnan(r["diff_p"])]
    assert len(tested) == 2 * budgets and {r["holm_family"] for r in rows} == {len(tested)}
    units = {(r["condition"], r["steps"], r["rule"]): {(u["seed"], u["draw"]): u["accuracy"] for u in curve.rows
             if (u["condition"], u["steps"], u["rule"], u["test_set"]) == (r["condition"], r["steps"], r["rule"],
             "test")} for r in rows}  # fmt: skip
    row = curve.get("maml", 3, 1, "test", SEED_STEP)
    gaps = [
        units[("maml", 1, SEED_STEP)][u] - units[("joint", 1, SEED_STEP)][u]
        for u in units[("maml", 1, SEED_STEP)]
    ]
    assert row["diff"] == pytest.approx(sum(gaps) / len(gaps), abs=1e-12)


def test_a_curve_resumes_from_its_cache_and_reads_back_from_its_file(
    trained: TrainedConditions, splits, curve: CurveResult, cache, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(curve_module, "_rows_unit", lambda *a: pytest.fail("a kept unit was recomputed"))
    monkeypatch.setattr(curve_module, "_lrs_unit", lambda *a: pytest.fail("kept rates were re-chosen"))
    again = budget_curve(trained.conditions, splits, trained.vocab, PROTOCOL, SETTINGS, cache=cache)
    assert again.rows == curve.rows and again.lrs.keys() == curve.lrs.keys()
    with pytest.raises(pytest.fail.Exception, match="recomputed"):  # another test set: the rows are redone
        budget_curve(trained.conditions, replace(splits, tests={"other": splits.holdout}), trained.vocab,
                     PROTOCOL, SETTINGS, cache=cache)  # fmt: skip
    paths = write_curve_results(curve, "curve", config={"profile": "test"}, seeds=[0, 1], out_dir=tmp_path)
    back = read_curve(paths["json"])
    assert back.rows == curve.rows and back.settings == SETTINGS
    assert {n: {s: b.lr for s, b in per.items()} for n, per in back.lrs.items()} == {
        n: {s: b.lr for s, b in per.items()} for n, per in curve.lrs.items()
    }


def _point(name: str, steps: int, mean: float, diff: float, low: float, p_holm: float) -> dict:
    return {"condition": name, "K": 5, "test_set": "t", "steps": steps, "rule": HOLDOUT, "mean": mean,
            "ci_low": mean - 0.01, "ci_high": mean + 0.01, "n": 25, "baseline": "joint", "diff": diff,
            "diff_low": low, "diff_high": 2 * diff - low, "diff_p": p_holm, "diff_p_holm": p_holm,
            "holm_family": 12}  # fmt: skip


def _synthetic() -> CurveResult:
    """joint climbs slowly; maml is ahead after 1 to 5 steps and caught at 25; fomaml is better on the *test*
    after 5 steps but worse on the holdout, so no sentence may name it there."""
    joint = {1: 0.60, 5: 0.64, 25: 0.70, 50: 0.71}
    maml = {1: 0.66, 5: 0.69, 25: 0.705, 50: 0.712}
    nan = math.nan
    summary = [{**_point("joint", s, m, nan, nan, nan)} for s, m in joint.items()]
    summary += [_point("maml", s, m, m - joint[s], m - joint[s] - 0.01 if s < 25 else -0.01,
                       0.001 if s < 25 else 0.5) for s, m in maml.items()]  # fmt: skip
    summary += [_point("fomaml", 5, 0.75, 0.11, 0.09, 0.001)]
    holdout = {"maml": {s: 0.7 for s in joint}, "fomaml": {5: 0.6}}
    lrs = {n: {s: Budget(0.1, s, acc) for s, acc in per.items()} for n, per in holdout.items()}
    lrs["joint"] = {s: Budget(0.1, s, 0.6) for s in joint}
    return CurveResult([], summary, lrs, CurveSettings(steps=(1, 5, 25, 50), ks=(5,)), PROTOCOL)


def test_the_regime_sentence_reads_holm_verdicts_of_the_best_meta_learner_on_the_holdout() -> None:
    curve = _synthetic()
    text = regime_sentence(curve, ["maml", "fomaml"], 5, "t")
    assert "ahead of joint after 1, 5 steps by its own 95% interval" in text and "fomaml" not in text
    assert "after Holm's correction over the curve's 12 comparisons, after 1, 5 steps" in text
    assert "+6.0 [+5.0, +7.0] points after 1 step (maml, 66.0%, a level joint reaches after 25 steps)" in text
    assert "From 25 steps on the two cannot be told apart" in text
    assert steps_worth(curve, "maml", "joint", 5, "t") == {1: 25, 5: 25, 25: 50, 50: None}
    goal = goal_lines(curve, ["maml", "fomaml"], "t", {5: 3.0}, max_steps=10)
    assert goal.startswith("K=5, target +3 points within 10 steps: met;") and "Holm at 1, 5)" in goal
    assert "missed" in goal_lines(curve, ["maml", "fomaml"], "t", {5: 7.0}, max_steps=10)


def test_the_far_end_line_reads_the_protocols_own_budget_for_the_best_meta_learner_on_the_holdout() -> None:
    """The committed 03 run: MAML is best on the holdout (76.9%); its 400-step rows, with their Holm verdicts."""
    from xlmeta_lab.experiments.protocol.results import ProtocolResult
    from xlmeta_lab.teaching.notebook import reference_dir
    from xlmeta_lab.teaching.reports.regime import far_end_line

    reference = ProtocolResult.read(reference_dir() / "03_en_es_to_fr-full.json")
    line = far_end_line(reference, ["fomaml", "reptile", "maml"], [5, 20], "fr_gsd-test")
    assert line.startswith("after the protocol's own budget (400 steps at lr 0.1, chosen on the holdout), maml:")
    assert "K=5 +1.0 [+0.4, +1.5] vs joint: cannot be told from joint after Holm's correction" in line
    assert "K=1 " not in line and "K=20 +0.4" in line


def test_a_curve_scores_only_the_test_sets_it_names_and_refuses_one_it_does_not_have(
    trained: TrainedConditions, splits, curve: CurveResult, cache
) -> None:  # type: ignore[no-untyped-def]
    two = replace(splits, tests={"test": splits.tests["test"], "other": splits.holdout})
    only = budget_curve(trained.conditions, two, trained.vocab, PROTOCOL, replace(SETTINGS, test_sets=("test",)),
                        cache=cache)  # fmt: skip
    assert {r["test_set"] for r in only.rows} == {"test"} and only.rows == curve.rows  # read back from the cache
    with pytest.raises(ValueError, match=r"curve test sets \['fr-pud'\] are not among"):
        budget_curve(trained.conditions, two, trained.vocab, PROTOCOL, replace(SETTINGS, test_sets=("fr-pud",)))
