"""Topic classification: N-way K-shot episodes with permuted labels, the French K-per-topic draws, the sentence
classifier under vmap, and SIB-200's leakage check (which must be able to fail)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from oracles import meta_gradient_by_hand

from xlmeta_lab.data.roles import assert_no_sib200_leakage
from xlmeta_lab.data.sib200 import SIB_LABELS, TRAINING_LANGUAGES, Example, load_sib200
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, stack_sets
from xlmeta_lab.episodes.topics import (
    TopicEncoder,
    TopicEpisodeSampler,
    class_balanced_draws,
    permute_labels,
    validation_task,
)
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.finetune import finetune_batch
from xlmeta_lab.experiments.protocol.run import Condition
from xlmeta_lab.experiments.studies import sib200
from xlmeta_lab.meta import meta_gradient
from xlmeta_lab.models.classifier import ClassifierConfig, SentenceClassifier
from xlmeta_lab.models.tagger import tagging_loss
from xlmeta_lab.teaching.profiles import profile_settings

WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]


def examples(per_topic: int = 6, langs: tuple[str, ...] = ("en", "es")) -> list[Example]:
    """``per_topic`` made-up sentences of each topic per language (index ids unique per language, as in SIB)."""
    rows = []
    for lang in langs:
        for t, topic in enumerate(SIB_LABELS):
            for i in range(per_topic):
                text = " ".join(WORDS[(t + j + i) % len(WORDS)] for j in range(3 + i % 4)) + f" {topic} ."
                rows.append(Example(text, topic, 100 * t + i, lang))
    return rows


@pytest.fixture(scope="module")
def encoder() -> TopicEncoder:
    return TopicEncoder(Vocab.build(examples()), max_word_len=8)


def test_an_episode_is_n_way_k_shot_with_its_labels_permuted(encoder: TopicEncoder) -> None:
    sampler = TopicEpisodeSampler(
        examples(), encoder, n_way=5, k_shot=2, query_per_class=3, max_len=10, seed=0
    )
    episode = sampler.draw()
    (x_s, y_s), (x_q, y_q) = episode.task
    assert x_s.word_ids.shape == (10, 10) and x_s.char_ids.shape == (10, 10, 8) and y_s.shape == (10,)
    assert x_q.word_ids.shape == (15, 10) and y_q.shape == (15,)
    assert len(episode.slots) == 5 and set(episode.slots) <= set(SIB_LABELS)
    # label j means topic slots[j], in support and query alike
    assert [episode.slots[j] for j in y_s.tolist()] == [e.label for e in episode.support]
    assert [episode.slots[j] for j in y_q.tolist()] == [e.label for e in episode.query]
    assert Counter(y_s.tolist()) == {j: 2 for j in range(5)} and Counter(y_q.tolist()) == {
        j: 3 for j in range(5)
    }
    assert {e.lang for e in episode.support + episode.query} == {episode.lang}
    assert not {id(e) for e in episode.support} & {id(e) for e in episode.query}


def test_labels_are_permuted_differently_across_episodes_and_fixed_without_permutation(
    encoder: TopicEncoder,
) -> None:
    sampler = TopicEpisodeSampler(examples(), encoder, n_way=7, k_shot=1, query_per_class=1, seed=1)
    orders = {sampler.draw().slots for _ in range(30)}
    assert len(orders) > 20  # 7! orders: a fixed one would let the head memorise the topics
    fixed = TopicEpisodeSampler(examples(), encoder, 7, 1, 1, seed=1, permute=False)
    for _ in range(5):
        episode = fixed.draw()
        assert episode.slots == SIB_LABELS
        assert [SIB_LABELS[j] for j in episode.task.support.y.tolist()] == [e.label for e in episode.support]


def test_same_seed_same_episodes(encoder: TopicEncoder) -> None:
    def draws(seed: int) -> list[tuple]:
        sampler = TopicEpisodeSampler(examples(), encoder, 3, 2, 2, seed=seed)
        return [(e.slots, tuple(t.text for t in e.support)) for e in (sampler.draw() for _ in range(4))]

    assert draws(3) == draws(3) != draws(4)


def test_k_larger_than_the_pool_is_refused_with_the_pool_sizes(encoder: TopicEncoder) -> None:
    with pytest.raises(
        ValueError, match=r"7-way K=5 with 2 query per topic needs 7 topics with at least 7 .*'en' pool"
    ):
        TopicEpisodeSampler(examples(6), encoder, n_way=7, k_shot=5, query_per_class=2)
    with pytest.raises(ValueError, match="n_way=9"):
        TopicEpisodeSampler(examples(), encoder, n_way=9, k_shot=1, query_per_class=1)


def test_permute_labels_applies_the_inverse_of_slots() -> None:
    slots = torch.tensor([2, 0, 1])  # output 0 is topic 2, output 1 topic 0, output 2 topic 1
    assert permute_labels(torch.tensor([0, 1, 2, 0]), slots).tolist() == [1, 2, 0, 1]
    assert permute_labels(torch.tensor([5, IGNORE_INDEX]), slots).tolist() == [IGNORE_INDEX, IGNORE_INDEX]


def test_validation_task_keeps_every_topic_and_one_permutation(encoder: TopicEncoder) -> None:
    held = examples(3, langs=("en",))
    support, query = validation_task(held, encoder, 2, max_len=8, seed=0, permute=True)
    assert support.y.shape == (14,) and query.y.shape == (7,)
    assert sorted(support.y.tolist()) == sorted(list(range(7)) * 2) and sorted(query.y.tolist()) == list(
        range(7)
    )


def test_french_draws_are_k_per_topic_paired_and_nested() -> None:
    pool = examples(5, langs=("fr",))
    small, large = class_balanced_draws(pool, 1, 3, seed=2), class_balanced_draws(pool, 4, 3, seed=2)
    for draw in large:
        assert Counter(e.label for e in draw) == {topic: 4 for topic in SIB_LABELS}
    assert all(set(map(id, s)) <= set(map(id, big)) for s, big in zip(small, large, strict=True))
    assert all(s == big[: len(s)] for s, big in zip(small, large, strict=True))  # a prefix: nested
    assert large == class_balanced_draws(pool, 4, 3, seed=2) and large[0] != large[1]
    with pytest.raises(ValueError, match=r"K=6 per topic .* holds 5 sentences"):
        class_balanced_draws(pool, 6, 1)


def classifier(encoder: TopicEncoder) -> SentenceClassifier:
    torch.manual_seed(0)
    model = SentenceClassifier(
        ClassifierConfig(7, encoder.vocab.n_words, encoder.vocab.n_chars, 8, 4, 6, 8, context_layers=1)
    ).double()
    with torch.no_grad():  # a non-zero head, so the test sees every path of the gradient
        model.head.weight.normal_(0, 0.5)
    return model


@pytest.mark.parametrize("method", ["maml", "fomaml", "reptile"])
def test_the_classifier_under_vmap_gives_the_loops_meta_gradient(encoder: TopicEncoder, method: str) -> None:
    """Both engine paths against a loop written by hand from the definitions (:mod:`oracles`)."""
    sampler = TopicEpisodeSampler(examples(), encoder, 7, 2, 2, max_len=9, seed=5)
    tasks = [sampler.sample() for _ in range(3)]
    model = classifier(encoder)
    kwargs = {"method": method, "inner_lr": 0.3, "inner_steps": 2}
    batched = meta_gradient(model, tagging_loss, tasks, batched=True, **kwargs)
    looped = meta_gradient(model, tagging_loss, tasks, batched=False, **kwargs)
    by_hand = meta_gradient_by_hand(model, tasks, **kwargs)
    assert batched.keys() == looped.keys() == by_hand.keys()
    for name in by_hand:
        torch.testing.assert_close(looped[name], by_hand[name], rtol=0, atol=1e-12, msg=name)
        torch.testing.assert_close(batched[name], by_hand[name], rtol=1e-9, atol=1e-11, msg=name)
    assert max(float(g.abs().max()) for g in by_hand.values()) > 1e-3  # a real gradient, so a wrong one shows


def test_french_draws_fine_tune_alike_under_vmap_and_in_a_loop(encoder: TopicEncoder) -> None:
    model = classifier(encoder)
    draws = class_balanced_draws(examples(3, langs=("fr",)), 2, 3, seed=0)
    supports = stack_sets([encoder.encode(d, 9) for d in draws])
    batched = finetune_batch(model, supports, lr=0.3, record=(2, 5), batched=True)
    looped = finetune_batch(model, supports, lr=0.3, record=(2, 5), batched=False)
    for steps in (2, 5):
        for name in looped[steps]:
            torch.testing.assert_close(batched[steps][name], looped[steps][name], rtol=1e-9, atol=1e-11)


def test_the_classifier_reads_words_and_characters_and_ignores_padding(encoder: TopicEncoder) -> None:
    model = classifier(encoder)
    sentences = examples(1, langs=("fr",))[:3]
    short, padded = encoder.encode(sentences), encoder.encode(sentences, max_len=20)
    assert model(*short.x).shape == (3, 7)
    torch.testing.assert_close(model(*short.x), model(*padded.x))  # padding changes nothing
    fresh = SentenceClassifier(ClassifierConfig(7, 10, 10))
    assert not fresh.head.weight.any() and not fresh.head.bias.any()  # every topic scores the same at first


def test_word_dim_zero_builds_a_classifier_that_reads_spelling_only(encoder: TopicEncoder) -> None:
    from xlmeta_lab.experiments.config import TrainConfig
    from xlmeta_lab.models.topic_backbones import topic_backbone_for

    pools = {"en": examples(langs=("en",)), "es": examples(langs=("es",))}
    spelling = topic_backbone_for(TrainConfig(task="topic", word_dim=0), pools).new_model(0)
    both = topic_backbone_for(TrainConfig(task="topic", word_dim=8), pools).new_model(0)
    assert spelling.words is None and both.words is not None
    x = encoder.encode(examples(1, langs=("fr",))[:3]).x
    assert spelling(*x).shape == both(*x).shape == (3, 7)
    assert profile_settings(sib200.NOTEBOOK, "full")["word_dim"] == 0  # what notebook 04 reads


# --- SIB-200 wiring: the leakage check ----------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(data_dir: Path) -> sib200.SibSetup:
    return sib200.sib_setup(profile_settings(sib200.NOTEBOOK, "quick"), 0, data_dir)


def test_training_holds_no_french_test_or_holdout_sentence_nor_a_translation_of_one(
    setup: sib200.SibSetup, data_dir: Path
) -> None:
    assert sorted(setup.training) == ["en", "es"] and setup.train_config.task == "topic"
    train_ids = {e.index_id for pool in setup.training.values() for e in pool}
    test_ids = {e.index_id for e in setup.splits.tests["sib200-fra_Latn-test"]}
    assert len(train_ids) == 701 and len(test_ids) == 204 and not train_ids & test_ids
    # the three splits are the same index_id sets in every language: true for all 20 training languages
    for code in TRAINING_LANGUAGES:
        assert not {e.index_id for e in load_sib200(code, "train", data_dir)} & test_ids
    holdout_ids = {e.index_id for e in setup.splits.holdout}
    assert len(holdout_ids) == 99 and not holdout_ids & (train_ids | test_ids)  # all of French dev
    held = Counter(e.label for e in setup.splits.holdout)
    assert set(held) == set(SIB_LABELS)  # every topic in the holdout, so budgets see them all


def test_the_french_train_pool_translates_the_training_rows_and_meets_nothing_scored(
    setup: sib200.SibSetup,
) -> None:
    """The profile draws support sets from French train: translations of the training rows (said in the
    notebook), never of a holdout or test row, and large enough for K = 16 of the rarest topic."""
    assert setup.french_pool == "train"
    pool_ids = {e.index_id for e in setup.splits.support_pool}
    train_ids = {e.index_id for e in setup.training["en"]} | {e.index_id for e in setup.training["es"]}
    assert len(pool_ids & train_ids) > 600  # translations of (almost all) training rows
    scored = {e.index_id for e in [*setup.splits.holdout, *setup.splits.tests["sib200-fra_Latn-test"]]}
    assert not pool_ids & scored
    assert min(Counter(e.label for e in setup.splits.support_pool).values()) >= 16
    assert all(e.lang == "fra_Latn" or e.lang == "fr" for e in setup.splits.support_pool)


def test_a_dev_pool_keeps_the_first_runs_split(data_dir: Path) -> None:
    settings = {**profile_settings(sib200.NOTEBOOK, "quick"), "french_pool": "dev"}
    splits = sib200.sib_setup(settings, 0, data_dir).splits
    assert len(splits.support_pool) + len(splits.holdout) == 99
    with pytest.raises(ValueError, match="french_pool must be one of dev, train"):
        sib200.french_splits("test", 0.25, 0, data_dir)


def test_the_leakage_check_catches_a_leaked_holdout_or_test(setup: sib200.SibSetup, data_dir: Path) -> None:
    scored = replace(setup.splits, support_pool=[])  # the French train pool is exempt, by design
    french_test = setup.splits.tests["sib200-fra_Latn-test"][0]
    translation = next(
        e for e in load_sib200("eng_Latn", "test", data_dir) if e.index_id == french_test.index_id
    )
    leaked = {**setup.training, "en": [*setup.training["en"], translation]}
    with pytest.raises(ValueError, match="French test sentence or a translation of one"):
        assert_no_sib200_leakage(leaked, scored)
    held = setup.splits.holdout[0]
    with pytest.raises(ValueError, match="translation of a French support or holdout sentence"):
        assert_no_sib200_leakage({**setup.training, "de": [replace(held, lang="de")]}, scored)
    with pytest.raises(ValueError, match="training holds French sentences"):
        assert_no_sib200_leakage({"fr": load_sib200("fra_Latn", "train", data_dir)[:5]}, scored)
    assert_no_sib200_leakage(setup.training, scored)  # the real set-up passes


def test_prototype_views_adapt_the_same_models_from_prototypes(encoder: TopicEncoder) -> None:
    model = SentenceClassifier(ClassifierConfig(n_classes=7, n_chars=encoder.vocab.n_chars, hidden=8))
    conditions = [Condition("joint", [model], [0]), Condition("maml", [model], [0], head="prototype")]
    (view,) = sib200.prototype_views(conditions, ["joint"])
    assert (view.name, view.head, view.models[0]) == ("joint-proto", "prototype", model)
    assert conditions[0].head == "zero"  # the original is left as it was


# --- the command line ---------------------------------------------------------------------------------


@pytest.fixture
def tiny_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    from xlmeta_lab.teaching import profiles

    tiny = {**profiles.PROFILES[sib200.NOTEBOOK]["quick"], "steps": 2, "eval_every": 2, "hidden": 16}
    monkeypatch.setitem(profiles.PROFILES[sib200.NOTEBOOK], "quick", tiny)


def sib_argv(command: str, data_dir: Path, folder: Path, *options: str) -> list[str]:
    where = ["--out", str(folder)] if command == "train" else ["--init", str(folder)]
    return [command, "--task", "sib200", *options, "--data-dir", str(data_dir), *where]


@pytest.mark.usefixtures("tiny_profile")
def test_train_and_evaluate_commands_run_the_sib200_task(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xlmeta_lab.cli import main
    from xlmeta_lab.experiments.results import read_results
    from xlmeta_lab.experiments.training.checkpoints import load_checkpoint

    languages = ("--languages", "eng_Latn,spa_Latn,cat_Latn")
    run = tmp_path / "run"
    assert main(sib_argv("train", data_dir, run, "--method", "fomaml", *languages)) == 0
    checkpoint = load_checkpoint(run)
    assert checkpoint.step == 2 and checkpoint.train_config.task == "topic"
    assert checkpoint.backbone.describe()["kind"] == "sentence-classifier"
    assert "ç" in checkpoint.vocab.chars  # Catalan was in the training data
    out = tmp_path / "eval.json"
    assert main(sib_argv("evaluate", data_dir, run, *languages, "--json", str(out))) == 0
    printed = capsys.readouterr().out
    assert "sentence accuracy on sib200-fra_Latn-test" in printed and "fomaml" in printed
    rows = read_results(out)["rows"]
    assert {r["K"] for r in rows} == {0, 1, 4} and {r["condition"] for r in rows} == {"scratch", "fomaml"}
    assert main(sib_argv("evaluate", data_dir, run)) == 2  # trained on three languages, evaluated with two
    assert "--languages it was trained with" in capsys.readouterr().err
    fewshot = ["fewshot", "--init", str(run), "--support", "s.conllu", "--test", "t.conllu", "--shots", "1"]
    assert main(fewshot) == 2 and "xlmeta evaluate --task sib200" in capsys.readouterr().err
    assert main(["evaluate", "--init", str(run), "--task", "ud-pos"]) == 2
    assert "holds a topic model, not one for --task ud-pos" in capsys.readouterr().err


def test_an_unknown_or_french_training_language_is_one_error_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xlmeta_lab.cli import main

    for bad, message in (("eng_Latn,xx_Latn", "unknown SIB-200 language 'xx_Latn'"), ("fra_Latn", "target")):
        assert (
            main(sib_argv("train", data_dir, tmp_path / "run", "--method", "maml", "--languages", bad)) == 2
        )
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
        assert "eng_Latn, spa_Latn, cat_Latn" in err  # names the languages one can train on
    assert not (tmp_path / "run").exists()
    assert (
        main(["train", "--task", "ud-pos", "--method", "maml", "--out", str(tmp_path), "--languages", "en"])
        == 2
    )
    assert "--languages is for --task sib200" in capsys.readouterr().err


@pytest.mark.usefixtures("tiny_profile")
def test_a_hugging_face_encoder_classifies_topics_offline(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--model`` / ``MODEL`` set to a saved encoder folder: the path ``xlm-roberta-base`` takes, offline."""
    from tiny_encoder import save_tiny_encoder

    from xlmeta_lab.cli import main
    from xlmeta_lab.experiments.training.checkpoints import load_checkpoint

    sentences = load_sib200("eng_Latn", "train", data_dir) + load_sib200("spa_Latn", "train", data_dir)
    encoder = save_tiny_encoder(tmp_path / "tiny-encoder", sentences, words=500)
    run = tmp_path / "run"
    assert main(sib_argv("train", data_dir, run, "--method", "maml", "--model", str(encoder))) == 0
    checkpoint = load_checkpoint(run)
    assert checkpoint.backbone.describe() == {
        "kind": "hf-encoder-classifier",
        "name_or_path": str(encoder),
        "n_classes": 7,
        "max_subtokens": 64,
        "dropout": 0.1,
    }
    assert main(sib_argv("evaluate", data_dir, run)) == 0
    assert "sentence accuracy on sib200-fra_Latn-test" in capsys.readouterr().out


