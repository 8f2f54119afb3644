"""SIB-200 reading: counts and labels against PROVENANCE.md, language codes, format errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlmeta_lab.data import sources
from xlmeta_lab.data.sib200 import (
    SibFormatError,
    flores_code,
    label_counts,
    load_labels,
    load_sib200,
    read_labels,
    read_sib200,
)

FIXTURES = Path(__file__).parent / "fixtures"
LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")
# From SIB-200/PROVENANCE.md: rows per split and label distribution (same in every language).
DISTRIBUTION = {
    "train": (176, 138, 102, 85, 77, 65, 58),
    "dev": (25, 20, 14, 12, 11, 9, 8),
    "test": (51, 40, 30, 25, 22, 19, 17),
}


@pytest.mark.parametrize("lang", ["en", "spa_Latn", "fr"])
def test_labels_keep_file_order(lang: str, data_dir: Path) -> None:
    assert load_labels(lang, data_dir) == LABELS


@pytest.mark.parametrize("split", sorted(DISTRIBUTION))
def test_counts_and_parallel_rows_match_provenance(split: str, data_dir: Path) -> None:
    by_lang = {lang: load_sib200(lang, split, data_dir) for lang in ("eng_Latn", "es", "fr")}
    expected = dict(zip(LABELS, DISTRIBUTION[split], strict=True))
    for lang, examples in by_lang.items():
        assert len(examples) == sum(DISTRIBUTION[split])
        assert label_counts(examples) == expected
        assert {e.lang for e in examples} == {sources.SIB_LANGS[flores_code(lang)]}
    rows = [[(e.index_id, e.label) for e in examples] for examples in by_lang.values()]
    assert rows[0] == rows[1] == rows[2]  # parallel: same index_id and label, row by row


def test_unknown_language_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"eng_Latn \(en\), spa_Latn \(es\), fra_Latn \(fr\)"):
        load_sib200("de", "test")


def test_unknown_split_is_an_error() -> None:
    with pytest.raises(ValueError, match="train, dev, test"):
        load_sib200("fr", "validation")


def test_read_fixture_and_errors() -> None:
    examples = read_sib200(FIXTURES / "good.tsv")
    assert [(e.index_id, e.label, e.lang) for e in examples] == [(7, "travel", "und"), (12, "sports", "und")]
    assert examples[0].text == "On part demain, « tôt »."
    assert read_sib200(FIXTURES / "good.tsv", lang="fr")[0].lang == "fr"
    with pytest.raises(SibFormatError, match=r"bad.tsv:3: expected 3 tab-separated columns, found 2"):
        read_sib200(FIXTURES / "bad.tsv")
    with pytest.raises(SibFormatError, match=r"good.tsv:2: unknown label 'travel'"):
        read_sib200(FIXTURES / "good.tsv", labels=("sports",))
    with pytest.raises(SibFormatError, match=r":1: expected header"):
        read_sib200(FIXTURES / "good.conllu")
    assert read_labels(FIXTURES / "labels.txt") == LABELS
