"""Sentences to a model's ``(x, y)``: word and character ids for the word tagger.

Episodes need fixed shapes (vmap stacks tasks), so an encoder called with ``max_len`` pads or cuts every
sentence to it; evaluation (``max_len=None``) pads to the longest sentence and cuts nothing, which is why that
sentence may not be longer than :data:`MAX_SENTENCE_WORDS` (:func:`split_long_sentences` cuts longer ones into
parts first). Words are cut to their first ``max_word_len`` characters (the word id still sees the full form).
Sub-word encoding for a pretrained encoder lives in :mod:`xlmeta_lab.episodes.subwords` and answers the same
:class:`SentenceEncoder` protocol.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import torch

from xlmeta_lab.data.sib200 import Example
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled, TokenInputs, stack_sets
from xlmeta_lab.episodes.vocab import PAD, UNK, Vocab

TAG_TO_ID = {tag: i for i, tag in enumerate(UPOS_TAGS)}

#: The most words a sentence may have where a set is padded to its longest sentence. Evaluation sets are
#: padded to their longest (in buckets of 128), the K-shot draws to the longest among them, so one sentence
#: decides the memory of its whole batch. At 200 words the word tagger's character convolution gives 70-140 MB
#: for one bucket (128 x 200 words x 14 characters x 48-96 channels, the UD profiles); a 20,000-word sentence
#: (a file without sentence breaks) makes that 7-14 GB, and minutes of compute on every fine-tuning step. Real
#: sentences stay far below: the longest in the workbook's nine treebanks has 135 words (es GSD), French GSD's
#: 114, PUD's 65.
MAX_SENTENCE_WORDS = 200


def split_long_sentences(
    sentences: Sequence[Sentence], max_words: int = MAX_SENTENCE_WORDS
) -> list[Sentence]:
    """``sentences`` with each one longer than ``max_words`` cut into consecutive parts of at most that many
    words (ids ``<sent_id>#part1``, ...), so every word keeps its tag and no sentence can blow up a padded
    batch (see :data:`MAX_SENTENCE_WORDS`). Each part is then a sentence of its own: it loses the words of
    its neighbours as context, a small price for words that are rarely found outside broken files. Warns,
    naming the longest, when it cuts anything."""
    long = [s for s in sentences if len(s) > max_words]
    if not long:
        return list(sentences)
    longest = max(long, key=len)
    warnings.warn(
        f"{longest.source}: {len(long)} sentence(s) longer than {max_words} words (the longest, "
        f"{longest.sent_id!r}, has {len(longest)}) cut into parts of at most {max_words}, each read as a "
        "sentence of its own",
        stacklevel=2,
    )
    return [part for s in sentences for part in _parts(s, max_words)]


def _parts(sentence: Sentence, max_words: int) -> list[Sentence]:
    if len(sentence) <= max_words:
        return [sentence]
    return [
        replace(
            sentence,
            forms=sentence.forms[start : start + max_words],
            tags=sentence.tags[start : start + max_words],
            sent_id=f"{sentence.sent_id}#part{n}",
        )
        for n, start in enumerate(range(0, len(sentence), max_words), start=1)
    ]


def padded_length(sentences: Sequence[Sentence], max_len: int | None = None) -> int:
    """What a set is padded to: ``max_len`` when given (the caller chose it), else its longest sentence, which
    must not be longer than :data:`MAX_SENTENCE_WORDS`: one such sentence would decide the memory and time
    of every sentence padded beside it."""
    if max_len is not None:
        return max_len
    longest = max(sentences, key=len, default=None)
    if longest is None:
        return 1
    if len(longest) > MAX_SENTENCE_WORDS:
        raise ValueError(
            f"sentence {longest.sent_id!r} of {longest.source} has {len(longest)} words, more than "
            f"MAX_SENTENCE_WORDS = {MAX_SENTENCE_WORDS}: every sentence padded beside it would cost as much; "
            "cut it into parts first (xlmeta_lab.episodes.encoders.split_long_sentences, as xlmeta fewshot does)"
        )
    return len(longest)


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
    max_len = padded_length(sentences, max_len)
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

    def unknown_chars(self, chars: Iterable[str]) -> set[str]:
        """Those of ``chars`` the model reads as its one unknown symbol, unable to tell them apart."""
        ...


@dataclass(frozen=True)
class WordCharEncoder:
    """Word and character ids from a :class:`Vocab`, words cut to ``max_word_len`` characters."""

    vocab: Vocab
    max_word_len: int = 16

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled:
        return encode_sentences(sentences, self.vocab, max_len, self.max_word_len)

    def unknown_chars(self, chars: Iterable[str]) -> set[str]:
        return {c for c in chars if self.vocab.char_ids(c, 1) == [UNK]}


#: Above this share of unknown characters a set is probably not what the model can read: French on the
#: workbook's en+es characters has 0.13% ("î", "œ", "û", ...), a Latin-script language with many letters of
#: its own a few percent, while another script (Greek, Cyrillic, Chinese) is unknown almost throughout.
UNKNOWN_CHARS_WARNING = 0.2


def unknown_char_share(sentences: Sequence[Sentence], encoder: SentenceEncoder) -> float:
    """The share of the characters of ``sentences`` (every occurrence counted) that ``encoder``'s model reads
    as its unknown symbol: high means the words' spelling, the cue a new language is tagged by, is lost."""
    counts = Counter(c for s in sentences for form in s.forms for c in form)
    total = sum(counts.values())
    return sum(counts[c] for c in encoder.unknown_chars(counts)) / total if total else 0.0


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


def bucket_draws(
    draws: Sequence[Sequence[Sentence]], encoder: SentenceEncoder, *, reach: int, size: int = 16
) -> list[Labeled]:
    """K-shot draws as length buckets, each stacked on a leading draw axis: ``[D, ~size, L_b]`` per bucket.

    Stacked as one set (``stack_draws``), every sentence of every draw is padded to the longest among them:
    at K = 50 most positions are padding, and fine-tuning pays for each on every step. Here each draw's
    sentences are sorted by length and cut into ``ceil(K / size)`` buckets of near-equal counts; bucket ``b``
    of every draw is padded to the longest sentence in bucket ``b`` of any draw (shapes must agree for vmap).

    ``reach``: how many positions past a sentence's last word can change what the model says about its words
    (its context layers' reach to the right; :func:`~xlmeta_lab.experiments.adaptation.finetune.padding_reach`).
    A sentence's padding is kept at ``min(what the stacked set gives it, reach)`` or more, so the model reads
    every sentence as it does in the stacked set: the loss and its gradient are the same sum, in another order.
    """
    longest = padded_length([s for d in draws for s in d])
    k = len(draws[0])
    if any(len(d) != k for d in draws):
        raise ValueError(f"draws of equal size only, got {sorted({len(d) for d in draws})}")
    n = max(1, -(-k // size))
    bounds = [round(i * k / n) for i in range(n + 1)]
    ranked = [sorted(d, key=len) for d in draws]
    buckets = []
    for start, stop in zip(bounds, bounds[1:]):
        parts = [d[start:stop] for d in ranked]
        length = min(longest, max(len(s) for part in parts for s in part) + reach)
        buckets.append(stack_sets([encoder.encode(list(part), length) for part in parts]))
    return buckets
