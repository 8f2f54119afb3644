"""The episodes a training run draws, for either kind of task: tagging (UD, toy) or topics (SIB-200).

Training asks two things of its data, and only these: a sampler of training episodes (``sample()``, and an
``rng`` whose state a checkpoint saves) and one fixed validation task per training language. A
:class:`~xlmeta_lab.experiments.config.TrainConfig` says which kind (``task``), so the training loop itself is
the same code for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.topics import TopicEpisodeSampler, validation_task
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.meta import Task


def permutes_labels(config: TrainConfig) -> bool:
    """Whether a topic run's episodes permute their labels: meta-learners do (unless told not to); the joint
    baseline, which has no inner loop to read a new labelling off a support set, never does."""
    return config.task == "topic" and config.permute_labels and METHODS[config.method].is_meta


def episode_sampler(
    pools: Mapping[str, Sequence[Any]], encoder: SentenceEncoder, config: TrainConfig, *, seed: int
) -> TaggingEpisodeSampler | TopicEpisodeSampler:
    """The sampler of training episodes ``config`` describes, over ``pools`` (one per language or task)."""
    if config.task == "topic":
        return TopicEpisodeSampler(
            pools,
            encoder,
            config.n_way,
            config.support_size,
            config.query_size,
            max_len=config.max_len,
            seed=seed,
            permute=permutes_labels(config),
        )
    return TaggingEpisodeSampler(
        pools,
        encoder,
        config.support_size,
        config.query_size,
        config.max_len,
        config.max_word_len,
        seed=seed,
    )


def validation_tasks(
    val: Mapping[str, Sequence[Any]], encoder: SentenceEncoder, config: TrainConfig
) -> dict[str, Task]:
    """One fixed task per language from its held-out sentences: a support set of the training episodes' size
    (per topic, for topics) and as many of the rest as query as the config allows (all of it, for topics)."""
    seed = config.data_seed + 1
    if config.task == "topic":
        return {
            lang: validation_task(
                examples,
                encoder,
                config.support_size,
                max_len=config.max_len,
                seed=seed,
                permute=permutes_labels(config),
            )
            for lang, examples in val.items()
        }
    tasks = {}
    for lang, sentences in val.items():
        size = len([s for s in sentences if len(s) <= config.max_len])
        query = min(config.query_size * config.val_tasks, size - config.support_size)
        if query < 1:
            raise ValueError(
                f"the {lang!r} validation split has {size} usable sentences, fewer than support_size + 1; "
                "raise val_fraction or give more sentences"
            )
        sampler = TaggingEpisodeSampler(
            {lang: sentences},
            encoder,
            config.support_size,
            query,
            config.max_len,
            config.max_word_len,
            seed=seed,
        )
        tasks[lang] = sampler.sample(lang)
    return tasks
