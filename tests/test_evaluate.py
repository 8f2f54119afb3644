"""The few-shot protocol: statistics, the test set kept out of budget choice, results files, and a real effect."""

from __future__ import annotations

import copy
import csv
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import xlmeta_lab.experiments.protocol.run as protocol_module
from xlmeta_lab.data.roles import FewShotSplits, split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
from xlmeta_lab.experiments.protocol.results import summarise, write_protocol_results
from xlmeta_lab.experiments.protocol.run import choose_budget, run_protocol
from xlmeta_lab.experiments.protocol.stats import mean_ci, t_quantile_975
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions

TINY = TrainConfig(
    steps=40,
    meta_batch=4,
    support_size=5,
    query_size=8,
    max_len=14,
    max_word_len=8,
    eval_every=40,
    checkpoint_every=1000,
    word_dim=16,
    char_dim=8,
    char_channels=16,
    hidden=32,
)
PROTOCOL = ProtocolConfig(ks=(0, 5), n_draws=3, lrs=(0.1, 0.3), steps=(10, 30), max_word_len=8)


def test_t_quantiles_match_known_values() -> None:
    assert t_quantile_975(2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile_975(50) == pytest.approx(2.0086, abs=2e-3)
    assert t_quantile_975(1000) == pytest.approx(1.9623, abs=2e-3)
    import scipy.stats as scipy_stats  # a dev dependency: the t table is checked against it

    for df in (1, 7, 22, 35, 90, 250):
        assert t_quantile_975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=3e-3)


def test_mean_ci_and_paired_difference() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.half_width == pytest.approx(4.303 * 1.0 / math.sqrt(3), abs=1e-3)
    assert math.isnan(mean_ci([1.0]).low)
    rows = []
    for seed in (0, 1):
        for draw in (0, 1, 2):
            base = 0.5 + 0.1 * draw + 0.05 * seed  # the draws differ a lot; the conditions by a constant
            rows.append(dict(condition="joint", K=5, seed=seed, draw=draw, test_set="t", accuracy=base))
            rows.append(dict(condition="maml", K=5, seed=seed, draw=draw, test_set="t", accuracy=base + 0.02))
    summary = {r["condition"]: r for r in summarise(rows, "joint")}
    assert summary["maml"]["diff"] == pytest.approx(0.02)
    assert summary["maml"]["diff_high"] - summary["maml"]["diff_low"] == pytest.approx(0.0, abs=1e-12)
    assert summary["maml"]["ci_high"] - summary["maml"]["ci_low"] > 0.1  # unpaired spread is large
    assert math.isnan(summary["joint"]["diff"])


class _GuardedTests(list):
    """A test set that records every read, so we can see *when* the protocol looked at it."""

    def __init__(self, items: list) -> None:
        super().__init__(items)
        self.reads = 0

    def __iter__(self) -> Iterator:
        self.reads += 1
        return super().__iter__()

    def __len__(self) -> int:
        self.reads += 1
        return super().__len__()

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().__getitem__(i)


@pytest.fixture(scope="module")
def toy() -> dict:
    return make_toy_languages({"en": 200, "es": 200, "fr": 320}, seed=0, relatedness=0.9)


@pytest.fixture(scope="module")
def trained(toy: dict) -> TrainedConditions:
    return train_conditions({"en": toy["en"], "es": toy["es"]}, TINY, ["joint", "maml"], seeds=[0])


def test_budget_is_chosen_without_reading_the_test_set(
    toy: dict, trained: TrainedConditions, monkeypatch
) -> None:
    splits = split_target(toy["fr"], holdout=40, test=120, seed=0)
    guarded = _GuardedTests(splits.tests["test"])
    splits = FewShotSplits(splits.support_pool, splits.holdout, {"test": guarded})
    reads_at_choice: list[int] = []
    real_choose = choose_budget

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        reads_at_choice.append(guarded.reads)
        return real_choose(*args, **kwargs)

    monkeypatch.setattr(protocol_module, "choose_budget", spy)
    protocol = ProtocolConfig(ks=(1,), n_draws=2, lrs=(0.1,), steps=(2, 4), max_word_len=8)
    result = run_protocol(trained.conditions[:2], splits, trained.vocab, protocol)
    assert reads_at_choice == [0, 0]  # every budget chosen before the tests were touched
    assert guarded.reads > 0  # and the tests were then used for scoring
    # Another test set changes the scores, never the budgets.
    other = FewShotSplits(splits.support_pool, splits.holdout, {"test": list(reversed(toy["fr"][:50]))})
    assert run_protocol(trained.conditions[:2], other, trained.vocab, protocol).budgets == result.budgets


