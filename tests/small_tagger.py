"""The small word tagger the bucketing and spelling tests fine-tune: one seeded model, so two layouts of the same
draws start from the same weights and any difference in the result is the layout's."""

from __future__ import annotations

import torch

from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.models.tagger import Tagger, TaggerConfig


def small_tagger(vocab: Vocab, *, context: str = "conv", chars: bool = True) -> Tagger:
    """A word tagger over ``vocab`` with 8- and 16-wide layers, seeded; ``chars=False`` reads whole words only."""
    torch.manual_seed(0)
    config = TaggerConfig(
        n_tags=17, n_words=vocab.n_words, n_chars=vocab.n_chars if chars else 0, word_dim=8, char_dim=8,
        char_channels=8, hidden=16, context=context,
    )  # fmt: skip
    return Tagger(config)
