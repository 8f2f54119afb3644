"""A Hugging Face encoder through the whole experiment: training, checkpoints, the protocol, ``xlmeta fewshot``.

The encoder is a tiny BERT built and saved here (``tiny_encoder.py``), loaded with ``from_pretrained(path)``
exactly as ``MODEL="xlm-roberta-base"`` would be; nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_encoder import encoder_train_config as config
from tiny_encoder import save_tiny_encoder
from treebanks import ud_train_argv, write_conllu

from xlmeta_lab.cli import main
from xlmeta_lab.data.roles import split_target
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.experiments.protocol.run import run_protocol
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.training.checkpoints import CheckpointMismatch, load_checkpoint
from xlmeta_lab.experiments.training.loop import train
from xlmeta_lab.models.backbones import ENCODER_KIND, EncoderBackbone
from xlmeta_lab.models.encoder import EncoderTagger

LANGUAGES = make_toy_languages({"en": 60, "es": 60, "fr": 60}, seed=0)
TRAINING = {"en": LANGUAGES["en"], "es": LANGUAGES["es"]}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_encoder(
        tmp_path_factory.mktemp("tiny-encoder"), [s for p in LANGUAGES.values() for s in p]
    )


def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("method", ["maml", "joint"])
def test_encoder_training_resumes_to_the_same_weights(encoder: Path, tmp_path: Path, method: str) -> None:
    """Killed after 2 steps and resumed, a run ends where an uninterrupted one does (dropout included)."""
    whole = train(TRAINING, config(encoder, method=method), tmp_path / "whole", progress=False)
    assert isinstance(whole.model, EncoderTagger) and whole.vocab is None
    train(TRAINING, config(encoder, method=method), tmp_path / "cut", stop_after=2, progress=False)
    resumed = train(TRAINING, config(encoder, method=method), tmp_path / "cut", resume=True, progress=False)
    a, b = params(whole.model), params(resumed.model)
    assert all(torch.equal(a[n], b[n]) for n in a)
    before = params(EncoderTagger.from_pretrained(encoder))
    assert any(not torch.equal(before[n], a[n]) for n in before if n.startswith("encoder."))  # it learned


def test_encoder_checkpoint_rebuilds_the_model_and_refuses_another(encoder: Path, tmp_path: Path) -> None:
    result = train(TRAINING, config(encoder, method="fomaml"), tmp_path, progress=False)
    checkpoint = load_checkpoint(tmp_path)
    assert isinstance(checkpoint.backbone, EncoderBackbone) and checkpoint.backbone == result.backbone
    assert checkpoint.vocab is None and checkpoint.model_config is None
    rebuilt, trained = params(checkpoint.build_model()), params(result.model)
    assert rebuilt.keys() == trained.keys() and all(torch.equal(rebuilt[n], trained[n]) for n in trained)
    other = {**checkpoint.backbone.describe(), "max_subtokens": 32}
    with pytest.raises(CheckpointMismatch, match="max_subtokens"):
        load_checkpoint(tmp_path, model_config=other)
    with pytest.raises(CheckpointMismatch, match="max_subtokens"):
        train(
            TRAINING,
            config(encoder, method="fomaml", max_subtokens=32),
            tmp_path,
            resume=True,
            progress=False,
        )


def test_protocol_scores_every_test_word_with_an_encoder(encoder: Path) -> None:
    """Evaluation sets get as many sub-tokens as their longest sentence needs: no test word goes unscored,
    even though training episodes here are cut to 8 sub-tokens (6 words)."""
    trained = train_conditions(TRAINING, config(encoder, max_subtokens=8), ["fomaml"], [0])
    assert [c.name for c in trained.conditions] == ["scratch", "fomaml"]
    assert trained.backbone.describe()["kind"] == ENCODER_KIND
    splits = split_target(LANGUAGES["fr"], holdout=10, test=20, seed=0)
    protocol = ProtocolConfig(ks=(0, 3), n_draws=2, lrs=(0.01,), steps=(2,), baseline="scratch")
    result = run_protocol(trained.conditions, splits, trained.encoder, protocol)
    (tests,) = splits.tests.values()
    words = sum(len(s) for s in tests)
    assert {r["total"] for r in result.rows} == {words}
    assert len(result.rows) == 2 * (1 + 2)  # two conditions x (K=0 once, K=3 per draw)


def test_fewshot_command_adapts_an_encoder_checkpoint(
    encoder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train(TRAINING, config(encoder, method="fomaml"), tmp_path / "init", progress=False)
    support = write_conllu(tmp_path / "support.conllu", LANGUAGES["fr"][:40])
    test = write_conllu(tmp_path / "test.conllu", LANGUAGES["fr"][40:])
    argv = ["fewshot", "--init", str(tmp_path / "init"), "--support", str(support), "--test", str(test)]
    assert main([*argv, "--shots", "3", "--draws", "2", "--lrs", "0.01", "--steps", "2"]) == 0
    assert "after fine-tuning on K=3 sentences" in capsys.readouterr().out


def test_train_command_takes_an_encoder_for_ud_and_refuses_one_for_toy(
    encoder: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from xlmeta_lab.experiments.studies import udpos
    from xlmeta_lab.teaching import profiles

    quick = profiles.PROFILES[udpos.NOTEBOOK]["quick"]
    monkeypatch.setitem(profiles.PROFILES[udpos.NOTEBOOK], "quick", {**quick, "steps": 2, "eval_every": 2})
    assert main(ud_train_argv(data_dir, tmp_path / "run", "--model", str(encoder))) == 0
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint.backbone.describe()["name_or_path"] == str(encoder)
    assert checkpoint.train_config.outer_lr == quick["encoder_settings"]["outer_lr"]  # the encoder's settings
    toy = [
        "train",
        "--task",
        "toy",
        "--method",
        "fomaml",
        "--model",
        str(encoder),
        "--out",
        str(tmp_path / "toy"),
    ]
    assert main(toy) == 2
    assert "no pretrained encoder knows them" in capsys.readouterr().err
