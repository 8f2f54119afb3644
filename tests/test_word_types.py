"""Support sets spelled once per word type: the character CNN reads each spelling once, fine-tuning is the same.

Spelling words once is only worth having if it changes nothing but the time: these tests rebuild every
position's characters from the spellings, fine-tune the word tagger on the same draws stacked and spelled once
(one set, and length buckets), and compare the weights and the scores. One test points positions at the wrong
spellings and sees the weights move, so the comparison can fail.
"""

from __future__ import annotations

import pytest
import torch
from small_tagger import small_tagger

from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.episodes.encoders import WordCharEncoder, bucket_draws, encode_buckets
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.tensors import Labeled
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.episodes.word_types import SpelledOnce, TypedTokens, spell_once, spelled_chars
from xlmeta_lab.experiments.adaptation.finetune import fine_tuning_sets, finetune_batch
from xlmeta_lab.experiments.adaptation.scoring import accuracy_per_draw, counts_over, scoring_sets
from xlmeta_lab.experiments.protocol.run import stack_draws

#: float32 sums taken in another order (a spelling's gradient summed before the CNN's backward, not in it)
FLOAT_NOISE = 1e-5


@pytest.fixture(scope="module")
def french() -> list:
    return make_toy_languages({"en": 1, "es": 1, "fr": 200}, seed=0)["fr"]


def _max_gap(a: dict, b: dict) -> float:
    return max((a[n] - b[n]).abs().max().item() for n in b)


def test_every_position_keeps_its_characters_and_each_spelling_is_read_once(french: list) -> None:
    encoder = WordCharEncoder(Vocab.build(french), 8)
    draws = support_draws(french[:120], 40, 3, seed=1)
    buckets = bucket_draws(draws, encoder, reach=2, size=10)
    spelled = spell_once(buckets, widths=(2, 4))
    assert [g.shape[-1] for g in spelled.spellings] == [2, 4, 8]  # each group read at its own width
    for i, bucket in enumerate(buckets):
        assert isinstance(spelled.sets[i].x, TypedTokens)
        assert torch.equal(spelled_chars(spelled, i, 8), bucket.x.char_ids)
        assert torch.equal(spelled.sets[i].x.word_ids, bucket.x.word_ids)
        assert torch.equal(spelled.sets[i].y, bucket.y)
    for d in range(3):
        rows = torch.cat([torch.nn.functional.pad(g[d], (0, 8 - g.shape[-1])) for g in spelled.spellings])
        used = torch.unique(torch.cat([s.x.spelling_index[d].flatten() for s in spelled.sets]))
        assert len(torch.unique(rows[used], dim=0)) == len(used)  # no spelling twice among those read
        positions = sum(b.y[d].numel() for b in buckets)
        assert len(used) < 0.5 * positions  # the toy words repeat: far fewer spellings than positions
        lengths = [(g[d] != 0).sum(dim=1) for g in spelled.spellings]
        assert int(lengths[1].max()) <= 4 and int(lengths[2][lengths[2] > 0].min()) > 4


def test_a_width_no_word_needs_is_left_out(french: list) -> None:
    vocab = Vocab.build(french)
    short = [s for s in french if max(len(f) for f in s.forms) <= 4][:12]  # no spelling longer than 4
    stacked = stack_draws([short[:6], short[6:]], WordCharEncoder(vocab, 8))
    spelled = spell_once([stacked])
    assert [g.shape[-1] for g in spelled.spellings] == [4]
    assert torch.equal(spelled_chars(spelled, 0, 8), stacked.x.char_ids)
    model = small_tagger(vocab)
    weights = finetune_batch(model, spelled, lr=0.3, record=(2,))[2]  # the CNN never sees an empty group
    assert _max_gap(weights, finetune_batch(model, stacked, lr=0.3, record=(2,))[2]) < FLOAT_NOISE


