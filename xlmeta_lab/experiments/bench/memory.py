"""``xlmeta bench``'s memory rows: the peak memory of one meta-step against inner steps and task-batch size.

What grows with what is the reason to look. Second-order MAML keeps every inner step's graph until the outer
backward pass, so its peak grows with ``inner_steps``; first-order MAML and Reptile need no graph through the
inner loop. Under ``vmap`` every task of the meta-batch is in memory at once, so the peak grows with the number
of tasks (the per-task loop frees each task's graph before the next). On a large encoder these numbers decide
what fits on a GPU: fewer tasks per process (several processes share a meta-batch), fewer inner steps, first
order, or bfloat16 autocast.

How memory is measured is printed with the rows:

* on a GPU, ``torch.cuda.max_memory_allocated`` above what was allocated before the step: tensors only, exact;
* on a Linux CPU, the resident set's high-water mark above its size before the step (``VmHWM``, reset before
  each step through ``/proc/self/clear_refs``, after the C heap has handed freed memory back), which includes
  the allocator's slack. Python's ``tracemalloc`` would report almost nothing: PyTorch allocates tensors
  outside Python's allocator;
* elsewhere, nothing: the rows say it could not be measured.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from xlmeta_lab.experiments.bench.tasks import tagger_tasks
from xlmeta_lab.meta import ALGORITHMS, meta_gradient_and_loss
from xlmeta_lab.meta.params import tree_to

#: The grid: task-batch sizes at one inner step, then inner steps at ``TASKS_FIXED`` tasks.
TASKS = (2, 4, 8)
INNER_STEPS = (1, 2, 4)
TASKS_FIXED = 4
MIB = 2**20
#: Second-order MAML keeps every inner step's graph, so its peak at the most inner steps measured should be at
#: least this many times its peak at one step with as many tasks (a CPU's resident set blurs it with slack).
MAML_GROWTH_EXPECTED = 1.3
_PROC = Path("/proc/self")


@dataclass(frozen=True)
class MemoryRow:
    """The peak memory of one meta-step of ``method`` with ``inner_steps`` and ``tasks`` (median of repeats)."""

    method: str
    inner_steps: int
    tasks: int
    path: str
    peak_mib: float | None


@dataclass(frozen=True)
class Meter:
    """How peak memory is measured on a device: ``peak_bytes(step)`` runs ``step`` and returns its peak."""

    description: str
    peak_bytes: Callable[[Callable[[], object]], int] | None


def meter_for(device: torch.device) -> Meter:
    """CUDA's allocator statistics on a GPU, the resident set on a Linux CPU, else none (said so)."""
    if device.type == "cuda":
        return Meter("torch.cuda.max_memory_allocated above the start (tensors only)", _cuda_peak(device))
    if device.type == "cpu" and (_PROC / "clear_refs").exists() and (_PROC / "status").exists():
        return Meter(
            "resident set high-water mark above the start (Linux VmHWM, reset per step; includes allocator slack)",
            _resident_peak,
        )
    return Meter(f"not measured: no memory statistics for {device.type} here", None)


def _cuda_peak(device: torch.device) -> Callable[[Callable[[], object]], int]:
    def peak(step: Callable[[], object]) -> int:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start

    return peak


