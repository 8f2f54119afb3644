"""The few-shot protocol: how well does each initialisation learn French from K sentences?

For every condition (scratch, joint, MAML, ...), every training seed and every K:

1. draw ``n_draws`` support sets of K sentences from the French *support pool*: the same draws for every
   condition (a paired design), nested across K (:func:`xlmeta_lab.episodes.samplers.support_draws`; K
   sentences of *each* class with ``k_per_class``, :func:`xlmeta_lab.episodes.topics.class_balanced_draws`);
2. fine-tune on each draw with plain SGD for a fixed budget (``lr``, ``steps``). The budget is chosen per
   condition from a small grid by accuracy on the French *holdout* (a part of the support split set aside
   for this), never on a test set: :func:`choose_budget` is not even given the tests. A budget whose
   fine-tuning ends with a NaN or infinite loss is left out of the choice (with a warning), and one that does
   so on the scored draws is an error (:class:`~xlmeta_lab.experiments.adaptation.finetune.FineTuningDiverged`): the
   weights would still tag, but their accuracy is no result;
3. score accuracy on each test set: of real words only (targets != -100) for tagging, of sentences for topics.

Each (seed, draw) pair is one unit. We report the mean over units with a 95% confidence interval from the
t distribution, and, because the draws are shared, each condition's *paired* difference to a baseline
(the joint model by default), whose interval is narrower than the difference of two intervals suggests.
``K = 0`` means no fine-tuning (for the joint model, that is the zero-shot condition); it has one unit per
seed.

The draws of one K are independent tasks, so they are fine-tuned together by
:func:`xlmeta_lab.experiments.adaptation.finetune.finetune_batch`, i.e. the engine's
:func:`~xlmeta_lab.meta.adapt_trajectory` (one ``vmap`` call where the model allows it), as
:func:`~xlmeta_lab.experiments.adaptation.finetune.fine_tuning_sets` lays them out: K > 16 sentences in length
buckets, so short sentences do not pay for the longest one's padding, and for the word tagger each draw's words
spelled once, so its character CNN reads a spelling once per step however often the word occurs. The budgets,
then the (condition, seed) rows, are units that ``workers`` processes share (:mod:`xlmeta_lab.experiments.workers`).

Memory: a condition with a ``device`` keeps its models elsewhere (the CPU) and each is moved to the device only
while it is fine-tuned or scored, then back. With a large encoder, every condition and seed on the GPU at once
would need conditions x seeds copies of it; this way the GPU holds one, however many are compared.
"""

from __future__ import annotations

import statistics
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlmeta_lab.data.roles import FewShotSplits, shared_sentences
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import (
    UNKNOWN_CHARS_WARNING,
    SentenceEncoder,
    as_encoder,
    encode_buckets,
    padded_length,
    unknown_char_share,
)
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.tensors import Labeled, stack_sets
from xlmeta_lab.episodes.topics import class_balanced_draws
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.finetune import (
    diverged_draws,
    fine_tuning_sets,
    finetune_batch,
    finetune_rates,
    report_diverged_budgets,
    require_finite,
)
from xlmeta_lab.experiments.adaptation.scoring import accuracy_per_draw, counts_over, scoring_sets
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.cache import ProtocolCache, part_key, splits_digests, weights_digest
from xlmeta_lab.experiments.protocol.results import Budget, ProtocolResult, best_budget, score_row, summarise
from xlmeta_lab.experiments.workers import run_units, worker_count
from xlmeta_lab.meta.params import AdaptSpec


@dataclass
class Condition:
    """An initialisation to evaluate: one model per training seed, and what fine-tuning adapts.

    ``device``: where the models are fine-tuned and scored, each moved there only while it is used (keep
    them on the CPU); ``None`` uses each model where it is. ``head``: where each draw's fine-tuning starts, the
    model's own head or (``"prototype"``) the draw's class prototypes (:mod:`xlmeta_lab.meta.prototypes`).
    ``steps``: the step counts its budget may be chosen from (``None``: the protocol's grid); ``(0,)`` with a
    prototype head is a prototypical network, never fine-tuned.
    """

    name: str
    models: Sequence[nn.Module]
    seeds: Sequence[int]
    adapt: AdaptSpec = None
    device: str | torch.device | None = None
    head: str = "zero"
    steps: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.models) != len(self.seeds) or not self.models:
            raise ValueError(
                f"condition {self.name!r}: give one model per seed (got {len(self.models)} and {len(self.seeds)})"
            )

    @contextmanager
    def model_on_device(self, index: int) -> Iterator[nn.Module]:
        """Model ``index`` on the condition's device for the block, then back where it was."""
        model = self.models[index]
        if self.device is None:
            yield model
            return
        home = next(model.parameters()).device
        model.to(self.device)
        try:
            yield model
        finally:
            model.to(home)


