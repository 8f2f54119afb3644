"""Universal Dependencies treebanks as lists of (forms, UPOS tags) sentences.

Why syntactic words: UPOS is defined on syntactic words, so a contraction such as French
"du" (a multiword-token range line ``3-4``) is tagged through its parts "de" (ADP) and "le"
(DET). Range lines and empty nodes (``5.1``, enhanced-graph only) carry no UPOS of their own
and are skipped. The counts in each PROVENANCE.md use the same rule.

Why a light validation pass before ``conllu``: the library is lenient in some places and
raises errors without line numbers in others. A learner editing a file deserves
``file:line: what is wrong``, so we check the few things we rely on ourselves and let
``conllu`` do the parsing.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import conllu

from xlmeta_lab.data import sources

UPOS_TAGS: tuple[str, ...] = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)
_UPOS_SET = frozenset(UPOS_TAGS)
CONLLU_COLUMNS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
_WORD_ID = re.compile(r"[1-9][0-9]*\Z")
_RANGE_ID = re.compile(r"[1-9][0-9]*-[1-9][0-9]*\Z")
_EMPTY_ID = re.compile(r"(0|[1-9][0-9]*)\.[1-9][0-9]*\Z")
# conllu parses every column; we only need ID, FORM and UPOS, so keep the rest as raw strings (which also
# makes a parsed sentence serialise back to the same text).
RAW_FIELDS = {
    f: (lambda line, i: line[i]) for f in ("lemma", "xpos", "feats", "head", "deprel", "deps", "misc")
}


class ConlluFormatError(sources.FileFormatError):
    """Malformed CoNLL-U (wrong column count, bad ID, unknown UPOS, no sentences), with file and line."""


@dataclass(frozen=True)
class Sentence:
    """One tagged sentence; the same type for UD and toy data so later code treats them alike.

    ``source`` names where it came from (a registry key such as ``fr_gsd-test``, a file name,
    or ``toy``); ``sent_id`` is unique within a source and shared by PUD translations.
    """

    forms: tuple[str, ...]
    tags: tuple[str, ...]
    sent_id: str
    lang: str
    source: str

    def __len__(self) -> int:
        return len(self.forms)


def check_conllu_lines(lines: list[str], path: str, *, tagged: bool = True) -> None:
    """Check columns, ids and UPOS line by line so errors can name the line.

    ``tagged=False`` accepts any UPOS (``_`` included): text given to a tagger to fill that column in.
    """
    n_columns, upos_col = len(CONLLU_COLUMNS), CONLLU_COLUMNS.index("UPOS")
    expected_word, n_sentences, in_sentence = 1, 0, False
    for number, line in enumerate(lines, start=1):
        if line.startswith("# global.columns ="):
            columns = line.split("=", 1)[1].split()
            if "ID" not in columns or "FORM" not in columns or "UPOS" not in columns:
                raise ConlluFormatError(path, number, "global.columns must include ID, FORM and UPOS")
            n_columns, upos_col = len(columns), columns.index("UPOS")
            continue
        if line.startswith("#"):
            continue
        if not line.strip():
            if in_sentence:
                n_sentences += 1
            expected_word, in_sentence = 1, False
            continue
        in_sentence = True
        cols = line.split("\t")
        if len(cols) != n_columns:
            raise ConlluFormatError(
                path,
                number,
                f"expected {n_columns} tab-separated columns, found {len(cols)} in {line[:60]!r}",
            )
        token_id = cols[0]
        if _RANGE_ID.match(token_id) or _EMPTY_ID.match(token_id):
            continue
        if not _WORD_ID.match(token_id):
            raise ConlluFormatError(
                path, number, f"bad ID {token_id!r}: expected an integer, a range 1-2 or 1.1"
            )
        if int(token_id) != expected_word:
            raise ConlluFormatError(path, number, f"bad ID {token_id!r}: expected word {expected_word} here")
        expected_word += 1
        if not cols[1]:
            raise ConlluFormatError(path, number, "empty FORM")
        if tagged and cols[upos_col] not in _UPOS_SET:
            raise ConlluFormatError(
                path, number, f"unknown UPOS {cols[upos_col]!r}; expected one of {' '.join(UPOS_TAGS)}"
            )
    if in_sentence:
        n_sentences += 1
    if n_sentences == 0:
        raise ConlluFormatError(path, max(len(lines), 1), "empty file: no sentences found")


def numbered_id(source: str, number: int) -> str:
    """The id :func:`read_conllu` gives the ``number``-th sentence (1-based) of a file without ``# sent_id``:
    unique within that file only, so two files with the same name can share it by chance."""
    return f"{source}:{number}"


def has_own_id(sentence: Sentence) -> bool:
    """Whether ``sentence.sent_id`` is its file's own (``# sent_id``), not a :func:`numbered_id`: only those
    say that two sentences of different files are the same sentence, or translations of it (PUD)."""
    prefix, _, number = sentence.sent_id.rpartition(":")
    return not (prefix == sentence.source and number.isdigit())


def _read_text(path: Path) -> str:
    """The file as text. CoNLL-U is UTF-8; a byte-order mark, which some Windows editors write, is dropped
    (it would otherwise glue itself to the first line's first column). Bytes that are not UTF-8 (a Latin-1
    export, a compressed or binary file) are reported with the file and line, not as a codec error."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise ConlluFormatError(
            path,
            line,
            f"not UTF-8 text (byte 0x{byte:02x} at column {error.start - line_start + 1}); CoNLL-U files are "
            "UTF-8: convert one in another encoding (e.g. iconv -f latin1 -t utf-8), or check that this is "
            "the treebank and not a compressed or binary file",
        ) from None


