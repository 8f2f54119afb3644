"""Checkpoints that resume to the same bits, and refuse a run they were not made by.

Every ``checkpoint_every`` steps the full state (model, optimiser, learned inner rates, sampler and torch
random states, history) is written to a temporary file and moved into place with ``os.replace``, so a crash
never leaves half a checkpoint. Checkpoints are loaded with ``weights_only=True``: plain tensors and
containers, never arbitrary pickled code.

A checkpoint that does not fit the run asking for it is refused in the words that run was asked in: "trained
with seed 0, this run asks for seed 1", not the internal field that differs as a consequence (the vocabulary
size, ``n_words``, follows from the seed's data split). So :func:`load_checkpoint` compares the user's own
settings first (:data:`USER_SETTINGS`: the task and profile a command-line run records as its ``origin``, and
the model, method and seed of its config), then the other training settings, then the model.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.config import RESUMABLE_FIELDS, TrainConfig
from xlmeta_lab.models.backbones import (
    WORD_TAGGER,
    Backbone,
    WordTaggerBackbone,
    vocab_of,
)
from xlmeta_lab.models.registry import backbone_from_checkpoint
from xlmeta_lab.models.tagger import TaggerConfig

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
#: The settings a user chooses by name (each is a command-line flag), in the order messages list them.
USER_SETTINGS = ("task", "profile", "model", "method", "seed")


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
    #: What the run was asked for beyond its config (``task``, ``profile``), where it recorded it.
    origin: dict[str, Any] = field(default_factory=dict)

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
        free_mb = shutil.disk_usage(path.parent).free / 2**20
        full = isinstance(error, OSError) and error.errno == errno.ENOSPC or free_mb < 64
        cause = f"the disk is full ({free_mb:.0f} MB free)" if full else f"{error}; {free_mb:.0f} MB free"
        raise OSError(f"could not write the checkpoint {path}: {cause}; {kept}") from error
    return path


def user_settings(config: TrainConfig, origin: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A run's settings as its user chose them: the ``task`` and ``profile`` of ``origin`` (where the run
    recorded them), and the ``model``, ``method`` and ``seed`` of ``config``."""
    asked = {key: value for key, value in (origin or {}).items() if key in USER_SETTINGS}
    return {**asked, "model": config.encoder or WORD_TAGGER, "method": config.method, "seed": config.seed}


def asked_otherwise(folder: Path, saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> tuple[str, str]:
    """``("the checkpoint in F was trained with seed 0, this run asks for seed 1", "--seed")`` for the
    :data:`USER_SETTINGS` that both know and that differ; ``("", "")`` when none does. The caller adds the
    way out, which depends on the command (resume: the same flags or another ``--out``)."""
    names = [k for k in USER_SETTINGS if k in saved and k in wanted and saved[k] != wanted[k]]
    if not names:
        return "", ""
    was = " and ".join(f"{k} {saved[k]}" for k in names)
    asks = " and ".join(f"{k} {wanted[k]}" for k in names)
    flags = " and ".join(f"--{k}" for k in names)
    return f"the checkpoint in {folder} was trained with {was}, this run asks for {asks}", flags


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
    origin: Mapping[str, Any] | None = None,
) -> Checkpoint:
    """Read a checkpoint; if configs are given, refuse one made with different settings, saying which.

    ``model_config`` is a word tagger's :class:`TaggerConfig` or any backbone's ``describe()``; ``origin``
    the run's ``task`` and ``profile``, compared with the checkpoint's where it recorded them. Differences
    are reported in the user's settings first (see the module doc), as a resume meets them.
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
    saved_config = TrainConfig.from_dict(raw["train_config"])
    saved_origin = dict(raw.get("origin") or {})  # checkpoints from before origins were recorded have none
    if train_config is not None:
        _refuse_other_settings(path, saved_config, saved_origin, train_config, origin)
    wanted = model_config.to_dict() if isinstance(model_config, TaggerConfig) else model_config
    if wanted is not None and raw["model_config"] != dict(wanted):
        raise CheckpointMismatch(
            f"{path} holds a model with another configuration ({_differences(raw['model_config'], wanted)})"
            + _data_hint(raw["model_config"], wanted)
            + "; use a fresh output folder or the settings it was trained with"
        )
    return Checkpoint(
        backbone_from_checkpoint(raw["model_config"], raw["vocab"], saved_config.max_word_len),
        saved_config,
        int(raw["step"]),
        raw["state"],
        list(raw["history"]),
        saved_origin,
    )


def _refuse_other_settings(
    path: Path,
    saved: TrainConfig,
    saved_origin: Mapping[str, Any],
    wanted: TrainConfig,
    origin: Mapping[str, Any] | None,
) -> None:
    """A resume asks for the settings the checkpoint was trained with: the user's own first, then the rest."""
    told, flags = asked_otherwise(
        path.parent, user_settings(saved, saved_origin), user_settings(wanted, origin)
    )
    if told:
        raise CheckpointMismatch(f"{told}; resume with the same {flags}, or train into another --out")
    # Compared with defaults filled in, so a field newer than the checkpoint is not a difference.
    diff = _differences(saved.to_dict(), wanted.to_dict(), RESUMABLE_FIELDS)
    if diff:
        raise CheckpointMismatch(
            f"the checkpoint in {path.parent} was trained with other settings ({diff}); they come from the profile "
            "(--profile), which may have changed since: resume with the same settings, or train into another --out"
        )


def _data_hint(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    """Vocabulary sizes differ, the rest alike: the model itself is the same, its training data is not."""
    sizes = {"n_words", "n_chars"}
    differing = {k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k)}
    if not differing or not differing <= sizes:
        return ""
    return ": its vocabulary was built from other training data (another --data-dir, or files changed since)"


def python_rng_list(state: tuple) -> list:
    """``random.getstate()`` as plain lists, which ``torch.load(weights_only=True)`` accepts."""
    version, internal, gauss = state
    return [version, list(internal), gauss]


def python_rng_state(saved: Sequence) -> tuple:
    """:func:`python_rng_list`'s lists back as the tuple ``random.setstate`` takes."""
    version, internal, gauss = saved
    return (version, tuple(internal), gauss)
