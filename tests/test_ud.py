"""CoNLL-U reading: counts against PROVENANCE.md, syntactic words, and line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlmeta_lab.data.ud import (
    UPOS_TAGS,
    ConlluFormatError,
    load_treebank,
    missing_tags,
    read_conllu,
    tag_inventory,
    treebank_keys,
)

FIXTURES = Path(__file__).parent / "fixtures"

# From each treebank's PROVENANCE.md: sentences, syntactic words, UPOS tags never used.
PROVENANCE_COUNTS = {
    "en_ewt-dev": (2001, 25147, set()),
    "en_ewt-test": (2077, 25094, set()),
    "es_gsd-dev": (1400, 37154, set()),
    "es_gsd-test": (427, 12002, set()),
    "fr_gsd-dev": (1476, 35721, {"PART"}),
    "fr_gsd-test": (416, 10018, {"PART"}),
    "en_pud-test": (1000, 21180, set()),
    "es_pud-test": (1000, 23283, set()),
    "fr_pud-test": (1000, 24726, {"PART", "INTJ"}),
    # the transfer analysis' source treebanks (counts from their PROVENANCE.md)
    "de_gsd-dev": (799, 12480, set()),
    "de_gsd-test": (977, 16499, set()),
    "nl_alpino-dev": (718, 11541, {"PART"}),
    "nl_alpino-test": (596, 11046, {"INTJ", "PART"}),
    "ro_rrt-dev": (752, 17073, {"SYM"}),
    "ro_rrt-test": (729, 16324, {"SYM"}),
    "ru_gsd-dev": (579, 11709, {"INTJ"}),
    "ru_gsd-test": (601, 11385, {"INTJ"}),
    "fi_tdt-dev": (1364, 18308, {"DET", "PART"}),
    "fi_tdt-test": (1555, 21070, {"DET", "PART"}),
    "id_gsd-dev": (559, 12661, set()),
    "id_gsd-test": (557, 11756, {"INTJ"}),
    "zh_gsd-dev": (500, 12665, {"INTJ"}),
    "zh_gsd-test": (500, 12010, {"INTJ"}),
}


def test_upos_inventory_is_the_17_universal_tags() -> None:
    assert (
        " ".join(UPOS_TAGS)
        == "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X"
    )


@pytest.mark.parametrize("key", sorted(PROVENANCE_COUNTS))
def test_counts_match_provenance(key: str, data_dir: Path) -> None:
    n_sentences, n_words, absent = PROVENANCE_COUNTS[key]
    sentences = load_treebank(key, data_dir)
    assert len(sentences) == n_sentences
    assert sum(len(s) for s in sentences) == n_words
    assert set(missing_tags(sentences)) == absent
    assert len({s.sent_id for s in sentences}) == n_sentences
    assert {s.lang for s in sentences} == {key[:2]} and {s.source for s in sentences} == {key}
    assert all(len(s.forms) == len(s.tags) for s in sentences)


def test_all_treebanks_are_covered() -> None:
    assert sorted(treebank_keys()) == sorted(PROVENANCE_COUNTS)


def test_pud_translations_share_sent_ids(data_dir: Path) -> None:
    ids = {
        lang: [s.sent_id for s in load_treebank(f"{lang}_pud-test", data_dir)] for lang in ("en", "es", "fr")
    }
    assert ids["en"] == ids["es"] == ids["fr"]


def test_french_inventory_is_reported_honestly(data_dir: Path) -> None:
    counts = tag_inventory(load_treebank("fr_gsd-test", data_dir))
    assert "PART" not in counts  # absent, not a zero entry
    assert counts["NOUN"] == 1870 and sum(counts.values()) == 10018


def test_multiword_tokens_and_empty_nodes_are_skipped() -> None:
    first, second = read_conllu(FIXTURES / "good.conllu", lang="fr")
    assert first.forms == ("Il", "parle", "de", "le", "chat", ".")  # "du" -> "de" + "le"
    assert first.tags == ("PRON", "VERB", "ADP", "DET", "NOUN", "PUNCT")
    assert first.sent_id == "good-1" and first.source == "good.conllu" and first.lang == "fr"
    assert second.forms == ("Sleep", ",", "then", "eat", ".")  # empty node 2.1 skipped
    assert second.sent_id == "good.conllu:2"  # no sent_id comment: file-unique fallback


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("bad_columns.conllu", 5, "expected 10 tab-separated columns, found 9"),
        ("bad_id.conllu", 9, "bad ID 'five'"),
        ("bad_id_sequence.conllu", 10, "bad ID '7': expected word 6"),
        ("bad_upos.conllu", 9, "unknown UPOS 'NOUNS'"),
        ("empty.conllu", 2, "no sentences"),
    ],
)
def test_malformed_files_raise_with_line_numbers(name: str, line: int, reason: str) -> None:
    with pytest.raises(ConlluFormatError) as err:
        read_conllu(FIXTURES / name, lang="fr")
    assert err.value.line == line
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{FIXTURES / name}:{line}: ")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    marked = tmp_path / "bom.conllu"
    marked.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "good.conllu").read_bytes())
    assert read_conllu(marked, lang="fr") == read_conllu(
        FIXTURES / "good.conllu", lang="fr", source="bom.conllu"
    )


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("latin-1", 5, "not UTF-8 text (byte 0xe9 at column 7)"),
        (b"\x1f\x8b\x08\x00binary", 1, "not UTF-8 text (byte 0x8b at column 2)"),
    ],
)
def test_a_file_that_is_not_utf8_names_its_line(
    content: str | bytes, line: int, reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "other.conllu"
    good = (FIXTURES / "good.conllu").read_text(encoding="utf-8")
    path.write_bytes(
        good.replace("\tparle\t", "\tparlé\t", 1).encode("latin-1") if content == "latin-1" else content
    )
    with pytest.raises(ConlluFormatError) as err:
        read_conllu(path, lang="fr")
    assert (err.value.line, err.value.path) == (line, str(path))
    assert reason in err.value.reason and "iconv" in err.value.reason


def test_load_treebank_rejects_non_ud_keys() -> None:
    with pytest.raises(ValueError, match="not a UD treebank"):
        load_treebank("sib200-fra_Latn-test")
