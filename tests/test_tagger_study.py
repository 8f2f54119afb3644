"""The tagger study (conv against BiLSTM, shorter against longer meta-training): each run is kept at every
length on the way, exactly as a run of that length would end, a stopped study resumes without training again,
and its comparisons pair (seed, draw) units: recomputed here, unit by unit, from the rows."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from xlmeta_lab.experiments.studies import tagger_study as study
from xlmeta_lab.experiments.studies.udpos import ud_setup
from xlmeta_lab.experiments.training.loop import train
from xlmeta_lab.teaching.profiles import profile_settings


@pytest.fixture(scope="module")
def settings() -> dict:
    quick = profile_settings("03_en_es_to_fr", "quick")
    return {
        **quick,
        "steps": 4,
        "eval_every": 2,
        "n_draws": 2,
        "finetune_steps": [2],
        "word_dim": 8,
        "hidden": 16,
    }


def test_the_study_keeps_each_length_of_one_run_and_resumes_without_training(
    settings: dict, data_dir: Path, tmp_path: Path
) -> None:
    kwargs = dict(methods=("joint",), contexts=("conv", "lstm"), lengths=(2, 4), ks=(5,), data_dir=data_dir)
    first = study.tagger_study(settings, 0, [0], out_dir=tmp_path, **kwargs)
    names = {r["condition"] for r in first.result.rows}
    assert names == {"joint-conv-2", "joint-conv-4", "joint-lstm-2", "joint-lstm-4"}

    # the weights kept at 2 steps are those of a run that was only ever 2 steps long
    setup = ud_setup(settings, 0, data_dir)
    short = train(
        setup.training, replace(setup.train_config, method="joint", seed=0, steps=2), progress=False
    )
    kept = torch.load(tmp_path / "joint-conv-seed0" / "weights-step2.pt", weights_only=True)
    for name, value in short.model.state_dict().items():
        torch.testing.assert_close(kept[name], value, rtol=0, atol=0)

    # every comparison pairs the 2 draws of the one seed; lstm against conv at each length, 4 against 2 steps
    pairs = {(c["condition"], c["against"]) for c in first.comparisons}
    assert ("joint-lstm-4", "joint-conv-4") in pairs and ("joint-conv-4", "joint-conv-2") in pairs
    for comparison in first.comparisons:
        assert_paired_by_unit(comparison, first.result.rows)
    assert {c["context"] for c in first.cost} == {"conv", "lstm"}
    assert all(c["seconds_per_step"] > 0 for c in first.cost)
    assert next(c for c in first.cost if c["context"] == "lstm")["parameters"] != first.cost[0]["parameters"]

    again = study.tagger_study(settings, 0, [0], out_dir=tmp_path, **kwargs)
    assert again.result.rows == first.result.rows  # resumed from the kept weights: the same scores
    assert all(c["seconds_per_step"] != c["seconds_per_step"] for c in again.cost)  # nan: nothing trained


def assert_paired_by_unit(comparison: dict, rows: list[dict]) -> None:
    """The comparison is the mean of per-unit differences, each (seed, draw) against itself, with the t-interval
    of those differences (an unpaired interval, or units paired by position, gives other numbers)."""
    where = (comparison["K"], comparison["test_set"])

    def by_unit(name: str) -> dict[tuple[int, int], float]:
        mine = [r for r in rows if r["condition"] == name and (r["K"], r["test_set"]) == where]
        return {(r["seed"], r["draw"]): r["accuracy"] for r in mine}

    ours, theirs = by_unit(comparison["condition"]), by_unit(comparison["against"])
    assert sorted(ours) == sorted(theirs) == [(0, 0), (0, 1)]
    gaps = [100 * (ours[u] - theirs[u]) for u in sorted(ours)]
    half = 12.706204736174707 * statistics.stdev(gaps) / math.sqrt(2)  # t(0.975, 1 df)
    assert comparison["units"] == 2
    assert comparison["diff"] == pytest.approx(statistics.fmean(gaps), abs=1e-9)
    assert comparison["diff_high"] - comparison["diff"] == pytest.approx(half, abs=1e-9)
    assert comparison["diff"] - comparison["diff_low"] == pytest.approx(half, abs=1e-9)


def test_an_unknown_test_set_is_refused_with_the_known_ones(settings: dict, data_dir: Path) -> None:
    with pytest.raises(ValueError, match="fr_gsd-test"):
        study.tagger_study(settings, 0, [0], test_sets=("fr_nope",), data_dir=data_dir)


def test_the_command_writes_the_comparisons_and_their_provenance(data_dir: Path, tmp_path: Path) -> None:
    from xlmeta_lab.cli.main import main
    from xlmeta_lab.experiments.results import read_results

    argv = ["tagger-study", "--profile", "quick", "--seeds", "0", "--methods", "joint", "--contexts", "conv"]
    argv += ["--lengths", "2", "4", "--ks", "5", "--out", str(tmp_path), "--data-dir", str(data_dir)]
    assert main(argv) == 0
    saved = read_results(tmp_path / f"{study.STUDY}.json")
    assert saved["provenance"]["config"]["lengths"] == [2, 4] and saved["provenance"]["git"]
    assert [(c["condition"], c["against"]) for c in saved["comparisons"]] == [
        ("joint-conv-4", "joint-conv-2")
    ]
