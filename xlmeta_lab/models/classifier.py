"""A sentence classifier small enough to meta-train from scratch on a CPU: one topic per sentence.

The tagger's reading of words, reused: each word is an embedding of its whole form (when the vocabulary
knows it; ``n_words=0`` leaves the table out, which a ``word_dim`` of 0 in the training settings asks for) and a
character CNN over its spelling (always: most French words are unknown to a vocabulary built on other languages,
and their spelling is what carries over: *politique / política / politics*). With ~600 sentences per language a
word table mostly memorises them, so notebook 04 reads spelling only. A residual
1-D convolution gives each word its neighbours, and the sentence is the mean and the maximum of its words
(padding excluded), normalised (LayerNorm: the sentence vector has a fixed scale, so one inner step of a given
size moves the logits by a predictable amount) and read by a linear head over the topics.

Every layer runs under ``torch.func.vmap`` with per-task weights (convolutions, the composite
:class:`~xlmeta_lab.models.tagger.LayerNorm`, masked pooling; no BatchNorm, no RNN), so the engine batches a
meta-batch of episodes, and the few-shot protocol its French draws, in one call each. The loss is
:func:`~xlmeta_lab.models.tagger.tagging_loss`: cross-entropy over logits ``[S, C]`` against labels ``[S]`` is its
one-word case, so training, adaptation and scoring need no classifier-specific code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from xlmeta_lab.models.tagger import ConvContext, LayerNorm, WordCharInputs

#: ``model_config["kind"]`` of a checkpoint holding a :class:`SentenceClassifier`.
CLASSIFIER_KIND = "sentence-classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild a classifier, stored in checkpoints so a mismatch can be refused."""

    n_classes: int
    n_words: int = 0  # 0: no whole-word embedding, characters only
    n_chars: int = 0  # 0: no character encoder, words only
    word_dim: int = 32
    char_dim: int = 16
    char_channels: int = 32
    hidden: int = 64
    context_layers: int = 1
    kernel_size: int = 3
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return {"kind": CLASSIFIER_KIND, **asdict(self)}

    @classmethod
    def from_dict(cls, values: dict) -> ClassifierConfig:
        return cls(**{k: v for k, v in values.items() if k != "kind"})


class SentenceClassifier(WordCharInputs):
    """Words (and their characters) in, one score per topic out.

    ``forward(word_ids [B, L], char_ids [B, L, W]) -> logits [B, n_classes]``. A position is a real word when
    its first character id is not padding, so unknown words (word id 1) still count. The head is the attribute
    ``head``, so ANIL is ``adapt="head"``.

    **The head starts at zero.** Every topic then scores the same, and the first gradient step on a support set
    sets each topic's row of the head to (a multiple of) the mean features of that topic's sentences minus the
    mean over all: one inner step turns the head into class prototypes. A random head instead favours some
    outputs, and with labels permuted in every episode each episode must first unlearn that bias; meta-learning
    averages the head over permutations anyway, so a symmetric start only saves it the trouble (Ye and Chao
    2022, "How to train your MAML to excel in few-shot classification", make the same point). A zero head also
    gives the body no support gradient before that first step, so a first-order method learns nothing for the
    body from one inner step: with ``head="prototype"`` (:mod:`xlmeta_lab.meta.prototypes`) every task starts
    from its support set's class prototypes instead, read off ``norm``'s output, which is what ``head`` reads.
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.build_inputs(config, "a classifier")
        self.context = (
            ConvContext(config.hidden, config.context_layers, config.kernel_size, config.dropout)
            if config.context_layers > 0
            else nn.Identity()
        )
        self.norm = LayerNorm(2 * config.hidden)
        self.head = nn.Linear(2 * config.hidden, config.n_classes)
        nn.init.zeros_(self.head.weight)  # every topic scores the same before any step: see the class doc
        nn.init.zeros_(self.head.bias)

    def forward(self, word_ids: Tensor, char_ids: Tensor) -> Tensor:
        real = (char_ids[..., 0] != 0).unsqueeze(-1)  # [B, L, 1]
        hidden = F.gelu(self.project_inputs(word_ids, char_ids)) * real
        hidden = self.context(hidden)
        weight = real.to(hidden.dtype)
        mean = (hidden * weight).sum(1) / weight.sum(1).clamp_min(1.0)
        peak = hidden.masked_fill(~real, float("-inf")).amax(1)
        peak = torch.where(torch.isinf(peak), torch.zeros_like(peak), peak)
        return self.head(self.norm(torch.cat([mean, peak], dim=-1)))
