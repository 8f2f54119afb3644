"""Notebook 04's wiring: topic classification on SIB-200, French as the target, and the language sweep.

Everything here is wiring: the profile's sizes, which model, which languages, and the leakage check before
anything trains. Which files play which role is :mod:`xlmeta_lab.data.roles`; episodes are
:mod:`xlmeta_lab.episodes.topics`; training, the few-shot protocol and the statistics are the same code notebook
03 uses, so the paired protocol and its interval rules are the same too.

**The language sweep** trains the same conditions on the first 2, 5, 10 and 20 of
:data:`~xlmeta_lab.data.sib200.TRAINING_LANGUAGES`. Every run takes the same number of outer steps with the same
meta-batch of tasks, each task drawn from one of the N languages, so the number of outer steps does not shrink
as N grows (meta-learning is not starved of them) and the sentences seen (forward/backward passes) are the same
too: the budget held fixed is *outer steps x meta-batch*, which fixes both. What grows with N is variety (more
languages, fewer sentences seen per language) and the vocabulary, hence the word-embedding table when the profile
has one (notebook 04's profiles read spelling only: ``word_dim`` 0). Each size chooses every condition's budget on
the French holdout afresh (no fine-tuning, ``steps = 0``, is in the grid), and scores K = 0 too.

**The French support pool.** ``french_pool: "dev"`` draws the K-shot support sets from French *dev* (99
sentences, at most 6 of the rarest topic) with ``holdout_fraction`` of each topic set aside to choose budgets.
``"train"`` draws them from the pinned French *train* split (701 sentences, K up to 16 per topic, 25 of the rarest)
and keeps all of French dev as the holdout (99 sentences: the split holds no more). French train's rows are
translations of the source languages' train rows, which every trained condition has read in English and Spanish:
a support sentence may be one the model saw in translation. That is allowed for the support pool only, and said
wherever it is used; the holdout and the test set stay translations of nothing any condition trained on (checked
on ``index_id``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xlmeta_lab.data.roles import (
    FewShotSplits,
    assert_no_sib200_leakage,
    sib200_french_splits,
    sib200_meta_training,
)
from xlmeta_lab.data.sib200 import SOURCE_LANGUAGES, TARGET, Example, load_sib200, training_languages
from xlmeta_lab.experiments.config import (
    ProtocolConfig,
    TrainConfig,
    protocol_from_settings,
    train_config_from_settings,
)
from xlmeta_lab.experiments.protocol.results import ProtocolResult, merge_results
from xlmeta_lab.experiments.protocol.run import Condition, run_protocol
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions

NOTEBOOK = "04_sentence_topics"
#: ``MODEL`` of notebook 04 for the classifier trained from scratch; anything else names a Hugging Face encoder.
WORD_MODEL = "char-cnn"
#: Profile settings the SIB-200 wiring reads itself (the rest are training and protocol settings).
SIB_KEYS = frozenset(
    {
        "holdout_fraction",
        "french_pool",
        "prototype_views",
        "tfidf_cs",
        "encoder_settings",
        "sweep_sizes",
        "sweep_methods",
        "sweep_ks",
    }
)
#: Where the French K-shot support sets are drawn from (see the module doc).
FRENCH_POOLS = ("dev", "train")


def run_name(profile: str, seed: int, model: str = WORD_MODEL) -> str:
    """The name of a run's results and checkpoints; each encoder (hub name or folder path) its own."""
    suffix = "" if model == WORD_MODEL else "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")
    return f"{NOTEBOOK}-{profile}-seed{seed}{suffix}"


@dataclass
class SibSetup:
    """The SIB-200 experiment's data by role, and the training and protocol settings of a profile."""

    languages: tuple[str, ...]
    training: dict[str, list[Example]]
    splits: FewShotSplits[Example]
    train_config: TrainConfig
    protocol: ProtocolConfig
    #: ``"train"`` when the support pool is French train, whose rows translate the training rows (module doc).
    french_pool: str = "dev"


def sib_setup(
    settings: Mapping[str, Any],
    seed: int,
    data_dir: str | os.PathLike | None = None,
    *,
    model: str = WORD_MODEL,
    languages: Sequence[str] = SOURCE_LANGUAGES,
) -> SibSetup:
    """The ``languages`` -> French experiment from ``profile_settings("04_sentence_topics", profile)``,
    leakage-checked. ``model`` is :data:`WORD_MODEL` or a Hugging Face encoder's name or folder, which takes
    the profile's ``encoder_settings`` over the classifier's (a pretrained network wants smaller steps)."""
    if model != WORD_MODEL:
        settings = {**settings, **settings.get("encoder_settings", {}), "encoder": model}
    training = sib200_meta_training(languages, data_dir)
    pool = settings.get("french_pool", "dev")
    splits = french_splits(pool, settings["holdout_fraction"], seed, data_dir)
    # French train translates the training rows: the support pool is exempt, the holdout and tests are not
    assert_no_sib200_leakage(training, splits if pool == "dev" else replace(splits, support_pool=[]))
    config = train_config_from_settings(settings, seed, experiment_keys=SIB_KEYS, task="topic")
    protocol = protocol_from_settings(settings, seed, max_word_len=settings["max_word_len"], k_per_class=True)
    return SibSetup(tuple(languages), training, splits, config, protocol, pool)