def test_fine_tuning_spelled_once_gives_the_stacked_weights_and_scores(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    model = small_tagger(vocab)
    tests = encode_buckets(french[120:], encoder)
    for k in (5, 40):  # one set, and length buckets
        draws = support_draws(french[:120], k, 3, seed=1)
        stacked = stack_draws(draws, encoder)
        sets = fine_tuning_sets(draws, encoder, model, "zero", stacked)
        assert isinstance(sets, SpelledOnce) and len(sets.sets) == (1 if k <= 16 else 3)
        plain = finetune_batch(model, stacked, lr=0.3, record=(1, 20))
        fast = finetune_batch(model, sets, lr=0.3, record=(1, 20))
        for steps in (1, 20):
            assert fast[steps].keys() == plain[steps].keys()
            gap = _max_gap(fast[steps], plain[steps])
            assert gap < FLOAT_NOISE, f"K={k}: after {steps} steps the weights differ by {gap}"
        assert accuracy_per_draw(model, fast[20], tests) == accuracy_per_draw(model, plain[20], tests)
        # the engine's loop path, draw by draw
        looped = finetune_batch(model, sets, lr=0.3, record=(20,), batched=False)[20]
        assert _max_gap(looped, plain[20]) < FLOAT_NOISE


def test_positions_pointed_at_the_wrong_spellings_change_the_weights(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    model = small_tagger(vocab)
    draws = support_draws(french[:120], 10, 2, seed=1)
    stacked = stack_draws(draws, encoder)
    spelled = spell_once([stacked])
    typed = spelled.sets[0].x
    # each word spelled as the word on its left
    shifted = TypedTokens(typed.word_ids, typed.spelling_index.roll(1, dims=-1))
    wrong = SpelledOnce(spelled.spellings, [Labeled(shifted, spelled.sets[0].y)])
    plain = finetune_batch(model, stacked, lr=0.3, record=(1,))[1]
    assert _max_gap(finetune_batch(model, wrong, lr=0.3, record=(1,))[1], plain) > 100 * FLOAT_NOISE


def test_only_a_tagger_that_reads_characters_from_its_own_head_is_spelled_once(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    draws = support_draws(french[:120], 40, 2, seed=1)
    stacked = stack_draws(draws, encoder)
    assert isinstance(fine_tuning_sets(draws, encoder, small_tagger(vocab), "zero", stacked), SpelledOnce)
    assert fine_tuning_sets(draws, encoder, small_tagger(vocab), "prototype", stacked) is stacked
    words_only = fine_tuning_sets(draws, encoder, small_tagger(vocab, chars=False), "zero", stacked)
    assert isinstance(words_only, list) and all(isinstance(b, Labeled) for b in words_only)  # buckets only
    few = support_draws(french[:120], 5, 2, seed=1)
    few_stacked = stack_draws(few, encoder)
    assert (
        fine_tuning_sets(few, encoder, small_tagger(vocab, chars=False), "zero", few_stacked) is few_stacked
    )


def test_a_tagger_given_character_features_reads_them_instead_of_characters(french: list) -> None:
    vocab = Vocab.build(french)
    model = small_tagger(vocab)
    data = WordCharEncoder(vocab, 8).encode(french[:6])
    word_ids, char_ids = data.x
    with torch.no_grad():
        expected = model(word_ids, char_ids)
        assert torch.equal(model(word_ids, char_features=model.chars(char_ids)), expected)
        other = model(word_ids, char_ids, char_features=torch.zeros_like(model.chars(char_ids)))
    assert not torch.allclose(other, expected)  # the features given win over the characters


def test_spell_once_refuses_inputs_without_characters() -> None:
    with pytest.raises(TypeError, match="TokenInputs"):
        spell_once([Labeled((torch.zeros(1, 2, 3),), torch.zeros(1, 2, 3))])


def test_a_test_set_spelled_once_scores_as_its_buckets_do(french: list) -> None:
    vocab = Vocab.build(french)
    encoder = WordCharEncoder(vocab, 8)
    buckets = encode_buckets(french, encoder, size=64)  # 200 sentences: four buckets
    for model in (small_tagger(vocab), small_tagger(vocab, chars=False)):
        spelled = scoring_sets(model, buckets)
        assert isinstance(spelled, SpelledOnce) and len(spelled.sets) == len(buckets)
        assert counts_over(model, None, spelled) == counts_over(model, None, buckets)
        draws = support_draws(french[:120], 10, 2, seed=3)
        weights = finetune_batch(model, stack_draws(draws, encoder), lr=0.3, record=(5,))[5]
        assert accuracy_per_draw(model, weights, spelled) == accuracy_per_draw(model, weights, buckets)
    with torch.no_grad():  # the scores can tell: a tagger with other weights tags otherwise
        moved = {n: p + 0.5 * torch.randn_like(p) for n, p in model.named_parameters()}
    assert counts_over(model, moved, spelled) != counts_over(model, None, spelled)


def test_only_a_word_tagger_is_scored_on_a_set_spelled_once(french: list) -> None:
    buckets = encode_buckets(french[:20], WordCharEncoder(Vocab.build(french), 8))
    kept = scoring_sets(torch.nn.Linear(2, 2), buckets)
    assert len(kept) == len(buckets) and all(a is b for a, b in zip(kept, buckets))
