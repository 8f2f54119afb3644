"""The conditions of an experiment: one trained initialisation per method and seed, plus scratch.

Every run builds its vocabulary from the same training split, so all conditions share one architecture and
vocabulary and differ only in how their weights were learned; the few-shot protocol then evaluates them on
paired draws. Each trained model goes back to the CPU when its run ends, and the protocol brings it to the device
only while it uses it: the device holds one model, not one per method and seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.methods import METHODS
from xlmeta_lab.experiments.protocol.run import Condition
from xlmeta_lab.experiments.training.loop import TrainResult, split_validation, train
from xlmeta_lab.experiments.workers import run_units, worker_count
from xlmeta_lab.meta import resolve_device
from xlmeta_lab.models.backbones import Backbone, vocab_of
from xlmeta_lab.models.registry import backbone_for


@dataclass
class TrainedConditions:
    """Conditions ready for :func:`~xlmeta_lab.experiments.protocol.run.run_protocol`, the training runs behind them, and their shared backbone."""

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
    device: str | torch.device = "cpu",
    workers: int | None = None,
) -> TrainedConditions:
    """Train one initialisation per method and seed on ``languages``, plus the untrained ``scratch`` model.

    Every run builds its vocabulary from the same training split, so all conditions (scratch included)
    share one architecture and vocabulary and differ only in how their weights were learned. With
    ``base.encoder`` set, every condition starts from that pretrained encoder, and scratch is the encoder
    with a fresh head: no en/es tagging at all. Training runs on ``device``; the models are then kept on the
    CPU and their conditions name ``device``, where the protocol fine-tunes and scores them one at a time.

    ``workers``: processes to share the (method, seed) runs among, ``None`` for ``$XLMETA_WORKERS`` or 1
    (:func:`~xlmeta_lab.experiments.workers.worker_count`). Each run is the same call wherever it runs, from its
    own seed, so the weights do not depend on the number of workers; with ``out_dir`` each keeps its own
    resumable run folder. A worker's progress lines go to its own console, so here a line says when a run is done.
    """
    device = resolve_device(device)
    units = [
        _Run(
            replace(base, method=method, seed=seed),
            Path(out_dir) / f"{method}-seed{seed}" if out_dir is not None else None,
        )
        for method in methods
        for seed in seeds
    ]
    workers = worker_count(workers)
    shared = _Training(languages, device, progress and workers == 1)
    done: dict[int, TrainResult] = {}
    for index, result in run_units(_train_unit, units, shared, workers):
        done[index] = result
        if progress and workers > 1:
            print(f"trained {units[index].config.method} (seed {units[index].config.seed})", flush=True)
    runs: dict[str, list[TrainResult]] = {method: [] for method in methods}
    for index in sorted(done):
        runs[units[index].config.method].append(done[index])
    backbones = [r.backbone for rs in runs.values() for r in rs]
    if any(b != backbones[0] for b in backbones):
        raise RuntimeError("runs built different vocabularies; train them on the same languages")
    if backbones:
        backbone = backbones[0]
    else:  # only scratch: build the backbone as train() would
        backbone = backbone_for(base, split_validation(languages, base.val_fraction, base.data_seed)[0])
    conditions = []
    if scratch:
        models = [backbone.new_model(s).eval() for s in seeds]
        conditions.append(Condition("scratch", models, list(seeds), device=device))
    conditions += [
        Condition(
            m,
            [r.model for r in rs],
            list(seeds),
            METHODS[m].adapt,
            device,
            head=replace(base, method=m).task_head if METHODS[m].is_meta else "zero",
            steps=(0,) if METHODS[m].inner_steps == 0 else None,  # a prototypical network is not fine-tuned
        )
        for m, rs in runs.items()
    ]
    return TrainedConditions(conditions, runs, backbone)


@dataclass(frozen=True)
class _Run:
    """One training unit: a method and seed's settings, and its run folder."""

    config: TrainConfig
    out_dir: Path | None


@dataclass(frozen=True)
class _Training:
    """What every training unit shares: the languages, the device, whether a run prints its steps."""

    languages: Mapping[str, Sequence[Sentence]]
    device: torch.device
    progress: bool


def _train_unit(shared: _Training, run: _Run) -> TrainResult:
    result = train(
        shared.languages,
        run.config,
        run.out_dir,
        resume=run.out_dir is not None,
        progress=shared.progress,
        device=shared.device,
    )
    result.model.cpu()  # off the device before the next run; the protocol brings it back
    return result
