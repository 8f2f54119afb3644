"""What a topic classifier is made of: the network, and the encoding that turns sentences into its inputs.

The same three answers a tagger gives (:mod:`xlmeta_lab.models.backbones`): a fresh model for a seed, a
:class:`~xlmeta_lab.episodes.encoders.SentenceEncoder`, and a description for checkpoints. Two kinds:

* :class:`ClassifierBackbone`, the from-scratch :class:`~xlmeta_lab.models.classifier.SentenceClassifier`, its
  word and character inventories built from the training languages' sentences;
* :class:`EncoderClassifierBackbone`, a Hugging Face encoder with a topic head
  (:class:`~xlmeta_lab.models.encoder_classifier.EncoderClassifier`); "scratch" is the encoder with a fresh head.

:func:`xlmeta_lab.models.registry.backbone_for` picks one when ``TrainConfig.task == "topic"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from xlmeta_lab.data.sib200 import SIB_LABELS, Example
from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.topics import TopicEncoder
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.models.backbones import EncoderBackbone, seeded_model
from xlmeta_lab.models.classifier import CLASSIFIER_KIND, ClassifierConfig, SentenceClassifier

#: ``model_config["kind"]`` of a checkpoint holding an :class:`EncoderClassifier`.
ENCODER_CLASSIFIER_KIND = "hf-encoder-classifier"


@dataclass(frozen=True)
class ClassifierBackbone:
    """The from-scratch :class:`SentenceClassifier` with its vocabulary."""

    model_config: ClassifierConfig
    vocab: Vocab
    max_word_len: int

    @property
    def encoder(self) -> TopicEncoder:
        return TopicEncoder(self.vocab, self.max_word_len)

    def new_model(self, seed: int) -> SentenceClassifier:
        return seeded_model(lambda: SentenceClassifier(self.model_config), seed)

    def describe(self) -> dict[str, Any]:
        return self.model_config.to_dict()

    def vocab_dict(self) -> dict[str, Any]:
        return self.vocab.to_dict()


@dataclass(frozen=True)
class EncoderClassifierBackbone(EncoderBackbone):
    """A pretrained Hugging Face encoder with a topic head, and its own tokenizer (load it with :meth:`load`)."""

    @property
    def encoder(self) -> SentenceEncoder:
        from xlmeta_lab.episodes.subwords import SubwordTopicEncoder

        return SubwordTopicEncoder(self.tokenizer, self.name_or_path, self.max_subtokens, self.limit)

    def new_model(self, seed: int) -> nn.Module:
        """The pretrained encoder with a fresh head drawn from ``seed`` (the global RNG is left alone)."""
        from xlmeta_lab.models.encoder_classifier import EncoderClassifier

        return seeded_model(
            lambda: EncoderClassifier.from_pretrained(self.name_or_path, len(SIB_LABELS), dropout=self.dropout), seed
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": ENCODER_CLASSIFIER_KIND,
            "name_or_path": self.name_or_path,
            "n_classes": len(SIB_LABELS),
            "max_subtokens": self.max_subtokens,
            "dropout": self.dropout,
        }


def topic_backbone_for(config: Any, train_part: Mapping[str, Sequence[Example]]) -> Any:
    """The classifier ``config`` (a TrainConfig with ``task="topic"``) asks for, built from its training part."""
    if config.encoder is not None:
        return EncoderClassifierBackbone.load(config.encoder, config.max_subtokens)
    vocab = Vocab.build(
        (e for examples in train_part.values() for e in examples), min_freq=config.min_word_freq
    )
    model_config = ClassifierConfig(
        n_classes=len(SIB_LABELS),
        n_words=vocab.n_words if config.word_dim > 0 else 0,  # word_dim 0: spelling only, no whole-word table
        n_chars=vocab.n_chars,
        word_dim=config.word_dim,
        char_dim=config.char_dim,
        char_channels=config.char_channels,
        hidden=config.hidden,
        context_layers=config.context_layers,
    )
    return ClassifierBackbone(model_config, vocab, config.max_word_len)


def topic_backbone_from_checkpoint(
    model_config: Mapping[str, Any], vocab: Mapping[str, Any] | None, max_word_len: int
) -> Any:
    """The classifier a checkpoint was trained with, from its stored ``model_config`` and ``vocab``."""
    if model_config.get("kind") == ENCODER_CLASSIFIER_KIND:
        return EncoderClassifierBackbone.load(
            model_config["name_or_path"], model_config["max_subtokens"], model_config["dropout"]
        )
    if model_config.get("kind") != CLASSIFIER_KIND or vocab is None:
        raise ValueError("a sentence-classifier checkpoint must hold its kind and its vocabulary")
    words = Vocab.from_dict(vocab)
    return ClassifierBackbone(ClassifierConfig.from_dict(dict(model_config)), words, max_word_len)


#: The ``kind`` values a topic checkpoint's ``model_config`` carries.
TOPIC_KINDS = frozenset({CLASSIFIER_KIND, ENCODER_CLASSIFIER_KIND})
