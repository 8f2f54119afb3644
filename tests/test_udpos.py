"""The real experiment's wiring: no test leakage, accuracy over real words, and `xlmeta fewshot`."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from pathlib import Path

import pytest
from treebanks import fewshot_argv, ud_train_argv

from xlmeta_lab.cli import main
from xlmeta_lab.data.roles import assert_no_test_leakage, shared_sentences, training_tasks
from xlmeta_lab.episodes.encoders import encode_buckets
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.scoring import counts_over, per_tag_accuracy
from xlmeta_lab.experiments.results import read_results
from xlmeta_lab.experiments.studies import udpos
from xlmeta_lab.experiments.training.checkpoints import CheckpointMismatch, load_checkpoint
from xlmeta_lab.models.backbones import new_tagger, tagger_config
from xlmeta_lab.teaching.profiles import profile_settings


@pytest.fixture(scope="module")
def setup(data_dir: Path) -> udpos.UDSetup:
    return udpos.ud_setup(profile_settings(udpos.NOTEBOOK, "quick"), seed=0, data_dir=data_dir)


def test_training_never_holds_french_tests_or_their_translations(
    setup: udpos.UDSetup, data_dir: Path
) -> None:
    from xlmeta_lab.data.roles import parallel_pud

    training = [s for pool in setup.training.values() for s in pool]
    tests = [s for tests in setup.splits.tests.values() for s in tests]
    pud = [s for pool in parallel_pud(data_dir).values() for s in pool]
    assert len({s.sent_id for s in training}) == len(training) == 4078 + 1827
    # by words, and by the ids PUD translations share (the only ids that can meet across files)
    assert not shared_sentences(training, tests) and not shared_sentences(training, pud)
    assert {s.source for pool in setup.training.values() for s in pool} == {
        "en_ewt-dev", "en_ewt-test", "es_gsd-dev", "es_gsd-test"
    }  # fmt: skip


def test_leakage_check_refuses_a_pud_translation_or_a_test_sentence(
    setup: udpos.UDSetup, data_dir: Path
) -> None:
    from xlmeta_lab.data.roles import parallel_pud

    pud = parallel_pud(data_dir)
    with pytest.raises(ValueError, match="PUD sentence ids"):
        assert_no_test_leakage(
            {**setup.training, "en": [pud["en"][0], *setup.training["en"]]}, setup.splits, pud
        )
    french_test = setup.splits.tests["fr_gsd-test"][0]
    with pytest.raises(ValueError, match="French test set"):
        assert_no_test_leakage({**setup.training, "fr": [french_test]}, setup.splits, pud)


def test_accuracy_counts_syntactic_words_only(setup: udpos.UDSetup) -> None:
    """fr GSD test has 10,018 syntactic words (PROVENANCE.md); padding and multiword tokens must not count."""
    vocab = Vocab.build(s for pool in setup.training.values() for s in pool)
    model = new_tagger(tagger_config(setup.train_config, vocab), seed=0)
    tests = setup.splits.tests["fr_gsd-test"]
    correct, total = counts_over(model, None, encode_buckets(tests, vocab, max_word_len=12, size=50))
    assert total == 10018 and 0 <= correct <= total
    per_tag = per_tag_accuracy(model, None, tests, vocab, max_word_len=12)
    assert sum(t for _, t in per_tag.values()) == 10018
    assert sum(c for c, _ in per_tag.values()) == correct
    assert "PART" not in per_tag  # French GSD has no PART: not counted as a zero-accuracy tag


def test_genre_tasks_split_english_by_genre_and_spanish_into_as_many_blocks(setup: udpos.UDSetup) -> None:
    tasks = training_tasks(setup.training, split_by="genre")
    genres = {"answers", "email", "newsgroup", "reviews", "weblog"}
    assert set(tasks) == {f"en-{g}" for g in genres} | {f"es-part{i}" for i in range(1, 6)}
    assert sum(len(p) for p in tasks.values()) == 4078 + 1827
    for genre in genres:
        assert all(s.sent_id.startswith(genre + "-") for s in tasks[f"en-{genre}"])
    spanish = [tasks[f"es-part{i}"] for i in range(1, 6)]
    assert max(map(len, spanish)) - min(map(len, spanish)) <= 1
    assert [s for part in spanish for s in part] == setup.training["es"]  # file order, nothing lost


def test_episodes_come_from_one_task_pool(setup: udpos.UDSetup) -> None:
    """With task pools by name, an episode is drawn from one pool (one genre), not from its whole language."""
    tasks = training_tasks(setup.training, split_by="genre")
    sampler = TaggingEpisodeSampler(tasks, Vocab.build([]), 4, 4, max_len=40, max_word_len=1, seed=3)
    assert sampler.languages == sorted(tasks)
    seen = set()
    for _ in range(30):
        episode = sampler.draw()
        ids = {s.sent_id for s in episode.support + episode.query}
        assert ids <= {s.sent_id for s in tasks[episode.lang]}
        seen.add(episode.lang)
    assert len(seen) > 5


# --- xlmeta fewshot on a tiny treebank (the `tiny` fixture is in conftest.py) -----------------------------


def test_fewshot_command_reports_accuracy_with_an_interval(
    tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tiny["folder"] / "fewshot.json"
    argv = fewshot_argv(tiny)
    assert main([*argv, "--shots", "3", "--draws", "3", "--steps", "2", "5", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "after fine-tuning on K=3 sentences" in printed and "95% CI, n=3 draws" in printed
    saved = read_results(out)
    (summary,) = [r for r in saved["summary"] if r["K"] == 3]
    draws = [r["accuracy"] for r in saved["rows"] if r["K"] == 3]
    assert summary["n"] == len(draws) == 3
    # the mean of the 3 draws, with mean +- t(0.975, 2 df) * sd / sqrt(3) around it, as printed
    assert summary["mean"] == pytest.approx(statistics.fmean(draws), abs=1e-12)
    half = 4.302652729911275 * statistics.stdev(draws) / math.sqrt(3)
    assert half > 0 and summary["ci_high"] - summary["mean"] == pytest.approx(half, abs=1e-12)
    assert summary["mean"] - summary["ci_low"] == pytest.approx(half, abs=1e-12)
    assert f"{100 * summary['mean']:.1f}% ± {100 * half:.1f} (95% CI, n=3 draws)" in printed


def test_fewshot_refuses_k_larger_than_the_pool(
    tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = fewshot_argv(tiny)
    assert main([*argv, "--shots", "29"]) == 2
    assert "larger than the support pool" in capsys.readouterr().err


def test_checkpoint_from_another_config_is_refused(tiny: dict[str, Path]) -> None:
    checkpoint = load_checkpoint(tiny["init"])
    other = replace(checkpoint.model_config, hidden=checkpoint.model_config.hidden * 2)
    with pytest.raises(CheckpointMismatch, match="hidden"):
        load_checkpoint(tiny["init"], model_config=other)


def test_train_command_runs_the_ud_task(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlmeta_lab.teaching import profiles

    tiny = {**profiles.PROFILES[udpos.NOTEBOOK]["quick"], "steps": 2, "eval_every": 2, "hidden": 16}
    monkeypatch.setitem(profiles.PROFILES[udpos.NOTEBOOK], "quick", tiny)
    assert main(ud_train_argv(data_dir, tmp_path / "run")) == 0
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint.step == 2 and checkpoint.train_config.method == "fomaml"
    assert checkpoint.model_config.n_tags == 17


def test_each_model_and_context_gets_its_own_run_folder() -> None:
    """Switching 03 to a BiLSTM context (or an encoder) must not resume the conv tagger's checkpoints."""
    from xlmeta_lab.experiments.studies import udpos

    names = {
        udpos.run_name("quick", 0),
        udpos.run_name("quick", 0, udpos.WORD_TAGGER, "lstm"),
        udpos.run_name("quick", 0, "xlm-roberta-base"),
        udpos.run_name("quick", 0, "xlm-roberta-base", "lstm"),  # an encoder has no tagger context
    }
    assert names == {
        "03_en_es_to_fr-quick-seed0",
        "03_en_es_to_fr-quick-seed0-lstm",
        "03_en_es_to_fr-quick-seed0-xlm-roberta-base",
    }