def test_the_encoder_classifier_meta_learns_through_the_engine(tmp_path: Path) -> None:
    """BERT's attention mask is built with data-dependent control flow, which vmap refuses: the engine falls back
    to its per-task loop, with the loop's numbers; second-order MAML reaches the encoder and the head: the
    hand-written loop's gradient, which differs from first order's there."""
    from tiny_encoder import save_tiny_encoder

    from xlmeta_lab.episodes.subwords import SubwordTopicEncoder
    from xlmeta_lab.meta import meta_gradient_and_loss
    from xlmeta_lab.models.topic_backbones import EncoderClassifierBackbone

    folder = save_tiny_encoder(tmp_path / "enc", examples(), words=50, max_positions=64)
    backbone = EncoderClassifierBackbone.load(folder, max_subtokens=16, dropout=0.0)
    assert isinstance(backbone.encoder, SubwordTopicEncoder)
    model = backbone.new_model(0).double().eval()
    tasks = [TopicEpisodeSampler(examples(), backbone.encoder, 3, 2, 1, seed=s).sample() for s in range(2)]
    with pytest.warns(UserWarning, match="using the per-task loop"):
        auto = meta_gradient_and_loss(
            model, tagging_loss, tasks, method="fomaml", inner_lr=0.1, batched="auto"
        )
    loop = meta_gradient_and_loss(model, tagging_loss, tasks, method="fomaml", inner_lr=0.1, batched=False)
    for name in loop.grads:
        torch.testing.assert_close(auto.grads[name], loop.grads[name], rtol=0, atol=1e-12, msg=name)
    maml = meta_gradient(model, tagging_loss, tasks, method="maml", inner_lr=0.1, batched=False)
    by_hand = meta_gradient_by_hand(model, tasks, method="maml", inner_lr=0.1, inner_steps=1)
    for name in by_hand:
        torch.testing.assert_close(maml[name], by_hand[name], rtol=0, atol=1e-12, msg=name)
    # first order gives the encoder a gradient too; only the second-order term tells the two apart
    encoder_names = [n for n in maml if n.startswith("encoder.")]
    gap = max(float((maml[n] - loop.grads[n]).abs().max()) for n in encoder_names)
    scale = max(float(maml[n].abs().max()) for n in encoder_names)
    assert gap > 1e-3 * scale, f"MAML's encoder gradient equals FOMAML's to {gap:.1e} (of {scale:.1e})"