def protocol_draws(
    pool: Sequence[Any], k: int, n_draws: int, seed: int, protocol: ProtocolConfig
) -> list[list[Any]]:
    """The K-shot support sets: K items, or K items of each class when ``protocol.k_per_class``."""
    draw = class_balanced_draws if protocol.k_per_class else support_draws
    return draw(pool, k, n_draws, seed)


def stack_draws(draws: Sequence[Sequence[Sentence]], encoder: SentenceEncoder) -> Labeled:
    """Draws of equal K encoded to one shape (the longest sentence among them) and stacked on a leading
    draw axis, ready for vmap."""
    max_len = padded_length([s for d in draws for s in d])
    return stack_sets([encoder.encode(list(d), max_len) for d in draws])


def check_support_and_tests(
    support: Sequence[Sentence],
    tests: Mapping[str, Sequence[Sentence]],
    encoder: SentenceEncoder,
    support_name: str = "the support sentences",
) -> None:
    """Refuse a test set that is all support sentences; warn when some are shared, or when a set's characters
    are mostly unknown to the model (over :data:`~xlmeta_lab.episodes.encoders.UNKNOWN_CHARS_WARNING`).

    ``support`` is everything the protocol may fine-tune or choose on (pool and holdout). A shared sentence can
    be drawn into a support set and then scored: the score flatters the model, silently. A set the model cannot
    spell gives a score that says little about adaptation. Neither needs the model to run, so they come first.
    """
    for test_name, test in tests.items():
        shared = shared_sentences(support, test)
        if test and len(shared) == len(test):
            raise ValueError(
                f"all {len(test)} sentences of {test_name} are also in {support_name} (the same words or "
                "sent_id): its score would measure what the model was shown, not how it adapts; score on a "
                "file apart from the support file"
            )
        if shared:
            warnings.warn(
                f"{len(shared)} of {len(test)} sentences of {test_name} are also in {support_name} (the same "
                f"words or sent_id, e.g. {shared[0].sent_id!r}): a support set or the holdout can hold them, "
                "which flatters the score",
                stacklevel=2,
            )
    for name, sentences in {support_name: support, **tests}.items():
        share = unknown_char_share(sentences, encoder)
        if share > UNKNOWN_CHARS_WARNING:
            warnings.warn(
                f"{100 * share:.1f}% of the characters of {name} are unknown to the model (over "
                f"{100 * UNKNOWN_CHARS_WARNING:.0f}%): it reads them all as one symbol, so their spelling cannot "
                "help it; is this a script the model was trained on?",
                stacklevel=2,
            )


def choose_budget(
    condition: Condition,
    support_pool: Sequence[Sentence],
    holdout: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    protocol: ProtocolConfig,
) -> Budget:
    """The (lr, steps) from the grid with the best mean holdout accuracy over seeds, Ks and draws.

    Takes only the support pool and the holdout: the test sets cannot influence the budget. Ties go to
    the earlier grid entry (smaller lr, fewer steps), so the choice is deterministic.
    """
    encoder = as_encoder(encoder, protocol.max_word_len)
    holdout_data = encode_buckets(holdout, encoder)
    scores: dict[tuple[float, int], list[float]] = defaultdict(list)
    diverged: set[tuple[float, int]] = set()
    ks = protocol.budget_ks or tuple(k for k in protocol.ks if k > 0)
    n_draws = protocol.budget_draws or protocol.n_draws
    for index in range(len(condition.models[: protocol.budget_models or None])):
        with condition.model_on_device(index) as model:
            holdout_sets = scoring_sets(model, holdout_data)
            for k in ks:
                draws = protocol_draws(support_pool, k, n_draws, protocol.draw_seed + 7919, protocol)
                supports = stack_draws(draws, encoder)
                sets = fine_tuning_sets(draws, encoder, model, condition.head, supports)
                trajectories = finetune_rates(
                    model,
                    sets,
                    lrs=protocol.lrs,
                    record=protocol.steps if condition.steps is None else condition.steps,
                    adapt=condition.adapt,
                    head=condition.head,
                )
                for lr, trajectory in trajectories.items():
                    for steps, weights in trajectory.items():
                        if diverged_draws(model, weights, supports):
                            diverged.add((lr, steps))
                        else:
                            scores[(lr, steps)] += [
                                c / t for c, t in accuracy_per_draw(model, weights, holdout_sets)
                            ]
    candidates = {key: values for key, values in scores.items() if key not in diverged}
    report_diverged_budgets(condition.name, diverged, protocol, chosen_from=bool(candidates))
    best = best_budget(candidates)
    return Budget(
        best[0], best[1], statistics.fmean(candidates[best]), {key: tuple(v) for key, v in candidates.items()}
    )


