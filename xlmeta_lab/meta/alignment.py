"""Gradient alignment: do two tasks (languages) pull the initialisation the same way?

The cosine between two tasks' gradients says whether a step for one also helps the other (``> 0``), does
nothing for it (``0``), or hurts it (``< 0``: the "conflicting gradients" of negative transfer).

**What first-order meta-learning maximises** (Nichol, Achiam and Schulman 2018, section 5). Take two SGD steps
of size ``alpha`` on two mini-batches ``a`` then ``b`` from ``theta``. To second order in ``alpha``, Reptile's
direction ``(theta - theta_2) / alpha`` is ``g_a + g_b - alpha * H_b g_a``. Averaged over the two orders of
the batches, ``H_b g_a + H_a g_b = grad (g_a . g_b)``, so

    (theta - theta_2) / alpha  =  (g_a + g_b)  -  (alpha / 2) * grad (g_a . g_b)  +  O(alpha^2):

joint training's direction plus a term whose descent *increases* the inner product of the two batches'
gradients. Reptile and FOMAML (whose expected update has the same ``-alpha H g`` term) therefore favour
initialisations where gradients of different batches of a task agree, i.e. where a step on one batch
generalises to the next. For quadratic losses the Hessians are constant and the equation is exact (tested).
:func:`reptile_expansion` computes all three terms so the identity can be checked on any model.

The batches there are two batches of one task. Whether the same pressure makes gradients of *different
languages* agree is an empirical question: :func:`task_gradients` gives each language's direction (its
meta-gradient from the engine, or its plain gradient) at a checkpoint, :func:`pairwise_cosines` their cosines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from xlmeta_lab.meta.inner import InnerLoop
from xlmeta_lab.meta.maml import ALGORITHMS, meta_gradient
from xlmeta_lab.meta.params import AdaptSpec, call_model, select_adapted, trainable_params, tree_to
from xlmeta_lab.meta.task import LossFn, Task

Grads = Mapping[str, Tensor]
#: ``method=`` of :func:`task_gradients` for the plain gradient at theta (what joint training follows).
PLAIN_GRADIENT = "gradient"


def flatten(grads: Grads, names: Sequence[str] | None = None) -> Tensor:
    """The tensors of ``grads`` (those of ``names``, in that order; default: all, sorted) as one vector."""
    names = sorted(grads) if names is None else names
    return torch.cat([grads[n].detach().reshape(-1).double() for n in names])


def cosine(a: Grads, b: Grads) -> float:
    """Cosine between two gradient dicts over the names they share, as if each were one flat vector;
    ``nan`` when either is zero there (no direction to compare)."""
    names = sorted(set(a) & set(b))
    if not names:
        raise ValueError("the two gradient dicts share no parameter name")
    u, v = flatten(a, names), flatten(b, names)
    norms = float(u.norm() * v.norm())
    return float(u @ v) / norms if norms > 0 else math.nan


def pairwise_cosines(grads: Mapping[str, Grads]) -> dict[tuple[str, str], float]:
    """:func:`cosine` of every unordered pair of tasks, keyed ``(a, b)`` in the order ``grads`` lists them."""
    return {(a, b): cosine(grads[a], grads[b]) for a, b in itertools.combinations(grads, 2)}


def task_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    tasks_by_name: Mapping[str, Sequence[Task]],
    *,
    method: str = PLAIN_GRADIENT,
    inner_lr: float = 0.1,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
) -> dict[str, dict[str, Tensor]]:
    """Each task's direction at the model's current weights, from its probe tasks (episodes of one language).

    ``method`` is an engine algorithm (``"maml"``, ``"fomaml"``, ``"reptile"``): the engine's
    :func:`~xlmeta_lab.meta.meta_gradient` over that language's episodes, i.e. the direction that method's
    outer step would take for this language alone; or :data:`PLAIN_GRADIENT`: the gradient of the mean loss
    over the episodes' support and query sentences, the direction joint training follows.
    """
    if method != PLAIN_GRADIENT and method not in ALGORITHMS:
        raise ValueError(
            f"unknown method {method!r}; choose {PLAIN_GRADIENT!r} or one of {', '.join(ALGORITHMS)}"
        )
    out = {}
    for name, tasks in tasks_by_name.items():
        if method == PLAIN_GRADIENT:
            out[name] = plain_gradient(model, loss_fn, [s for task in tasks for s in task])
        else:
            grads = meta_gradient(
                model,
                loss_fn,
                list(tasks),
                method=method,
                inner_lr=inner_lr,
                inner_steps=inner_steps,
                adapt=adapt,
            )
            out[name] = {n: g.detach() for n, g in grads.items()}
    return out


def plain_gradient(
    model: nn.Module, loss_fn: LossFn, batches: Sequence[tuple[Any, Any]]
) -> dict[str, Tensor]:
    """Gradient of the mean of ``loss_fn`` over ``batches`` (``(x, y)`` pairs) at the model's weights."""
    params = trainable_params(model)
    device = next(iter(params.values())).device
    losses = [loss_fn(call_model(model, params, tree_to(x, device)), tree_to(y, device)) for x, y in batches]
    grads = torch.autograd.grad(torch.stack(losses).mean(), list(params.values()), allow_unused=True)
    return {
        n: (g if g is not None else torch.zeros_like(p)).detach() for (n, p), g in zip(params.items(), grads)
    }