def test_the_support_checks_see_a_sib200_sentence_by_its_flores_id(encoder: TopicEncoder) -> None:
    """``xlmeta evaluate --task sib200`` runs the same support/test checks as UD: a French support sentence that
    is a test sentence (same FLORES index), even reworded, is found; a test set that is all support is refused."""
    from xlmeta_lab.data.roles import shared_sentences
    from xlmeta_lab.experiments.protocol.run import check_support_and_tests

    test = [
        Example("le chat dort .", "science/technology", 7, "fr"),
        Example("il pleut .", "travel", 8, "fr"),
    ]
    support = [Example("le chat dort encore .", "science/technology", 7, "fr")]
    assert support[0].sent_id == test[0].sent_id == "flores:7" and support[0].source == "sib200-fr"
    assert shared_sentences(support, test) == [test[0]]
    with pytest.raises(ValueError, match="all 1 sentences of fr-test are also in the support sentences"):
        check_support_and_tests(support, {"fr-test": test[:1]}, encoder)


# --- heads, no fine-tuning, and the calibration baseline --------------------------------------------------


def test_meta_learners_start_from_prototypes_and_protonet_is_never_fine_tuned(encoder: TopicEncoder) -> None:
    """Train each kind for two steps with ``head="prototype"``: the conditions carry the head into the protocol,
    joint keeps its own head, ProtoNet may only choose 0 steps, and its K-shot rows are the nearest-prototype
    classifier's, whatever the grid offers."""
    from xlmeta_lab.experiments.config import ProtocolConfig, TrainConfig
    from xlmeta_lab.experiments.protocol.run import choose_budget
    from xlmeta_lab.experiments.studies.conditions import train_conditions

    pools = {lang: [e for e in examples(8) if e.lang == lang] for lang in ("en", "es")}
    config = TrainConfig(
        task="topic",
        head="prototype",
        steps=2,
        eval_every=2,
        support_size=1,
        query_size=1,
        word_dim=0,
        hidden=8,
        char_channels=8,
        max_len=8,
        val_fraction=0.25,
        val_tasks=1,
    )
    runs = train_conditions(pools, config, ["joint", "fomaml", "protonet"], [0], scratch=False)
    heads = {c.name: (c.head, c.steps) for c in runs.conditions}
    assert heads == {"joint": ("zero", None), "fomaml": ("prototype", None), "protonet": ("prototype", (0,))}
    assert all(math.isfinite(row["loss"]) for r in runs.runs["protonet"] for row in r.history)
    protonet = next(c for c in runs.conditions if c.name == "protonet")
    french = [replace(e, lang="fr", index_id=e.index_id + 10_000) for e in examples(4, ("fr",))]
    protocol = ProtocolConfig(ks=(1,), n_draws=1, lrs=(0.3,), steps=(0, 5), k_per_class=True, max_word_len=8)
    budget = choose_budget(protonet, french[:14], french[14:], runs.encoder, protocol)
    assert budget.steps == 0


