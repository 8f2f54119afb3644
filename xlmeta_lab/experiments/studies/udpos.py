"""The real experiment's wiring: meta-train on English and Spanish UD treebanks, adapt to French from K sentences.

Everything here is wiring: the profile's sizes, which model, and the leakage check before anything trains.
Which files play which role is :mod:`xlmeta_lab.data.roles`; the training loops, the protocol and the
statistics are the same code the toy experiment uses (:mod:`xlmeta_lab.experiments`).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from xlmeta_lab.data.roles import (
    FewShotSplits,
    assert_no_test_leakage,
    french_fewshot_splits,
    meta_training_treebanks,
    parallel_pud,
    training_tasks,
)
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.experiments.config import (
    ProtocolConfig,
    TrainConfig,
    protocol_from_settings,
    train_config_from_settings,
)
from xlmeta_lab.experiments.studies.conditions import TrainedConditions, train_conditions
from xlmeta_lab.models.backbones import WORD_TAGGER  # notebook 03's MODEL for it; else a Hugging Face encoder

NOTEBOOK = "03_en_es_to_fr"
#: Profile settings the UD wiring reads itself (the rest are training and protocol settings).
UD_KEYS = frozenset(
    {"split_by", "holdout_fraction", "genre_methods", "encoder_settings", "curve", "curve_methods", "curve_seeds", "inner_loops"}
)


def run_name(profile: str, seed: int, model: str = WORD_TAGGER, context: str = "conv") -> str:
    """The name of a run's results and checkpoints; each encoder (hub name or full folder path) its own, and the
    word tagger with a BiLSTM context (``context="lstm"``) its own, so switching does not meet old checkpoints."""
    suffix = "" if model == WORD_TAGGER else "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")
    if model == WORD_TAGGER and context != "conv":
        suffix = f"-{context}"
    return f"{NOTEBOOK}-{profile}-seed{seed}{suffix}"


@dataclass
class UDSetup:
    """The real experiment's data by role, and the training and protocol settings of a profile."""

    training: dict[str, list[Sentence]]
    splits: FewShotSplits
    train_config: TrainConfig
    protocol: ProtocolConfig
    genre_training: dict[str, list[Sentence]]


def ud_setup(
    settings: Mapping[str, Any],
    seed: int,
    data_dir: str | os.PathLike | None = None,
    *,
    model: str = WORD_TAGGER,
) -> UDSetup:
    """The en+es -> fr experiment from ``profile_settings("03_en_es_to_fr", profile)``, leakage-checked.

    ``model`` is :data:`WORD_TAGGER` (the from-scratch char/word tagger) or a Hugging Face encoder's name
    or folder; an encoder takes the profile's ``encoder_settings`` over the word tagger's (a pretrained
    network wants far smaller learning rates than one trained from nothing).
    """
    if model != WORD_TAGGER:
        settings = {**settings, **settings.get("encoder_settings", {}), "encoder": model}
    treebanks = meta_training_treebanks(data_dir)
    training = training_tasks(treebanks, settings.get("split_by", "language"))
    genre_training = training_tasks(treebanks, "genre")
    splits = french_fewshot_splits(data_dir, holdout_fraction=settings["holdout_fraction"], seed=seed)
    parallel = parallel_pud(data_dir)
    for pools in (training, genre_training):
        assert_no_test_leakage(pools, splits, parallel)
    config = train_config_from_settings(settings, seed, experiment_keys=UD_KEYS)
    protocol = protocol_from_settings(settings, seed, max_word_len=settings["max_word_len"])
    return UDSetup(training, splits, config, protocol, genre_training)


def train_genre_conditions(
    setup: UDSetup,
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> TrainedConditions:
    """``methods`` meta-trained on the ten genre/block tasks instead of two languages, named ``<method>-genres``.

    Same sentences, settings, seeds and budget as the main conditions; only the task pools differ, so the
    paired comparison with the same method on two tasks measures what more tasks buy. The vocabulary is
    this run's own (the validation split is drawn per pool), so evaluate these conditions in a protocol run
    of their own and join the results with :func:`xlmeta_lab.experiments.protocol.results.merge_results`.
    """
    trained = train_conditions(
        setup.genre_training,
        setup.train_config,
        methods,
        seeds,
        scratch=False,
        out_dir=out_dir,
        progress=progress,
        device=device,
    )
    return TrainedConditions(
        [replace(c, name=f"{c.name}-genres") for c in trained.conditions],
        {f"{method}-genres": runs for method, runs in trained.runs.items()},
        trained.backbone,
    )


def tag_distribution(sentences: Sequence[Sentence]) -> dict[str, float]:
    """Share of each UPOS tag among the words of ``sentences`` (0 for tags that never occur)."""
    counts = Counter(tag for s in sentences for tag in s.tags)
    total = sum(counts.values())
    return {tag: counts[tag] / total for tag in UPOS_TAGS}