def inner_product_gradient(
    model: nn.Module, loss_fn: LossFn, batch_a: tuple[Any, Any], batch_b: tuple[Any, Any]
) -> dict[str, Tensor]:
    """``grad_theta (g_a . g_b)``: the gradient of the inner product of two batches' gradients (double backward)."""
    params = trainable_params(model)
    names = list(params)

    def grad_of(batch: tuple[Any, Any]) -> tuple[Tensor, ...]:
        x, y = batch
        loss = loss_fn(call_model(model, params, x), y)
        return torch.autograd.grad(loss, [params[n] for n in names], create_graph=True, allow_unused=True)

    g_a, g_b = grad_of(batch_a), grad_of(batch_b)
    dot = sum((u * v).sum() for u, v in zip(g_a, g_b) if u is not None and v is not None)
    grads = torch.autograd.grad(dot, [params[n] for n in names], allow_unused=True)
    return {n: (g if g is not None else torch.zeros_like(params[n])).detach() for n, g in zip(names, grads)}


def sgd_direction(
    model: nn.Module, loss_fn: LossFn, batches: Sequence[tuple[Any, Any]], lr: float
) -> dict[str, Tensor]:
    """``theta - theta_end`` after one plain SGD step of size ``lr`` on each batch in turn (Reptile's direction
    with one batch per inner step), taken with the engine's inner loop."""
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    fast = params
    for batch in batches:
        inner = InnerLoop(model, loss_fn, tuple(select_adapted(params, None)), lr, 1)
        fast = inner.run_autograd(fast, [batch], create_graph=False)
        fast = {n: t.detach() for n, t in fast.items()}
    return {n: params[n] - fast[n] for n in params}


def reptile_expansion(
    model: nn.Module, loss_fn: LossFn, batch_a: tuple[Any, Any], batch_b: tuple[Any, Any], lr: float
) -> dict[str, dict[str, Tensor]]:
    """The three terms of the identity in the module doc, per parameter name:

    ``reptile``: ``(theta - theta_2) / lr`` averaged over the orders (a, b) and (b, a);
    ``joint``: ``g_a + g_b``; ``alignment``: ``-(lr / 2) * grad (g_a . g_b)``.
    ``reptile - joint - alignment`` is ``O(lr^2)``, and zero for quadratic losses.
    """
    forward = sgd_direction(model, loss_fn, [batch_a, batch_b], lr)
    backward = sgd_direction(model, loss_fn, [batch_b, batch_a], lr)
    g_a = plain_gradient(model, loss_fn, [batch_a])
    g_b = plain_gradient(model, loss_fn, [batch_b])
    product = inner_product_gradient(model, loss_fn, batch_a, batch_b)
    return {
        "reptile": {n: (forward[n] + backward[n]) / (2 * lr) for n in forward},
        "joint": {n: g_a[n] + g_b[n] for n in g_a},
        "alignment": {n: -(lr / 2) * product[n] for n in product},
    }
