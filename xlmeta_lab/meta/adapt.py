"""Test time: adapt a meta-learned initialisation to new support sets, with the meta-training inner loop.

What meta-training optimised is the query loss *after* the inner loop, so a new task must be adapted
with that same loop; these functions run it on its own, outside any meta-gradient, and leave the model
unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

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
    record = sorted(set(record))
    if not record or record[0] < 0:
        raise ValueError(f"record needs step counts >= 0, got {record}")
    if not supports:
        raise ValueError("adapt_trajectory needs at least one support set")
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    adapted = tuple(select_adapted(params, adapt))
    device = next(iter(params.values())).device
    # One leg per recorded count: the steps from the previous count to this one (none for a repeat of 0).
    legs = [
        InnerLoop(model, loss_fn, adapted, inner_lr, stop - start) if stop > start else None
        for start, stop in zip([0, *record[:-1]], record)
    ]

    def trajectory(support: tuple, run: Callable[[InnerLoop, Params, tuple], Params]) -> list[Params]:
        fast, out = params if start is None else start(model, params, support), []
        for leg in legs:
            if leg is not None:
                fast = run(leg, fast, support)
            out.append({n: t.detach() for n, t in fast.items()})
        return out

    # Adaptation is first order, so fused normalisation layers do not stop vmap here.
    stacked = stack_for_vmap(model, supports, "fomaml", batched, device)
    if stacked is not None:
        try:

            def run_func(leg: InnerLoop, fast: Params, support: tuple) -> Params:
                return leg.run_func(fast, [support], first_order=True)

            with torch.no_grad():
                runs = torch.func.vmap(lambda s: trajectory(s, run_func), randomness="different")(stacked)
            return dict(zip(record, runs))
        except VMAP_ERRORS as error:
            if batched is True:
                raise
            give_up_on_vmap(model, error)

    def run_autograd(leg: InnerLoop, fast: Params, support: tuple) -> Params:
        with torch.enable_grad():
            return leg.run_autograd(fast, [support], create_graph=False)

    per_draw = [trajectory(tree_to(s, device), run_autograd) for s in supports]
    return {
        steps: {n: torch.stack([run[i][n] for run in per_draw]) for n in params}
        for i, steps in enumerate(record)
    }
