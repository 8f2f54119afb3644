"""Training: resume to the same bits, divergence handling, checkpoint checks, matched budgets, fine-tuning paths."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from autocast import needs_cpu_bf16

from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.episodes.encoders import encode_sentences
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.episodes.tensors import stack_sets
from xlmeta_lab.experiments.adaptation.finetune import finetune, finetune_batch
from xlmeta_lab.experiments.config import TrainConfig, sentence_passes_per_step, total_steps
from xlmeta_lab.experiments.training.checkpoints import CheckpointMismatch, load_checkpoint
from xlmeta_lab.experiments.training.loop import TrainingDiverged, train
from xlmeta_lab.models.backbones import new_tagger, tagger_config

SMALL = TrainConfig(
    steps=6,
    meta_batch=2,
    support_size=3,
    query_size=4,
    max_len=14,
    max_word_len=8,
    eval_every=3,
    checkpoint_every=2,
    word_dim=16,
    char_dim=8,
    char_channels=16,
    hidden=24,
)


@pytest.fixture(scope="module")
def languages() -> dict:
    langs = make_toy_languages(80, seed=0, relatedness=0.8)
    return {"en": langs["en"], "es": langs["es"]}


def assert_same_params(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), f"{name} differs"


@pytest.mark.parametrize("method", ["maml", "joint"])
def test_resumed_run_ends_bit_identical_to_uninterrupted(
    languages: dict, tmp_path: Path, method: str
) -> None:
    config = replace(SMALL, method=method, learn_inner_lr=method == "maml")
    whole = train(languages, config, tmp_path / "whole", progress=False)
    first = train(languages, config, tmp_path / "split", stop_after=3, progress=False)  # "killed" at step 3
    assert first.stopped_early and load_checkpoint(tmp_path / "split").step == 3
    resumed = train(languages, config, tmp_path / "split", resume=True, progress=False)
    assert not resumed.stopped_early
    assert_same_params(whole.model, resumed.model)
    assert whole.history == resumed.history  # losses and validation rows too
    assert [r["step"] for r in resumed.validation] == [3, 6]


@needs_cpu_bf16
@pytest.mark.parametrize("method", ["maml", "reptile", "joint"])
def test_bf16_training_stays_close_to_float32(languages: dict, method: str) -> None:
    config = replace(SMALL, method=method, steps=12, eval_every=12)
    exact = train(languages, config, progress=False)
    rough = train(languages, replace(config, bf16=True), progress=False)
    assert exact.history != rough.history  # autocast did run
    for a, b in zip(exact.history, rough.history):
        assert abs(a["loss"] - b["loss"]) < 5e-3
    assert abs(exact.history[-1]["val_acc_adapted"] - rough.history[-1]["val_acc_adapted"]) < 0.02
    assert all(p.dtype == torch.float32 for p in rough.model.parameters())


def test_divergence_names_the_step_and_keeps_the_last_good_checkpoint(
    languages: dict, tmp_path: Path
) -> None:
    config = replace(SMALL, method="fomaml", steps=40, outer_lr=1e6, inner_lr=1e3, checkpoint_every=1)
    with pytest.raises(TrainingDiverged, match=r"diverged at step (\d+).*learning rate") as info:
        train(languages, config, tmp_path, progress=False)
    failed = int(re.search(r"step (\d+)", str(info.value)).group(1))
    assert failed > 1, "the test needs at least one good step before the divergence"
    saved = load_checkpoint(tmp_path)  # still loads: written atomically, never overwritten by a bad step
    assert saved.step == failed - 1
    assert all(torch.isfinite(p).all() for p in saved.build_model().parameters())
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in saved.history)


def test_checkpoint_from_another_config_is_refused(languages: dict, tmp_path: Path) -> None:
    result = train(languages, replace(SMALL, steps=2), tmp_path, progress=False)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.method == "maml" and ckpt.vocab == result.vocab
    assert ckpt.model_config == tagger_config(SMALL, result.vocab)
    assert_same_params(ckpt.build_model(), result.model)
    bigger = replace(tagger_config(SMALL, result.vocab), hidden=32)
    with pytest.raises(CheckpointMismatch, match="hidden: checkpoint 24 vs asked 32"):
        load_checkpoint(tmp_path, model_config=bigger)
    other_data = replace(tagger_config(SMALL, result.vocab), n_words=result.vocab.n_words + 1)
    with pytest.raises(CheckpointMismatch, match="its vocabulary was built from other training data"):
        load_checkpoint(tmp_path, model_config=other_data)
    with pytest.raises(CheckpointMismatch, match="inner_lr"):
        train(languages, replace(SMALL, steps=2, inner_lr=0.5), tmp_path, resume=True, progress=False)


def test_joint_baseline_spends_the_same_sentence_passes_as_maml() -> None:
    """Counted by hand for SMALL (2 tasks of 3 support + 4 query sentences): MAML with s inner steps passes
    2 * (3s + 4) sentences a step, joint 2 * 7 = 14, Reptile 2 * 7s; joint takes ceil(steps * MAML's / 14)."""
    maml = replace(SMALL, method="maml")
    assert [sentence_passes_per_step(replace(maml, inner_steps=s)) for s in (1, 3)] == [14, 26]
    assert sentence_passes_per_step(replace(maml, method="joint", inner_steps=3)) == 14
    assert sentence_passes_per_step(replace(maml, method="reptile", inner_steps=3)) == 42
    topics = replace(maml, task="topic", n_way=7, inner_steps=3)  # sizes count sentences per topic
    assert sentence_passes_per_step(topics) == 182  # 7 * 2 * (3 * 3 + 4)
    assert sentence_passes_per_step(replace(topics, method="joint")) == 98  # 7 * 2 * 7
    assert total_steps(replace(SMALL, method="joint")) == 6  # one inner step: the same 14 passes a step
    assert total_steps(replace(SMALL, method="joint", inner_steps=3)) == 12  # ceil(6 * 26 / 14) = ceil(11.1)
    assert total_steps(replace(SMALL, method="joint", inner_steps=3, steps=100)) == 186  # ceil(185.7)
    assert total_steps(replace(topics, method="joint")) == 12
    for method in ("maml", "fomaml", "reptile", "anil"):
        assert total_steps(replace(SMALL, method=method, inner_steps=3)) == 6


@pytest.mark.parametrize("steps", [1, 3])
def test_finetune_is_plain_sgd_on_the_support_set(languages: dict, steps: int) -> None:
    """Against a float64 loop written by hand (its own cross-entropy, ``w - lr * grad``), to 1e-12: an
    off-by-one in the steps, a wrong sign or scale, a loss over padding, or a step on other weights shows."""
    from oracles import sgd_by_hand

    from xlmeta_lab.episodes.vocab import Vocab

    vocab = Vocab.build(languages["en"] + languages["es"])
    model = new_tagger(tagger_config(SMALL, vocab), seed=0).double()
    support = encode_sentences(languages["es"][:5], vocab, 14, 8)
    expected = sgd_by_hand(model, support.x, support.y, lr=0.2, steps=steps)
    adapted = finetune(model, support, lr=0.2, steps=steps)
    assert adapted.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(adapted[name], value, rtol=0, atol=1e-12, msg=name)
    moved = max(float((expected[n] - p.detach()).abs().max()) for n, p in model.named_parameters())
    assert moved > 1e-3  # the steps moved the weights, so the comparison could fail


def test_finetune_batch_vmap_equals_loop_and_single_finetune(languages: dict) -> None:
    from xlmeta_lab.episodes.vocab import Vocab

    vocab = Vocab.build(languages["en"] + languages["es"])
    model = new_tagger(tagger_config(SMALL, vocab), seed=0)
    draws = support_draws(languages["es"], 4, 3)
    supports = stack_sets([encode_sentences(d, vocab, 14, 8) for d in draws])
    batched = finetune_batch(model, supports, lr=0.2, record=(0, 3), batched=True)
    looped = finetune_batch(model, supports, lr=0.2, record=(0, 3), batched=False)
    for steps in (0, 3):
        for name in batched[steps]:
            torch.testing.assert_close(batched[steps][name], looped[steps][name], atol=1e-5, rtol=1e-4)
    assert torch.equal(batched[0]["head.weight"][1], model.head.weight)  # step 0 is the initialisation
    one = finetune(model, encode_sentences(draws[1], vocab, 14, 8), lr=0.2, steps=3)
    torch.testing.assert_close(one["head.weight"], looped[3]["head.weight"][1])
    head_only = finetune(model, encode_sentences(draws[1], vocab, 14, 8), lr=0.2, steps=3, adapt="head")
    assert torch.equal(head_only["project.weight"], model.project.weight)
    assert not torch.equal(head_only["head.weight"], model.head.weight)
