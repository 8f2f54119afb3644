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
has one (notebook 04's profiles read spelling only: ``word_dim`` 0).
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
from xlmeta_lab.data.sib200 import SOURCE_LANGUAGES, Example, training_languages
from xlmeta_lab.experiments.config import (
    ProtocolConfig,
    TrainConfig,
    protocol_from_settings,
    train_config_from_settings,
)
from xlmeta_lab.experiments.protocol.results import ProtocolResult, merge_results
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions

NOTEBOOK = "04_sentence_topics"
#: ``MODEL`` of notebook 04 for the classifier trained from scratch; anything else names a Hugging Face encoder.
WORD_MODEL = "char-cnn"
#: Profile settings the SIB-200 wiring reads itself (the rest are training and protocol settings).
SIB_KEYS = frozenset({"holdout_fraction", "encoder_settings", "sweep_sizes", "sweep_methods", "sweep_ks"})


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
    splits = sib200_french_splits(data_dir, holdout_fraction=settings["holdout_fraction"], seed=seed)
    assert_no_sib200_leakage(training, splits)
    config = train_config_from_settings(settings, seed, experiment_keys=SIB_KEYS, task="topic")
    protocol = protocol_from_settings(settings, seed, max_word_len=settings["max_word_len"], k_per_class=True)
    return SibSetup(tuple(languages), training, splits, config, protocol)


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
    ``settings["sweep_ks"]`` with the paired protocol (same draws, budgets chosen on the French holdout).

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
        runs.conditions = [replace(c, name=sweep_name(c.name, n)) for c in runs.conditions]
        cache = Path(folder) / "protocol" if folder is not None else None
        results.append(run_protocol(runs.conditions, setup.splits, runs.encoder, protocol, cache=cache))
        trained[n] = runs
        if report is not None:
            report(f"{n} languages: trained and scored {', '.join(methods)}")
    return LanguageSweep(merge_results(results), sizes, methods, trained)
