"""The conditions of an experiment: one trained initialisation per method and seed, plus scratch.

Every run builds its vocabulary from the same training split, so all conditions share one architecture and
vocabulary and differ only in how their weights were learned; the few-shot protocol then evaluates them on
paired draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.protocol import Condition
from xlmeta_lab.experiments.training import TrainResult, split_validation, train
from xlmeta_lab.models.backbones import Backbone, backbone_for, vocab_of


@dataclass
class TrainedConditions:
    """Conditions ready for :func:`~xlmeta_lab.experiments.protocol.run_protocol`, the training runs behind them, and their shared backbone."""

    conditions: list[Condition]
    runs: dict[str, list[TrainResult]]
    backbone: Backbone

    @property
    def encoder(self) -> SentenceEncoder:
        """What :func:`run_protocol` needs to encode French for these conditions."""
        return self.backbone.encoder

    @property
    def vocab(self) -> Vocab | None:
        """The word tagger's vocabulary (``None`` for a Hugging Face encoder)."""
        return vocab_of(self.backbone)


def train_conditions(
    languages: Mapping[str, Sequence[Sentence]],
    base: TrainConfig,
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    scratch: bool = True,
    out_dir: str | Path | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> TrainedConditions:
    """Train one initialisation per method and seed on ``languages``, plus the untrained ``scratch`` model.

    Every run builds its vocabulary from the same training split, so all conditions (scratch included)
    share one architecture and vocabulary and differ only in how their weights were learned. With
    ``base.encoder`` set, every condition starts from that pretrained encoder, and scratch is the encoder
    with a fresh head: no en/es tagging at all.
    """
    runs: dict[str, list[TrainResult]] = {}
    for method in methods:
        runs[method] = [
            train(
                languages,
                replace(base, method=method, seed=seed),
                Path(out_dir) / f"{method}-seed{seed}" if out_dir is not None else None,
                resume=out_dir is not None,
                progress=progress,
                device=device,
            )
            for seed in seeds
        ]
    backbones = [r.backbone for rs in runs.values() for r in rs]
    if any(b != backbones[0] for b in backbones):
        raise RuntimeError("runs built different vocabularies; train them on the same languages")
    if backbones:
        backbone = backbones[0]
    else:  # only scratch: build the backbone as train() would
        backbone = backbone_for(base, split_validation(languages, base.val_fraction, base.data_seed)[0])
    conditions = []
    if scratch:
        conditions.append(
            Condition("scratch", [backbone.new_model(s).to(device).eval() for s in seeds], list(seeds))
        )
    conditions += [
        Condition(m, [r.model for r in rs], list(seeds), METHODS[m].adapt) for m, rs in runs.items()
    ]
    return TrainedConditions(conditions, runs, backbone)