def _status_bytes(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", (_PROC / "status").read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"/proc/self/status has no {field}")
    return int(match.group(1)) * 1024


def _trim_heap() -> None:
    """Hand the C heap's freed memory back (glibc), so one step's leftovers do not hide the next one's peak."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _resident_peak(step: Callable[[], object]) -> int:
    _trim_heap()
    start = _status_bytes("VmRSS")
    (_PROC / "clear_refs").write_text("5")  # resets VmHWM to the current resident set
    step()
    return max(0, _status_bytes("VmHWM") - start)


def grid(tasks: Sequence[int] = TASKS, inner_steps: Sequence[int] = INNER_STEPS) -> list[tuple[int, int]]:
    """``(inner_steps, tasks)`` pairs: each task count at one step, then each inner step count at ``TASKS_FIXED``."""
    return list(dict.fromkeys([(1, t) for t in tasks] + [(s, TASKS_FIXED) for s in inner_steps]))


def memory_rows(
    device: torch.device,
    *,
    methods: Sequence[str] = ALGORITHMS,
    pairs: Sequence[tuple[int, int]] | None = None,
    repeats: int = 3,
) -> tuple[Meter, list[MemoryRow]]:
    """One row per method and ``(inner_steps, tasks)`` pair: the conv tagger of the speed rows, on ``device``."""
    meter = meter_for(device)
    rows = [
        _measure(meter, device, method, steps, n_tasks, repeats)
        for method in methods
        for steps, n_tasks in pairs or grid()
    ]
    return meter, rows


def _measure(
    meter: Meter, device: torch.device, method: str, inner_steps: int, n_tasks: int, repeats: int
) -> MemoryRow:
    model, loss_fn, tasks = tagger_tasks("conv", n_tasks)(torch.Generator().manual_seed(0))
    step = partial(
        meta_gradient_and_loss,
        model.to(device),
        loss_fn,
        tree_to(tasks, device),
        method=method,
        inner_lr=0.1,
        inner_steps=inner_steps,
    )
    batched = step().batched  # a warm-up: first-call allocations are not the step's
    peak = None
    if meter.peak_bytes is not None:
        peak = statistics.median(meter.peak_bytes(step) for _ in range(repeats)) / MIB
    return MemoryRow(method, inner_steps, n_tasks, "vmap" if batched else "loop", peak)


def format_memory_table(meter: Meter, rows: Sequence[MemoryRow], device: torch.device) -> str:
    """One line per method: peak MiB at each inner-step count, then at each task-batch size."""
    columns = list(dict.fromkeys((r.inner_steps, r.tasks) for r in rows))
    labels = [f"{s} step{'s' * (s > 1)}, {t} tasks" for s, t in columns]
    width = max(len(label) for label in labels) + 2
    lines = [
        f"peak memory of one meta-step, MiB (conv tagger, tasks of 8 + 8 sentences of 20 words) on {device}",
        f"measured as: {meter.description}",
        f"{'method':<9}{'path':<6}" + "".join(label.rjust(width) for label in labels),
    ]
    for method in dict.fromkeys(r.method for r in rows):
        mine = {(r.inner_steps, r.tasks): r for r in rows if r.method == method}
        cells = [mine[c].peak_mib for c in columns]
        path = "/".join(dict.fromkeys(r.path for r in mine.values()))
        lines.append(
            f"{method:<9}{path:<6}" + "".join(("-" if v is None else f"{v:.1f}").rjust(width) for v in cells)
        )
    growth = second_order_growth(rows)
    return "\n".join(lines if growth is None else [*lines, growth])


def second_order_growth(rows: Sequence[MemoryRow]) -> str | None:
    """A line checking what the rows are for: MAML's peak at its most inner steps against its peak at one step,
    with the same number of tasks (``None`` when the rows hold no such pair, or no measurement)."""
    peaks = {(r.inner_steps, r.tasks): r.peak_mib for r in rows if r.method == "maml" and r.peak_mib}
    pairs = [(s, t) for s, t in peaks if s > 1 and (1, t) in peaks]
    if not pairs:
        return None
    steps, tasks = max(pairs)
    growth = peaks[(steps, tasks)] / peaks[(1, tasks)]
    verdict = "as expected" if growth >= MAML_GROWTH_EXPECTED else "BELOW the expected"
    return (
        f"check: maml at {steps} inner steps takes {growth:.2f}x its 1-step peak ({tasks} tasks), {verdict} "
        f">= {MAML_GROWTH_EXPECTED}x (second order keeps every inner step's graph)"
    )
