"""A pretrained Hugging Face encoder as a part-of-speech tagger the meta-learning engine can train.

The word tagger of :mod:`xlmeta_lab.models` starts from nothing; this one starts from a multilingual
encoder (mBERT, XLM-R, ...) and asks whether MAML still helps when the initialisation already knows
French. Three things differ from the word tagger, and this module handles each:

* **Sub-tokens, not words.** The encoder reads WordPiece/SentencePiece pieces; UPOS tags belong to
  words. As is standard for token classification (Devlin et al., 2019, section 5.3), each word is
  represented by its *first* sub-token: :func:`encode_for_encoder` records that position per word in
  ``word_starts``, and :class:`EncoderTagger` gathers the encoder's states there, so logits and tags
  are both indexed by word and :func:`xlmeta_lab.models.tagging_loss` applies unchanged.
* **Fixed shapes.** The engine stacks tasks to batch them, so every sentence is padded to the same
  ``max_subtokens`` pieces and ``max_words`` words, whatever the episode.
* **Attention kernels.** Second-order MAML needs ``attn_implementation="eager"`` (fused kernels have no
  double backward; see :mod:`xlmeta_lab.meta.attention`), so :meth:`EncoderTagger.from_pretrained`
  loads eager attention unless told otherwise.

Which sentences form an episode is decided exactly as for the word tagger (same seed, same sentences),
so the two models can be compared on paired episodes; only the encoding differs.

Reference:
    Devlin, Chang, Lee, Toutanova (2019), BERT, arXiv:1810.04805.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes import IGNORE_INDEX, TAG_TO_ID, Labeled, TaggingEpisodeSampler
from xlmeta_lab.meta.maml import Task

#: Written next to the encoder's own files by :meth:`EncoderTagger.save_pretrained`.
TAGGER_CONFIG = "tagger.json"
TAGGER_HEAD = "tagger_head.safetensors"
_FORMAT = "xlmeta-lab EncoderTagger"
_FORMAT_VERSION = 1


class EncoderInputs(NamedTuple):
    """``x`` for an :class:`EncoderTagger`; a tuple, so the engine calls ``model(*x)``.

    ``input_ids`` and ``attention_mask`` are ``[S, max_subtokens]``; ``word_starts`` is
    ``[S, max_words]``: the sub-token position of each word's first piece (0, the ``[CLS]``
    position, for padding words, whose tag is ``-100``).
    """

    input_ids: Tensor
    attention_mask: Tensor
    word_starts: Tensor


class EncoderTagger(nn.Module):
    """A Hugging Face encoder, dropout and a linear head over tags, read at each word's first sub-token.

    ``forward(input_ids [B, T], attention_mask [B, T], word_starts [B, L]) -> logits [B, L, n_tags]``.
    The head is the attribute ``head``, so ANIL is ``adapt="head"`` in the engine. Padding words get
    logits too (of the ``[CLS]`` state); their ``-100`` targets keep them out of the loss.
    """

    def __init__(
        self, encoder: PreTrainedModel, tag_names: Sequence[str] = UPOS_TAGS, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if not tag_names:
            raise ValueError("a tagger needs at least one tag name")
        self.encoder = encoder
        self.tag_names = tuple(tag_names)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, len(self.tag_names), dtype=encoder.dtype)

    @property
    def n_tags(self) -> int:
        return len(self.tag_names)

    def forward(self, input_ids: Tensor, attention_mask: Tensor, word_starts: Tensor) -> Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # torch.gather rather than fancy indexing: one batched op with no Python loop over sentences,
        # which torch.func.vmap (the engine's batched path) maps without trouble.
        index = word_starts.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])
        return self.head(self.dropout(torch.gather(hidden, 1, index)))

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        n_tags: int | None = None,
        *,
        tag_names: Sequence[str] | None = None,
        attn_implementation: str = "eager",
        dropout: float = 0.1,
        **encoder_kwargs: Any,
    ) -> EncoderTagger:
        """A tagger on a Hugging Face encoder: a fresh head, or a whole tagger saved by :meth:`save_pretrained`.

        Arguments:
            name_or_path: a hub name (fetched by ``transformers`` unless cached) or a local folder. A
                folder holding ``tagger.json`` is a saved tagger: its head and tag names are restored.
            n_tags: the number of tags; optional, checked against ``tag_names`` (or the saved tagger).
            tag_names: the head's outputs, in order; default UPOS. Ignored for a saved tagger, whose
                names are part of what it learned.
            attn_implementation: ``"eager"`` (default) because second-order MAML needs it; ``"sdpa"`` is
                faster for first-order methods and evaluation.
            dropout: dropout before the head (the encoder keeps its own configured dropout); a saved
                tagger's value wins.
            encoder_kwargs: passed to ``AutoModel.from_pretrained`` (e.g. ``local_files_only=True``).

        A fresh head is initialised from PyTorch's global generator: call ``torch.manual_seed`` first for
        a reproducible one.
        """
        folder = Path(name_or_path)
        saved = _read_tagger_config(folder) if (folder / TAGGER_CONFIG).is_file() else None
        names = tuple(saved["tag_names"] if saved else (tag_names if tag_names is not None else UPOS_TAGS))
        if n_tags is not None and n_tags != len(names):
            where = f"the tagger saved in {folder}" if saved else "tag_names"
            raise ValueError(
                f"n_tags={n_tags}, but {where} has {len(names)} tags ({', '.join(names)}); "
                "pass tag_names naming every output"
            )
        encoder = AutoModel.from_pretrained(
            name_or_path, attn_implementation=attn_implementation, **encoder_kwargs
        )
        tagger = cls(encoder, names, saved["dropout"] if saved else dropout)
        if saved:
            head = load_file(folder / TAGGER_HEAD)
            tagger.head.load_state_dict({k: v.to(tagger.head.weight.dtype) for k, v in head.items()})
        return tagger

    def save_pretrained(
        self, directory: str | os.PathLike, tokenizer: PreTrainedTokenizerBase | None = None
    ) -> Path:
        """Save the whole tagger so :meth:`from_pretrained` rebuilds it exactly (e.g. a meta-trained init).

        The encoder is saved by Hugging Face (``config.json``, ``model.safetensors``), so the folder also
        loads with ``AutoModel.from_pretrained``; the head goes to ``tagger_head.safetensors`` and the tag
        names and dropout to ``tagger.json``. Pass the ``tokenizer`` to make the folder self-contained
        (``AutoTokenizer.from_pretrained(directory)``): an init is useless without the pieces it was
        trained on.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory)
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in self.head.state_dict().items()},
            directory / TAGGER_HEAD,
        )
        config = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "n_tags": self.n_tags,
            "tag_names": list(self.tag_names),
            "dropout": self.dropout.p,
        }
        (directory / TAGGER_CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        return directory


def _read_tagger_config(folder: Path) -> dict[str, Any]:
    """``tagger.json``, refused if it is not ours or from a newer version (better than a wrong head)."""
    config = json.loads((folder / TAGGER_CONFIG).read_text(encoding="utf-8"))
    if config.get("format") != _FORMAT or config.get("format_version", 0) > _FORMAT_VERSION:
        raise ValueError(
            f"{folder / TAGGER_CONFIG} is not a version-{_FORMAT_VERSION} {_FORMAT} file: "
            f"format={config.get('format')!r}, format_version={config.get('format_version')!r}"
        )
    if config["n_tags"] != len(config["tag_names"]):
        raise ValueError(
            f"{folder / TAGGER_CONFIG}: n_tags={config['n_tags']} but {len(config['tag_names'])} names"
        )
    return config


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
    # Flat lists and one tensor() call each, as in episodes.encode_tokens: element-wise writes are slow.
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
    """A tokenizer as a :class:`xlmeta_lab.episodes.SentenceEncoder`: sub-token inputs, a tag per word.

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
        longest = max((len(s) for s in sentences), default=1)
        x, y = encode_for_encoder(sentences, self.tokenizer, self.limit, longest, pad_to_longest=True)
        return Labeled(x, y)


class EncoderEpisodeSampler(TaggingEpisodeSampler):
    """Support/query tagging tasks for an :class:`EncoderTagger`, one language per task.

    A :class:`xlmeta_lab.episodes.TaggingEpisodeSampler` with a :class:`SubwordEncoder`: seeded by its own
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