def read_conllu(path: str | os.PathLike, lang: str, source: str | None = None) -> list[Sentence]:
    """Read a CoNLL-U file into sentences of syntactic words with their UPOS tags.

    ``source`` defaults to the file name; a sentence without ``# sent_id`` gets
    ``"<source>:<n>"`` (1-based) so ids stay unique.

    Raises:
        ConlluFormatError: not UTF-8, wrong column count, bad ID, unknown UPOS, empty FORM, or no sentences.
    """
    path = Path(path)
    source = source or path.name
    text = _read_text(path)
    check_conllu_lines(text.splitlines(), str(path))
    try:
        token_lists = conllu.parse(text, field_parsers=RAW_FIELDS)
    except conllu.exceptions.ParseException as err:  # pragma: no cover - the line checks catch it first
        raise ConlluFormatError(path, 0, f"conllu could not parse the file: {err}") from err
    sentences = []
    for number, tokens in enumerate(token_lists, start=1):
        words = [tok for tok in tokens if isinstance(tok["id"], int)]
        sentences.append(
            Sentence(
                forms=tuple(tok["form"] for tok in words),
                tags=tuple(tok["upos"] for tok in words),
                sent_id=tokens.metadata.get("sent_id") or numbered_id(source, number),
                lang=lang,
                source=source,
            )
        )
    return sentences


@lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, lang: str, source: str) -> tuple[Sentence, ...]:
    return tuple(read_conllu(path, lang=lang, source=source))


def load_treebank(key: str, data_dir: str | os.PathLike | None = None) -> list[Sentence]:
    """Sentences of registered treebank file *key* (e.g. ``"fr_gsd-test"``), resolved via sources.

    Parsed files are memoised per path and mtime: sentences are immutable, so sharing is safe
    and notebooks can reload cheaply.
    """
    item = sources.entry(key)
    if item.dataset != "ud":
        raise ValueError(f"{key!r} is not a UD treebank file")
    path = sources.resolve(key, data_dir)
    return list(_read_cached(str(path), path.stat().st_mtime_ns, item.lang, key))


def treebank_keys() -> list[str]:
    """Registry keys of all UD files, e.g. ``en_ewt-dev`` ... ``fr_pud-test``."""
    return [key for key, item in sources.REGISTRY.items() if item.dataset == "ud"]


def tag_inventory(sentences: Iterable[Sentence]) -> Counter[str]:
    """How often each UPOS tag occurs. Tags a treebank never uses (French GSD: PART) are absent,
    not zero-filled, so per-language label sets are reported as they are."""
    counts: Counter[str] = Counter()
    for sentence in sentences:
        counts.update(sentence.tags)
    return counts


def missing_tags(sentences: Iterable[Sentence]) -> list[str]:
    """Universal tags that never occur in *sentences*, in ``UPOS_TAGS`` order."""
    seen = tag_inventory(sentences)
    return [tag for tag in UPOS_TAGS if tag not in seen]
