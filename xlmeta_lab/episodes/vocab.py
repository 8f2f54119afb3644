"""Word and character inventories, built from the training languages only.

A French word never seen in training maps to UNK, exactly as it would for a learner with no French;
characters are one inventory shared by every language, which is what lets a character encoder carry
spelling cues across languages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xlmeta_lab.data.sib200 import Example, tokenize
from xlmeta_lab.data.ud import Sentence

__all__ = ["PAD", "UNK", "Vocab", "tokenize", "tokens_of"]

PAD, UNK = 0, 1


def tokens_of(item: Sentence | Example) -> Sequence[str]:
    """A UD/toy sentence's forms, or a SIB-200 example's words (:func:`xlmeta_lab.data.sib200.tokenize`)."""
    return item.forms


@dataclass(frozen=True)
class Vocab:
    """Word and character inventories with PAD=0 and UNK=1.

    Build it from the *training* languages only: a French word that was never seen maps to UNK,
    exactly as it would for a learner with no French. Characters are one inventory shared by
    all languages, which is what lets a character encoder transfer spelling cues. Words are
    lower-cased by default (``lowercase``); characters keep their case (a capital is a cue).
    """

    words: tuple[str, ...]
    chars: tuple[str, ...]
    lowercase: bool = True
    _word_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _char_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_index", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_char_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def build(
        cls,
        items: Iterable[Sentence | Example],
        min_freq: int = 1,
        char_min_freq: int = 1,
        lowercase: bool = True,
    ) -> Vocab:
        """Words seen at least ``min_freq`` times (chars ``char_min_freq``), most frequent first."""
        words: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        for item in items:
            for form in tokens_of(item):
                words[form.lower() if lowercase else form] += 1
                chars.update(form)
        keep_words = [w for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_freq]
        keep_chars = [
            c for c, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])) if n >= char_min_freq
        ]
        return cls(("<pad>", "<unk>", *keep_words), ("<pad>", "<unk>", *keep_chars), lowercase)

    def to_dict(self) -> dict[str, Any]:
        """The inventories as plain lists, for checkpoints and saved models (JSON-safe)."""
        return {"words": list(self.words), "chars": list(self.chars), "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Vocab:
        """The inverse of :meth:`to_dict`."""
        return cls(tuple(values["words"]), tuple(values["chars"]), bool(values["lowercase"]))

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_chars(self) -> int:
        return len(self.chars)

    def word_id(self, form: str) -> int:
        return self._word_index.get(form.lower() if self.lowercase else form, UNK)

    def char_ids(self, form: str, max_word_len: int) -> list[int]:
        return [self._char_index.get(c, UNK) for c in form[:max_word_len]]
