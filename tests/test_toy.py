"""Toy languages: determinism, the relatedness knob, word order, ambiguity, speed."""

from __future__ import annotations

from collections import defaultdict

import pytest

from xlmeta_lab.data.toy import TOY_TAGS, LanguageSpec, ToyConfig, form_overlap, make_toy_languages
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence


def bigram_count(sentences: list[Sentence], first: str, second: str) -> int:
    return sum(
        (a, b) == (first, second) for s in sentences for a, b in zip(s.tags, s.tags[1:], strict=False)
    )  # fmt: skip


def test_defaults_and_types() -> None:
    langs = make_toy_languages(200)
    assert sorted(langs) == ["en", "es", "fr"]
    for lang, sentences in langs.items():
        assert len(sentences) == 200
        assert all(isinstance(s, Sentence) and s.lang == lang and s.source == "toy" for s in sentences)
        assert {t for s in sentences for t in s.tags} <= set(TOY_TAGS) <= set(UPOS_TAGS)
        assert all(4 <= len(s) <= 14 for s in sentences)
        assert len({s.sent_id for s in sentences}) == 200


def test_same_seed_same_data_other_seed_other_data() -> None:
    assert make_toy_languages(300, seed=7) == make_toy_languages(300, seed=7)
    assert make_toy_languages(300, seed=7)["fr"] != make_toy_languages(300, seed=8)["fr"]


def test_relatedness_controls_shared_forms() -> None:
    overlap = []
    for relatedness in (0, 0.5, 1):
        langs = make_toy_languages(800, languages=("es", "fr"), relatedness=relatedness)
        overlap.append(form_overlap(langs["fr"], langs["es"]))
    assert overlap[0] < 0.1
    assert overlap[0] + 0.2 < overlap[1] < overlap[2] - 0.2


def test_default_family_es_fr_close_en_far() -> None:
    langs = make_toy_languages(1500)
    assert form_overlap(langs["fr"], langs["es"]) > 3 * form_overlap(langs["fr"], langs["en"])


def test_word_order_knobs() -> None:
    langs = make_toy_languages(500)
    assert bigram_count(langs["en"], "ADJ", "NOUN") > 0 == bigram_count(langs["en"], "NOUN", "ADJ")
    assert bigram_count(langs["fr"], "NOUN", "ADJ") > 0 == bigram_count(langs["fr"], "ADJ", "NOUN")
    sov = make_toy_languages(200, languages=(LanguageSpec("sov", verb_final=True),))["sov"]
    assert all(s.tags[-2] == "VERB" for s in sov)


def test_some_forms_have_two_tags() -> None:
    tags_of = defaultdict(set)
    for s in make_toy_languages(1000)["en"]:
        for form, tag in zip(s.forms, s.tags, strict=True):
            tags_of[form].add(tag)
    assert any(len(tags) == 2 for tags in tags_of.values())


def test_config_knobs_and_errors() -> None:
    config = ToyConfig(languages=("fr", "xx"), min_len=3, max_len=6, vocab_size=50, seed=3)
    langs = make_toy_languages({"fr": 10, "xx": 20}, config)
    assert sorted(langs) == ["fr", "xx"] and len(langs["xx"]) == 20  # fr's sister es built, not returned
    assert all(3 <= len(s) <= 6 for s in langs["fr"])
    with pytest.raises(TypeError):
        make_toy_languages(10, no_such_knob=1)
    with pytest.raises(ValueError, match="min_len"):
        ToyConfig(min_len=9, max_len=4)