def test_maml_and_joint_beat_scratch_at_k5_with_related_languages(
    toy: dict, trained: TrainedConditions, tmp_path: Path
) -> None:
    splits = split_target(toy["fr"], holdout=40, test=120, seed=0, test_name="fr-test")
    result = run_protocol(trained.conditions, splits, trained.vocab, PROTOCOL)
    scratch = result.get("scratch", 5)["mean"]
    for name in ("joint", "maml"):
        gain = result.get(name, 5)["mean"] - scratch
        assert gain > 0.03, f"{name} beats scratch by only {gain:.3f} at K=5\n{result.table()}"
    assert result.get("scratch", 0)["mean"] < 0.3  # an untrained tagger is near chance without fine-tuning

    # The results files: provenance next to the numbers, one row per unit, CSVs with headers.
    paths = write_protocol_results(
        result, "toy-test", config={"train": TINY.to_dict()}, seeds=[0], out_dir=tmp_path
    )
    payload = json.loads(paths["json"].read_text())
    assert {"name", "provenance", "budgets", "summary", "rows"} <= payload.keys()
    prov = payload["provenance"]
    assert {"config", "seed", "versions", "git", "created", "schema_version"} <= prov.keys()
    assert prov["versions"]["torch"] and prov["config"]["protocol"]["ks"] == [0, 5]
    assert {"commit", "dirty"} <= prov["git"].keys()
    assert len(payload["rows"]) == 3 * (1 + 3)  # conditions x (K=0 once + K=5 per draw), one seed
    assert {"condition", "K", "seed", "draw", "test_set", "accuracy", "correct", "total"} <= payload["rows"][
        0
    ].keys()
    with paths["summary"].open() as f:
        header = next(csv.reader(f))
    assert header[:7] == ["condition", "K", "test_set", "mean", "ci_low", "ci_high", "n"]
    assert "diff_low" in header


