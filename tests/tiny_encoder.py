"""A tiny BERT and WordPiece tokenizer, built and saved locally: the offline stand-in for xlm-roberta-base.

Tests (and the notebook test) load the saved folder with ``from_pretrained(path)``, the same call a
learner's ``MODEL="xlm-roberta-base"`` goes through, so the Hugging Face path is exercised without a hub.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.experiments.config import TrainConfig

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordpiece_tokenizer(tokens: Iterable[str]) -> PreTrainedTokenizerFast:
    """A lower-casing BERT-style WordPiece tokenizer over ``tokens`` (``##`` marks word-internal pieces).

    Built with the ``tokenizers`` library, not ``BertTokenizerFast(vocab_file=...)``: transformers 5
    ignores ``vocab_file`` there and silently builds an empty vocabulary (every word becomes ``[UNK]``);
    the ``tokenizers`` objects behave the same in transformers 4 and 5.
    """
    vocab = {token: i for i, token in enumerate([*SPECIAL, *sorted(set(tokens) - set(SPECIAL))])}
    core = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def tiny_bert_config(vocab_size: int, max_positions: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_positions,
        num_labels=len(UPOS_TAGS),
    )


def save_tiny_encoder(
    folder: Path, sentences: Sequence[Sentence], *, words: int = 300, max_positions: int = 512, seed: int = 0
) -> Path:
    """A randomly initialised one-layer BERT and a tokenizer fitted to ``sentences``, saved in ``folder``.

    The vocabulary holds the ``words`` most frequent (lower-cased) forms and every character, both
    word-initial and as a ``##`` continuation, so any word splits into pieces and none becomes ``[UNK]``.
    """
    counts = Counter(form.lower() for s in sentences for form in s.forms)
    chars = {c for form in counts for c in form}
    tokens = [w for w, _ in counts.most_common(words)] + sorted(chars) + [f"##{c}" for c in sorted(chars)]
    tokenizer = wordpiece_tokenizer(tokens)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    BertModel(tiny_bert_config(len(tokenizer), max_positions)).save_pretrained(folder)
    return folder


def encoder_train_config(encoder: Path, **changes: Any) -> TrainConfig:
    """A few meta-steps on the tiny encoder saved in ``encoder``: enough to run the path, too few to learn much."""
    base = TrainConfig(
        method="maml",
        steps=4,
        meta_batch=2,
        support_size=3,
        query_size=4,
        inner_lr=0.05,
        outer_lr=1e-3,
        max_len=20,
        eval_every=2,
        checkpoint_every=2,
        encoder=str(encoder),
        max_subtokens=48,
    )
    return replace(base, **changes)
