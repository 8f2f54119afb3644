"""Which word tagger should notebook 03 use? Its conv context against a BiLSTM, and longer meta-training, paired.

The tagger's context layer (``TrainConfig.context``) is a stack of 1-D convolutions, which ``torch.func.vmap``
batches over tasks, or a BiLSTM, which the engine runs task by task on its loop path (slower per step, and the
usual choice for tagging). Meta-training length is the other open choice: notebook 03's ``full`` profile stops
at 400 outer steps. This study trains the joint baseline and one meta-learner with each context, for the
longest length asked for, and keeps each run's weights at every shorter length on the way (the same run,
stopped and continued, so "800 against 400 steps" compares one run with itself, not two draws of seeds).

Every initialisation is then scored by notebook 03's paired protocol on the same French draws: fine-tuning
budgets chosen on the French holdout, the test set only scored. A condition is ``method-context-steps``
(``maml-lstm-400``), and the study's comparisons are paired differences over (seed, draw) units: BiLSTM minus
conv at each length, and each longer length minus the shortest with the same context. The cost is each
run's measured wall time per outer step, on the machine the study ran on.

Training runs checkpoint and resume (``out_dir``), and the weights at each kept length are saved beside the
checkpoint, so a study stopped during training continues where it stopped; the protocol itself is re-run.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from xlmeta_lab.experiments.protocol.results import ProtocolResult, write_protocol_results
from xlmeta_lab.experiments.protocol.run import Condition, run_protocol
from xlmeta_lab.experiments.protocol.stats import crossed_difference, holm, units_of
from xlmeta_lab.experiments.studies.udpos import ud_setup
from xlmeta_lab.experiments.training.checkpoints import checkpoint_file
from xlmeta_lab.experiments.training.loop import train
from xlmeta_lab.meta import resolve_device

#: Results name of the study (``<name>.json`` and its CSVs).
STUDY = "03_tagger_study"


def condition_name(method: str, context: str, steps: int) -> str:
    """``maml-lstm-400``: MAML meta-trained with the BiLSTM context for 400 outer steps."""
    return f"{method}-{context}-{steps}"


@dataclass
class TaggerStudy:
    """The protocol result over every ``method-context-steps`` condition, the paired comparisons, and the cost."""

    result: ProtocolResult
    comparisons: list[dict[str, Any]]
    cost: list[dict[str, Any]]

    def write(
        self,
        out_dir: str | os.PathLike,
        *,
        config: Mapping[str, Any],
        seeds: Sequence[int],
        name: str = STUDY,
    ) -> dict[str, Path]:
        """``out_dir/name.json`` (provenance, protocol, budgets and every table) and a CSV per table."""
        tables = {"comparisons": self.comparisons, "cost": self.cost}
        return write_protocol_results(
            self.result, name, config=config, seeds=seeds, out_dir=out_dir, tables=tables
        )


def _weights_file(folder: Path | None, steps: int) -> Path | None:
    return None if folder is None else folder / f"weights-step{steps}.pt"


def _steps_done(folder: Path | None) -> int:
    """The outer steps the run in ``folder`` has taken (0 without a checkpoint)."""
    path = None if folder is None else checkpoint_file(folder)
    if path is None or not path.exists():
        return 0
    return int(torch.load(path, map_location="cpu", weights_only=False)["step"])


def _train_to_each_length(
    training: Mapping[str, Sequence[Any]],
    config: Any,
    lengths: Sequence[int],
    folder: Path | None,
    *,
    progress: bool,
    device: torch.device,
) -> tuple[dict[int, torch.nn.Module], float, Any]:
    """One run of ``max(lengths)`` outer steps, its weights kept at every length (from disk when already saved).

    Returns the models by length, the seconds per outer step of the steps this call trained (``nan`` when it
    trained none: all resumed from disk), and the run's backbone (whose encoder the protocol needs)."""
    config = replace(config, steps=max(lengths))
    models: dict[int, torch.nn.Module] = {}
    seconds, stepped, done = 0.0, 0, _steps_done(folder)
    backbone = None
    for length in sorted(lengths):
        saved = _weights_file(folder, length)
        before, start = done, time.perf_counter()
        result = train(
            training,
            config,
            folder,
            resume=folder is not None,
            stop_after=length,
            progress=progress,
            device=device,
        )
        done = result.history[-1]["step"] if result.history else 0
        if done > before:
            seconds, stepped = seconds + time.perf_counter() - start, stepped + done - before
        backbone = result.backbone
        if saved is not None and saved.exists():
            result.model.load_state_dict(torch.load(saved, map_location="cpu", weights_only=True))
        elif done != length:
            raise RuntimeError(
                f"{config.method}/{config.context} seed {config.seed}: the checkpoint in {folder} is at step "
                f"{done}, past {length}, and no weights-step{length}.pt was kept: remove the folder to rerun"
            )
        elif saved is not None:
            torch.save(result.model.state_dict(), saved)
        models[length] = copy.deepcopy(result.model).cpu()
    return models, (seconds / stepped if stepped else float("nan")), backbone


