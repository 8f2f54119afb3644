"""The transfer analysis' wiring (notebook 05): which source languages help French, and why.

Everything here is wiring: which languages train, under which names, with which settings, and the leakage
check before anything trains. The measures live elsewhere, one job per module: language similarity in
:mod:`xlmeta_lab.data.similarity` (and :mod:`xlmeta_lab.data.typology`), gradient alignment in
:mod:`xlmeta_lab.meta.alignment`, compute saved in :mod:`xlmeta_lab.experiments.studies.savings`; training, the
few-shot protocol and the statistics are the same code notebook 03 uses.

**Budgets.** Every source set (one language, en+es, en+es plus a distant language, 4 or 8 languages) trains
with the same :class:`~xlmeta_lab.experiments.config.TrainConfig`: the same number of outer steps, each with a
meta-batch of the same number of tasks, each task drawn from one language chosen uniformly among the set's
languages (the episode sampler's rule). So the outer steps *and* the sentence passes are the same for every set
(joint matches MAML's passes as in notebook 03); what grows with more languages is the variety of the tasks,
not the budget, and meta-learning is never starved of outer steps by a larger set.

Condition names are ``<method>@<languages>``, e.g. ``joint@en+es`` or ``maml@en+es+zh``; scratch is ``scratch``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xlmeta_lab.data.roles import (
    FewShotSplits,
    assert_no_test_leakage,
    french_fewshot_splits,
    parallel_pud,
    source_treebanks,
)
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.experiments.config import (
    ProtocolConfig,
    TrainConfig,
    protocol_from_settings,
    train_config_from_settings,
)
from xlmeta_lab.experiments.methods import META_METHODS, METHODS
from xlmeta_lab.experiments.protocol.results import ProtocolResult, merge_results
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.results import read_results
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.experiments.training.loop import split_validation, train
from xlmeta_lab.experiments.workers import run_units, worker_count
from xlmeta_lab.meta import Task
from xlmeta_lab.meta.alignment import PLAIN_GRADIENT, cosine, task_gradients
from xlmeta_lab.models.tagger import tagging_loss

NOTEBOOK = "05_transfer_analysis"
#: Profile settings this wiring reads itself (the rest are training and protocol settings).
TRANSFER_KEYS = frozenset(
    {
        "holdout_fraction",
        "languages",
        "pair",
        "distant",
        "more_sources",
        "meta_method",
        "test_sets",
        "alignment_sources",
        "alignment_checkpoints",
        "probe_tasks",
        "savings_ks",
        "savings_steps",
    }
)
#: The meta-learner used when no reference run of notebook 03 says which one did best on the French holdout.
DEFAULT_META_METHOD = "maml"
#: The name the probe tasks of French (drawn from the support pool, never trained on) go by.
TARGET = "fr"


def set_name(languages: Sequence[str]) -> str:
    """``("en", "es") -> "en+es"``."""
    return "+".join(languages)


def condition_name(method: str, languages: Sequence[str]) -> str:
    """``("joint", ("en", "es")) -> "joint@en+es"``."""
    return f"{method}@{set_name(languages)}"


def method_of(name: str) -> str:
    """The training method of a condition name: ``"maml@en+es" -> "maml"``."""
    return name.split("@", 1)[0]


@dataclass
class TransferSetup:
    """The analysis' data by role and the settings every source set trains and is evaluated with."""

    sources: dict[str, list[Sentence]]
    splits: FewShotSplits
    train_config: TrainConfig
    protocol: ProtocolConfig
    source_sets: dict[str, tuple[str, ...]]
    pair: tuple[str, ...]


