"""Typological distances between languages from URIEL+, when it is installed (``pip install 'xlmeta-lab[analysis]'``).

Why URIEL+ (the ``urielplus`` package): it is the maintained successor of URIEL/lang2vec (Khan et al., COLING
2025), ships its knowledge base inside the package (no download at run time), is CC BY-SA 4.0 like the
treebanks, and needs only numpy and pandas. ``lang2vec`` itself was last released in 2019, has no distance
function in that release and imports the deprecated ``pkg_resources``.

A distance is the cosine distance ``1 - cos`` between two languages' URIEL+ vectors of one kind (``syntactic``:
WALS/SSWL/Grambank word-order and syntax features; ``genetic``: the language-family tree; ``featural``: all
typological features), over the features both languages have values for. 0 means identical.

Nothing else in the package needs URIEL+: without it, :func:`available` is False and the notebook says why.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

#: ISO 639-3 codes URIEL+ uses, by the workbook's language codes. The Chinese treebank is Mandarin (``cmn``).
ISO639_3 = {
    "en": "eng",
    "es": "spa",
    "fr": "fra",
    "de": "deu",
    "nl": "nld",
    "ro": "ron",
    "ru": "rus",
    "fi": "fin",
    "id": "ind",
    "zh": "cmn",
}
KINDS = ("syntactic", "genetic", "featural")


class TypologyUnavailable(ImportError):
    """URIEL+ is not installed (or cannot load its database); the message says how to get it."""


@functools.cache
def _knowledge_base() -> Any:
    """The URIEL+ knowledge base, loaded once (about a second). Its module calls ``logging.basicConfig`` at
    import; the root logger's handlers and level are put back, so it does not start printing INFO lines."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from urielplus import urielplus
    except ImportError as error:
        raise TypologyUnavailable(
            "typological distances need URIEL+: pip install 'xlmeta-lab[analysis]' (or pip install urielplus)"
        ) from error
    finally:
        root.handlers[:], root.level = handlers, level
    try:
        base = urielplus.URIELPlus()
    except (OSError, ValueError) as error:
        raise TypologyUnavailable(f"URIEL+ is installed but could not load its database: {error}") from error
    return base


def available() -> bool:
    """Whether URIEL+ can be used here."""
    try:
        _knowledge_base()
    except TypologyUnavailable:
        return False
    return True


def typological_distance(a: str, b: str, kind: str = "syntactic") -> float:
    """URIEL+ cosine distance of ``kind`` between languages ``a`` and ``b`` (workbook codes, e.g. ``"fr"``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    for lang in (a, b):
        if lang not in ISO639_3:
            raise ValueError(f"no ISO 639-3 code for {lang!r}; known: {', '.join(ISO639_3)}")
    if a == b:
        return 0.0
    base = _knowledge_base()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)  # URIEL+ logs every distance at INFO on the root logger
    try:
        return float(base.new_distance(kind, ISO639_3[a], ISO639_3[b]))
    finally:
        root.setLevel(level)


def distances_to(target: str, languages: list[str], kind: str = "syntactic") -> dict[str, float]:
    """:func:`typological_distance` from ``target`` to each of ``languages``."""
    return {lang: typological_distance(target, lang, kind) for lang in languages}