def run_protocol(
    conditions: Sequence[Condition],
    splits: FewShotSplits,
    encoder: SentenceEncoder | Vocab,
    protocol: ProtocolConfig = ProtocolConfig(),
    *,
    progress: Callable[[str], None] | None = None,
    cache: str | Path | None = None,
    workers: int | None = None,
) -> ProtocolResult:
    """Evaluate every condition on every test set of ``splits`` (see the module doc for the protocol).

    ``encoder`` turns sentences into the conditions' inputs (``TrainedConditions.encoder``; a bare
    :class:`Vocab` means the word tagger's, with ``protocol.max_word_len``). Budgets are chosen first, for
    all conditions, from ``splits.support_pool`` and ``splits.holdout`` alone; only then are the test sets
    read.

    ``cache``: a folder where each condition's budget and each (condition, seed)'s rows are kept as they are
    done, so a run stopped midway (killed, out of time on Colab) resumes from them; a part whose protocol,
    model weights or sentences changed is computed afresh (:mod:`~xlmeta_lab.experiments.protocol.cache`).

    ``workers``: processes to share the units among (each condition's budget, then each (condition, seed)'s
    rows), ``None`` for ``$XLMETA_WORKERS`` or 1 (:func:`~xlmeta_lab.experiments.workers.worker_count`). Every
    unit is computed by the same function from the same inputs wherever it runs, so the result is the one a
    single process gives; each part is cached as it arrives.
    """
    encoder = as_encoder(encoder, protocol.max_word_len)
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise ValueError(f"condition names must be unique, got {names}")
    workers = worker_count(workers)
    parts = _Parts(cache, protocol, splits)
    budgets: dict[str, Budget] = {}
    todo: list[Condition] = []
    for c in conditions:
        saved = parts.load("budget", parts.budget_key(c))
        if saved is not None:
            budgets[c.name] = Budget.from_record(saved)
        else:
            todo.append(c)
    units = [budget_models(c, protocol) for c in todo]
    for i, budget in run_units(_budget_unit, units, _Shared(splits, encoder, protocol), workers):
        budgets[todo[i].name] = budget
        parts.save("budget", parts.budget_key(todo[i]), budget.to_record(), {"condition": todo[i].name})
    budgets = {c.name: budgets[c.name] for c in conditions}  # in the conditions' order, however they arrived
    if progress is not None:
        progress("budgets: " + ", ".join(f"{n} lr={b.lr} steps={b.steps}" for n, b in budgets.items()))
    seed_rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    missing: list[tuple[Condition, int]] = []
    for condition in conditions:
        for index in range(len(condition.seeds)):
            saved = parts.load("rows", parts.rows_key(condition, index, budgets[condition.name]))
            if saved is not None:
                seed_rows[(condition.name, index)] = saved
            else:
                missing.append((condition, index))
    left = {c.name: sum(1 for m, _ in missing if m is c) for c in conditions}
    if progress is not None:
        for name in (name for name, n in left.items() if n == 0):
            progress(f"evaluated {name}")
    tests = {name: encode_buckets(s, encoder) for name, s in splits.tests.items()}
    shared = _Shared(splits, encoder, protocol, tests)
    units = [(one_seed(c, i), budgets[c.name]) for c, i in missing]
    for j, rows in run_units(_rows_unit, units, shared, workers):
        condition, index = missing[j]
        key = parts.rows_key(condition, index, budgets[condition.name])
        parts.save("rows", key, rows, {"condition": condition.name, "seed": condition.seeds[index]})
        seed_rows[(condition.name, index)] = rows
        left[condition.name] -= 1
        if progress is not None and left[condition.name] == 0:
            progress(f"evaluated {condition.name}")
    rows = [row for c in conditions for i in range(len(c.seeds)) for row in seed_rows[(c.name, i)]]
    return ProtocolResult(rows, summarise(rows, protocol.baseline), budgets, protocol)


@dataclass(frozen=True)
class _Shared:
    """What every unit of one protocol run reads: sent once to each worker, not with every unit."""

    splits: FewShotSplits
    encoder: SentenceEncoder
    protocol: ProtocolConfig
    tests: Mapping[str, list[Labeled]] | None = None  # encoded once the budgets are chosen


def budget_models(condition: Condition, protocol: ProtocolConfig) -> Condition:
    """The condition with only the models its budget is chosen with: a worker is sent no more than it uses."""
    models = condition.models[: protocol.budget_models or None]
    return replace(condition, models=list(models), seeds=list(condition.seeds[: len(models)]))


def one_seed(condition: Condition, index: int) -> Condition:
    """The condition with only the model of seed ``index``: one (condition, seed) unit."""
    return replace(condition, models=[condition.models[index]], seeds=[condition.seeds[index]])


