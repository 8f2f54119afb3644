"""Test time: adapt a meta-learned initialisation to new support sets, with the meta-training inner loop.

What meta-training optimised is the query loss *after* the inner loop, so a new task must be adapted
with that same loop; these functions run it on its own, outside any meta-gradient, and leave the model
unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from xlmeta_lab.meta.batching import VMAP_ERRORS, Batched, give_up_on_vmap, stack_for_vmap
from xlmeta_lab.meta.inner import InnerLoop, InnerLR
from xlmeta_lab.meta.params import AdaptSpec, Params, select_adapted, trainable_params, tree_to
from xlmeta_lab.meta.prototypes import TaskStart
from xlmeta_lab.meta.task import LossFn


def adapt_params(
    model: nn.Module,
    loss_fn: LossFn,
    support: tuple[Any, Any],
    *,
    inner_lr: InnerLR,
    inner_steps: int,
    adapt: AdaptSpec = None,
    start: TaskStart | None = None,
) -> Params:
    """Fine-tune a copy of ``model``'s weights on one support set; the model itself is left unchanged.

    This is the inner loop on its own, as used at test time: the returned dict can be passed to
    :func:`xlmeta_lab.meta.params.call_model` to predict with the adapted weights. ``start`` is the
    meta-training inner loop's (e.g. a prototype head set from ``support``).
    """
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    inner = InnerLoop(model, loss_fn, tuple(select_adapted(params, adapt)), inner_lr, inner_steps, start)
    device = next(iter(params.values())).device
    support = tree_to(support, device)
    with torch.enable_grad():
        fast = inner.run_autograd(params, [support], create_graph=False)
    return {n: t.detach() for n, t in fast.items()}


def adapt_trajectory(
    model: nn.Module,
    loss_fn: LossFn,
    supports: Sequence[tuple[Any, Any]],
    *,
    inner_lr: float,
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: Batched = "auto",
    start: TaskStart | None = None,
) -> dict[int, Params]:
    """Fine-tune copies of ``model``'s weights on several support sets at once, as independent tasks.

    This is the evaluation side of meta-learning: the K-shot draws of the few-shot protocol are tasks like
    any other, so they run through the same inner loop, in one ``vmap`` call where the model allows it
    (a per-draw loop otherwise, with the same numbers). One trajectory serves every candidate budget:
    the weights after each step count in ``record`` are returned as ``{steps: {name: tensor [D, ...]}}``
    with the draws on the leading axis. ``start`` sets each draw's starting weights from its support set before
    the first step (a prototype head), so ``record=(0,)`` with a prototype start is a prototypical network.
    """
    return _trajectories(model, loss_fn, supports, [inner_lr] * len(supports), record, adapt, batched, start)


def adapt_trajectories(
    model: nn.Module,
    loss_fn: LossFn,
    supports: Sequence[tuple[Any, Any]],
    *,
    inner_lrs: Sequence[float],
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: Batched = "auto",
    start: TaskStart | None = None,
) -> dict[float, dict[int, Params]]:
    """:func:`adapt_trajectory` at every rate of ``inner_lrs``, all in one ``vmap`` call where the model allows:
    ``{lr: {steps: {name: tensor [D, ...]}}}``.

    A budget search fine-tunes the same draws at several rates; as separate calls each pays the per-step overhead
    of a small batch, while here the rates x draws are one batch of tasks, each with its rate as a 0-d tensor.
    Equal to separate calls to float rounding (``theta - lr * g`` instead of the fused ``add``).
    """
    lrs = list(dict.fromkeys(inner_lrs))
    if not lrs:
        raise ValueError("adapt_trajectories needs at least one rate")
    tiled = [s for _ in lrs for s in supports]
    # float64, as a Python float is: a 0-d tensor does not change the weights' dtype, and 0.1 stays 0.1
    rates: list[float | Tensor] = [torch.tensor(float(lr), dtype=torch.float64) for lr in lrs for _ in supports]
    runs = _trajectories(model, loss_fn, tiled, rates, record, adapt, batched, start)
    d = len(supports)
    return {
        lr: {
            steps: {n: t[i * d : (i + 1) * d] for n, t in weights.items()} for steps, weights in runs.items()
        }
        for i, lr in enumerate(lrs)
    }


def _trajectories(
    model: nn.Module,
    loss_fn: LossFn,
    supports: Sequence[tuple[Any, Any]],
    rates: Sequence[float | Tensor],
    record: Sequence[int],
    adapt: AdaptSpec,
    batched: Batched,
    start: TaskStart | None,
) -> dict[int, Params]:
    """The trajectories of ``supports[i]`` at ``rates[i]``: one fixed float for all (today's numbers, the fused
    update), or one 0-d tensor each, vmapped beside the support sets."""
    record = sorted(set(record))
    if not record or record[0] < 0:
        raise ValueError(f"record needs step counts >= 0, got {record}")
    if not supports:
        raise ValueError("adapt_trajectory needs at least one support set")
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    adapted = tuple(select_adapted(params, adapt))
    device = next(iter(params.values())).device
    spans = [stop - begin for begin, stop in zip([0, *record[:-1]], record)]

    def trajectory(
        support: tuple, rate: float | Tensor, run: Callable[[InnerLoop, Params, tuple], Params]
    ) -> list[Params]:
        # One leg per recorded count: the steps from the previous count to this one (none for a repeat of 0).
        fast, out = params if start is None else start(model, params, support), []
        for span in spans:
            if span > 0:
                fast = run(InnerLoop(model, loss_fn, adapted, rate, span), fast, support)
            out.append({n: t.detach() for n, t in fast.items()})
        return out

    # Adaptation is first order, so fused normalisation layers do not stop vmap here.
    stacked = stack_for_vmap(model, supports, "fomaml", batched, device)
    if stacked is not None:
        try:

            def run_func(leg: InnerLoop, fast: Params, support: tuple) -> Params:
                return leg.run_func(fast, [support], first_order=True)

            with torch.no_grad():
                if isinstance(rates[0], Tensor):
                    per_task = torch.stack(list(rates)).to(device)
                    runs = torch.func.vmap(lambda s, r: trajectory(s, r, run_func), randomness="different")(
                        stacked, per_task
                    )
                else:
                    runs = torch.func.vmap(
                        lambda s: trajectory(s, rates[0], run_func), randomness="different"
                    )(stacked)
            return dict(zip(record, runs))
        except VMAP_ERRORS as error:
            if batched is True:
                raise
            give_up_on_vmap(model, error)

    def run_autograd(leg: InnerLoop, fast: Params, support: tuple) -> Params:
        with torch.enable_grad():
            return leg.run_autograd(fast, [support], create_graph=False)

    per_draw = [
        trajectory(tree_to(s, device), float(r) if isinstance(r, Tensor) else r, run_autograd)
        for s, r in zip(supports, rates)
    ]
    return {
        steps: {n: torch.stack([run[i][n] for run in per_draw]) for n in params}
        for i, steps in enumerate(record)
    }
