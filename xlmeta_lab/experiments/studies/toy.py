"""The toy experiment's wiring: made-up en/es train the initialisation, made-up French is adapted to.

Everything is derived from a notebook profile (``profile_settings("02_toy_languages", ...)``); training, the
protocol and the statistics are the same code the real experiment uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xlmeta_lab.data.roles import FewShotSplits, split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.config import (
    ProtocolConfig,
    TrainConfig,
    protocol_from_settings,
    train_config_from_settings,
)

NOTEBOOK = "02_toy_languages"
#: Profile settings the toy wiring reads itself (the rest are training and protocol settings).
TOY_KEYS = frozenset({"sentences", "fr_sentences", "fr_holdout", "fr_test", "relatedness"})


@dataclass
class ToySetup:
    """Everything a toy experiment needs, derived from a notebook profile: data, configs, seeds."""

    languages: dict[str, list[Sentence]]
    training: dict[str, list[Sentence]]
    splits: FewShotSplits
    train_config: TrainConfig
    protocol: ProtocolConfig
    seeds: list[int]


def toy_setup(settings: Mapping[str, Any], seed: int, **toy_knobs: Any) -> ToySetup:
    """The toy en/es -> fr experiment from ``profile_settings("02_toy_languages", ...)`` (``toy_knobs``
    override :class:`~xlmeta_lab.data.toy.ToyConfig` fields, e.g. ``relatedness``)."""
    knobs = {"relatedness": settings["relatedness"], **toy_knobs}
    counts = {"en": settings["sentences"], "es": settings["sentences"], "fr": settings["fr_sentences"]}
    languages = make_toy_languages(counts, seed=seed, **knobs)
    splits = split_target(
        languages["fr"],
        holdout=settings["fr_holdout"],
        test=settings["fr_test"],
        seed=seed,
        test_name="fr-test",
    )
    max_len = max(len(s) for sentences in languages.values() for s in sentences)
    config = train_config_from_settings(
        settings, seed, experiment_keys=TOY_KEYS, max_len=max_len, max_word_len=10
    )
    protocol = protocol_from_settings(settings, seed, max_word_len=10)
    training = {"en": languages["en"], "es": languages["es"]}
    return ToySetup(
        languages, training, splits, config, protocol, [seed + i for i in range(settings["n_seeds"])]
    )
