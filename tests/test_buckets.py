"""Support sets in length buckets: less padding, the same fine-tuning.

Bucketing is only worth having if it changes nothing but the time: these tests fine-tune the word tagger on the
same draws stacked (every sentence padded to the longest of all) and in buckets, and compare the weights and
the scores. The reach into padding is what makes the two agree, so one test shows a bucketing without it does
not: the comparison can fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import torch
from small_tagger import small_tagger

from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.episodes.encoders import WordCharEncoder, bucket_draws, encode_buckets
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.episodes.word_types import spell_once
from xlmeta_lab.experiments.adaptation.finetune import finetune_batch, padding_reach
from xlmeta_lab.experiments.adaptation.scoring import accuracy_per_draw
from xlmeta_lab.experiments.protocol.run import stack_draws

#: float32 sums taken in another order: the weights differed by at most 1.2e-7 here (1 and 20 steps, 1 and 2
#: threads), while bucketing without the reach moved them by 2.6e-3 after one step
FLOAT_NOISE = 1e-5


@pytest.fixture(scope="module")
def french() -> list:
    """Toy French with a few long sentences (three joined), so one sentence sets the stacked length."""
    sentences = make_toy_languages({"en": 1, "es": 1, "fr": 200}, seed=0)["fr"]
    joined = [
        replace(a, forms=a.forms + b.forms + c.forms, tags=a.tags + b.tags + c.tags, sent_id=f"{a.sent_id}+")
        for a, b, c in zip(sentences[0:24:3], sentences[1:24:3], sentences[2:24:3])
    ]
    return joined + sentences[24:]


def test_buckets_pad_less_and_fine_tune_to_the_same_weights_and_scores(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    model = small_tagger(vocab)
    draws = support_draws(french[:120], 40, 3, seed=1)
    stacked = stack_draws(draws, encoder)
    buckets = bucket_draws(draws, encoder, reach=padding_reach(model), size=10)
    assert [b.y.shape[:2] for b in buckets] == [(3, 10)] * 4
    assert sum(b.y[0].numel() for b in buckets) < 0.7 * stacked.y[0].numel()  # padded positions per draw
    assert sum(int((b.y != -100).sum()) for b in buckets) == int((stacked.y != -100).sum())  # every word kept

    plain = finetune_batch(model, stacked, lr=0.3, record=(1, 20))
    fast = finetune_batch(model, buckets, lr=0.3, record=(1, 20))
    for steps in (1, 20):
        assert fast[steps].keys() == plain[steps].keys()
        gap = max((fast[steps][n] - plain[steps][n]).abs().max().item() for n in plain[steps])
        assert gap < FLOAT_NOISE, f"after {steps} steps the weights differ by {gap}"
    tests = encode_buckets(french[120:], encoder)
    assert accuracy_per_draw(model, fast[20], tests) == accuracy_per_draw(model, plain[20], tests)


def test_buckets_without_the_reach_into_padding_change_the_gradient(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    model = small_tagger(vocab)
    assert padding_reach(model) == 2  # two convolutions of width 3: two positions to the right
    draws = support_draws(french[:120], 40, 3, seed=1)
    plain = finetune_batch(model, stack_draws(draws, encoder), lr=0.3, record=(1,))[1]
    cut = finetune_batch(model, bucket_draws(draws, encoder, reach=0, size=10), lr=0.3, record=(1,))[1]
    gap = max((cut[n] - plain[n]).abs().max().item() for n in plain)
    assert gap > 100 * FLOAT_NOISE


@pytest.mark.parametrize("layout", [list, spell_once], ids=["buckets", "buckets spelled once"])
def test_buckets_adapt_only_what_the_method_adapts(french: list, layout: Callable) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    model = small_tagger(vocab)
    draws = support_draws(french[:120], 40, 2, seed=2)
    plain = finetune_batch(model, stack_draws(draws, encoder), lr=0.3, record=(5,), adapt="head")[5]
    sets = layout(bucket_draws(draws, encoder, reach=2, size=10))
    fast = finetune_batch(model, sets, lr=0.3, record=(5,), adapt="head")[5]
    for name, weights in fast.items():
        assert (weights - plain[name]).abs().max().item() < FLOAT_NOISE
        if not name.startswith("head."):
            assert torch.equal(weights, dict(model.named_parameters())[name].detach().expand_as(weights))


def test_a_model_that_reads_all_its_padding_has_no_reach(french: list) -> None:
    vocab = Vocab.build(french)
    assert padding_reach(small_tagger(vocab, context="lstm")) is None
    assert padding_reach(small_tagger(vocab, context="none")) == 0
