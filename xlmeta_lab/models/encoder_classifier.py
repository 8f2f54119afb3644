"""A pretrained Hugging Face encoder as a topic classifier the meta-learning engine can train.

The sentence is the mean of the encoder's last states over its real pieces (padding excluded by the attention
mask), read by a linear head. Mean pooling rather than the first (``[CLS]``/``<s>``) state, because an encoder
pretrained without a sentence-level objective (XLM-R) gives that state no special meaning. Second-order MAML
needs eager attention (:mod:`xlmeta_lab.meta.attention`), so :meth:`EncoderClassifier.from_pretrained` loads it
unless told otherwise. Inputs come from :class:`xlmeta_lab.episodes.subwords.SubwordTopicEncoder`.
"""

from __future__ import annotations

import os
from typing import Any

from torch import Tensor, nn
from transformers import AutoModel, PreTrainedModel


class EncoderClassifier(nn.Module):
    """``forward(input_ids [B, T], attention_mask [B, T]) -> logits [B, n_classes]``; the head is ``head``."""

    def __init__(self, encoder: PreTrainedModel, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least two classes, got {n_classes}")
        self.encoder = encoder
        self.n_classes = n_classes
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_classes, dtype=encoder.dtype)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weight = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weight).sum(1) / weight.sum(1).clamp_min(1.0)
        return self.head(self.dropout(pooled))

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        n_classes: int,
        *,
        attn_implementation: str = "eager",
        dropout: float = 0.1,
        **encoder_kwargs: Any,
    ) -> EncoderClassifier:
        """The encoder ``name_or_path`` (hub name or local folder) with a fresh head of ``n_classes`` outputs,
        drawn from PyTorch's global generator (seed it first for a reproducible head)."""
        encoder = AutoModel.from_pretrained(
            name_or_path, attn_implementation=attn_implementation, **encoder_kwargs
        )
        return cls(encoder, n_classes, dropout)
