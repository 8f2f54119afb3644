"""The transfer analysis: source-language roles, similarity measures, gradient alignment and compute saved,
each checked on small cases whose answer is known by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlmeta_lab.data import roles


def test_every_source_language_trains_on_dev_and_test_and_french_is_never_a_source() -> None:
    assert "fr" not in roles.SOURCE_TREEBANKS
    for lang, keys in roles.SOURCE_TREEBANKS.items():
        assert keys == tuple(k for k in keys if k.startswith(lang)) and len(keys) == 2
        assert {k.rsplit("-", 1)[1] for k in keys} == {"dev", "test"}
    with pytest.raises(ValueError, match="target language"):
        roles.source_treebanks(["en", "fr"])
    with pytest.raises(ValueError, match="no source treebank for 'xx'"):
        roles.source_treebanks(["xx"])
    files = roles.TRANSFER_EXPERIMENT_FILES
    assert len(set(files)) == len(files)
    assert {"fr_gsd-dev", "fr_gsd-test", "fr_pud-test", "en_pud-test", "es_pud-test"} <= set(files)


def test_no_source_treebank_shares_a_sentence_with_a_french_test(data_dir: Path) -> None:
    sources = roles.source_treebanks(data_dir=data_dir)
    assert set(sources) == set(roles.SOURCE_TREEBANKS)
    assert all(s.lang == lang for lang, pool in sources.items() for s in pool)
    roles.assert_no_test_leakage(sources, roles.french_fewshot_splits(data_dir), roles.parallel_pud(data_dir))
