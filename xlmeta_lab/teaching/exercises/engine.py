"""Notebook 06's exercises: the per-task inner gradients of a meta-batch in one ``vmap`` call, the all-reduce
that makes distributed meta-training equal to one process, and when compiling pays for itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.func import functional_call, grad, vmap

from xlmeta_lab.meta import Task, meta_gradient
from xlmeta_lab.teaching import derivation as d
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, compare_tensors, exercise


def _stacked_problem(
    seed: int = 0, n_tasks: int = 5
) -> tuple[torch.nn.Module, dict[str, Tensor], list[Task]]:
    model, tasks = d.sine_problem(seed, hidden=6, n_tasks=n_tasks)
    return model, {n: p.detach() for n, p in model.named_parameters()}, tasks


# -- exercise 1 ---------------------------------------------------------------------------------------


def per_task_support_grads(
    model: torch.nn.Module, params: dict[str, Tensor], xs: Tensor, ys: Tensor
) -> dict[str, Tensor]:
    """Every task's support gradient at once: ``vmap`` over the task axis of ``grad`` of one task's loss."""

    def support_loss(p: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return d.mse(functional_call(model, p, (x,)), y)

    return vmap(grad(support_loss), in_dims=(None, 0, 0))(params, xs, ys)


@exercise(
    "06.1",
    "the support gradients of a meta-batch in one vmap call",
    hints=(
        "the tasks share the parameters and differ only in their data, so one task's gradient "
        "function, vectorised over the task axis, gives every task's gradient at once",
        "grads[i] = grad_params loss(params, x[i], y[i]) for every task i, computed as "
        "vmap(grad(loss)) with the parameters unbatched",
        "write one task's loss as a function of (params, x, y); torch.func.grad of it; vmap that with "
        "in_dims=(None, 0, 0): the parameters are shared, x and y have a task axis",
    ),
    solution=per_task_support_grads,
)
def check_per_task_support_grads(answer: Callable[..., dict[str, Tensor]]) -> str:
    model, params, tasks = _stacked_problem()
    xs = torch.stack([support[0] for support, _ in tasks])
    ys = torch.stack([support[1] for support, _ in tasks])
    got = answer(model, params, xs, ys)
    if not isinstance(got, dict) or set(got) != set(params):
        raise ExerciseFailed(f"return a dict keyed like params ({sorted(params)}); got {type(got).__name__}")
    for name, p in params.items():
        leaf = p.clone().requires_grad_(True)
        looped = []
        for x, y in zip(xs, ys):
            full = {**params, name: leaf}
            (g,) = torch.autograd.grad(d.mse(functional_call(model, full, (x,)), y), leaf)
            looped.append(g)
        expected = torch.stack(looped)
        result = compare_tensors(
            got[name],
            expected,
            what=f"the gradients of {name!r}",
            mistakes={
                "it is the mean over tasks: keep one gradient per task (no reduction over the task axis)": (
                    expected.mean(0, keepdim=True).expand_as(expected)
                )
            },
            rtol=1e-8,
            atol=1e-10,
        )
        if got[name].shape[0] != len(tasks):
            raise ExerciseFailed(f"the first axis of {name!r} must be the {len(tasks)} tasks")
    return f"{result} and every other parameter, against a loop over the {len(tasks)} tasks"


# -- exercise 3 (all-reduce) ---------------------------------------------------------------------------------------


def all_reduce_mean(
    per_rank_grads: Sequence[dict[str, Tensor]], per_rank_tasks: Sequence[int]
) -> dict[str, Tensor]:
    """The meta-gradient of the whole meta-batch from each rank's mean over its own tasks: sum the ranks'
    *sums* (what ``all_reduce(SUM)`` does), then divide by the global number of tasks."""
    total = sum(per_rank_tasks)
    return {
        name: sum(g[name] * n for g, n in zip(per_rank_grads, per_rank_tasks)) / total
        for name in per_rank_grads[0]
    }


@exercise(
    "06.3",
    "the all-reduce of distributed meta-training",
    hints=(
        "every process holds the MEAN gradient of its own tasks, and the processes may hold different"
        " numbers of tasks; the result must be the mean over all tasks, as if one process had held "
        "them all",
        "g = sum over ranks r of (n_r * g_r) / sum over ranks of n_r, name by name",
        "total = sum(per_rank_tasks); {name: sum(g[name] * n for g, n in zip(per_rank_grads, "
        "per_rank_tasks)) / total for name in per_rank_grads[0]}",
    ),
    solution=all_reduce_mean,
)
def check_all_reduce_mean(answer: Callable[..., dict[str, Tensor]]) -> str:
    model, _, tasks = _stacked_problem(seed=1, n_tasks=7)
    shares = [tasks[:4], tasks[4:6], tasks[6:]]  # unequal shares, as when 7 tasks meet 3 ranks
    per_rank = [meta_gradient(model, d.mse, share, method="maml", inner_lr=0.05) for share in shares]
    whole = meta_gradient(model, d.mse, tasks, method="maml", inner_lr=0.05)
    got = answer(per_rank, [len(s) for s in shares])
    if not isinstance(got, dict) or set(got) != set(whole):
        raise ExerciseFailed(f"return a dict keyed like each rank's gradients ({sorted(whole)})")
    names = sorted(whole)

    def flat(grads: dict[str, Tensor]) -> Tensor:
        return torch.cat([grads[n].reshape(-1) for n in names])

    unweighted = {n: sum(g[n] for g in per_rank) / len(per_rank) for n in names}
    result = compare_tensors(
        flat(got),
        flat(whole),
        what="the global meta-gradient",
        mistakes={
            "you averaged the ranks' means: with unequal shares (4, 2 and 1 tasks here) each rank must weigh "
            "by its number of tasks": flat(unweighted),
            "you summed the ranks' means without weighting or dividing": flat(
                {n: sum(g[n] for g in per_rank) for n in names}
            ),
        },
        rtol=1e-6,
        atol=1e-9,
    )
    return f"{result}, against the engine on all {len(tasks)} tasks in one process"


# -- exercise 2 (compiling) ---------------------------------------------------------------------------------------


def break_even_steps(first_call_s: float, eager_step_s: float, compiled_step_s: float) -> int | None:
    """After how many meta-steps compiling has paid for its first call; ``None`` if it never does."""
    saved = eager_step_s - compiled_step_s
    return math.ceil(first_call_s / saved) if saved > 0 else None


@exercise(
    "06.2",
    "when compiling pays for itself",
    hints=(
        "compiling costs once and saves a little on every step after; it pays once the savings add up"
        " to the cost, and never when a compiled step is no faster",
        "n = ceil(first_call_s / (eager_step_s - compiled_step_s)), and no n when the difference is "
        "not positive",
        "saved = eager_step_s - compiled_step_s; return math.ceil(first_call_s / saved) if saved > 0 "
        "else None",
    ),
    solution=break_even_steps,
)
def check_break_even_steps(answer: Callable[..., int | None]) -> str:
    cases = [
        ((30.0, 0.010, 0.004), 5000),
        ((2.0, 0.5, 0.3), 10),
        ((12.0, 0.02, 0.03), None),
        ((1.0, 0.3, 0.1), 5),
    ]
    for (first, eager, compiled), expected in cases:
        got = answer(first, eager, compiled)
        if got == expected:
            continue
        if expected is None:
            raise ExerciseFailed(
                f"with a compiled step slower than the eager one ({compiled} s > {eager} s) compiling never pays "
                f"off: return None, not {got!r}"
            )
        if isinstance(got, (int, float)) and math.isclose(got, first / compiled, rel_tol=1e-6):
            raise ExerciseFailed("you divided by the compiled step time: divide by the time SAVED per step")
        if isinstance(got, float) and math.isclose(got, first / (eager - compiled), rel_tol=1e-6):
            raise ExerciseFailed("a number of steps is a whole number: round UP (math.ceil)")
        raise ExerciseFailed(
            f"first call {first} s, eager step {eager} s, compiled step {compiled} s should give {expected}, "
            f"not {got!r}"
        )
    return f"all {len(cases)} cases right, including one where compiling never pays off"
