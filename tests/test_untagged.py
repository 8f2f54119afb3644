"""Text for a saved tagger: the raw-text tokenisation rule, CoNLL-U detection, and CoNLL-U that parses back."""

from __future__ import annotations

from pathlib import Path

import conllu
import pytest

from xlmeta_lab.data.ud import ConlluFormatError
from xlmeta_lab.data.untagged import fill_upos, is_conllu, read_untagged, to_conllu, tokenize_line, words_of

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("Le chat dort.", ["Le", "chat", "dort", "."]),
        ("J'ai vu l'homme qu'il aime.", ["J'", "ai", "vu", "l'", "homme", "qu'", "il", "aime", "."]),
        ("jusqu’à aujourd'hui", ["jusqu’", "à", "aujourd'hui"]),  # curly elision; an inner apostrophe stays
        ("« Peut-être », 3,5 km", ["«", "Peut-être", "»", ",", "3,5", "km"]),
    ],
)
def test_raw_lines_split_punctuation_and_french_elisions(line: str, tokens: list[str]) -> None:
    assert [form for form, _ in tokenize_line(line)] == tokens


def test_raw_text_gets_ids_from_its_lines_and_skips_empty_ones() -> None:
    untagged = read_untagged("Le chat dort.\n\n   \nIl pleut !\n", "input")
    assert untagged.skipped_lines == [2, 3]
    first, second = untagged.sentences
    assert first.metadata == {"sent_id": "input-1", "text": "Le chat dort."}
    assert second.metadata["sent_id"] == "input-4"
    assert [t["misc"] for t in first] == [None, None, "SpaceAfter=No", None]  # "dort." is written together


def test_conllu_input_keeps_its_columns_and_fills_only_the_words() -> None:
    text = (FIXTURES / "good.conllu").read_text(encoding="utf-8")
    assert is_conllu(text) and not is_conllu("1 chat\n")
    untagged = read_untagged(text, "good")
    sentence = untagged.sentences[1]  # no sent_id in the file: one is made from the input's name
    assert sentence.metadata["sent_id"] == "good-2" and sentence.metadata["text"] == "Sleep, then eat."
    words = words_of(untagged.sentences[0])
    assert words == ["Il", "parle", "de", "le", "chat", "."]  # the syntactic words, not the range "du"
    # a different tag for every word, none its old one: a word given its neighbour's tag, or left alone, shows
    tags = [["NOUN", "ADJ", "PRON", "ADV", "DET", "SYM"], ["INTJ", "CCONJ", "NUM", "PROPN", "X"]]
    for s, mine in zip(untagged.sentences, tags, strict=True):
        fill_upos(s, mine)
    out = to_conllu(untagged.sentences)
    assert "3-4\tdu\t_\t_" in out and "2.1\tsleep\tsleep\tVERB" in out  # range and empty node untouched
    assert "1\tIl\til\tNOUN\t_\t_\t2\tnsubj\t_\t_" in out  # only the UPOS column changed
    back = conllu.parse(out)
    assert [[(t["form"], t["upos"]) for t in s if isinstance(t["id"], int)] for s in back] == [
        list(zip(["Il", "parle", "de", "le", "chat", "."], tags[0], strict=True)),
        list(zip(["Sleep", ",", "then", "eat", "."], tags[1], strict=True)),
    ]


def test_a_sentence_without_text_gets_it_from_its_tokens() -> None:
    text = "1\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n2\tchat\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n3\t.\t_\t_\t_\t_\t_\t_\t_\t_\n"
    (sentence,) = read_untagged(text, "x").sentences
    assert sentence.metadata == {"sent_id": "x-1", "text": "du chat."}


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("\n  \n", ValueError, "holds no sentence to tag"),
        ("1\tchat\t_\n", ConlluFormatError, "x:1: expected 10 tab-separated columns"),
        ("# global.columns = ID FORM UPOS\n1\tchat\t_\n", ValueError, "only the 10 standard CoNLL-U columns"),
    ],
)
def test_input_that_cannot_be_tagged_is_refused_with_where(text: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        read_untagged(text, "x")
