"""SIB-200 topic classification (7 labels) in 21 languages: French, and 20 languages to train on.

Why care about ``index_id``: SIB-200 rows are FLORES-200 sentences, translated across
languages. The same ``index_id`` in every language is the same content, so a French test row's
translation must never be a training row. Meta-training uses the source languages' *train* split only;
French support sets come from French *dev* and French is scored on *test* (see :mod:`xlmeta_lab.data.roles`).
The three splits are the same ``index_id`` sets in every language, so this holds by construction, and
:func:`xlmeta_lab.data.roles.assert_no_sib200_leakage` checks it anyway.

:data:`TRAINING_LANGUAGES` is the fixed order in which the "how many languages?" sweep adds languages:
English and Spanish (the workbook's two sources) first, then the other Latin-script languages, then the
others, each group in the order of the data mirror's README. The first 2, 5, 10 and 20 are the sweep's
language sets, so a larger set always contains the smaller ones.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xlmeta_lab.data import sources

HEADER = ("index_id", "category", "text")
SPLITS = ("train", "dev", "test")
SHORT_CODES = {short: code for code, short in sources.SIB_LANGS.items()}
#: The 7 topics in ``labels.txt`` order, which defines the label ids 0..6 (checked against the file in the tests).
SIB_LABELS: tuple[str, ...] = (
    "science/technology",
    "travel",
    "politics",
    "sports",
    "health",
    "entertainment",
    "geography",
)
#: The target language: never trained on; its dev split gives support sets and budgets, its test split is scored.
TARGET = "fra_Latn"
#: The 20 languages one may train on, in the order the language sweep adds them (see module doc).
TRAINING_LANGUAGES: tuple[str, ...] = (
    "eng_Latn",
    "spa_Latn",
    "cat_Latn",
    "deu_Latn",
    "nld_Latn",
    "ron_Latn",
    "glg_Latn",
    "oci_Latn",
    "pol_Latn",
    "fin_Latn",
    "hun_Latn",
    "tur_Latn",
    "ind_Latn",
    "vie_Latn",
    "swh_Latn",
    "rus_Cyrl",
    "zho_Hans",
    "arb_Arab",
    "hin_Deva",
    "jpn_Jpan",
)
#: The workbook's two source languages (notebook 03's case), the sweep's first point.
SOURCE_LANGUAGES: tuple[str, ...] = TRAINING_LANGUAGES[:2]

_CJK = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F))


def _own_token(char: str) -> bool:
    """Punctuation, symbols and CJK characters stand alone; letters, digits and combining marks join words."""
    code = ord(char)
    return unicodedata.category(char)[0] in "PS" or any(lo <= code <= hi for lo, hi in _CJK)


def tokenize(text: str) -> list[str]:
    """Words and single punctuation marks, for every script of the 21 languages.

    Words are split at white space; punctuation and symbols become tokens of their own; each Chinese or
    Japanese character is a token (those scripts do not separate words with spaces). Combining marks stay
    in their word: Devanagari vowel signs are not letters to Python's ``\\w``, and a ``\\w+`` tokenizer
    cuts Hindi words into pieces (89 "words" per sentence instead of about 30).
    """
    tokens: list[str] = []
    for chunk in text.split():
        word = ""
        for char in chunk:
            if _own_token(char):
                if word:
                    tokens.append(word)
                    word = ""
                tokens.append(char)
            else:
                word += char
        if word:
            tokens.append(word)
    return tokens


class SibFormatError(sources.FileFormatError):
    """Malformed SIB-200 TSV or labels file, with file and line."""


@dataclass(frozen=True)
class Example:
    """One labelled sentence. ``lang`` is the short code (``en``, ``fr``, ``zh`` ...) as for UD.

    ``forms`` are its words (:func:`tokenize`), and ``len(example)`` their number, as for a UD
    :class:`~xlmeta_lab.data.ud.Sentence`, so code that pads sentences to a length treats both alike.
    """

    text: str
    label: str
    index_id: int
    lang: str
    forms: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "forms", tuple(tokenize(self.text)))

    def __len__(self) -> int:
        return len(self.forms)

    @property
    def sent_id(self) -> str:
        """The FLORES sentence this is (``flores:<index_id>``), the same in every language: translations share it,
        as UD PUD's do, so the checks that compare UD sentence ids (a support sentence among the tests) see them."""
        return f"flores:{self.index_id}"

    @property
    def source(self) -> str:
        """Where the example comes from (``sib200-fr``), as a UD :class:`~xlmeta_lab.data.ud.Sentence` names its
        treebank; its :attr:`sent_id` is SIB-200's own, not a position in the file."""
        return f"sib200-{self.lang}"


