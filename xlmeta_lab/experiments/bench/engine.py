"""``xlmeta bench``: how much faster is the engine than the loop a learner would write first? (And how much
memory does a meta-step take: :mod:`xlmeta_lab.experiments.bench.memory`.)

Both sides compute the same meta-gradient in the same process, interleaved, on one thread, so the
*ratio* is meaningful on a shared 2-core machine where absolute times are not. The baseline is the
textbook loop (one task after another, ``torch.autograd.grad`` for the inner step, ``backward()`` per
task); it is written here independently of the engine, so the benchmark doubles as a check that both
give the same gradients.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.func import functional_call

from xlmeta_lab.experiments.bench import memory as bench_memory
from xlmeta_lab.experiments.bench import waits as bench_waits
from xlmeta_lab.experiments.bench.tasks import sine_case, tagger_tasks
from xlmeta_lab.experiments.results import provenance, write_json
from xlmeta_lab.meta import LossFn, Task, meta_gradient_and_loss
from xlmeta_lab.meta.compiled import compile_failed

#: Repeats of each wait: a few, since some (an exercise's check) take seconds each.
WAIT_REPEATS = 3


@dataclass(frozen=True)
class Case:
    """One benchmark row: a model, its task batch and the meta-learning settings."""

    name: str
    build: Callable[[torch.Generator], tuple[nn.Module, LossFn, list[Task]]]
    method: str
    inner_steps: int
    inner_lr: float
    target_ratio: float
    compile: bool = False


@dataclass(frozen=True)
class Row:
    case: str
    method: str
    inner_steps: int
    path: str
    engine_steps_per_s: float
    loop_steps_per_s: float
    ratio: float
    ratio_spread: float
    max_grad_diff: float
    target_ratio: float
    passed: bool
    #: Seconds of the engine's first call (for compiled rows: tracing and compiling, less on a warm
    #: on-disk compiler cache), and how many meta-steps it takes to earn them back against the eager
    #: engine (``None`` for eager rows, or when compiling did not make a step faster).
    first_call_s: float = 0.0
    break_even_steps: int | None = None
    #: Compiled rows: eager engine time / compiled engine time, measured interleaved in the same row.
    speedup_over_eager: float | None = None


def plain_loop_meta_gradient(
    model: nn.Module, loss_fn: LossFn, tasks: list[Task], method: str, inner_lr: float, inner_steps: int
) -> dict[str, Tensor]:
    """The textbook MAML/FOMAML loop: adapt each task in turn, ``backward()`` its query loss."""
    params = dict(model.named_parameters())
    for p in params.values():
        p.grad = None
    for (x_support, y_support), (x_query, y_query) in tasks:
        fast = params
        for _ in range(inner_steps):
            loss = loss_fn(functional_call(model, fast, x_support), y_support)
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=method == "maml")
            fast = {name: w - inner_lr * g for (name, w), g in zip(fast.items(), grads)}
        (loss_fn(functional_call(model, fast, x_query), y_query) / len(tasks)).backward()
    return {name: p.grad.detach().clone() for name, p in params.items()}


def cases() -> list[Case]:
    """The issue's cases; those that run under vmap also with ``compile=True`` (the LSTM loops, eagerly)."""
    rows = []
    for compile in (False, True):
        rows += [
            Case(f"sine {steps} step", sine_case, method, steps, 0.01, 8.0, compile)
            for steps in (1, 5)
            for method in ("maml", "fomaml")
        ]
        rows += [
            Case("conv tagger", tagger_tasks("conv"), m, 1, 0.1, 1.3, compile) for m in ("maml", "fomaml")
        ]
    rows += [Case("lstm tagger", tagger_tasks("lstm"), m, 1, 0.1, 1.0) for m in ("maml", "fomaml")]
    return rows


def _time_once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_case(case: Case, repeats: int, seed: int = 0) -> Row:
    """Interleave engine and loop timings so machine noise hits both alike; report the median ratio.

    A compiled row also times the eager engine, interleaved with the other two, to say after how many
    meta-steps the compilation has paid for itself.
    """
    torch.manual_seed(seed)
    model, loss_fn, tasks = case.build(torch.Generator().manual_seed(seed))

    def engine(compile: bool = case.compile):
        return meta_gradient_and_loss(
            model,
            loss_fn,
            tasks,
            method=case.method,
            inner_lr=case.inner_lr,
            inner_steps=case.inner_steps,
            compile=compile,
        )

    def loop():
        return plain_loop_meta_gradient(model, loss_fn, tasks, case.method, case.inner_lr, case.inner_steps)

    start = time.perf_counter()
    result = engine()  # warm-up (and compilation), then the correctness check
    first_call_s = time.perf_counter() - start
    reference = loop()
    diff = max((result.grads[n] - reference[n]).abs().max().item() for n in reference)
    engine_times, loop_times, eager_times = [], [], []
    for _ in range(repeats):
        engine_times.append(_time_once(engine))
        loop_times.append(_time_once(loop))
        if case.compile:
            eager_times.append(_time_once(lambda: engine(compile=False)))
    ratios = [lt / et for et, lt in zip(engine_times, loop_times)]
    ratio = statistics.median(ratios)
    break_even = speedup = None
    if case.compile:
        saved_per_step = statistics.median(eager_times) - statistics.median(engine_times)
        break_even = math.ceil(first_call_s / saved_per_step) if saved_per_step > 0 else None
        speedup = statistics.median([e / c for e, c in zip(eager_times, engine_times)])
    path = "vmap" if result.batched else "loop"
    if case.compile and result.batched:
        path += "+eager(!)" if compile_failed(model) else "+compile"  # a failed compile says so
    return Row(
        case=case.name,
        method=case.method,
        inner_steps=case.inner_steps,
        path=path,
        engine_steps_per_s=1.0 / statistics.median(engine_times),
        loop_steps_per_s=1.0 / statistics.median(loop_times),
        ratio=ratio,
        ratio_spread=statistics.pstdev(ratios),
        max_grad_diff=diff,
        target_ratio=case.target_ratio,
        passed=ratio >= case.target_ratio and diff <= 1e-5,
        first_call_s=first_call_s,
        break_even_steps=break_even,
        speedup_over_eager=speedup,
    )


