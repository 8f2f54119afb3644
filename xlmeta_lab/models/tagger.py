"""Taggers small enough to meta-train from scratch on a CPU.

Transfer between English, Spanish and French rides on *characters*: suffixes (``-tion``, ``-mente``),
cognates and punctuation are shared even where whole words are not. So a word is read twice, as an
embedding of the whole form (when the vocabulary knows it) and by a character CNN (always), and a
sentence-level context layer sees its neighbours. The context layer is a stack of 1-D convolutions by
default because the engine can ``vmap`` it (many tasks in one call); a BiLSTM is offered as the classic
alternative, which the engine runs task by task.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

Context = Literal["conv", "lstm", "none"]


@dataclass(frozen=True)
class TaggerConfig:
    """Everything needed to rebuild a tagger, stored in checkpoints so a mismatch can be refused."""

    n_tags: int
    n_words: int = 0  # 0: no whole-word embedding, characters only
    n_chars: int = 0  # 0: no character encoder, words only
    word_dim: int = 64
    char_dim: int = 32
    char_channels: int = 64
    hidden: int = 128
    context: Context = "conv"
    context_layers: int = 2
    kernel_size: int = 3
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def embed_without_padding(embedding: nn.Embedding, ids: Tensor) -> Tensor:
    """Look up ``ids`` with id 0 (padding) mapped to a zero vector that receives no gradient.

    ``nn.Embedding(padding_idx=0)`` does this in its backward pass, but under ``torch.func.vmap`` with
    per-task weights the padding row was measured to receive gradient anyway; an explicit mask behaves
    the same on both engine paths.
    """
    return embedding(ids) * (ids != 0).unsqueeze(-1).to(embedding.weight.dtype)


class CharCNN(nn.Module):
    """Character n-gram detectors max-pooled over the word: a fixed-size vector per word, any length."""

    def __init__(self, n_chars: int, char_dim: int, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim)
        self.conv = nn.Conv1d(char_dim, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, char_ids: Tensor) -> Tensor:
        batch, length, width = char_ids.shape
        chars = embed_without_padding(self.embed, char_ids.reshape(batch * length, width)).transpose(1, 2)
        features = F.gelu(self.conv(chars))
        # padding characters must not win the max: push them to -inf before pooling
        pad = char_ids.reshape(batch * length, 1, width) == 0
        features = features.masked_fill(pad, float("-inf")).amax(dim=2)
        features = torch.where(torch.isinf(features), torch.zeros_like(features), features)
        return features.reshape(batch, length, -1)


class LayerNorm(nn.Module):
    """LayerNorm from elementary ops, so second-order MAML can batch tasks with ``vmap``.

    ``nn.LayerNorm``'s fused kernel gives wrong second derivatives under ``vmap`` with per-task weights
    (measured in the engine's tests); written out, autograd and vmap compose exactly. Same maths and
    parameter names as ``nn.LayerNorm``.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(-1, keepdim=True)
        centred = x - mean
        variance = centred.pow(2).mean(-1, keepdim=True)
        return centred * torch.rsqrt(variance + self.eps) * self.weight + self.bias


class ConvContext(nn.Module):
    """Residual 1-D convolutions over the sentence with LayerNorm: vmap-friendly (no BatchNorm, no RNN)."""

    def __init__(self, dim: int, layers: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2) for _ in range(layers)
        )
        self.norms = nn.ModuleList(LayerNorm(dim) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = norm(x + self.dropout(F.gelu(conv(x.transpose(1, 2)).transpose(1, 2))))
        return x


class LSTMContext(nn.Module):
    """A bidirectional LSTM: strong on tagging, but its fused kernel cannot be vmapped."""

    def __init__(self, dim: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim // 2, num_layers=layers, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.lstm(x)[0])


class WordCharInputs(nn.Module):
    """The input side the word tagger and the sentence classifier share: a word embedding, a character CNN, or
    both, concatenated and projected to the model's width.

    A base class rather than a submodule, so the parameters keep their names (``words.*``, ``chars.*``,
    ``project.*``) in checkpoints and saved models.
    """

    def build_inputs(self, config: TaggerConfig | Any, what: str) -> None:
        if config.n_words <= 0 and config.n_chars <= 0:
            raise ValueError(f"{what} needs words (n_words > 0), characters (n_chars > 0) or both")
        self.what = what
        self.words = nn.Embedding(config.n_words, config.word_dim) if config.n_words > 0 else None
        self.chars = (
            CharCNN(config.n_chars, config.char_dim, config.char_channels, config.kernel_size)
            if config.n_chars > 0
            else None
        )
        in_dim = (config.word_dim if self.words is not None else 0) + (
            config.char_channels if self.chars is not None else 0
        )
        self.project = nn.Linear(in_dim, config.hidden)

    def project_inputs(
        self, word_ids: Tensor | None, char_ids: Tensor | None, char_features: Tensor | None = None
    ) -> Tensor:
        """``[B, L, hidden]`` before the activation: the projected concatenation of what the model reads.

        ``char_features`` ``[B, L, char_channels]``: the character CNN's output for these words, when the caller
        computed it once for many positions (fine-tuning spells each word type once per step,
        :mod:`xlmeta_lab.episodes.word_types`); then ``char_ids`` is not read.
        """
        parts = []
        if self.words is not None:
            if word_ids is None:
                raise ValueError(f"this {self.what.split(' ', 1)[1]} reads whole words: pass word_ids")
            parts.append(embed_without_padding(self.words, word_ids))
        if self.chars is not None:
            if char_features is None:
                if char_ids is None:
                    raise ValueError(f"this {self.what.split(' ', 1)[1]} reads characters: pass char_ids")
                char_features = self.chars(char_ids)
            parts.append(char_features)
        return self.project(torch.cat(parts, dim=-1))


class Tagger(WordCharInputs):
    """Words (and their characters) in, one score per tag per word out.

    ``forward(word_ids [B, L], char_ids [B, L, W]) -> logits [B, L, n_tags]``; pass only the inputs the
    config uses. Padding positions get logits too; the loss ignores them through ``-100`` targets.
    """

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.config = config
        self.build_inputs(config, "a tagger")
        if config.context == "conv":
            self.context: nn.Module = ConvContext(
                config.hidden, config.context_layers, config.kernel_size, config.dropout
            )
        elif config.context == "lstm":
            self.context = LSTMContext(config.hidden, config.context_layers, config.dropout)
        elif config.context == "none":
            self.context = nn.Identity()
        else:
            raise ValueError(f"unknown context layer {config.context!r}; choose conv, lstm or none")
        self.head = nn.Linear(config.hidden, config.n_tags)

    def forward(
        self,
        word_ids: Tensor | None = None,
        char_ids: Tensor | None = None,
        *,
        char_features: Tensor | None = None,
    ) -> Tensor:
        """Logits ``[B, L, n_tags]``; ``char_features`` replaces ``char_ids`` (see :meth:`project_inputs`)."""
        return self.head(self.context(F.gelu(self.project_inputs(word_ids, char_ids, char_features))))


class SpelledOnceTagger(nn.Module):
    """``model`` read on sets whose words are spelled once (:mod:`xlmeta_lab.episodes.word_types`): the character
    CNN on the spellings, group by group, then one call per set with each position's row of its output. Its
    weights are the tagger's, named ``model.<name>``; a tagger without characters reads only the word ids."""

    def __init__(self, model: Tagger) -> None:
        super().__init__()
        self.model = model

    def forward(self, spellings: tuple[Tensor, ...], *sets: tuple[Tensor, Tensor]) -> tuple[Tensor, ...]:
        if self.model.chars is None:
            return tuple(self.model(word_ids) for word_ids, _ in sets)
        features = torch.cat([self.model.chars(group.unsqueeze(0)).squeeze(0) for group in spellings])
        return tuple(self.model(word_ids, char_features=features[index]) for word_ids, index in sets)


def tagging_loss(logits: Tensor, tags: Tensor, reduction: str = "mean") -> Tensor:
    """Mean cross-entropy over real words; padding carries the target ``-100`` and is ignored.

    ``reduction="sum"`` sums instead, for a caller that divides by the words of several processes' batches.
    """
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tags.reshape(-1), ignore_index=-100, reduction=reduction
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
