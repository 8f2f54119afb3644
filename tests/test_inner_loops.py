"""Inner loops matched to the budget: variants that name what they train, runs that reuse the curve's checkpoints
for the standard inner loop, a meta-step probe that is the training's own step, learned rates read back from the
checkpoints, and readings that pair a variant with its one-step training."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from xlmeta_lab.data.roles import split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.bench.meta_step import StepCost, format_costs
from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
from xlmeta_lab.experiments.protocol.budget_curve import (
    HOLDOUT,
    CurveResult,
    CurveSettings,
    budget_curve,
    read_curve,
    write_curve_results,
)
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.experiments.studies.inner_loops import (
    Variant,
    condition_of,
    learned_rate_means,
    train_variants,
    variant_folder,
    variants,
)
from xlmeta_lab.experiments.training.checkpoints import CHECKPOINT_NAME
from xlmeta_lab.experiments.training.loop import step_probe, train
from xlmeta_lab.teaching.notebook import reference_dir
from xlmeta_lab.teaching.reports.inner_loops import (
    STRETCH,
    against_one_step,
    inner_loops_report,
    longer_loops_line,
    stretch_verdict,
    variant_table,
    widening_lines,
)

TINY = TrainConfig(steps=10, meta_batch=4, support_size=5, query_size=8, max_len=14, max_word_len=8,
                   eval_every=10, checkpoint_every=1000, word_dim=16, char_dim=8, char_channels=16, hidden=32)  # fmt: skip
PROTOCOL = ProtocolConfig(ks=(0, 3), n_draws=2, lrs=(0.1,), steps=(4,), max_word_len=8, budget_draws=2)
SCORING = CurveSettings(steps=(1, 3), lrs=(0.03, 0.3), ks=(3,), seed_lr=None)
#: first order keeps the test cheap; the variants differ as the study's do (inner steps, learned rates)
CHOSEN = [Variant("fomaml", 1), Variant("fomaml", 2), Variant("fomaml", 1, learned_rates=True)]


@pytest.fixture(scope="module")
def toy() -> dict:
    return make_toy_languages({"en": 80, "es": 80, "fr": 140}, seed=0, relatedness=0.9)


@pytest.fixture(scope="module")
def training(toy: dict) -> dict:
    return {"en": toy["en"], "es": toy["es"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inner-loops")


@pytest.fixture(scope="module")
def trained(training: dict, folder: Path) -> TrainedConditions:
    return train_variants(training, TINY, CHOSEN, [0], checkpoints=folder)


@pytest.fixture(scope="module")
def curve(trained: TrainedConditions, toy: dict) -> CurveResult:
    splits = split_target(toy["fr"], holdout=30, test=50, seed=0)
    return budget_curve(trained.conditions, splits, trained.vocab, PROTOCOL, SCORING)


def test_variants_name_what_they_train_and_refuse_what_cannot_be_trained() -> None:
    assert [v.name for v in variants(["maml", "reptile"], [1, 3], [5])] == [
        "maml-1", "maml-3", "reptile-1", "reptile-3", "maml-5-sgd"
    ]  # fmt: skip
    config = Variant("fomaml", 3, learned_rates=True).config(TINY)
    assert (config.method, config.inner_steps, config.learn_inner_lr) == ("fomaml", 3, True)
    with pytest.raises(ValueError, match="cannot learn rates"):
        Variant("reptile", 1, learned_rates=True)
    with pytest.raises(ValueError, match="inner loop"):
        Variant("protonet", 1)
    with pytest.raises(ValueError, match="inner loop"):
        Variant("joint", 1)
    with pytest.raises(ValueError, match="at least one inner step"):
        Variant("maml", 0)


def test_the_standard_inner_loop_is_the_notebooks_own_run_and_the_others_train_beside(
    trained: TrainedConditions, training: dict, folder: Path
) -> None:
    assert [c.name for c in trained.conditions] == ["joint", "fomaml-1", "fomaml-2", "fomaml-1-sgd"]
    assert variant_folder(folder, CHOSEN[0], TINY) == folder  # the curve's maml-seedN runs
    assert variant_folder(folder, CHOSEN[1], TINY) == folder / "inner" / "fomaml-2"
    # loaded from the notebook's folder: the same weights a plain train_conditions(["fomaml"]) there gives
    plain = train_conditions(training, TINY, ["fomaml"], [0], scratch=False, out_dir=folder).conditions[0]
    for mine, theirs in zip(condition_of(trained, "fomaml-1").models, plain.models, strict=True):
        assert all(
            torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values())
        )
    saved = torch.load(folder / "inner" / "fomaml-2" / "fomaml-seed0" / CHECKPOINT_NAME, weights_only=False)
    assert saved["train_config"]["inner_steps"] == 2 and saved["train_config"]["method"] == "fomaml"
    with pytest.raises(KeyError, match="no condition 'anil-1'"):
        condition_of(trained, "anil-1")


def test_learned_rates_are_read_from_the_checkpoints_and_moved(trained: TrainedConditions, folder: Path) -> None:
    # `trained` writes the checkpoints read here: without it the test passed only after another test had trained
    rows = learned_rate_means(folder, CHOSEN[2], TINY, [0])
    assert [(r["seed"], r["inner_step"]) for r in rows] == [(0, 1)]
    assert all(r["start"] == TINY.inner_lr and math.isfinite(r["mean_rate"]) for r in rows)
    assert abs(rows[0]["mean_rate"] - TINY.inner_lr) > 1e-6  # meta-training moved them
    with pytest.raises(ValueError, match="no learned rates"):
        learned_rate_means(folder, CHOSEN[1], TINY, [0])


def test_the_step_probe_takes_the_training_loops_own_first_step(training: dict) -> None:
    config = CHOSEN[1].config(TINY)
    first = train(training, config, progress=False, stop_after=1).history[0]["loss"]
    assert step_probe(training, config)() == pytest.approx(first, rel=1e-6)


def test_costs_are_read_as_ratios_to_the_reference_row() -> None:
    rows = [StepCost("maml-1", 0.5, 10.0), StepCost("maml-5", 2.0, 35.0), StepCost("reptile-5", 1.0, None)]
    table = format_costs(rows, "maml-1").splitlines()
    assert table[1].split()[-2:] == ["10.0", "1.00"] and table[2].split()[2] == "4.00"
    assert table[2].split()[-1] == "3.50" and table[3].split()[-2:] == ["n/a", "n/a"]
    with pytest.raises(KeyError, match="anil-1"):
        format_costs(rows, "anil-1")


def test_a_variant_is_paired_with_its_one_step_training_at_the_same_budget(curve: CurveResult) -> None:
    test_set = curve.rows[0]["test_set"]
    paired = against_one_step(curve, test_set, 3)
    assert set(paired) == {"fomaml"}
    for row in paired["fomaml"]:
        assert row["baseline"] == "fomaml-1" and row["rule"] == HOLDOUT

        def mean(name: str, row: dict = row) -> float:
            units = [r["accuracy"] for r in curve.rows if r["condition"] == name and r["steps"] == row["steps"]
                     and r["test_set"] == test_set and r["K"] == 3]  # fmt: skip
            return sum(units) / len(units)

        assert row["diff"] == pytest.approx(mean(row["condition"]) - mean("fomaml-1"))


def test_the_readings_name_every_variant_and_choose_on_the_holdout(curve: CurveResult) -> None:
    test_set = curve.rows[0]["test_set"]
    table = variant_table(curve, test_set, 3)
    assert all(name in table for name in ("joint", "fomaml-1", "fomaml-2", "fomaml-1-sgd"))
    lines = widening_lines(curve, test_set, 3).splitlines()
    for steps, line in zip(SCORING.steps, lines, strict=False):
        best = max(["fomaml-1", "fomaml-2", "fomaml-1-sgd"], key=lambda n: curve.lrs[n][steps].holdout_acc)
        assert line.startswith(f"K=3, after {steps} step{'s' if steps != 1 else ''}: best on the holdout {best},")
    paired = next(line for line in lines if line.startswith("  fomaml-2 - fomaml-1"))
    assert paired.index(" 1: ") < paired.index("; 3: ")  # budgets in order
    assert not any(line.startswith("stretch") for line in lines)  # 25 steps not scored here


def test_the_report_reads_a_written_reference_with_its_costs_and_rates(
    curve: CurveResult, tmp_path: Path
) -> None:
    costs = [StepCost("joint", 0.2, 20.0), StepCost("fomaml-2", 0.5, 30.0)]
    rates = [{"variant": "fomaml-1-sgd", "seed": 0, "inner_step": 1, "mean_rate": 0.125, "start": 0.1}]
    paths = write_curve_results(
        curve,
        "inner-loops",
        config={"variants": [v.name for v in CHOSEN], "step_costs_measured_with": "a test meter"},
        seeds=[0],
        out_dir=tmp_path,
        tables={"step_costs": [asdict(c) for c in costs], "learned_rates": rates},
    )
    report = inner_loops_report(paths["json"])
    assert report.startswith("1 training seed(s) x 2 draws")
    assert variant_table(curve, curve.rows[0]["test_set"], 3) in report
    assert "fomaml-2 0.500 2.50 30.0 1.50" in " ".join(report.split())  # seconds, x joint, MiB, x joint
    assert report.endswith("fomaml-1-sgd (from 0.1): step 1 0.125")


#: the committed study (notebook 03's full profile): real rows with intervals, which the toy run above is too small for
COMMITTED = reference_dir() / "03_en_es_to_fr-full-inner-loops.json"


def test_the_stretch_goal_needs_the_holdouts_best_variant_to_lead_by_its_target_after_holm() -> None:
    curve = read_curve(COMMITTED)
    test_set, k = curve.rows[0]["test_set"], curve.settings.ks[0]
    target, at = STRETCH
    verdict, best, row = stretch_verdict(curve, test_set, k)
    assert best == max((n for n in curve.lrs if n != "joint"), key=lambda n: curve.lrs[n][at].holdout_acc)
    lead = target / 100 + 0.01
    row.update(diff=lead, diff_low=lead - 0.01, diff_high=lead + 0.01, diff_p_holm=0.001)  # the curve's own row
    assert stretch_verdict(curve, test_set, k)[0] == "met"
    row.update(diff_p_holm=0.2)  # its own interval excludes 0, the correction does not keep it
    assert stretch_verdict(curve, test_set, k)[0] == "met by its own interval only"
    row.update(diff=target / 100 - 0.005, diff_low=0.005, diff_p_holm=0.001)  # significant, but short of the target
    assert stretch_verdict(curve, test_set, k)[0] == "missed"
    curve.summary = [r for r in curve.summary if r["steps"] != at]
    assert stretch_verdict(curve, test_set, k) is None  # no budget of the stretch's steps, no verdict


def test_longer_loops_are_re_paired_from_the_units_so_a_real_gain_is_named() -> None:
    curve = read_curve(COMMITTED)
    test_set, k = curve.rows[0]["test_set"], curve.settings.ks[-1]
    before = longer_loops_line(curve, test_set, k)
    assert "maml-5 better than maml-1 after 25 steps" not in before
    for row in curve.rows:  # five points more for every unit of maml-5 after 25 steps: a gain no interval can miss
        if (row["condition"], row["K"], row["steps"], row["test_set"]) == ("maml-5", k, 25, test_set):
            row["accuracy"] += 0.05
    assert "maml-5 better than maml-1 after 25 steps (+" in longer_loops_line(curve, test_set, k)
