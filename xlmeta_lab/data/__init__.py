"""Data for the workbook: pinned sources (and ``bundle``: one checksummed zip of them), UD treebanks, SIB-200, toy languages, sine tasks, and the roles
data plays (``roles``: what trains, what French support sets come from, what is only scored; ``splits``: the
one seeded hold-out split), and ``untagged``: text given to a saved tagger (raw lines or CoNLL-U in, CoNLL-U out).

Real and toy tagging data share one type, :class:`Sentence`, so everything downstream
(:mod:`xlmeta_lab.episodes`, the models, the notebooks) treats them alike.
"""

from __future__ import annotations

from xlmeta_lab.data.sib200 import Example, SibFormatError, load_labels, load_sib200, read_sib200
from xlmeta_lab.data.sources import (
    REGISTRY,
    ChecksumMismatchError,
    DataError,
    DataFile,
    DataNotFoundError,
    FileFormatError,
    resolve,
    verify,
)
from xlmeta_lab.data.toy import LanguageSpec, ToyConfig, form_overlap, make_toy_languages
from xlmeta_lab.data.ud import (
    UPOS_TAGS,
    ConlluFormatError,
    Sentence,
    load_treebank,
    read_conllu,
    tag_inventory,
)

__all__ = [
    "REGISTRY",
    "UPOS_TAGS",
    "ChecksumMismatchError",
    "ConlluFormatError",
    "DataError",
    "DataFile",
    "DataNotFoundError",
    "Example",
    "FileFormatError",
    "LanguageSpec",
    "Sentence",
    "SibFormatError",
    "ToyConfig",
    "form_overlap",
    "load_labels",
    "load_sib200",
    "load_treebank",
    "make_toy_languages",
    "read_conllu",
    "read_sib200",
    "resolve",
    "tag_inventory",
    "verify",
]
