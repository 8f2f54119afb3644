"""Episodes: vocab, padded shapes, disjoint support/query, seeds, errors, and the French protocol."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from xlmeta_lab.data.roles import (
    french_fewshot_splits,
    meta_training_treebanks,
    parallel_pud,
    shared_sentences,
    sib200_french_splits,
    sib200_labels,
    sib200_meta_training,
)
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import (
    MAX_SENTENCE_WORDS,
    TAG_TO_ID,
    WordCharEncoder,
    encode_sentences,
    split_long_sentences,
    unknown_char_share,
)
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler, support_draws
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, padding_mask
from xlmeta_lab.episodes.vocab import PAD, UNK, Vocab
from xlmeta_lab.meta import Task

LABELS = ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography")


@pytest.fixture(scope="module")
def toy() -> dict[str, list[Sentence]]:
    return make_toy_languages(300, seed=0)


@pytest.fixture(scope="module")
def vocab(toy: dict[str, list[Sentence]]) -> Vocab:
    return Vocab.build(toy["en"] + toy["es"])


def tagging_sampler(
    toy: dict[str, list[Sentence]], vocab: Vocab, seed: int = 0, **kw: int
) -> TaggingEpisodeSampler:
    settings = {"support_size": 5, "query_size": 7, "max_len": 12, "max_word_len": 6, **kw}
    return TaggingEpisodeSampler(toy["en"] + toy["es"], vocab, seed=seed, **settings)


def test_vocab_ids_from_training_languages_only() -> None:
    train = [Sentence(("The", "cat", "the"), ("DET", "NOUN", "DET"), "1", "en", "t")]
    vocab = Vocab.build(train, min_freq=2)
    assert vocab.words[:2] == ("<pad>", "<unk>") and (PAD, UNK) == (0, 1)
    assert vocab.word_id("THE") == vocab.word_id("the") == 2  # lower-cased, seen twice
    assert vocab.word_id("cat") == UNK  # below min_freq
    assert vocab.word_id("chat") == UNK  # French word never seen
    assert vocab.char_ids("Thé", 8) == [vocab.chars.index("T"), vocab.chars.index("h"), UNK]


def test_tagging_shapes_and_padding(toy: dict[str, list[Sentence]], vocab: Vocab) -> None:
    (x_s, y_s), (x_q, y_q) = tagging_sampler(toy, vocab).sample()
    assert x_s.word_ids.shape == (5, 12) and x_s.char_ids.shape == (5, 12, 6) and y_s.shape == (5, 12)
    assert x_q.word_ids.shape == (7, 12) and y_q.shape == (7, 12)
    assert y_s.dtype == x_s.word_ids.dtype == torch.long
    assert torch.equal(padding_mask(y_s), x_s.word_ids != PAD)
    assert torch.equal(y_s == IGNORE_INDEX, (x_s.char_ids == PAD).all(-1))
    logits = torch.zeros(5, 12, len(TAG_TO_ID), requires_grad=True)
    loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), y_s)  # -100 ignored, no mask needed
    assert torch.isfinite(loss)


def test_batches_stack_for_vmap(toy: dict[str, list[Sentence]], vocab: Vocab) -> None:
    batch = tagging_sampler(toy, vocab).sample_batch(4)
    assert batch.support.x.char_ids.shape == (4, 5, 12, 6) and batch.query.y.shape == (4, 7, 12)
    n_tags = torch.func.vmap(lambda task: padding_mask(task.query.y).sum())(batch)
    assert n_tags.shape == (4,) and (n_tags > 0).all()


def test_support_and_query_are_disjoint_and_monolingual(toy: dict[str, list[Sentence]], vocab: Vocab) -> None:
    sampler = tagging_sampler(toy, vocab)
    langs = set()
    for _ in range(50):
        episode = sampler.draw()
        ids = [s.sent_id for s in episode.support + episode.query]
        assert len(set(ids)) == len(ids) == 12
        assert {s.lang for s in episode.support + episode.query} == {episode.lang}
        langs.add(episode.lang)
    assert langs == {"en", "es"}


def leaves(task: Task) -> list[torch.Tensor]:
    return [t for part in task for t in (*part.x, part.y)]


def test_same_seed_same_episodes(toy: dict[str, list[Sentence]], vocab: Vocab) -> None:
    first = tagging_sampler(toy, vocab, seed=1).sample_batch(3)
    torch.manual_seed(123)  # global random state must not matter
    random.seed(123)
    second = tagging_sampler(toy, vocab, seed=1).sample_batch(3)
    other = tagging_sampler(toy, vocab, seed=2).sample_batch(3)
    assert all(torch.equal(a, b) for a, b in zip(leaves(first), leaves(second), strict=True))
    assert not torch.equal(first.support.x.word_ids, other.support.x.word_ids)


def test_long_sentences_are_skipped_and_k_too_large_is_an_error(
    toy: dict[str, list[Sentence]], vocab: Vocab
) -> None:
    sampler = tagging_sampler(toy, vocab, max_len=8)
    assert all(len(s) <= 8 for pool in sampler.pools.values() for s in pool)
    assert sampler.skipped["en"] == sum(len(s) > 8 for s in toy["en"]) > 0
    with pytest.raises(ValueError, match=r"K=400 .* pool has 300"):
        tagging_sampler(toy, vocab, support_size=400, max_len=20)


def test_encode_sentences_for_evaluation(toy: dict[str, list[Sentence]], vocab: Vocab) -> None:
    sentences = toy["fr"][:20]
    _, y = encode_sentences(sentences, vocab)
    assert y.shape == (20, max(len(s) for s in sentences))
    assert padding_mask(y).sum() == sum(len(s) for s in sentences)  # nothing truncated
    _, y_cut = encode_sentences(sentences, vocab, max_len=5)
    assert y_cut.shape == (20, 5)


def test_a_sentence_over_the_limit_is_refused_or_cut_into_parts(
    toy: dict[str, list[Sentence]], vocab: Vocab
) -> None:
    words = 100 * MAX_SENTENCE_WORDS + 7
    run_on = Sentence(("chat",) * words, ("DET",) * words, "fr-long", "fr", "long.conllu")
    with pytest.raises(ValueError, match=f"sentence 'fr-long' of long.conllu has {words} words, more than"):
        encode_sentences([toy["fr"][0], run_on], vocab)  # refused before any tensor is built
    _, y = encode_sentences([run_on], vocab, max_len=5)  # a max_len that cuts it is the caller's choice
    assert y.shape == (1, 5)
    with pytest.warns(UserWarning, match=f"1 sentence\\(s\\) longer than {MAX_SENTENCE_WORDS} words"):
        parts = split_long_sentences([toy["fr"][0], run_on])
    assert parts[0] == toy["fr"][0] and len(parts) == 1 + 101
    assert [len(p) for p in parts[1:]] == [MAX_SENTENCE_WORDS] * 100 + [7]
    assert parts[1].sent_id == "fr-long#part1" and parts[-1].sent_id == "fr-long#part101"
    assert sum((p.tags for p in parts[1:]), ()) == run_on.tags  # every word keeps its tag
    _, y = encode_sentences(parts, vocab)
    assert y.shape == (102, MAX_SENTENCE_WORDS)


def test_shared_sentences_are_the_same_words_or_the_same_own_id() -> None:
    def sentence(words: str, sent_id: str, source: str = "a.conllu") -> Sentence:
        return Sentence(tuple(words.split()), ("X",) * len(words.split()), sent_id, "fr", source)

    support = [
        sentence("le chat dort", "s1"),
        sentence("the cat sleeps", "pud-7"),
        sentence("oui", "a.conllu:3"),
    ]
    test = [
        sentence("le chat dort", "t1", "b.conllu"),  # the same words
        sentence("el gato duerme", "pud-7", "b.conllu"),  # a translation: PUD gives it the same id
        sentence("non", "a.conllu:3"),  # a numbered id of another file called a.conllu: not the same
        sentence("le chien dort", "t4", "b.conllu"),
    ]
    assert [s.sent_id for s in shared_sentences(support, test)] == ["t1", "pud-7"]


def test_unknown_character_share_counts_every_occurrence(vocab: Vocab) -> None:
    known = next(c for c in vocab.chars[2:] if len(c) == 1)
    encoder = WordCharEncoder(vocab)
    greek = Sentence((known * 3, "ζζ"), ("X", "X"), "g", "el", "g")
    assert unknown_char_share([greek], encoder) == pytest.approx(2 / 5)
    assert unknown_char_share([], encoder) == 0.0


def test_support_draws_are_paired_and_nested(toy: dict[str, list[Sentence]]) -> None:
    small, large = support_draws(toy["fr"], 5, 3, seed=1), support_draws(toy["fr"], 10, 3, seed=1)
    assert all(s == big[:5] for s, big in zip(small, large, strict=True))
    assert small == support_draws(toy["fr"], 5, 3, seed=1) and small[0] != small[1]
    with pytest.raises(ValueError, match="K=301"):
        support_draws(toy["fr"], 301, 1)


def test_french_tagging_protocol_keeps_tests_out_of_training(data_dir: Path) -> None:
    french = french_fewshot_splits(data_dir, holdout_fraction=0.2, seed=0)
    pool_ids = {s.sent_id for s in french.support_pool}
    holdout_ids = {s.sent_id for s in french.holdout}
    assert not pool_ids & holdout_ids and len(pool_ids | holdout_ids) == 1476
    assert len(holdout_ids) == round(0.2 * 1476)
    assert sorted(french.tests) == ["fr_gsd-test", "fr_pud-test"]
    # by text (ids of dev and test files never collide): fr GSD's own dev/test duplicate is the one shared
    tests = [s for sentences in french.tests.values() for s in sentences]
    shared = shared_sentences(french.support_pool + french.holdout, tests)
    assert [(s.source, s.sent_id) for s in shared] == [("fr_gsd-test", "fr-ud-dev_01524")]
    assert {s.source for s in french.support_pool + french.holdout} == {"fr_gsd-dev"}

    pud = parallel_pud(data_dir)
    assert [s.sent_id for s in pud["en"]] == [s.sent_id for s in pud["es"]] == [s.sent_id for s in pud["fr"]]
    training = meta_training_treebanks(data_dir)
    assert sorted(training) == ["en", "es"]
    assert {s.source for pool in training.values() for s in pool} == {
        "en_ewt-dev", "en_ewt-test", "es_gsd-dev", "es_gsd-test",
    }  # fmt: skip
    in_training = [s for pool in training.values() for s in pool]
    assert not shared_sentences(in_training, pud["en"] + pud["es"])  # no translation of fr PUD, by its words
    assert not shared_sentences(in_training, tests)


def test_french_topic_protocol_keeps_translations_of_test_out(data_dir: Path) -> None:
    training = sib200_meta_training(data_dir=data_dir)
    french = sib200_french_splits(data_dir)
    assert sib200_labels(data_dir) == LABELS
    train_ids = {e.index_id for pool in training.values() for e in pool}
    test_ids = {e.index_id for e in french.tests["sib200-fra_Latn-test"]}
    support_ids = {e.index_id for e in french.support_pool + french.holdout}
    assert len(train_ids) == 701 and len(test_ids) == 204 and len(support_ids) == 99
    assert not train_ids & test_ids and not support_ids & test_ids and not support_ids & train_ids
    assert {e.lang for e in french.support_pool} == {"fr"}
