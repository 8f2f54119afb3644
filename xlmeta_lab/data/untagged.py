"""Text for a saved tagger: raw sentences or CoNLL-U in, CoNLL-U with UPOS filled in out.

**Raw text** is one sentence per line, cut into tokens by a small rule close to the French treebanks' own:

* white space separates tokens;
* every punctuation mark is a token of its own (``«``, ``,``, ``.``; ``...`` is three tokens);
* a French elision keeps its apostrophe and leaves its host word: ``l'homme`` is ``l'`` + ``homme``, and the
  same for ``c' d' j' m' n' s' t' qu' jusqu' lorsqu' puisqu' quoiqu'`` (straight or curly apostrophe);
* a word keeps its inner hyphens and other apostrophes (``peut-être``, ``aujourd'hui``), and a number its
  decimal or thousands separators (``3,5``, ``1.000``).

Contractions are not expanded: the treebanks split ``du`` into the syntactic words ``de`` + ``le`` (ADP, DET),
but here ``du`` is one token and gets one tag. Empty (or blank) lines are skipped and reported, not refused: a
text file often has paragraph breaks. Each sentence's ``# sent_id`` is ``<name>-<line number>``, so an output
sentence points back to its input line; a token written against the next one gets ``SpaceAfter=No``, so
``# text`` can be rebuilt from the tokens. Other columns are ``_``.

**CoNLL-U** is recognised by the first line that is neither blank nor a comment: a token line (``1<TAB>...``).
Its sentences keep every column and comment; only UPOS is filled in, on syntactic words (multiword-token ranges
and empty nodes keep theirs), and ``# sent_id`` and ``# text`` are added where missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import conllu
from conllu.models import Metadata, Token, TokenList

from xlmeta_lab.data.ud import CONLLU_COLUMNS, RAW_FIELDS, check_conllu_lines

_ELISION = r"\b(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst])['’]"
_TOKEN = re.compile(rf"{_ELISION}|\d+(?:[.,]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]", re.IGNORECASE)
_TOKEN_LINE = re.compile(r"\d+(?:-\d+|\.\d+)?\t")


@dataclass
class Untagged:
    """Sentences to tag, as ``conllu`` token lists, and the numbers of the raw lines skipped as empty."""

    sentences: list[TokenList]
    skipped_lines: list[int] = field(default_factory=list)


def tokenize_line(line: str) -> list[tuple[str, bool]]:
    """``(form, space_after)`` for each token of one line of raw text (the rule is in the module doc)."""
    matches = list(_TOKEN.finditer(line))
    return [
        (m.group(), i + 1 == len(matches) or matches[i + 1].start() > m.end()) for i, m in enumerate(matches)
    ]


def is_conllu(text: str) -> bool:
    """Whether ``text`` is CoNLL-U: its first line that is neither blank nor a comment is a token line."""
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return bool(_TOKEN_LINE.match(line))
    return False


def read_untagged(text: str, name: str) -> Untagged:
    """The sentences of ``text`` (raw or CoNLL-U, detected); ``name`` names the input in ids and errors."""
    untagged = _read_conllu(text, name) if is_conllu(text) else _read_raw(text, name)
    if not untagged.sentences:
        raise ValueError(f"{name} holds no sentence to tag (it is empty or blank)")
    return untagged


def words_of(sentence: TokenList) -> list[str]:
    """The forms of a sentence's syntactic words: what the tagger tags (ranges and empty nodes are not)."""
    return [token["form"] for token in sentence if isinstance(token["id"], int)]


def fill_upos(sentence: TokenList, tags: list[str]) -> None:
    """Write ``tags`` into the UPOS column of the sentence's syntactic words, in order."""
    words = [token for token in sentence if isinstance(token["id"], int)]
    if len(words) != len(tags):
        raise ValueError(f"{len(tags)} tags for the {len(words)} words of {sentence.metadata.get('sent_id')}")
    for token, tag in zip(words, tags):
        token["upos"] = tag


def to_conllu(sentences: list[TokenList]) -> str:
    """The sentences as CoNLL-U text: comments, then 10 tab-separated columns per token, a blank line after each."""
    return "".join(sentence.serialize() for sentence in sentences)


def _read_raw(text: str, name: str) -> Untagged:
    sentences, skipped = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = tokenize_line(line)
        if not tokens:
            skipped.append(number)
            continue
        rows = [_token(i, form, space_after) for i, (form, space_after) in enumerate(tokens, start=1)]
        sentences.append(TokenList(rows, Metadata({"sent_id": f"{name}-{number}", "text": line.strip()})))
    return Untagged(sentences, skipped)


def _token(number: int, form: str, space_after: bool) -> Token:
    values = dict.fromkeys(c.lower() for c in CONLLU_COLUMNS)
    values.update(id=number, form=form, misc=None if space_after else "SpaceAfter=No")
    return Token(values)


def _read_conllu(text: str, name: str) -> Untagged:
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith("# global.columns =") and line.split("=", 1)[1].split() != list(CONLLU_COLUMNS):
            raise ValueError(f"{name}:{number}: only the 10 standard CoNLL-U columns can be tagged")
    check_conllu_lines(lines, name, tagged=False)
    sentences = conllu.parse(text, field_parsers=RAW_FIELDS)
    for number, sentence in enumerate(sentences, start=1):  # comments kept in their order, missing ids added
        sentence.metadata.setdefault("sent_id", f"{name}-{number}")
        sentence.metadata.setdefault("text", _text_of(sentence))
    return Untagged(sentences)


def _text_of(sentence: TokenList) -> str:
    """The sentence's text from its surface tokens (a range's form stands for its words), minding SpaceAfter=No."""
    text, covered_until = "", 0
    for token in sentence:
        token_id = token["id"]
        if isinstance(token_id, tuple) and token_id[1] == "-":
            covered_until = token_id[2]
        elif not isinstance(token_id, int) or token_id <= covered_until:
            continue
        text += token["form"] + ("" if "SpaceAfter=No" in (token["misc"] or "").split("|") else " ")
    return text.strip()
