"""Which backbone a training config or a checkpoint asks for, whatever the task.

Taggers (:mod:`xlmeta_lab.models.backbones`) and topic classifiers (:mod:`xlmeta_lab.models.topic_backbones`)
answer the same three questions, and the classifiers reuse the taggers' encoder plumbing. Training, the
protocol and checkpoints must not care which they hold, so the choice between the two lives here, the one
module that imports both: neither kind's module needs to know the other exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xlmeta_lab.models.backbones import Backbone, tagger_backbone_for, tagger_backbone_from_checkpoint
from xlmeta_lab.models.topic_backbones import TOPIC_KINDS, topic_backbone_for, topic_backbone_from_checkpoint


def backbone_for(config: Any, train_part: Mapping[str, Sequence[Any]]) -> Backbone:
    """The backbone ``config`` (a TrainConfig) asks for, built from the training part of its data: a topic
    classifier when ``config.task == "topic"``, else a tagger."""
    if getattr(config, "task", "tagging") == "topic":
        return topic_backbone_for(config, train_part)
    return tagger_backbone_for(config, train_part)


def backbone_from_checkpoint(
    model_config: Mapping[str, Any], vocab: Mapping[str, Any] | None, max_word_len: int
) -> Backbone:
    """The backbone a checkpoint was trained with, from its stored ``model_config`` (its ``kind`` says which)
    and ``vocab``."""
    if model_config.get("kind") in TOPIC_KINDS:
        return topic_backbone_from_checkpoint(model_config, vocab, max_word_len)
    return tagger_backbone_from_checkpoint(model_config, vocab, max_word_len)