def _budget_unit(shared: _Shared, condition: Condition) -> Budget:
    return choose_budget(
        condition, shared.splits.support_pool, shared.splits.holdout, shared.encoder, shared.protocol
    )


def _rows_unit(shared: _Shared, unit: tuple[Condition, Budget]) -> list[dict[str, Any]]:
    condition, budget = unit
    if shared.tests is None:
        raise RuntimeError("rows are scored on the encoded test sets; none were given")
    with condition.model_on_device(0) as model:
        return _seed_rows(
            condition,
            condition.seeds[0],
            model,
            budget,
            shared.splits,
            shared.tests,
            shared.encoder,
            shared.protocol,
        )


def _fine_tuning(condition: Condition) -> dict[str, Any]:
    """A condition's head and step counts for a cache key, when not the defaults (so older keys still hold)."""
    return {
        **({"head": condition.head} if condition.head != "zero" else {}),
        **({"steps": list(condition.steps)} if condition.steps is not None else {}),
    }


class _Parts:
    """The protocol's cached parts and their keys; without a cache folder it keeps nothing and finds nothing."""

    def __init__(self, folder: str | Path | None, protocol: ProtocolConfig, splits: FewShotSplits) -> None:
        self.cache = ProtocolCache(folder) if folder is not None else None
        self.protocol = protocol.to_dict()
        self.splits = splits_digests(splits) if folder is not None else {}
        # by id(model): a budget's key and its seed's rows' key hash it once
        self._weights: dict[int, str] = {}

    def _digest(self, model: nn.Module) -> str:
        if id(model) not in self._weights:
            self._weights[id(model)] = weights_digest(model)
        return self._weights[id(model)]

    def budget_key(self, condition: Condition) -> str:
        """A budget depends on the models it was chosen with, the pool and the holdout: never the tests."""
        if self.cache is None:
            return ""
        models = condition.models[: self.protocol["budget_models"] or None]
        return part_key(
            protocol=self.protocol,
            condition=condition.name,
            adapt=condition.adapt,
            **_fine_tuning(condition),
            weights=[self._digest(m) for m in models],
            pool=self.splits["support_pool"],
            holdout=self.splits["holdout"],
        )

    def rows_key(self, condition: Condition, index: int, budget: Budget) -> str:
        """A seed's rows depend on its model, its budget, the pool the draws come from and the tests."""
        if self.cache is None:
            return ""
        return part_key(
            protocol=self.protocol,
            condition=condition.name,
            seed=condition.seeds[index],
            adapt=condition.adapt,
            **_fine_tuning(condition),
            weights=self._digest(condition.models[index]),
            budget=budget.to_dict(),
            pool=self.splits["support_pool"],
            tests=self.splits["tests"],
        )

    def load(self, kind: str, key: str) -> Any | None:
        return self.cache.load(kind, key) if self.cache is not None else None

    def save(self, kind: str, key: str, value: Any, label: Mapping[str, Any]) -> None:
        if self.cache is not None:
            self.cache.save(kind, key, value, label)


def _seed_rows(
    condition: Condition,
    seed: int,
    model: nn.Module,
    budget: Budget,
    splits: FewShotSplits,
    tests: Mapping[str, Any],
    encoder: SentenceEncoder,
    protocol: ProtocolConfig,
) -> list[dict[str, Any]]:
    """One row per (K, test set, draw) for the model of one condition and training seed."""
    tests = {name: scoring_sets(model, data) for name, data in tests.items()}
    rows: list[dict[str, Any]] = []
    for k in protocol.ks:
        if k == 0:  # no fine-tuning: the initialisation as it is
            per_test = {t: [counts_over(model, None, data)] for t, data in tests.items()}
            lr, steps = 0.0, 0
        else:
            draws = protocol_draws(splits.support_pool, k, protocol.n_draws, protocol.draw_seed, protocol)
            supports = stack_draws(draws, encoder)
            weights = finetune_batch(
                model,
                fine_tuning_sets(draws, encoder, model, condition.head, supports),
                lr=budget.lr,
                record=(budget.steps,),
                adapt=condition.adapt,
                head=condition.head,
            )[budget.steps]
            require_finite(
                model, weights, supports, lr=budget.lr, steps=budget.steps, what=f"{condition.name}, K={k}"
            )
            per_test = {t: accuracy_per_draw(model, weights, data) for t, data in tests.items()}
            lr, steps = budget.lr, budget.steps
        rows += [
            score_row(condition.name, k, seed, draw, test_set, draw_counts, lr, steps)
            for test_set, counts in per_test.items()
            for draw, draw_counts in enumerate(counts)
        ]
    return rows
