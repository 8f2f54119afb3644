"""The meta-gradient, written as notebook 01 derives it.

For tasks ``i = 1..T``, each with a support set ``S_i`` and a query set ``Q_i``:

* inner loop (adaptation):  ``theta_i = theta - alpha * grad L_{S_i}(theta)``, repeated ``inner_steps`` times;
* meta-objective:           ``L(theta) = 1/T * sum_i L_{Q_i}(theta_i)``;
* meta-gradient (MAML):     ``grad L(theta) = 1/T * sum_i (I - alpha * H_i) grad L_{Q_i}(theta_i)``
  for one step, where ``H_i`` is the Hessian of the support loss. Autograd builds the ``(I - alpha H_i)``
  factor itself when the inner gradient is taken with ``create_graph=True``.
* first-order MAML (FOMAML) drops ``alpha * H_i``: the inner gradient is a constant, so the meta-gradient is
  ``1/T * sum_i grad L_{Q_i}(theta_i)``.
* Reptile (Nichol et al., 2018) needs no query gradient at all: it adapts on support and query and
  returns ``1/T * sum_i (theta - theta_i)``, a direction an ordinary optimiser can step along.
* ANIL (Raghu et al., 2020) adapts only some parameters (usually the head); the rest stay at ``theta``.
* Proto-MAML (Triantafillou et al., 2020) starts each task's head at its support set's class prototypes,
  computed from ``theta`` inside the differentiated computation (``start=``, :mod:`xlmeta_lab.meta.prototypes`).

Two execution paths give the same numbers (tested): a plain loop over tasks with ``torch.autograd.grad``
(works for every model, keeps fused kernels such as the LSTM's), and one ``torch.func.vmap`` call over
the stacked tasks with ``torch.func.grad`` (much faster for small models that allow it).

The inner loop, the first bullet, is :class:`xlmeta_lab.meta.inner.InnerLoop`: one frozen settings object
(model, loss, adapted names, ``inner_lr``, ``inner_steps``) that both paths read. Whether a batch may run
under vmap is decided in :mod:`xlmeta_lab.meta.batching`; test-time adaptation is :mod:`xlmeta_lab.meta.adapt`.

References:
    Finn, Abbeel, Levine (2017), Model-Agnostic Meta-Learning, arXiv:1703.03400.
    Nichol, Achiam, Schulman (2018), On First-Order Meta-Learning Algorithms, arXiv:1803.02999.
    Raghu et al. (2020), Rapid Learning or Feature Reuse? (ANIL), arXiv:1909.09157.
    Li et al. (2017), Meta-SGD, arXiv:1707.09835.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from xlmeta_lab.meta.attention import (
    DOUBLE_BACKWARD_HINT,
    ensure_double_backward_attention,
    is_missing_double_backward,
)
from xlmeta_lab.meta.batching import VMAP_ERRORS, Batched, give_up_on_vmap, stack_for_vmap
from xlmeta_lab.meta.compiled import run_maybe_compiled
from xlmeta_lab.meta.inner import InnerLoop, InnerLR
from xlmeta_lab.meta.params import AdaptSpec, Params, select_adapted, trainable_params, tree_to
from xlmeta_lab.meta.prototypes import TaskStart
from xlmeta_lab.meta.rates import LearnedInnerRates
from xlmeta_lab.meta.task import LossFn, Task

#: The meta-gradient algorithms, chosen with ``method=``: second-order MAML, first-order MAML, Reptile.
#: ANIL is any of them with ``adapt=`` naming the head; training methods (baselines) are not the engine's.
Algorithm = Literal["maml", "fomaml", "reptile"]
ALGORITHMS: tuple[str, ...] = ("maml", "fomaml", "reptile")


@dataclass(frozen=True)
class MetaGradient:
    """A meta-gradient and the mean query loss after adaptation it was computed from."""

    grads: dict[str, Tensor]
    query_loss: Tensor
    batched: bool


def meta_gradient(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    method: Algorithm = "maml",
    inner_lr: InnerLR,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
    batched: Batched = "auto",
    compile: bool = False,
    start: TaskStart | None = None,
) -> dict[str, Tensor]:
    """The meta-gradient of ``model``'s parameters over a batch of tasks.

    Arguments:
        model: any ``nn.Module``; its parameters are the initialisation ``theta``. It is called as
            ``model(x)``, ``model(*x)`` for a tuple or ``model(**x)`` for a dict.
        loss_fn: ``loss_fn(model(x), y) -> scalar``.
        tasks: a sequence of :class:`Task` (or plain ``((x_support, y_support), (x_query, y_query))``).
        method: ``"maml"`` (second order), ``"fomaml"`` (first order) or ``"reptile"``.
        inner_lr: the inner step size ``alpha``, or a :class:`LearnedInnerRates` (Meta-SGD / MAML++),
            whose gradients are returned too, under ``"inner_lr.<parameter name>"``.
        inner_steps: gradient steps on the support set (Reptile: on support and query).
        adapt: which parameters the inner loop updates (``None``: all; ``"head"``: ANIL).
        batched: ``True`` runs all tasks in one ``torch.func.vmap`` call, ``False`` loops over tasks,
            ``"auto"`` uses vmap when tasks have equal shapes and the model allows it.
        compile: run the batched (vmap) path through ``torch.compile``: several times faster per
            meta-step for small models, after a first call that compiles for tens of seconds (see
            :mod:`xlmeta_lab.meta.compiled`). The per-task loop always runs eagerly.
        start: where each task's inner loop starts (``None``: ``theta``); :class:`~xlmeta_lab.meta.prototypes.
            PrototypeHead` sets the head from the support set's class prototypes (Proto-MAML), inside the
            differentiated computation. With a start, ``inner_steps=0`` is allowed: MAML with a prototype
            start and no inner step trains a prototypical network.

    Returns:
        A dict with the same keys as ``model.named_parameters()`` (zeros for frozen parameters): for
        MAML/FOMAML the gradient of the mean query loss after adaptation, for Reptile the mean of
        ``theta - theta_task``. Step with any optimiser: ``p.grad = grads[name]; optimiser.step()``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Linear(1, 1)
        >>> task = ((torch.ones(4, 1), torch.zeros(4, 1)), (torch.ones(4, 1), torch.zeros(4, 1)))
        >>> grads = meta_gradient(model, nn.functional.mse_loss, [task], inner_lr=0.1)
        >>> sorted(grads)
        ['bias', 'weight']
    """
    return meta_gradient_and_loss(
        model,
        loss_fn,
        tasks,
        method=method,
        inner_lr=inner_lr,
        inner_steps=inner_steps,
        adapt=adapt,
        batched=batched,
        compile=compile,
        start=start,
    ).grads


def meta_gradient_and_loss(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    method: Algorithm = "maml",
    inner_lr: InnerLR,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
    batched: Batched = "auto",
    compile: bool = False,
    start: TaskStart | None = None,
) -> MetaGradient:
    """:func:`meta_gradient`, also returning the mean query loss (for logging and NaN checks)."""
    if method not in ALGORITHMS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(ALGORITHMS)}")
    if not tasks:
        raise ValueError("meta_gradient needs at least one task")
    fewest = 0 if start is not None and method != "reptile" else 1  # Reptile with no step would not move
    if inner_steps < fewest:
        raise ValueError(f"inner_steps must be >= {fewest} for {method}, got {inner_steps}")
    params = trainable_params(model)
    inner = InnerLoop(model, loss_fn, tuple(select_adapted(params, adapt)), inner_lr, inner_steps, start)
    if isinstance(inner_lr, LearnedInnerRates) and (
        not inner_lr.covers(inner.adapted) or inner_lr.inner_steps < inner_steps
    ):
        raise ValueError("LearnedInnerRates must cover every adapted parameter for every inner step")
    if method == "maml":
        ensure_double_backward_attention(model)
    device = next(iter(params.values())).device
    stacked = stack_for_vmap(model, tasks, method, batched, device)
    use_vmap = stacked is not None
    try:
        if use_vmap:
            try:
                grads, query_loss = _meta_gradient_vmap(inner, method, params, stacked, compile)
            except VMAP_ERRORS as error:
                if batched is True or is_missing_double_backward(error):
                    raise
                give_up_on_vmap(model, error)
                use_vmap = False
        if not use_vmap:
            grads, query_loss = _meta_gradient_loop(inner, method, params, tasks)
    except RuntimeError as error:
        if is_missing_double_backward(error):
            raise RuntimeError(f"{error}\n\n{DOUBLE_BACKWARD_HINT}") from error
        raise
    full = {name: grads.get(name, torch.zeros_like(p)) for name, p in model.named_parameters()}
    full.update({k: grads.get(k, torch.zeros_like(v)) for k, v in inner.learned_rates().items()})
    return MetaGradient(full, query_loss.detach(), use_vmap)


# --------------------------------------------------------------------------------------------------
# The loop path: one task after another, as the formula reads.
# --------------------------------------------------------------------------------------------------


def _meta_gradient_loop(
    inner: InnerLoop, method: str, params: Params, tasks: Sequence[Task]
) -> tuple[dict[str, Tensor], Tensor]:
    """One task at a time; each task's graph is freed after its backward pass, so memory stays flat."""
    device = next(iter(params.values())).device
    tasks = [tree_to(task, device) for task in tasks]
    if method == "reptile":
        return _reptile_loop(inner, params, tasks)
    targets = {n: t for n, t in {**params, **inner.learned_rates()}.items() if t.requires_grad}
    query_losses = []
    with _gradients_accumulated_in_place(targets) as grads:
        for support, query in tasks:
            # theta_i = theta - alpha * grad L_{S_i}(theta); keeping the graph (MAML) keeps (I - alpha H_i)
            fast = inner.run_autograd(params, [support], create_graph=method == "maml")
            loss = inner.data_loss(fast, [query])  # L_{Q_i}(theta_i)
            # backward adds 1/T * d L_{Q_i}(theta_i) / d theta to the sum over tasks
            torch.autograd.backward(loss / len(tasks), inputs=list(targets.values()))
            query_losses.append(loss.detach())
    return grads, torch.stack(query_losses).mean()


def _reptile_loop(
    inner: InnerLoop, params: Params, tasks: Sequence[Task]
) -> tuple[dict[str, Tensor], Tensor]:
    """Reptile one task at a time: the mean of ``theta - theta_task``, no query gradient needed."""
    start = {n: t.detach() for n, t in params.items()}
    steps, query_losses = {n: torch.zeros_like(start[n]) for n in _reptile_moves(inner)}, []
    for support, query in tasks:
        fast = inner.run_autograd(start, [support, query], create_graph=False)
        with torch.no_grad():
            for n in steps:
                steps[n] += (start[n] - fast[n]) / len(tasks)
            query_losses.append(inner.data_loss(fast, [query]))
    return steps, torch.stack(query_losses).mean()


def _reptile_moves(inner: InnerLoop) -> tuple[str, ...]:
    """The weights Reptile steps: the adapted ones, less those a task start sets (theta's value of them is
    never read, so ``theta - theta_task`` says nothing about them)."""
    replaced = set(inner.start.names) if inner.start is not None else set()
    return tuple(n for n in inner.adapted if n not in replaced)


@contextmanager
def _gradients_accumulated_in_place(leaves: Mapping[str, Tensor]) -> Iterator[dict[str, Tensor]]:
    """Let autograd sum the per-task gradients into the leaves' ``.grad`` (in place, as ``backward()``
    does), then hand them over and put back whatever ``.grad`` held before.

    Summing the tensors ``torch.autograd.grad`` returns would allocate a new tensor per task and weight,
    which on the benchmark's 5000-word embedding table cost the loop path about 1 ms of a 34 ms meta-step
    (cProfile, LSTM tagger, first order).
    """
    saved = {n: t.grad for n, t in leaves.items()}
    for t in leaves.values():
        t.grad = None
    grads: dict[str, Tensor] = {}
    try:
        yield grads
        grads.update({n: t.grad for n, t in leaves.items() if t.grad is not None})
    finally:
        for n, t in leaves.items():
            t.grad = saved[n]


# --------------------------------------------------------------------------------------------------
# The vmap path: every task's inner loop in one call.
# --------------------------------------------------------------------------------------------------


def _meta_gradient_vmap(
    inner: InnerLoop, method: str, params: Params, stacked: Task, compile: bool = False
) -> tuple[dict[str, Tensor], Tensor]:
    """All tasks in one call: ``vmap`` over the stacked task axis (``stacked`` holds every task's data
    with a leading task dimension), then autograd back to theta for the meta-gradient."""
    supports, queries = stacked
    rate_tensors = inner.learned_rates()

    if method == "reptile":
        theta = {n: t.detach() for n, t in params.items()}
        rates = {k: v.detach() for k, v in rate_tensors.items()}
        with torch.no_grad():
            fast, losses = run_maybe_compiled(
                _batched_reptile_weights, inner, compile, theta, rates, supports, queries
            )
        # the mean of the differences, not theta minus the mean: a weight no task moved gets exactly 0 (the
        # mean of equal float32 values can be one rounding step off, which Adam would turn into a full step)
        return {n: (theta[n] - fast[n]).mean(0) for n in _reptile_moves(inner)}, losses.mean()

    # vmap runs the inner loops of all tasks in one call; ordinary autograd then differentiates the
    # mean query loss back to theta (measured faster here than an outer ``torch.func.grad``).
    targets = {**params, **rate_tensors}
    losses = run_maybe_compiled(
        _batched_query_losses, inner, compile, method == "fomaml", params, rate_tensors, supports, queries
    )
    loss = losses.mean()
    names = [n for n, t in targets.items() if t.requires_grad]
    grads = torch.autograd.grad(loss, [targets[n] for n in names], allow_unused=True)
    return {n: g for n, g in zip(names, grads) if g is not None}, loss.detach()


def _batched_query_losses(
    inner: InnerLoop, first_order: bool, theta: Params, rates: Params, supports: tuple, queries: tuple
) -> Tensor:
    """Each task's query loss after adaptation, ``[tasks]``, differentiable back to ``theta`` and ``rates``."""

    def task_query_loss(theta: Params, rates: Params, support: tuple, query: tuple) -> Tensor:
        fast = inner.run_func(theta, [support], first_order=first_order, rate_tensors=rates)
        return inner.data_loss(fast, [query])

    batched = torch.func.vmap(task_query_loss, in_dims=(None, None, 0, 0), randomness="different")
    return batched(theta, rates, supports, queries)


def _batched_reptile_weights(
    inner: InnerLoop, theta: Params, rates: Params, supports: tuple, queries: tuple
) -> tuple[Params, Tensor]:
    """Each task's adapted weights after Reptile's inner loop on support and query, and its query loss."""

    def adapted_weights(support: tuple, query: tuple) -> tuple[Params, Tensor]:
        fast = inner.run_func(theta, [support, query], first_order=True, rate_tensors=rates)
        return {n: fast[n] for n in inner.adapted}, inner.data_loss(fast, [query])

    return torch.func.vmap(adapted_weights, randomness="different")(supports, queries)