def tagger_study(
    settings: Mapping[str, Any],
    seed: int,
    seeds: Sequence[int],
    *,
    methods: Sequence[str] = ("joint", "maml"),
    contexts: Sequence[str] = ("conv", "lstm"),
    lengths: Sequence[int] = (400, 800),
    ks: Sequence[int] = (5, 20),
    test_sets: Sequence[str] = ("fr_gsd-test",),
    out_dir: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
    device: str = "cpu",
    report: Callable[[str], None] | None = None,
) -> TaggerStudy:
    """Train ``methods`` x ``contexts`` x ``seeds`` on notebook 03's en+es data with ``settings`` (a profile of
    ``03_en_es_to_fr``), keep each run at every length of ``lengths``, and score all of them on French at ``ks``
    with notebook 03's protocol (``seed``: the French split and draws). See the module doc."""
    device = resolve_device(device)
    setup = ud_setup(settings, seed, data_dir)
    unknown = sorted(set(test_sets) - set(setup.splits.tests))
    if unknown:
        raise ValueError(
            f"unknown test set(s) {unknown}; the French test sets are {sorted(setup.splits.tests)}"
        )
    splits = replace(setup.splits, tests={name: setup.splits.tests[name] for name in test_sets})
    conditions, cost, encoder = [], [], None
    for context in contexts:
        for method in methods:
            by_length: dict[int, list[torch.nn.Module]] = {n: [] for n in lengths}
            for run_seed in seeds:
                folder = None if out_dir is None else Path(out_dir) / f"{method}-{context}-seed{run_seed}"
                config = replace(setup.train_config, method=method, seed=run_seed, context=context)
                models, per_step, backbone = _train_to_each_length(
                    setup.training, config, lengths, folder, progress=progress, device=device
                )
                encoder = encoder or backbone.encoder
                for length, model in models.items():
                    by_length[length].append(model)
                n_parameters = sum(p.numel() for p in models[max(lengths)].parameters())
                cost.append(
                    {
                        "method": method,
                        "context": context,
                        "seed": run_seed,
                        "parameters": n_parameters,
                        "seconds_per_step": per_step,
                    }
                )
                if report is not None:
                    report(f"trained {method}/{context} seed {run_seed}: {per_step:.3f} s per outer step")
            for length in lengths:
                conditions.append(
                    Condition(
                        condition_name(method, context, length), by_length[length], list(seeds), device=device
                    )
                )
    protocol = replace(setup.protocol, ks=tuple(ks), baseline=None)
    cache = Path(out_dir) / "protocol" if out_dir is not None else None
    result = run_protocol(conditions, splits, encoder, protocol, progress=report, cache=cache)
    return TaggerStudy(result, compare(result, methods, contexts, lengths), cost)


def compare(
    result: ProtocolResult, methods: Sequence[str], contexts: Sequence[str], lengths: Sequence[int]
) -> list[dict[str, Any]]:
    """The study's paired differences (accuracy points, 95% interval for the crossed seeds x draws design, with
    ``p`` and ``p_holm``, Holm-corrected over every comparison of the table): each context against the first at
    every length, and each longer length against the shortest with the same context."""
    pairs = []
    shortest = min(lengths)
    for method in methods:
        for length in lengths:
            for context in contexts[1:]:
                pairs.append(
                    (condition_name(method, context, length), condition_name(method, contexts[0], length))
                )
        for context in contexts:
            for length in sorted(lengths)[1:]:
                pairs.append(
                    (condition_name(method, context, length), condition_name(method, context, shortest))
                )
    rows = []
    test_sets = sorted({r["test_set"] for r in result.rows})
    for test_set in test_sets:
        for k in result.protocol.ks:
            for name, baseline in pairs:
                diff = crossed_difference(
                    units_of(result.rows, name, k, test_set), units_of(result.rows, baseline, k, test_set)
                )
                rows.append(
                    {
                        "condition": name,
                        "against": baseline,
                        "K": k,
                        "test_set": test_set,
                        "diff": 100 * diff.mean,
                        "diff_low": 100 * diff.low,
                        "diff_high": 100 * diff.high,
                        "units": diff.n,
                        "p": diff.p_value,
                    }
                )
    for row, adjusted in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = adjusted
    return rows