def french_splits(
    pool: str, holdout_fraction: float, seed: int, data_dir: str | os.PathLike | None = None
) -> FewShotSplits[Example]:
    """French by role for ``french_pool`` ``"dev"`` or ``"train"`` (see the module doc); the pool never meets
    the holdout or the test set, checked on ``index_id``."""
    if pool not in FRENCH_POOLS:
        raise ValueError(f"french_pool must be one of {', '.join(FRENCH_POOLS)}, got {pool!r}")
    if pool == "dev":
        return sib200_french_splits(data_dir, holdout_fraction=holdout_fraction, seed=seed)
    tests = {f"sib200-{TARGET}-test": load_sib200(TARGET, "test", data_dir)}
    splits = FewShotSplits(
        load_sib200(TARGET, "train", data_dir), load_sib200(TARGET, "dev", data_dir), tests
    )
    pool_ids = {e.index_id for e in splits.support_pool}
    apart = {e.index_id for e in [*splits.holdout, *tests[next(iter(tests))]]}
    if pool_ids & apart:
        raise ValueError(
            f"French train meets French dev or test (index_id e.g. {sorted(pool_ids & apart)[:3]})"
        )
    return splits


def prototype_views(conditions: Sequence[Condition], names: Sequence[str]) -> list[Condition]:
    """``<name>-proto`` for each condition named in ``names``: the same models, each French draw fine-tuned from
    its own class prototypes instead of the model's head (joint's trained head knows the source labelling; its
    body may still embed French topics apart)."""
    return [replace(c, name=f"{c.name}-proto", head="prototype") for c in conditions if c.name in names]


def sweep_name(method: str, n_languages: int) -> str:
    """A condition of the language sweep: ``"fomaml@5"`` is FOMAML meta-trained on 5 languages."""
    return f"{method}@{n_languages}"


@dataclass
class LanguageSweep:
    """The sweep's protocol result (conditions named by :func:`sweep_name`), and per size its training runs."""

    result: ProtocolResult
    sizes: tuple[int, ...]
    methods: tuple[str, ...]
    trained: dict[int, TrainedConditions]


def language_sweep(
    settings: Mapping[str, Any],
    seed: int,
    seeds: Sequence[int],
    *,
    checkpoints: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    model: str = WORD_MODEL,
    progress: bool = False,
    device: str = "cpu",
    report: Callable[[str], None] | None = None,
) -> LanguageSweep:
    """Train ``settings["sweep_methods"]`` on the first N training languages for each N of
    ``settings["sweep_sizes"]``, with one budget (see module doc), and score each on French at
    ``settings["sweep_ks"]`` with the paired protocol (same draws, budgets chosen on the French holdout for each
    size), with ``settings["prototype_views"]`` also adapted from prototype heads.

    Runs on the two source languages are the main experiment's (same languages, settings and seeds): with
    ``checkpoints`` set to the main run's folder they are loaded from it, not trained again. Each N has its own
    vocabulary, so each is scored in a protocol run of its own and the results are merged.
    """
    sizes = tuple(settings["sweep_sizes"])
    methods = tuple(settings["sweep_methods"])
    results, trained = [], {}
    for n in sizes:
        setup = sib_setup(settings, seed, data_dir, model=model, languages=training_languages(n))
        protocol = replace(setup.protocol, ks=tuple(settings["sweep_ks"]), baseline=None)
        folder = None
        if checkpoints is not None:
            folder = Path(checkpoints) if n == len(SOURCE_LANGUAGES) else Path(checkpoints) / f"languages-{n}"
        runs = train_conditions(
            setup.training,
            setup.train_config,
            methods,
            seeds,
            scratch=False,
            out_dir=folder,
            progress=progress,
            device=device,
        )
        views = prototype_views(runs.conditions, settings.get("prototype_views", ()))
        runs.conditions = [replace(c, name=sweep_name(c.name, n)) for c in [*runs.conditions, *views]]
        cache = Path(folder) / "protocol" if folder is not None else None
        results.append(run_protocol(runs.conditions, setup.splits, runs.encoder, protocol, cache=cache))
        trained[n] = runs
        if report is not None:
            report(f"{n} languages: trained and scored {', '.join(methods)}")
    return LanguageSweep(merge_results(results), sizes, methods, trained)