def test_a_written_result_reads_back_with_its_missing_intervals_as_nan(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import math

    from xlmeta_lab.experiments.protocol.results import (
        Budget,
        ProtocolResult,
        summarise,
        write_protocol_results,
    )

    rows = [
        {"condition": c, "K": 5, "seed": 0, "draw": d, "test_set": "t", "accuracy": a}
        for c, accs in (("joint", (0.5, 0.6)), ("maml", (0.55, 0.7)))
        for d, a in enumerate(accs)
    ] + [{"condition": "maml", "K": 0, "seed": 0, "draw": 0, "test_set": "t", "accuracy": 0.3}]
    result = ProtocolResult(rows, summarise(rows), {"maml": Budget(0.1, 5, 0.6)}, ProtocolConfig(ks=(0, 5)))
    write_protocol_results(result, "r", config={"profile": "quick"}, seeds=[0], out_dir=tmp_path)
    back = ProtocolResult.read(tmp_path / "r.json")
    assert back.summary[0].keys() == result.summary[0].keys()
    assert back.get("maml", 5)["mean"] == result.get("maml", 5)["mean"]
    assert math.isnan(back.get("maml", 0)["ci_low"])  # one unit: no interval (null in JSON)
    assert back.budgets == result.budgets and back.protocol == result.protocol
    assert back.table("t") == result.table("t")
    assert back.provenance["config"]["profile"] == "quick"


class _PretendGPU:
    """A device-tracking fake: ``model.to("cuda")`` marks a model as on the pretend GPU and ``model.to(cpu)`` as
    back home (its weights stay on the CPU, so this runs anywhere); every forward pass records how many models
    were on the GPU at that moment, and whether the one running was among them."""

    def __init__(self) -> None:
        self.on_gpu: set[int] = set()
        self.most_on_gpu = 0
        self.forwards_off_gpu = 0
        self.forwards = 0

    def track(self, model: torch.nn.Module) -> None:
        forward = model.forward

        def to(device, *args, **kwargs):  # type: ignore[no-untyped-def]
            (self.on_gpu.add if torch.device(device).type == "cuda" else self.on_gpu.discard)(id(model))
            return model

        def tracked_forward(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.forwards += 1
            self.forwards_off_gpu += id(model) not in self.on_gpu
            self.most_on_gpu = max(self.most_on_gpu, len(self.on_gpu))
            return forward(*args, **kwargs)

        model.to, model.forward = to, tracked_forward


def test_the_protocol_holds_one_model_on_the_device_whatever_the_conditions_and_seeds(
    toy: dict, trained: TrainedConditions
) -> None:
    splits = split_target(toy["fr"], holdout=40, test=120, seed=0)
    protocol = ProtocolConfig(ks=(0, 1), n_draws=2, lrs=(0.1,), steps=(2,), max_word_len=8)
    gpu = _PretendGPU()
    conditions = []
    for (
        c
    ) in trained.conditions:  # three conditions, each with two seeds' models: six on the GPU at once before
        models = [copy.deepcopy(c.models[0]) for _ in range(2)]
        for model in models:
            gpu.track(model)
        conditions.append(replace(c, models=models, seeds=[0, 1], device="cuda"))
    result = run_protocol(conditions, splits, trained.vocab, protocol)
    assert gpu.forwards > 0 and gpu.forwards_off_gpu == 0  # every model ran on the device
    assert gpu.most_on_gpu == 1  # and only one was there at a time
    assert not gpu.on_gpu  # each went back home
    reference = run_protocol(trained.conditions, splits, trained.vocab, protocol)  # the models where they are
    assert [r for r in result.rows if r["seed"] == 0] == reference.rows


def test_a_stopped_protocol_resumes_from_its_cache_and_recomputes_what_changed(
    toy: dict, trained: TrainedConditions, tmp_path: Path, monkeypatch
) -> None:
    splits = split_target(toy["fr"], holdout=40, test=120, seed=0)
    protocol = ProtocolConfig(ks=(0, 1), n_draws=2, lrs=(0.1, 0.3), steps=(2, 4), max_word_len=8)
    uncached = run_protocol(trained.conditions, splits, trained.vocab, protocol)
    real_rows, calls = protocol_module._seed_rows, []

    def stopped_after_one(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0].name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is stopped while evaluating its second condition
        return real_rows(*args, **kwargs)

    monkeypatch.setattr(protocol_module, "_seed_rows", stopped_after_one)
    with pytest.raises(KeyboardInterrupt):
        run_protocol(trained.conditions, splits, trained.vocab, protocol, cache=tmp_path)

    calls.clear()
    monkeypatch.setattr(
        protocol_module, "_seed_rows", lambda *a, **k: calls.append(a[0].name) or real_rows(*a, **k)
    )
    monkeypatch.setattr(
        protocol_module, "choose_budget", lambda *a, **k: pytest.fail("a kept budget was redone")
    )
    resumed = run_protocol(trained.conditions, splits, trained.vocab, protocol, cache=tmp_path)
    # The finished condition was read back, not redone.
    assert calls == [c.name for c in trained.conditions[1:]]
    assert resumed.rows == uncached.rows
    # Budgets come back whole, with the grid they were chosen from.
    assert {n: b.to_record() for n, b in resumed.budgets.items()} == {
        n: b.to_record() for n, b in uncached.budgets.items()
    }
    assert all(len(b.grid) == 4 for b in resumed.budgets.values())

    # A changed model is another model: its budget and rows are computed afresh, the others read back.
    changed = copy.deepcopy(trained.conditions[1].models[0])
    with torch.no_grad():
        next(changed.parameters()).add_(0.5)
    conditions = [
        trained.conditions[0],
        replace(trained.conditions[1], models=[changed]),
        *trained.conditions[2:],
    ]
    chosen: list[str] = []
    monkeypatch.setattr(
        protocol_module,
        "choose_budget",
        lambda c, *a, **k: chosen.append(c.name) or choose_budget(c, *a, **k),
    )
    calls.clear()
    run_protocol(conditions, splits, trained.vocab, protocol, cache=tmp_path)
    assert chosen == calls == [trained.conditions[1].name]
    # Other test sentences leave the budgets but not the rows.
    other = FewShotSplits(splits.support_pool, splits.holdout, {"test": list(reversed(toy["fr"][:50]))})
    chosen.clear(), calls.clear()
    run_protocol(conditions, other, trained.vocab, protocol, cache=tmp_path)
    assert chosen == [] and calls == [c.name for c in conditions]


def test_the_weights_digest_reads_scalar_parameters_and_changes_with_any_weight() -> None:
    from xlmeta_lab.experiments.protocol.cache import weights_digest

    model = torch.nn.Linear(3, 2)
    model.register_parameter("inner_lr", torch.nn.Parameter(torch.tensor(0.1)))  # 0-dim, as a learned step size
    before = weights_digest(model)
    assert weights_digest(copy.deepcopy(model)) == before
    with torch.no_grad():
        model.inner_lr.add_(1e-6)
    assert weights_digest(model) != before


def test_savings_curves_resume_from_their_cache_and_recompute_a_changed_model(
    toy: dict, trained: TrainedConditions, tmp_path: Path, monkeypatch
) -> None:
    import xlmeta_lab.experiments.studies.savings as savings_module
    from xlmeta_lab.experiments.protocol.results import Budget

    splits = split_target(toy["fr"], holdout=40, test=120, seed=0)
    joint = trained.conditions[1]
    budgets = {joint.name: Budget(lr=0.1, steps=10, holdout_acc=0.0)}
    grid = {"ks": (1, 5), "steps": (0, 3, 6), "n_draws": 2, "draw_seed": 0}
    args = (budgets, splits.support_pool, splits.tests["test"], trained.encoder)
    uncached = savings_module.accuracy_curves([joint], *args, **grid)
    assert len(uncached) == 2 * 3 * 2  # K x steps x draws, one seed
    cached = savings_module.accuracy_curves([joint], *args, **grid, cache=tmp_path)
    assert cached == uncached and len(list(tmp_path.glob("savings-*.json"))) == 1

    monkeypatch.setattr(savings_module, "finetune_batch", lambda *a, **k: pytest.fail("kept curves were redone"))
    assert savings_module.accuracy_curves([joint], *args, **grid, cache=tmp_path) == uncached

    changed = copy.deepcopy(joint.models[0])
    with torch.no_grad():
        next(changed.parameters()).add_(0.5)
    with pytest.raises(pytest.fail.Exception, match="redone"):  # another model: its curves are computed afresh
        savings_module.accuracy_curves([replace(joint, models=[changed])], *args, **grid, cache=tmp_path)
    with pytest.raises(ValueError, match=r"no fine-tuning budget for \['scratch'\]"):
        savings_module.accuracy_curves([trained.conditions[0], joint], *args, **grid)