def test_tfidf_baseline_pairs_with_the_protocol_draws_and_chooses_c_on_the_holdout_only() -> None:
    from xlmeta_lab.data.roles import FewShotSplits
    from xlmeta_lab.experiments.config import ProtocolConfig
    from xlmeta_lab.experiments.studies.topic_baseline import SOURCE_ONLY, WITH_FRENCH, tfidf_result

    source = {lang: [e for e in examples(6) if e.lang == lang] for lang in ("en", "es")}
    french = [replace(e, lang="fr", index_id=e.index_id + 10_000) for e in examples(6, ("fr",))]
    pool, holdout, test = french[::3] + french[1::3], french[2::3][:7], french[2::3][7:]
    splits = FewShotSplits(pool, holdout, {"test": test})
    protocol = ProtocolConfig(ks=(0, 1, 2), n_draws=2, k_per_class=True, budget_ks=(1,), budget_draws=1)
    result, choices = tfidf_result(source, splits, protocol, seeds=[0, 1], grid=(1.0, 10.0))
    rows = [r for r in result.rows if r["condition"] == WITH_FRENCH and r["K"] == 2]
    assert len(rows) == 2 * 2 and {(r["seed"], r["draw"]) for r in rows} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    alone = {r["accuracy"] for r in result.rows if r["condition"] == SOURCE_ONLY}
    assert len(alone) == 1  # trained without French: the same at every K and draw
    # the choice never sees the test set: scoring another test set leaves every C as it was
    other = FewShotSplits(pool, holdout, {"test": test[:3]})
    assert tfidf_result(source, other, protocol, seeds=[0], grid=(1.0, 10.0))[1] == choices


def test_chance_verdicts_read_the_interval_against_both_lines() -> None:
    from xlmeta_lab.teaching.reports.topics import chance_levels, chance_verdict

    uniform, majority, top = chance_levels(["a", "a", "b", "c"], 7)
    assert (uniform, majority, top) == (1 / 7, 0.5, "a")
    row = {"n": 15, "mean": 0.4, "ci_low": 0.3, "ci_high": 0.5}
    assert chance_verdict(row, 1 / 7, 0.25) == "above the majority topic"
    assert chance_verdict({**row, "ci_low": 0.2}, 1 / 7, 0.25) == "above 1/N, not above the majority topic"
    assert chance_verdict({**row, "ci_low": 0.1}, 1 / 7, 0.25) == "at chance (its interval holds 1/N)"
    assert chance_verdict({**row, "ci_low": 0.05, "ci_high": 0.1}, 1 / 7, 0.25) == "below 1/N"
    assert chance_verdict({**row, "n": 2}, 1 / 7, 0.25).startswith("no interval")
