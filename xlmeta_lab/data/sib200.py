"""SIB-200 topic classification (7 labels) for English, Spanish and French.

Why care about ``index_id``: SIB-200 rows are FLORES-200 sentences, translated across
languages. The same ``index_id`` in eng/spa/fra is the same content, so a French test row's
translation must never be a training row. Meta-training uses en/es *train* only; French is
evaluated on *test* (see :mod:`xlmeta_lab.data.roles`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from xlmeta_lab.data import sources

HEADER = ("index_id", "category", "text")
SPLITS = ("train", "dev", "test")
SHORT_CODES = {short: code for code, short in sources.SIB_LANGS.items()}


class SibFormatError(sources.FileFormatError):
    """Malformed SIB-200 TSV or labels file, with file and line."""


@dataclass(frozen=True)
class Example:
    """One labelled sentence. ``lang`` is the short code (``en``/``es``/``fr``) as for UD."""

    text: str
    label: str
    index_id: int
    lang: str


def flores_code(lang: str) -> str:
    """``"fr"`` or ``"fra_Latn"`` -> ``"fra_Latn"``; anything else is a ValueError listing the choices."""
    if lang in sources.SIB_LANGS:
        return lang
    if lang in SHORT_CODES:
        return SHORT_CODES[lang]
    known = ", ".join(f"{code} ({short})" for code, short in sources.SIB_LANGS.items())
    raise ValueError(f"unknown SIB-200 language {lang!r}; known: {known}")


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
