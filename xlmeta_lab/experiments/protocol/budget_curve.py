"""The few-shot protocol along the adaptation budget: how good is each initialisation after 0, 1, 2, 5, ... steps?

The protocol (:mod:`~xlmeta_lab.experiments.protocol.run`) gives every condition the one budget the French holdout
prefers, and on real data that is the most steps of its grid: it judges initialisations after *slow* adaptation,
where a good start matters least. Meta-learning is bought for *fast* adaptation, so here each step count is a
budget of its own:

1. for every condition and every step count of ``steps``, the learning rate is chosen on the French *holdout*
   from ``lrs`` (:func:`lrs_per_budget`): a one-step budget wants a larger step than a 400-step one, and a
   comparison that gave joint the many-step rate at one step would be unfair to it. Steps 0 is no fine-tuning;
2. each (condition, seed) is fine-tuned on the protocol's own paired draws at K in ``ks``, once per distinct chosen
   rate, recording the weights at the step counts that chose it, and scored on every test set;
3. the *seed step* (``seed_lr``): one step at the rate the meta-learners were trained with, untuned, the
   adaptation MAML's objective scores (theta* = theta - alpha grad L) and the one the seed's section 4.3 writes.

Rows are the protocol's (:func:`~xlmeta_lab.experiments.protocol.results.score_row`) with ``rule`` added
(``"holdout"`` or ``"seed step"``); :func:`summarise_curve` gives means and crossed intervals per (condition, K,
test set, steps, rule) with the paired difference to the baseline at the same budget, Holm-corrected over the
whole curve's table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xlmeta_lab.data.roles import FewShotSplits
from xlmeta_lab.episodes.encoders import SentenceEncoder, as_encoder, encode_buckets
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.finetune import fine_tuning_sets, finetune_batch, require_finite
from xlmeta_lab.experiments.adaptation.scoring import accuracy_per_draw, scoring_sets
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.cache import ProtocolCache, part_key, splits_digests, weights_digest
from xlmeta_lab.experiments.protocol.results import (
    Budget,
    ProtocolResult,
    best_budget,
    score_row,
    summarise,
    write_protocol_results,
)
from xlmeta_lab.experiments.protocol.run import (
    Condition,
    budget_models,
    choose_budget,
    one_seed,
    protocol_draws,
    stack_draws,
)
from xlmeta_lab.experiments.results import read_results
from xlmeta_lab.experiments.workers import run_units, worker_count

HOLDOUT = "holdout"
SEED_STEP = "seed step"


@dataclass(frozen=True)
class CurveSettings:
    """The step budgets, the rates each may choose from, the Ks, the seed step's rate (``None``: no seed step), and
    the test sets scored (``()``: every test set of the splits; scoring is most of a curve's cost)."""

    steps: tuple[int, ...] = (0, 1, 2, 5, 10, 25, 50)
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    ks: tuple[int, ...] = (1, 5, 20)
    seed_lr: float | None = 0.1
    test_sets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.steps or min(self.steps) < 0 or not self.ks or min(self.ks) < 1:
            raise ValueError(
                f"a budget curve needs step counts >= 0 and Ks >= 1, got steps={self.steps} ks={self.ks}"
            )

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CurveSettings:
        """From a profile's ``curve`` settings (lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})

    def to_dict(self) -> dict[str, Any]:
        record = {
            "steps": list(self.steps),
            "lrs": list(self.lrs),
            "ks": list(self.ks),
            "seed_lr": self.seed_lr,
        }
        return {**record, "test_sets": list(self.test_sets)} if self.test_sets else record


def lrs_per_budget(
    condition: Condition,
    splits: FewShotSplits,
    encoder: SentenceEncoder,
    protocol: ProtocolConfig,
    settings: CurveSettings,
) -> dict[int, Budget]:
    """For each step count, the rate of ``settings.lrs`` with the best mean French *holdout* accuracy (the
    protocol's budget draws and models, at ``settings.ks``); ties go to the smaller rate.

    One trajectory per rate serves every step count (:func:`choose_budget` records them all), so choosing a rate
    per budget costs what choosing one budget does. The test sets are not given.
    """
    grid = replace(protocol, lrs=settings.lrs, steps=settings.steps, budget_ks=settings.ks)
    scores = choose_budget(condition, splits.support_pool, splits.holdout, encoder, grid).grid
    budgets = {}
    for steps in settings.steps:
        candidates = {key: values for key, values in scores.items() if key[1] == steps}
        if not candidates:  # every rate diverged at this step count (choose_budget warned)
            continue
        lr, _ = best_budget(candidates)
        budgets[steps] = Budget(
            lr, steps, sum(candidates[(lr, steps)]) / len(candidates[(lr, steps)]), candidates
        )
    return budgets


@dataclass(frozen=True)
class _Shared:
    splits: FewShotSplits
    encoder: SentenceEncoder
    protocol: ProtocolConfig
    settings: CurveSettings
    tests: Mapping[str, Any] | None = None


@dataclass
class CurveResult:
    """Rows along the budget, their summary, and each condition's rate per step count (chosen on the holdout)."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    lrs: dict[str, dict[int, Budget]]
    settings: CurveSettings
    protocol: ProtocolConfig
    provenance: dict[str, Any] | None = None

    def get(self, condition: str, k: int, steps: int, test_set: str, rule: str = HOLDOUT) -> dict[str, Any]:
        """The summary row of one condition at one K and step budget."""
        for row in self.summary:
            if (row["condition"], row["K"], row["steps"], row["test_set"], row["rule"]) == (
                condition, k, steps, test_set, rule
            ):  # fmt: skip
                return row
        raise KeyError(f"no curve point for {condition!r}, K={k}, steps={steps}, {test_set!r}, rule {rule!r}")

    def as_protocol_result(self) -> ProtocolResult:
        """The rows as a :class:`ProtocolResult` for the results writer (budgets: each condition's longest)."""
        budgets = {name: per[max(per)] for name, per in self.lrs.items() if per}
        return ProtocolResult(self.rows, self.summary, budgets, self.protocol)


def summarise_curve(
    rows: Sequence[Mapping[str, Any]], baseline: str | None = "joint"
) -> list[dict[str, Any]]:
    """:func:`~xlmeta_lab.experiments.protocol.results.summarise` per step budget and rule: paired with the
    baseline at the same budget, one Holm family per test set over the whole curve."""
    return summarise(rows, baseline, by=("steps", "rule"))


def budget_curve(
    conditions: Sequence[Condition],
    splits: FewShotSplits,
    encoder: SentenceEncoder | Vocab,
    protocol: ProtocolConfig,
    settings: CurveSettings = CurveSettings(),
    *,
    cache: str | Path | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> CurveResult:
    """Every condition along the step budget (see the module doc). ``cache`` and ``workers`` as in
    :func:`~xlmeta_lab.experiments.protocol.run.run_protocol`: rates per condition, then rows per (condition,
    seed), kept as each is done, computed on ``workers`` processes with the result one process gives."""
    encoder = as_encoder(encoder, protocol.max_word_len)
    workers = worker_count(workers)
    if settings.test_sets:
        unknown = sorted(set(settings.test_sets) - set(splits.tests))
        if unknown:
            raise ValueError(
                f"curve test sets {unknown} are not among the splits' tests {sorted(splits.tests)}"
            )
        splits = replace(splits, tests={n: splits.tests[n] for n in settings.test_sets})
    store = ProtocolCache(cache) if cache is not None else None
    digests = splits_digests(splits) if store is not None else {}
    scoring = replace(settings, test_sets=())  # which tests are scored is in the rows' "tests" digest
    common = {"protocol": protocol.to_dict(), "curve": scoring.to_dict(), "pool": digests.get("support_pool")}
    # rates are chosen on the holdout and never see a test set; rows are scored on the tests with those rates
    chosen_on, scored_on = {"holdout": digests.get("holdout")}, {"tests": digests.get("tests")}

    def key(kind: str, condition: Condition, **more: Any) -> str:
        return part_key(kind=kind, condition=condition.name, adapt=condition.adapt, head=condition.head,
                        steps_allowed=condition.steps, **common, **more)  # fmt: skip

    lrs: dict[str, dict[int, Budget]] = {}
    todo = []
    lrs_keys = {}  # the rates depend on the models they are chosen with (hashed once here), never the tests
    for c in conditions:
        chosen_with = [weights_digest(m) for m in budget_models(c, protocol).models] if store else []
        lrs_keys[c.name] = key("lrs", c, weights=chosen_with, **chosen_on)
        kept = store.load("curve-lrs", lrs_keys[c.name]) if store else None
        if kept is None:
            todo.append(c)
        else:
            lrs[c.name] = {int(s): Budget.from_record(b) for s, b in kept.items()}
    shared = _Shared(splits, encoder, protocol, settings)
    for i, chosen in run_units(_lrs_unit, [budget_models(c, protocol) for c in todo], shared, workers):
        lrs[todo[i].name] = chosen
        if store:
            record = {str(s): b.to_record() for s, b in chosen.items()}
            store.save("curve-lrs", lrs_keys[todo[i].name], record, {"condition": todo[i].name})
    if progress is not None:
        for c in conditions:
            progress(
                f"{c.name}: lr per step budget " + ", ".join(f"{s}:{b.lr}" for s, b in lrs[c.name].items())
            )
    units = [(c, i) for c in conditions for i in range(len(c.seeds))]
    rows_of: dict[tuple[str, int], list[dict[str, Any]]] = {}
    missing = []
    for c, i in units:
        unit_key = key("rows", c, seed=c.seeds[i], weights=weights_digest(c.models[i]),
                       lrs={s: b.lr for s, b in lrs[c.name].items()}, **scored_on)  # fmt: skip
        kept = store.load("curve-rows", unit_key) if store else None
        if kept is None:
            missing.append((c, i, unit_key))
        else:
            rows_of[(c.name, i)] = kept
    tests = {name: encode_buckets(s, encoder) for name, s in splits.tests.items()}
    shared = replace(shared, tests=tests)
    work = [(one_seed(c, i), lrs[c.name]) for c, i, _ in missing]
    for j, rows in run_units(_rows_unit, work, shared, workers):
        c, i, unit_key = missing[j]
        rows_of[(c.name, i)] = rows
        if store:
            store.save("curve-rows", unit_key, rows, {"condition": c.name, "seed": c.seeds[i]})
        if progress is not None:
            progress(f"curve: {c.name} seed {c.seeds[i]}")
    rows = [r for c, i in units for r in rows_of[(c.name, i)]]
    return CurveResult(rows, summarise_curve(rows, protocol.baseline), lrs, settings, protocol)


def _lrs_unit(shared: _Shared, condition: Condition) -> dict[int, Budget]:
    return lrs_per_budget(condition, shared.splits, shared.encoder, shared.protocol, shared.settings)


def _rows_unit(shared: _Shared, unit: tuple[Condition, dict[int, Budget]]) -> list[dict[str, Any]]:
    """One (condition, seed)'s rows: per K, one trajectory per distinct rate, read at the step counts that chose
    it (and the seed step's rate at one step)."""
    condition, budgets = unit
    settings, protocol = shared.settings, shared.protocol
    plan: dict[float, list[tuple[int, str]]] = defaultdict(list)
    for steps, budget in budgets.items():
        plan[budget.lr].append((steps, HOLDOUT))
    if settings.seed_lr is not None:
        plan[settings.seed_lr].append((1, SEED_STEP))
    seed = condition.seeds[0]
    rows: list[dict[str, Any]] = []
    with condition.model_on_device(0) as model:
        tests = {name: scoring_sets(model, data) for name, data in shared.tests.items()}
        for k in settings.ks:
            draws = protocol_draws(
                shared.splits.support_pool, k, protocol.n_draws, protocol.draw_seed, protocol
            )
            supports = stack_draws(draws, shared.encoder)
            sets = fine_tuning_sets(draws, shared.encoder, model, condition.head, supports)
            for lr, points in plan.items():
                record = tuple(sorted({s for s, _ in points}))
                trajectory = finetune_batch(
                    model, sets, lr=lr, record=record, adapt=condition.adapt, head=condition.head
                )
                for steps, rule in points:
                    weights = trajectory[steps]
                    require_finite(
                        model, weights, supports, lr=lr, steps=steps, what=f"{condition.name}, K={k}"
                    )
                    for test_set, data in tests.items():
                        for draw, counts in enumerate(accuracy_per_draw(model, weights, data)):
                            row = score_row(condition.name, k, seed, draw, test_set, counts, lr, steps)
                            rows.append({**row, "rule": rule})
    return rows


def write_curve_results(
    curve: CurveResult,
    name: str,
    *,
    config: Mapping[str, Any],
    seeds: Sequence[int],
    out_dir: str | Path,
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, Path]:
    """The curve as a results file (:func:`~xlmeta_lab.experiments.protocol.results.write_protocol_results`), its
    settings in the provenance, each condition's rate per step count as the ``curve_lrs`` table, and a study's own
    ``tables`` beside."""
    table = [
        {"condition": name, "steps": steps, "lr": b.lr, "holdout_acc": b.holdout_acc}
        for name, per in curve.lrs.items()
        for steps, b in per.items()
    ]
    return write_protocol_results(
        curve.as_protocol_result(),
        name,
        config={**dict(config), "curve": curve.settings.to_dict()},
        seeds=seeds,
        out_dir=out_dir,
        tables={**dict(tables or {}), "curve_lrs": table},
    )


def read_curve(path: str | Path) -> CurveResult:
    """A curve written by :func:`write_curve_results` (a committed reference, for instance), back from its JSON."""
    result = ProtocolResult.read(path)  # rows, summary (intervals back as nan) and protocol
    lrs: dict[str, dict[int, Budget]] = defaultdict(dict)
    for row in read_results(path)["curve_lrs"]:
        lrs[row["condition"]][row["steps"]] = Budget(row["lr"], row["steps"], row["holdout_acc"])
    settings = CurveSettings.from_settings(result.provenance["config"]["curve"])
    return CurveResult(result.rows, result.summary, dict(lrs), settings, result.protocol, result.provenance)
