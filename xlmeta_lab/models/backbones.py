"""What a tagger is made of: the network, and the encoding that turns sentences into its inputs.

Training, the few-shot protocol and checkpoints ask three things of a tagger, and only these: a fresh
model for a seed, a :class:`~xlmeta_lab.episodes.encoders.SentenceEncoder` for its inputs, and a small description
to store in a checkpoint (so a resume, or an evaluation, can refuse a different tagger). Two kinds answer:

* :class:`WordTaggerBackbone`, the character-aware tagger of :mod:`xlmeta_lab.models.tagger`, trained from
  scratch. Its word and character inventories come from the training sentences, so it is built from them.
* :class:`EncoderBackbone`, a Hugging Face encoder (``xlm-roberta-base``, ``bert-base-multilingual-cased``
  or a local folder) with a tag head (:class:`xlmeta_lab.models.encoder.EncoderTagger`). Its inventory is its
  tokenizer, which comes with it; "scratch" for it means the pretrained encoder with a fresh head.

:func:`tagger_backbone_for` picks one from a :class:`~xlmeta_lab.experiments.config.TrainConfig` (``encoder=None``
or a name), :func:`tagger_backbone_from_checkpoint` rebuilds it from what a checkpoint stored; training and
checkpoints reach them through :mod:`xlmeta_lab.models.registry`, which also knows the topic classifiers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder, WordCharEncoder
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.models.tagger import Tagger, TaggerConfig

M = TypeVar("M", bound=nn.Module)

#: ``model_config["kind"]`` of an encoder checkpoint; word-tagger checkpoints hold a plain TaggerConfig.
ENCODER_KIND = "hf-encoder"
#: What ``--model`` and notebook 03's ``MODEL`` call the tagger trained from scratch (``TrainConfig.encoder=None``).
WORD_TAGGER = "char-cnn"


class Backbone(Protocol):
    """A kind of tagger, as training and evaluation see it."""

    @property
    def encoder(self) -> SentenceEncoder: ...

    def new_model(self, seed: int) -> nn.Module: ...

    def describe(self) -> dict[str, Any]: ...

    def vocab_dict(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class WordTaggerBackbone:
    """The from-scratch char/word :class:`~xlmeta_lab.models.tagger.Tagger` with its vocabulary."""

    model_config: TaggerConfig
    vocab: Vocab
    max_word_len: int

    @property
    def encoder(self) -> WordCharEncoder:
        return WordCharEncoder(self.vocab, self.max_word_len)

    def new_model(self, seed: int) -> Tagger:
        return new_tagger(self.model_config, seed)

    def describe(self) -> dict[str, Any]:
        return self.model_config.to_dict()

    def vocab_dict(self) -> dict[str, Any]:
        return self.vocab.to_dict()


@dataclass(frozen=True)
class EncoderBackbone:
    """A pretrained Hugging Face encoder with a UPOS head, and its own tokenizer.

    ``name_or_path`` is passed to ``from_pretrained`` each time a model is made, so the weights come from
    the Hugging Face cache (or the folder) rather than being held twice in memory. Load it with
    :meth:`load`, which also loads the tokenizer.
    """

    name_or_path: str
    max_subtokens: int
    dropout: float = 0.1
    tokenizer: Any = field(default=None, compare=False, repr=False)
    limit: int = 512

    @classmethod
    def load(
        cls, name_or_path: str | os.PathLike, max_subtokens: int = 128, dropout: float = 0.1
    ) -> EncoderBackbone:
        from transformers import AutoConfig, AutoTokenizer

        name = str(name_or_path)
        require_model_available(name)
        tokenizer = AutoTokenizer.from_pretrained(name)
        positions = getattr(AutoConfig.from_pretrained(name), "max_position_embeddings", 512)
        limit = min(positions, getattr(tokenizer, "model_max_length", positions) or positions)
        if max_subtokens > limit:
            raise ValueError(f"max_subtokens={max_subtokens} exceeds {name}'s limit of {limit} positions")
        return cls(name, max_subtokens, dropout, tokenizer, limit)

    @property
    def encoder(self) -> SentenceEncoder:
        from xlmeta_lab.episodes.subwords import SubwordEncoder

        return SubwordEncoder(self.tokenizer, self.name_or_path, self.max_subtokens, self.limit)

    def new_model(self, seed: int) -> nn.Module:
        """The pretrained encoder with a fresh head drawn from ``seed`` (the global RNG is left alone)."""
        from xlmeta_lab.models.encoder import EncoderTagger

        return seeded_model(
            lambda: EncoderTagger.from_pretrained(self.name_or_path, tag_names=UPOS_TAGS, dropout=self.dropout), seed
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": ENCODER_KIND,
            "name_or_path": self.name_or_path,
            "n_tags": len(UPOS_TAGS),
            "max_subtokens": self.max_subtokens,
            "dropout": self.dropout,
        }

    def vocab_dict(self) -> None:
        return None


class ModelNotAvailableError(ValueError):
    """A Hugging Face model that is neither a local folder, nor in the cache, nor reachable online."""


HUB_HOST = "huggingface.co"


def require_model_available(name: str, timeout: float = 3.0) -> None:
    """Fail in seconds, with what to do, when ``name`` cannot be loaded: not a folder, not in the Hugging Face
    cache, and the hub unreachable (offline mode set, or no connection within ``timeout``). Without this
    check an offline machine spends about a minute in retries before a long traceback."""
    if Path(name).is_dir():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    advice = (
        f"model {name!r} is not a local folder and not in the Hugging Face cache ({constants.HF_HUB_CACHE}), "
        "and the hub {why}. Give a folder saved with save_pretrained (e.g. --model path/to/folder), or "
        "run once online so the model is cached."
    )
    if constants.HF_HUB_OFFLINE:
        raise ModelNotAvailableError(advice.format(why="is off (HF_HUB_OFFLINE is set)"))
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
    except OSError as error:
        raise ModelNotAvailableError(advice.format(why=f"cannot be reached ({error})")) from None


def vocab_of(backbone: Backbone) -> Vocab | None:
    """A from-scratch model's vocabulary (word tagger, sentence classifier); ``None`` for a Hugging Face encoder,
    whose tokenizer is its vocabulary."""
    return getattr(backbone, "vocab", None)


def seeded_model(build: Callable[[], M], seed: int) -> M:
    """``build()`` under its own seed, so the global torch RNG is left as it was (a model per training seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def new_tagger(model_config: TaggerConfig, seed: int) -> Tagger:
    """A freshly initialised tagger (see :func:`seeded_model`)."""
    return seeded_model(lambda: Tagger(model_config), seed)


def tagger_config(config: Any, vocab: Vocab) -> TaggerConfig:
    """The tagger a run trains: sizes from ``config`` (a TrainConfig), inventories from ``vocab``."""
    return TaggerConfig(
        n_tags=len(UPOS_TAGS),
        n_words=vocab.n_words,
        n_chars=vocab.n_chars,
        word_dim=config.word_dim,
        char_dim=config.char_dim,
        char_channels=config.char_channels,
        hidden=config.hidden,
        context=config.context,
        context_layers=config.context_layers,
    )


def tagger_backbone_for(config: Any, train_part: Mapping[str, Sequence[Sentence]]) -> Backbone:
    """The tagger ``config`` (a TrainConfig) asks for, built from the training part of its data.

    The word tagger's vocabulary is the training sentences' words seen at least ``min_word_freq`` times,
    so the unknown-word embedding is trained on real rare words: a new language's words are mostly
    unknown, and that embedding is what they get.
    """
    if config.encoder is not None:
        return EncoderBackbone.load(config.encoder, config.max_subtokens)
    vocab = Vocab.build(
        (s for sentences in train_part.values() for s in sentences), min_freq=config.min_word_freq
    )
    return WordTaggerBackbone(tagger_config(config, vocab), vocab, config.max_word_len)


def tagger_backbone_from_checkpoint(
    model_config: Mapping[str, Any], vocab: Mapping[str, Any] | None, max_word_len: int
) -> Backbone:
    """The tagger a checkpoint was trained with, from its stored ``model_config`` and ``vocab``."""
    if model_config.get("kind") == ENCODER_KIND:
        return EncoderBackbone.load(
            model_config["name_or_path"], model_config["max_subtokens"], model_config["dropout"]
        )
    if vocab is None:
        raise ValueError("a word-tagger checkpoint must hold its vocabulary")
    words = Vocab.from_dict(vocab)
    return WordTaggerBackbone(TaggerConfig(**model_config), words, max_word_len)
