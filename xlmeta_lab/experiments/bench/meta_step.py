"""What one meta-step of a real training configuration costs: seconds and peak memory, on its own episodes.

The inner-loop study (:mod:`~xlmeta_lab.experiments.studies.inner_loops`) asks whether training through more inner
steps, or with learned rates, is worth it; the answer needs its price beside it. Second-order MAML keeps every inner
step's graph until the outer backward pass, so its time and memory grow with the inner steps; first-order MAML and
Reptile do not keep the graph. Each step here is :func:`~xlmeta_lab.experiments.training.loop.step_probe`'s, the one
``train`` takes, so the numbers are the training's, not a synthetic model's. Memory is measured as ``xlmeta bench``
measures it (:func:`~xlmeta_lab.experiments.bench.memory.meter_for`, which says how).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.experiments.bench.memory import MIB, meter_for
from xlmeta_lab.experiments.config import TrainConfig
from xlmeta_lab.experiments.training.loop import step_probe
from xlmeta_lab.meta import resolve_device


@dataclass(frozen=True)
class StepCost:
    """Median seconds and peak MiB of one meta-step of ``name`` (``peak_mib`` None: not measurable here)."""

    name: str
    seconds: float
    peak_mib: float | None


def meta_step_costs(
    languages: Mapping[str, Sequence[Sentence]],
    configs: Mapping[str, TrainConfig],
    *,
    repeats: int = 5,
    device: str | torch.device = "cpu",
) -> tuple[str, list[StepCost]]:
    """Each named config's meta-step, timed ``repeats`` times after one warm-up step, then metered as often; returns
    how memory was measured and one row per config. Run it with one thread and nothing else on the cores: the
    ratios between rows are the result, not the seconds."""
    device = resolve_device(device)
    meter = meter_for(device)
    rows = []
    for name, config in configs.items():
        step = step_probe(languages, config, device)
        step()  # a warm-up: first-call allocations and lazy set-up are not the step's
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - started)
        peak = None
        if meter.peak_bytes is not None:
            peak = statistics.median(meter.peak_bytes(step) for _ in range(repeats)) / MIB
        rows.append(StepCost(name, statistics.median(seconds), peak))
    return meter.description, rows


def format_costs(rows: Sequence[StepCost], reference: str) -> str:
    """The rows as a table, with each one's time and memory as a ratio to ``reference``'s (measured in the same
    run)."""
    base = next((r for r in rows if r.name == reference), None)
    if base is None:
        raise KeyError(f"{reference!r} is not among the measured rows {[r.name for r in rows]}")
    lines = [
        f"{'variant':<14}{'s/meta-step':>12}{'x ' + reference:>14}{'peak MiB':>10}{'x ' + reference:>14}"
    ]
    for row in rows:
        memory = f"{row.peak_mib:.1f}" if row.peak_mib is not None else "n/a"
        ratio = (
            f"{row.peak_mib / base.peak_mib:.2f}"
            if row.peak_mib is not None and base.peak_mib
            else "n/a"
        )  # fmt: skip
        lines.append(
            f"{row.name:<14}{row.seconds:>12.3f}{row.seconds / base.seconds:>14.2f}{memory:>10}{ratio:>14}"
        )
    return "\n".join(lines)
