"""Sub-word encoding for a pretrained Hugging Face encoder: sub-token inputs, one tag per word (or one topic
per sentence, :class:`SubwordTopicEncoder`).

The encoder reads WordPiece/SentencePiece pieces; UPOS tags belong to words. As is standard for token
classification (Devlin et al., 2019, section 5.3), each word is represented by its *first* sub-token:
:func:`encode_for_encoder` records that position per word in ``word_starts``, and
:class:`xlmeta_lab.models.encoder.EncoderTagger` gathers the encoder's states there, so logits and tags are
both indexed by word and :func:`xlmeta_lab.models.tagger.tagging_loss` applies unchanged. The engine stacks
tasks to batch them, so episodes pad every sentence to the same ``max_subtokens`` pieces and ``max_words``
words. Which sentences form an episode is decided exactly as for the word tagger (same seed, same
sentences), so the two models can be compared on paired episodes; only the encoding differs.

Reference:
    Devlin, Chang, Lee, Toutanova (2019), BERT, arXiv:1810.04805.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import torch
from torch import Tensor

from xlmeta_lab.data.sib200 import SIB_LABELS, Example
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import TAG_TO_ID, padded_length
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled
from xlmeta_lab.meta import Task

if TYPE_CHECKING:  # transformers is imported only by code that loads a model
    from transformers import PreTrainedTokenizerBase


class EncoderInputs(NamedTuple):
    """``x`` for an :class:`EncoderTagger`; a tuple, so the engine calls ``model(*x)``.

    ``input_ids`` and ``attention_mask`` are ``[S, max_subtokens]``; ``word_starts`` is
    ``[S, max_words]``: the sub-token position of each word's first piece (0, the ``[CLS]``
    position, for padding words, whose tag is ``-100``).
    """

    input_ids: Tensor
    attention_mask: Tensor
    word_starts: Tensor


def encode_for_encoder(
    sentences: Sequence[Sentence],
    tokenizer: PreTrainedTokenizerBase,
    max_subtokens: int,
    max_words: int,
    tag_to_id: Mapping[str, int] = TAG_TO_ID,
    *,
    pad_to_longest: bool = False,
) -> tuple[EncoderInputs, Tensor]:
    """Tagged sentences as ``(EncoderInputs, tags [S, max_words])`` with fixed shapes, so tasks stack.

    ``pad_to_longest`` pads the pieces only as far as the longest sentence needs (still cut at
    ``max_subtokens``): for evaluation sets, which need not stack.

    The sentence's words are given to the tokenizer as words (``is_split_into_words=True``), so no
    word is re-split or merged, and ``word_ids()`` maps every piece back to its word. A word's tag is
    kept if its *first* piece is kept; it becomes ``-100`` (ignored by the loss) when:

    * the word is beyond ``max_words`` (it has no slot);
    * its first piece falls beyond the sub-token budget ``max_subtokens`` (which includes the special
      tokens such as ``[CLS]`` and ``[SEP]``) and is truncated away;
    * the tokenizer turns it into no piece at all (rare; e.g. a lone control character).

    A word whose later pieces are truncated keeps its tag: its first piece, which carries the label,
    is still there. Choose ``max_subtokens`` generously (word pieces per word are ~1.3-2 for these
    languages) so truncation stays an exception.

    Requires a *fast* (Rust ``tokenizers``) tokenizer: only those provide ``word_ids()``.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; word_ids(), which maps sub-tokens to words, "
            "needs one: load it with AutoTokenizer.from_pretrained(name, use_fast=True)"
        )
    batch = tokenizer(
        [list(s.forms) for s in sentences],
        is_split_into_words=True,
        truncation=True,
        max_length=max_subtokens,
        padding="longest" if pad_to_longest else "max_length",
        return_tensors="pt",
    )
    # Flat lists and one tensor() call each, as in xlmeta_lab.episodes.encoders.encode_tokens: element-wise writes are slow.
    starts: list[int] = []
    tags: list[int] = []
    for i, sentence in enumerate(sentences):
        first_piece: dict[int, int] = {}
        for position, word in enumerate(batch.word_ids(i)):
            if word is not None and word < max_words:
                first_piece.setdefault(word, position)
        for word in range(max_words):
            kept = word in first_piece
            starts.append(first_piece[word] if kept else 0)
            tags.append(tag_to_id[sentence.tags[word]] if kept else IGNORE_INDEX)
    shape = (len(sentences), max_words)
    inputs = EncoderInputs(
        batch["input_ids"],
        batch["attention_mask"],
        torch.tensor(starts, dtype=torch.long).reshape(shape),
    )
    return inputs, torch.tensor(tags, dtype=torch.long).reshape(shape)


