"""SIB-200 reading: counts and labels against PROVENANCE.md, language codes, format errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlmeta_lab.data import sources
from xlmeta_lab.data.sib200 import (
    SIB_LABELS,
    SOURCE_LANGUAGES,
    TARGET,
    TRAINING_LANGUAGES,
    Example,
    SibFormatError,
    flores_code,
    label_counts,
    load_labels,
    load_sib200,
    parse_languages,
    read_labels,
    read_sib200,
    tokenize,
    training_languages,
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
    with pytest.raises(
        ValueError, match=r"eng_Latn \(en\), spa_Latn \(es\), fra_Latn \(fr\), cat_Latn \(ca\)"
    ):
        load_sib200("xx", "test")


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


def test_every_language_resolves_through_the_registry_and_is_parallel(data_dir: Path) -> None:
    """All 21 languages of PROVENANCE.md: pinned, found, 701/99/204 rows, same index_id and label as English."""
    english = {split: load_sib200("eng_Latn", split, data_dir) for split in DISTRIBUTION}
    for code in sources.SIB_LANGS:
        for split, rows in english.items():
            entry = sources.REGISTRY[f"sib200-{code}-{split}"]
            assert entry.url.startswith(
                f"https://raw.githubusercontent.com/dadelani/sib-200/{sources.SIB_COMMIT}/"
            )
            examples = load_sib200(code, split, data_dir)
            assert [(e.index_id, e.label) for e in examples] == [(e.index_id, e.label) for e in rows], code


def test_labels_constant_is_the_labels_file(data_dir: Path) -> None:
    assert load_labels("fra_Latn", data_dir) == SIB_LABELS == LABELS


def test_training_languages_are_fixed_latin_script_first_and_never_french() -> None:
    assert len(TRAINING_LANGUAGES) == 20 == len(set(TRAINING_LANGUAGES))
    assert TARGET not in TRAINING_LANGUAGES and set(TRAINING_LANGUAGES) | {TARGET} == set(sources.SIB_LANGS)
    assert training_languages(2) == SOURCE_LANGUAGES == ("eng_Latn", "spa_Latn")
    scripts = [code.split("_")[1] for code in TRAINING_LANGUAGES]
    assert scripts[:15] == ["Latn"] * 15 and "Latn" not in scripts[15:]
    assert training_languages(5) == training_languages(10)[:5]
    with pytest.raises(ValueError, match="1 to 20"):
        training_languages(21)


def test_languages_are_parsed_and_bad_ones_refused() -> None:
    assert parse_languages("eng_Latn, es,cat_Latn") == ("eng_Latn", "spa_Latn", "cat_Latn")
    with pytest.raises(
        ValueError, match=r"unknown SIB-200 language 'klingon'; the training languages are: eng_Latn"
    ):
        parse_languages("eng_Latn,klingon")
    with pytest.raises(ValueError, match="target language"):
        parse_languages("fra_Latn")
    with pytest.raises(ValueError, match="twice"):
        parse_languages("en,eng_Latn")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("L'Europe, « vite ».", ["L", "'", "Europe", ",", "«", "vite", "»", "."]),
        ("तुर्की तीन ओर से", ["तुर्की", "तीन", "ओर", "से"]),  # vowel signs stay in their word
        ("日本語です。", ["日", "本", "語", "で", "す", "。"]),
    ],
)
def test_tokenize_keeps_words_whole_in_every_script(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens
    assert Example(text, "travel", 1, "xx").forms == tuple(tokens) and len(
        Example(text, "travel", 1, "xx")
    ) == len(tokens)