def source_sets_of(settings: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Every set of source languages the notebook trains on, by name: each language alone, the pair (en+es),
    the pair plus each distant language, and the larger sets of ``more_sources``; each set once."""
    pair = tuple(settings["pair"])
    sets = [(lang,) for lang in settings["languages"]]
    sets += [
        pair,
        *((*pair, lang) for lang in settings["distant"]),
        *(tuple(s) for s in settings["more_sources"]),
    ]
    return {set_name(s): s for s in sets}


def transfer_setup(
    settings: Mapping[str, Any], seed: int, data_dir: str | os.PathLike | None = None
) -> TransferSetup:
    """The analysis from ``profile_settings("05_transfer_analysis", profile)``, leakage-checked.

    French is the target only: its support pool and budget holdout come from fr GSD dev, its tests are read
    only to score (``test_sets``), and no source sentence shares an id with a French test or a translation of one.
    """
    sets = source_sets_of(settings)
    needed = sorted({lang for s in sets.values() for lang in s})
    sources = source_treebanks(needed, data_dir)
    splits = french_fewshot_splits(data_dir, holdout_fraction=settings["holdout_fraction"], seed=seed)
    assert_no_test_leakage(sources, splits, parallel_pud(data_dir))
    tests = {name: splits.tests[name] for name in settings["test_sets"]}
    splits = FewShotSplits(splits.support_pool, splits.holdout, tests)
    config = train_config_from_settings(settings, seed, experiment_keys=TRANSFER_KEYS)
    pair = tuple(settings["pair"])
    protocol = protocol_from_settings(
        settings, seed, max_word_len=settings["max_word_len"], baseline=condition_name("joint", pair)
    )
    return TransferSetup(sources, splits, config, protocol, sets, pair)


def best_meta_method(reference: str | os.PathLike, fallback: str = DEFAULT_META_METHOD) -> tuple[str, str]:
    """The meta-learner of notebook 03's reference run with the best accuracy on the French *holdout* (the
    number its budget was chosen by, never a test score), and a sentence saying how it was chosen."""
    path = Path(reference)
    if not path.exists():
        return fallback, f"no reference run of notebook 03 at {path}: using {fallback}"
    budgets = read_results(path).get("budgets", {})
    scores = {name: b["holdout_acc"] for name, b in budgets.items() if name in META_METHODS}
    if not scores:
        return fallback, f"the reference run at {path} has no meta-learner: using {fallback}"
    best = max(scores, key=lambda name: scores[name])
    listed = ", ".join(
        f"{name} {100 * acc:.1f}%" for name, acc in sorted(scores.items(), key=lambda kv: -kv[1])
    )
    return (
        best,
        f"best meta-learner of notebook 03 on the French holdout (its reference run): {best} ({listed})",
    )


def chosen_meta_method(settings: Mapping[str, Any], reference: str | os.PathLike) -> tuple[str, str]:
    """The profile's ``meta_method`` and why: ``"auto"`` reads it from notebook 03's ``reference``
    (:func:`best_meta_method`), any other value is taken as set. One rule for notebook 05 and the scripts that rerun
    its conditions, so they cannot pick different meta-learners."""
    if settings["meta_method"] == "auto":
        return best_meta_method(reference)
    return settings["meta_method"], "set in the profile"


def train_source_set(
    setup: TransferSetup,
    languages: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    scratch: bool = False,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    device: str = "cpu",
    workers: int | None = None,
) -> TrainedConditions:
    """``methods`` trained on ``languages`` with the setup's one config; conditions named ``<method>@<set>``.
    ``workers`` as in :func:`~xlmeta_lab.experiments.studies.conditions.train_conditions`."""
    trained = train_conditions(
        {lang: setup.sources[lang] for lang in languages},
        setup.train_config,
        methods,
        seeds,
        scratch=scratch,
        out_dir=Path(out_dir) / set_name(languages) if out_dir is not None else None,
        progress=progress,
        device=device,
        workers=workers,
    )
    named = [
        c if c.name == "scratch" else replace(c, name=condition_name(c.name, languages))
        for c in trained.conditions
    ]
    runs = {condition_name(m, languages): rs for m, rs in trained.runs.items()}
    return TrainedConditions(named, runs, trained.backbone)


def run_source_sets(
    setup: TransferSetup,
    sets: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    out_dir: str | os.PathLike | None = None,
    progress: Any = None,
    device: str = "cpu",
    workers: int | None = None,
) -> tuple[ProtocolResult, dict[str, TrainedConditions]]:
    """Train ``methods`` on each named source set and evaluate on French with the paired protocol (the same
    support draws for every set); one merged result, paired differences against ``joint@<pair>``. The pair's
    set also gets the untrained ``scratch`` condition. Each set has its own vocabulary, hence its own run of
    the protocol (each condition's fine-tuning budget is chosen on the French holdout, as in notebook 03).
    ``workers``: processes for the trainings and the protocol's units (``None``: ``$XLMETA_WORKERS`` or 1)."""
    results, trained = [], {}
    for name in sets:
        languages = setup.source_sets[name]
        trained[name] = train_source_set(
            setup, languages, methods, seeds, scratch=languages == setup.pair, out_dir=out_dir, device=device,
            workers=workers,
        )
        cache = Path(out_dir) / name / "protocol" if out_dir is not None else None
        results.append(
            run_protocol(
                trained[name].conditions, setup.splits, trained[name].encoder, setup.protocol, cache=cache,
                workers=workers,
            )
        )
        if progress is not None:
            progress(f"trained and evaluated on {name}")
    return merge_results(results, baseline=setup.protocol.baseline), trained


def probe_tasks(
    setup: TransferSetup, trained: TrainedConditions, languages: Sequence[str], n_tasks: int, seed: int
) -> dict[str, list[Task]]:
    """``n_tasks`` fixed episodes per language (its training sentences; French: the support pool, which is
    never trained on) with the training episodes' sizes, encoded for ``trained``'s vocabulary."""
    config = setup.train_config
    train_part, _ = split_validation(
        {lang: setup.sources[lang] for lang in languages}, config.val_fraction, config.data_seed
    )
    pools = {**train_part, TARGET: list(setup.splits.support_pool)}
    sampler = TaggingEpisodeSampler(
        pools,
        trained.encoder,
        config.support_size,
        config.query_size,
        config.max_len,
        config.max_word_len,
        seed,
    )
    return {lang: [sampler.sample(lang) for _ in range(n_tasks)] for lang in pools}


def alignment_along_training(
    setup: TransferSetup,
    languages: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    checkpoints: Sequence[int],
    n_probe: int,
    *,
    out_dir: str | os.PathLike | None = None,
    device: str = "cpu",
    workers: int | None = None,
) -> list[dict[str, Any]]:
    """Gradient cosines between languages at each checkpoint of one training run per method and seed on
    ``languages``.

    At each step of ``checkpoints`` the run is continued up to that step (resumed from its checkpoint when
    ``out_dir`` is given) and each language's direction is taken on two disjoint sets of ``n_probe`` probe
    episodes: the method's meta-gradient from the engine (joint: the plain gradient). Rows give, per pair of
    languages, the mean cosine of the two halves against each other (``across``, and ``target`` for a source
    against French), and per language the cosine of its two halves (``within``: the inner product first-order
    meta-learning implicitly increases; see :mod:`xlmeta_lab.meta.alignment`). ``workers``: processes to share
    the (method, seed) runs among (``None``: ``$XLMETA_WORKERS`` or 1); rows come in the order of ``methods``,
    then ``seeds``, however many computed them.
    """
    shared = _Alignment(setup, tuple(languages), tuple(checkpoints), n_probe, out_dir, device)
    units = [(method, seed) for method in methods for seed in seeds]
    done = dict(run_units(_alignment_of_run, units, shared, worker_count(workers)))
    return [row for index in range(len(units)) for row in done[index]]


@dataclass(frozen=True)
class _Alignment:
    """What every (method, seed) run of :func:`alignment_along_training` shares: sent once to each worker."""

    setup: TransferSetup
    languages: tuple[str, ...]
    checkpoints: tuple[int, ...]
    n_probe: int
    out_dir: str | os.PathLike | None
    device: str


def _alignment_of_run(shared: _Alignment, unit: tuple[str, int]) -> list[dict[str, Any]]:
    method, seed = unit
    setup, languages, n_probe = shared.setup, shared.languages, shared.n_probe
    config = replace(setup.train_config, method=method, seed=seed)
    spec = METHODS[method]
    run_name = f"{set_name(languages)}-{method}-seed{seed}"
    folder = Path(shared.out_dir) / run_name if shared.out_dir is not None else None
    training = {lang: setup.sources[lang] for lang in languages}
    rows: list[dict[str, Any]] = []
    for step in sorted(set(shared.checkpoints)):
        result = train(
            training, config, folder, resume=True, stop_after=step, progress=False, device=shared.device
        )
        holder = TrainedConditions([], {}, result.backbone)
        probes = probe_tasks(setup, holder, languages, 2 * n_probe, seed=config.data_seed + 17)
        halves = {
            f"{lang}{half}": tasks[half * n_probe : (half + 1) * n_probe]
            for lang, tasks in probes.items()
            for half in (0, 1)
        }
        grads = task_gradients(
            result.model,
            tagging_loss,
            halves,
            method=spec.algorithm or PLAIN_GRADIENT,
            inner_lr=config.inner_lr,
            inner_steps=config.inner_steps,
            adapt=spec.adapt,
        )
        names = list(probes)
        for i, a in enumerate(names):
            rows.append(_row(method, seed, step, a, a, "within", cosine(grads[f"{a}0"], grads[f"{a}1"])))
            for b in names[i + 1 :]:
                value = (cosine(grads[f"{a}0"], grads[f"{b}0"]) + cosine(grads[f"{a}1"], grads[f"{b}1"])) / 2
                kind = "target" if TARGET in (a, b) else "across"
                rows.append(_row(method, seed, step, a, b, kind, value))
    return rows


def accuracy_units(
    result: ProtocolResult, condition: str, k: int, test_set: str
) -> dict[tuple[int, int], float]:
    """``{(seed, draw): accuracy}`` of one condition at K on one test set: the units a paired comparison pairs."""
    return {
        (r["seed"], r["draw"]): r["accuracy"]
        for r in result.rows
        if r["condition"] == condition and r["K"] == k and r["test_set"] == test_set
    }


def _row(method: str, seed: int, step: int, a: str, b: str, kind: str, value: float) -> dict[str, Any]:
    return {"method": method, "seed": seed, "step": step, "a": a, "b": b, "kind": kind, "cosine": value}