def select_cases(only: Sequence[str] = (), compiled: bool = True) -> list[Case]:
    """The cases whose name contains one of ``only`` (all if empty), without the compiled rows if asked.

    Compiling every case takes minutes on a cold compiler cache: ``compiled=False`` is the quick look.
    """
    chosen = [
        c for c in cases() if (not only or any(o in c.name for o in only)) and (compiled or not c.compile)
    ]
    if not chosen:
        names = sorted({c.name for c in cases()})
        raise ValueError(f"no benchmark case matches {list(only)}; the cases are: {', '.join(names)}")
    return chosen


def run_benchmark(
    repeats: int = 20,
    threads: int = 1,
    out: Path | None = None,
    *,
    only: Sequence[str] = (),
    compiled: bool = True,
    memory_device: torch.device | None = None,
    waits: Sequence[bench_waits.Wait] = (),
) -> list[Row]:
    """Run the cases (see :func:`select_cases`), print the table and write it as JSON with its provenance.

    With ``memory_device``, the peak memory of MAML, FOMAML and Reptile against inner steps and task-batch
    size follows (:mod:`xlmeta_lab.experiments.bench.memory`), in the table and in the JSON; with ``waits``, the
    time a learner waits for each against its budget (:mod:`xlmeta_lab.experiments.bench.waits`).
    """
    chosen = select_cases(only, compiled)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rows = [run_case(case, repeats) for case in chosen]
        print(format_table(rows, threads, repeats))
        memory: dict[str, object] = {}
        if memory_device is not None:
            meter, memory_rows = bench_memory.memory_rows(memory_device)
            print("\n" + bench_memory.format_memory_table(meter, memory_rows, memory_device))
            memory = {
                "device": str(memory_device),
                "measured_as": meter.description,
                "rows": [asdict(r) for r in memory_rows],
            }
        wait_rows = bench_waits.time_waits(waits, repeats=WAIT_REPEATS, threads=threads) if waits else []
        if wait_rows:
            print("\n" + bench_waits.format_waits(wait_rows, WAIT_REPEATS))
    finally:
        torch.set_num_threads(previous)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "provenance": provenance({"threads": threads, "repeats": repeats}, seed=0),
            "machine": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "rows": [asdict(r) for r in rows],
            **({"memory": memory} if memory else {}),
            **({"waits": [asdict(r) for r in wait_rows]} if wait_rows else {}),
        }
        print(f"written: {write_json(out, payload)}")
    return rows


def format_table(rows: list[Row], threads: int, repeats: int) -> str:
    header = (
        f"meta-steps per second, engine vs plain per-task loop ({threads} thread, median of {repeats} interleaved runs)\n"
        f"{'case':<13}{'method':<8}{'path':<14}{'engine/s':>9}{'loop/s':>8}{'ratio':>7}{'+-':>6}"
        f"{'target':>7}{'max |dg|':>9}{'1st call':>9}{'x eager':>8}{'pays off':>9}  target met"
    )
    lines = [header, "-" * len(header.splitlines()[-1])]
    for r in rows:
        compiled = r.speedup_over_eager is not None
        x_eager = f"{r.speedup_over_eager:>8.2f}" if compiled else " " * 8
        pays_off = f"{r.break_even_steps or 'never':>9}" if compiled else ""
        lines.append(
            f"{r.case:<13}{r.method:<8}{r.path:<14}{r.engine_steps_per_s:>9.1f}{r.loop_steps_per_s:>8.1f}"
            f"{r.ratio:>7.2f}{r.ratio_spread:>6.2f}{r.target_ratio:>7.1f}{r.max_grad_diff:>9.0e}"
            f"{r.first_call_s:>8.1f}s{x_eager}{pays_off:>9}  {'yes' if r.passed else 'below target'}"
        )
    lines.append(
        "ratio: median over runs of loop time / engine time (+- their spread). 1st call: the engine's first\n"
        "meta-step, which for +compile includes compiling (faster when the on-disk compiler cache is warm).\n"
        "x eager: the compiled engine against the eager one, timed in the same runs. pays off: meta-steps\n"
        "after which compiling has saved its cost. Absolute steps/s drift on a shared machine: compare rows\n"
        "by their ratios, each measured interleaved."
    )
    return "\n".join(lines)