@dataclass(frozen=True)
class SubwordEncoder:
    """A tokenizer as a :class:`xlmeta_lab.episodes.encoders.SentenceEncoder`: sub-token inputs, a tag per word.

    Episodes (``max_len`` given) get ``max_subtokens`` pieces, a fixed shape so tasks stack. Evaluation
    sets (``max_len=None``) get as many pieces as their longest sentence needs, up to ``limit`` (the
    encoder's position limit), so no test word loses its tag to a budget made for training episodes.
    Two encoders are equal when they name the same tokenizer and budget (how checkpoints are matched).
    """

    tokenizer: PreTrainedTokenizerBase = field(compare=False, repr=False)
    name_or_path: str
    max_subtokens: int = 128
    limit: int = 512

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled:
        if max_len is not None:
            x, y = encode_for_encoder(sentences, self.tokenizer, self.max_subtokens, max_len)
            return Labeled(x, y)
        longest = padded_length(sentences)
        x, y = encode_for_encoder(sentences, self.tokenizer, self.limit, longest, pad_to_longest=True)
        return Labeled(x, y)

    def unknown_chars(self, chars: Iterable[str]) -> set[str]:
        return unknown_to_tokenizer(self.tokenizer, chars)


def unknown_to_tokenizer(tokenizer: PreTrainedTokenizerBase, chars: Iterable[str]) -> set[str]:
    """Characters ``tokenizer`` turns into its unknown piece (none for a byte-level one, which has none)."""
    unk, chars = tokenizer.unk_token_id, list(chars)
    if unk is None or not chars:
        return set()
    pieces = tokenizer(chars, add_special_tokens=False)["input_ids"]
    return {c for c, ids in zip(chars, pieces) if unk in ids}


class EncoderEpisodeSampler(TaggingEpisodeSampler):
    """Support/query tagging tasks for an :class:`EncoderTagger`, one language per task.

    A :class:`xlmeta_lab.episodes.samplers.TaggingEpisodeSampler` with a :class:`SubwordEncoder`: seeded by its own
    ``random.Random(seed)``, support and query disjoint, sentences longer than ``max_words`` skipped
    (``skipped`` counts them per language). With the same ``seed`` and ``max_words`` equal to the word
    sampler's ``max_len``, both draw the same sentences, so the word tagger and the encoder can be compared
    on paired episodes; only the encoding differs.
    """

    def __init__(
        self,
        sentences: Sequence[Sentence],
        tokenizer: PreTrainedTokenizerBase,
        support_size: int,
        query_size: int,
        *,
        max_words: int = 48,
        max_subtokens: int = 128,
        seed: int = 0,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_words, self.max_subtokens = max_words, max_subtokens
        self.encoder = SubwordEncoder(tokenizer, getattr(tokenizer, "name_or_path", ""), max_subtokens)
        super().__init__(sentences, self.encoder, support_size, query_size, max_len=max_words, seed=seed)

    def encode(self, sentences: Sequence[Sentence]) -> Labeled:
        """``(x, y)`` for these sentences, in this sampler's fixed shapes (also for evaluation sets)."""
        return self.encoder.encode(sentences, self.max_words)

    def sample_tasks(self, n: int, lang: str | None = None) -> list[Task]:
        """``n`` tasks of equal shapes: the engine stacks them itself when it can batch them."""
        return [self.sample(lang) for _ in range(n)]


class SentencePieces(NamedTuple):
    """``x`` for an :class:`xlmeta_lab.models.encoder_classifier.EncoderClassifier`: ``[S, T]`` pieces and mask."""

    input_ids: Tensor
    attention_mask: Tensor


@dataclass(frozen=True)
class SubwordTopicEncoder:
    """Sentences to a tokenizer's pieces and one topic id each (``labels`` order): the encoder classifier's
    :class:`xlmeta_lab.episodes.encoders.SentenceEncoder`.

    Episodes (``max_len`` given) get exactly ``max_subtokens`` pieces, so tasks stack; evaluation sets
    (``max_len=None``) as many as their longest sentence needs, up to ``limit``. A sentence cut short keeps its
    topic. Two encoders are equal when they name the same tokenizer and budget.
    """

    tokenizer: PreTrainedTokenizerBase = field(compare=False, repr=False)
    name_or_path: str
    max_subtokens: int = 128
    limit: int = 512
    labels: tuple[str, ...] = SIB_LABELS

    def encode(self, examples: Sequence[Example], max_len: int | None = None) -> Labeled:
        batch = self.tokenizer(
            [e.text for e in examples],
            truncation=True,
            max_length=self.max_subtokens if max_len is not None else self.limit,
            padding="max_length" if max_len is not None else "longest",
            return_tensors="pt",
        )
        y = torch.tensor([self.labels.index(e.label) for e in examples], dtype=torch.long)
        return Labeled(SentencePieces(batch["input_ids"], batch["attention_mask"]), y)

    def unknown_chars(self, chars: Iterable[str]) -> set[str]:
        return unknown_to_tokenizer(self.tokenizer, chars)
