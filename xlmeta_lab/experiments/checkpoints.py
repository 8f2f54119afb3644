"""Checkpoints that resume to the same bits, and refuse a run they were not made by.

Every ``checkpoint_every`` steps the full state (model, optimiser, learned inner rates, sampler and torch
random states, history) is written to a temporary file and moved into place with ``os.replace``, so a crash
never leaves half a checkpoint. Checkpoints are loaded with ``weights_only=True``: plain tensors and
containers, never arbitrary pickled code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.config import RESUMABLE_FIELDS, TrainConfig
from xlmeta_lab.models.backbones import Backbone, WordTaggerBackbone, backbone_from_checkpoint, vocab_of
from xlmeta_lab.models.tagger import TaggerConfig

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class CheckpointMismatch(ValueError):
    """A checkpoint was made with a different model or training configuration than the one asked for."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns: enough to rebuild the model and to continue training."""

    backbone: Backbone
    train_config: TrainConfig
    step: int
    state: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def method(self) -> str:
        return self.train_config.method

    @property
    def model_config(self) -> TaggerConfig | None:
        """The word tagger's configuration (``None`` for a Hugging Face encoder)."""
        return self.backbone.model_config if isinstance(self.backbone, WordTaggerBackbone) else None

    @property
    def vocab(self) -> Vocab | None:
        """The word tagger's vocabulary (``None`` for a Hugging Face encoder, whose tokenizer it is)."""
        return vocab_of(self.backbone)

    def build_model(self) -> nn.Module:
        """The trained tagger, ready for evaluation or fine-tuning."""
        model = self.backbone.new_model(self.train_config.seed)
        model.load_state_dict(self.state["model"])
        return model


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` atomically: to a temporary file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(dict(payload), tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:  # a full disk surfaces as either, depending on where it fails
        tmp.unlink(missing_ok=True)
        kept = (
            "the previous checkpoint is unchanged and --resume continues from it"
            if path.exists()
            else ("no checkpoint was written yet")
        )
        raise OSError(f"could not write the checkpoint {path} ({error}); {kept}") from error
    return path


def _differences(saved: Mapping[str, Any], wanted: Mapping[str, Any], ignore: frozenset = frozenset()) -> str:
    keys = sorted((set(saved) | set(wanted)) - ignore)
    diffs = [
        f"{k}: checkpoint {saved.get(k)!r} vs asked {wanted.get(k)!r}"
        for k in keys
        if saved.get(k) != wanted.get(k)
    ]
    return "; ".join(diffs)


def checkpoint_file(path: str | os.PathLike) -> Path:
    """The file a checkpoint path names: the path itself, or ``checkpoint.pt`` inside a run folder."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model_config: TaggerConfig | Mapping[str, Any] | None = None,
    train_config: TrainConfig | None = None,
) -> Checkpoint:
    """Read a checkpoint; if configs are given, refuse one made with different settings, saying which.

    ``model_config`` is a word tagger's :class:`TaggerConfig` or any backbone's ``describe()``.
    """
    path = checkpoint_file(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.is_dir():
        raise FileNotFoundError(f"no checkpoint at {path}: it is a folder")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        raise CheckpointMismatch(f"{path} is not an xlmeta checkpoint (not a file torch.save wrote)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - truncated archives and foreign pickles fail in many ways
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise CheckpointMismatch(
            f"{path} cannot be read as an xlmeta checkpoint (truncated, or another kind of file: {first})"
        ) from None
    if not isinstance(raw, dict) or "format" not in raw:
        raise CheckpointMismatch(f"{path} is not an xlmeta checkpoint (no format marker)")
    if raw.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(
            f"{path} has checkpoint format {raw.get('format')!r}, expected {CHECKPOINT_FORMAT}"
        )
    wanted = model_config.to_dict() if isinstance(model_config, TaggerConfig) else model_config
    if wanted is not None and raw["model_config"] != dict(wanted):
        raise CheckpointMismatch(
            f"{path} holds a model with another configuration ({_differences(raw['model_config'], wanted)}); "
            "use a fresh output folder or the settings it was trained with"
        )
    saved_config = TrainConfig.from_dict(raw["train_config"])
    if train_config is not None:  # compared with defaults filled in, so a newer field is not a difference
        diff = _differences(saved_config.to_dict(), train_config.to_dict(), RESUMABLE_FIELDS)
        if diff:
            raise CheckpointMismatch(
                f"{path} was trained with other settings ({diff}); resume with the same settings or use a fresh "
                "output folder"
            )
    return Checkpoint(
        backbone_from_checkpoint(raw["model_config"], raw["vocab"], saved_config.max_word_len),
        saved_config,
        int(raw["step"]),
        raw["state"],
        list(raw["history"]),
    )


def python_rng_list(state: tuple) -> list:
    """``random.getstate()`` as plain lists, which ``torch.load(weights_only=True)`` accepts."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def python_rng_state(saved: Sequence) -> tuple:
    """:func:`python_rng_list`'s lists back as the tuple ``random.setstate`` takes."""
    version, internal, gauss = saved
    return (version, tuple(internal), gauss)