def flores_code(lang: str) -> str:
    """``"fr"`` or ``"fra_Latn"`` -> ``"fra_Latn"``; anything else is a ValueError listing the choices."""
    if lang in sources.SIB_LANGS:
        return lang
    if lang in SHORT_CODES:
        return SHORT_CODES[lang]
    known = ", ".join(f"{code} ({short})" for code, short in sources.SIB_LANGS.items())
    raise ValueError(f"unknown SIB-200 language {lang!r}; known: {known}")


def training_languages(n: int) -> tuple[str, ...]:
    """The first ``n`` of :data:`TRAINING_LANGUAGES` (2: English and Spanish; 20: every language but French)."""
    if not 1 <= n <= len(TRAINING_LANGUAGES):
        raise ValueError(f"the number of training languages must be 1 to {len(TRAINING_LANGUAGES)}, got {n}")
    return TRAINING_LANGUAGES[:n]


def parse_languages(text: str | Sequence[str]) -> tuple[str, ...]:
    """Training languages from ``"eng_Latn,spa_Latn"`` (or a list; short codes too) as FLORES codes.

    Refuses French (the target: never trained on), a repeated language and an unknown one, naming the
    languages one can train on.
    """
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ValueError("give at least one training language, e.g. eng_Latn,spa_Latn")
    known = ", ".join(TRAINING_LANGUAGES)
    codes = []
    for name in names:
        try:
            code = flores_code(name)
        except ValueError:
            raise ValueError(
                f"unknown SIB-200 language {name!r}; the training languages are: {known}"
            ) from None
        if code == TARGET:
            raise ValueError(
                f"{name} is the target language: it is never trained on; train on some of: {known}"
            )
        if code in codes:
            raise ValueError(f"{name} is given twice")
        codes.append(code)
    return tuple(codes)


def read_labels(path: str | os.PathLike) -> tuple[str, ...]:
    """Labels in file order (the order defines the global label ids 0..6)."""
    labels = tuple(
        line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()
    )
    if not labels:
        raise SibFormatError(path, 1, "empty labels file")
    return labels


def read_sib200(
    path: str | os.PathLike, lang: str | None = None, labels: tuple[str, ...] | None = None
) -> list[Example]:
    """Read a SIB-200 TSV (``index_id<TAB>category<TAB>text``).

    ``lang`` defaults to the name of the file's folder (``fra_Latn/test.tsv`` -> ``fr``, any
    other folder -> ``und``); when ``labels`` is given, a row with another category is an error.
    """
    path = Path(path)
    if lang is not None:
        short = sources.SIB_LANGS[flores_code(lang)]
    else:
        short = sources.SIB_LANGS.get(path.parent.name, "und")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise SibFormatError(path, 1, "empty file: expected a header index_id<TAB>category<TAB>text")
    if tuple(lines[0].split("\t")) != HEADER:
        raise SibFormatError(path, 1, f"expected header {chr(9).join(HEADER)!r}, found {lines[0][:60]!r}")
    examples = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise SibFormatError(path, number, f"expected 3 tab-separated columns, found {len(cols)}")
        index_id, label, text = cols
        if not index_id.isdigit():
            raise SibFormatError(path, number, f"index_id {index_id!r} is not an integer")
        if labels is not None and label not in labels:
            raise SibFormatError(
                path, number, f"unknown label {label!r}; expected one of {', '.join(labels)}"
            )
        examples.append(Example(text=text, label=label, index_id=int(index_id), lang=short))
    if not examples:
        raise SibFormatError(path, len(lines), "no examples after the header")
    return examples


def load_labels(lang: str = "en", data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The 7 SIB-200 labels in ``labels.txt`` order (identical file for every language)."""
    return read_labels(sources.resolve(f"sib200-{flores_code(lang)}-labels", data_dir))


def load_sib200(lang: str, split: str, data_dir: str | os.PathLike | None = None) -> list[Example]:
    """Examples of one language (``en`` or ``eng_Latn`` ...) and split (train/dev/test)."""
    code = flores_code(lang)
    if split not in SPLITS:
        raise ValueError(f"unknown SIB-200 split {split!r}; known: {', '.join(SPLITS)}")
    labels = load_labels(code, data_dir)
    return read_sib200(sources.resolve(f"sib200-{code}-{split}", data_dir), lang=code, labels=labels)


def label_counts(examples: list[Example]) -> dict[str, int]:
    """Label frequencies, most frequent first."""
    return dict(Counter(example.label for example in examples).most_common())
