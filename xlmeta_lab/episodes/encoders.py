"""Sentences to a model's ``(x, y)``: word and character ids for the word tagger.

Episodes need fixed shapes (vmap stacks tasks), so an encoder called with ``max_len`` pads or cuts every
sentence to it; evaluation (``max_len=None``) pads to the longest sentence and cuts nothing. Words are cut to
their first ``max_word_len`` characters (the word id still sees the full form). Sub-word encoding for a
pretrained encoder lives in :mod:`xlmeta_lab.episodes.subwords` and answers the same
:class:`SentenceEncoder` protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from xlmeta_lab.data.sib200 import Example
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled, TokenInputs
from xlmeta_lab.episodes.vocab import PAD, Vocab

TAG_TO_ID = {tag: i for i, tag in enumerate(UPOS_TAGS)}


def encode_tokens(
    token_lists: Sequence[Sequence[str]], vocab: Vocab, max_len: int, max_word_len: int
) -> TokenInputs:
    """Pad/truncate token lists to ``[S, max_len]`` word ids and ``[S, max_len, max_word_len]`` char ids."""
    # Flat lists and one tensor() call each: building nested tensors element-wise is ~10x slower.
    char_rows: dict[str, list[int]] = {}
    no_word = [PAD] * max_word_len
    words: list[int] = []
    chars: list[int] = []
    for tokens in token_lists:
        kept = list(tokens[:max_len])
        padding = max_len - len(kept)
        words += [vocab.word_id(form) for form in kept]
        words += [PAD] * padding
        for form in kept:
            row = char_rows.get(form)
            if row is None:
                ids = vocab.char_ids(form, max_word_len)
                row = char_rows[form] = ids + [PAD] * (max_word_len - len(ids))
            chars += row
        chars += no_word * padding
    shape = (len(token_lists), max_len)
    return TokenInputs(
        torch.tensor(words, dtype=torch.long).reshape(shape),
        torch.tensor(chars, dtype=torch.long).reshape(*shape, max_word_len),
    )


def encode_sentences(
    sentences: Sequence[Sentence], vocab: Vocab, max_len: int | None = None, max_word_len: int = 16
) -> Labeled:
    """Tagged sentences as ``(x, y)`` tensors; ``max_len=None`` pads to the longest (no truncation)."""
    max_len = max_len or max((len(s) for s in sentences), default=1)
    tags = torch.full((len(sentences), max_len), IGNORE_INDEX, dtype=torch.long)
    for i, sentence in enumerate(sentences):
        ids = [TAG_TO_ID[t] for t in sentence.tags[:max_len]]
        tags[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return Labeled(encode_tokens([s.forms for s in sentences], vocab, max_len, max_word_len), tags)


class SentenceEncoder(Protocol):
    """Turns tagged sentences into a model's ``(x, y)``: what samplers and the protocol ask of a tagger.

    ``max_len=None`` pads to the longest sentence and cuts nothing (evaluation); a number gives every call
    the same shape (episodes, so tasks stack for vmap), and words past it lose their tags.
    """

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled: ...


@dataclass(frozen=True)
class WordCharEncoder:
    """Word and character ids from a :class:`Vocab`, words cut to ``max_word_len`` characters."""

    vocab: Vocab
    max_word_len: int = 16

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled:
        return encode_sentences(sentences, self.vocab, max_len, self.max_word_len)


def as_encoder(encoder: SentenceEncoder | Vocab, max_word_len: int = 16) -> SentenceEncoder:
    """``encoder`` itself, or a bare :class:`Vocab` as a :class:`WordCharEncoder` (the common case)."""
    return WordCharEncoder(encoder, max_word_len) if isinstance(encoder, Vocab) else encoder


def encode_examples(
    examples: Sequence[Example],
    vocab: Vocab,
    labels: Sequence[str],
    max_len: int | None = None,
    max_word_len: int = 16,
) -> Labeled:
    """Classification examples as ``(x, y)``; ``y[i]`` is the *global* label id (index in ``labels``).

    ``max_len=None`` pads to the longest example; a number pads or cuts every example to it (a cut
    sentence keeps its label: the topic of its first ``max_len`` words).
    """
    max_len = max_len or max((len(e) for e in examples), default=1)
    index = {label: i for i, label in enumerate(labels)}
    y = torch.tensor([index[e.label] for e in examples], dtype=torch.long)
    return Labeled(encode_tokens([e.forms for e in examples], vocab, max_len, max_word_len), y)


def encode_buckets(
    sentences: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    max_word_len: int = 16,
    size: int = 128,
) -> list[Labeled]:
    """An evaluation set in chunks of sentences of similar length, so little compute goes to padding.

    ``encoder`` may be a bare :class:`Vocab` (words cut to ``max_word_len`` characters).
    """
    encoder = as_encoder(encoder, max_word_len)
    ordered = sorted(sentences, key=lambda s: len(s))
    return [encoder.encode(ordered[i : i + size]) for i in range(0, len(ordered), size)]
