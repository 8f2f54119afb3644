"""Hand-written references that tests hold the package's code against.

Each is written from the textbook definition, as a learner would first write it: one task, one step at a time,
``torch.autograd.grad`` and nothing else. They share nothing with the code under test but the model's own forward
pass, so a bug in the engine, in fine-tuning or in the loss cannot be copied into the expected value.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

Weights = dict[str, Tensor]
Task = tuple[tuple[tuple[Tensor, ...], Tensor], tuple[tuple[Tensor, ...], Tensor]]


def cross_entropy_over_labelled(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean negative log-likelihood of the targets over the positions whose target is not ``-100`` (padding).

    Written out (log-sum-exp minus the target's logit) rather than through ``F.cross_entropy``: the tagger's
    and the classifier's loss is the thing it checks.
    """
    logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    real = targets != -100
    logits, targets = logits[real], targets[real]
    picked = logits.gather(1, targets[:, None]).squeeze(1)
    return (torch.logsumexp(logits, dim=1) - picked).mean()


def _forward(model: nn.Module, weights: Weights, x: tuple[Tensor, ...]) -> Tensor:
    return functional_call(model, weights, tuple(x))


def sgd_by_hand(model: nn.Module, x: tuple[Tensor, ...], y: Tensor, *, lr: float, steps: int) -> Weights:
    """``steps`` plain gradient steps ``w <- w - lr * grad`` on the whole of ``(x, y)``, from ``model``'s weights."""
    weights = {n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()}
    for _ in range(steps):
        loss = cross_entropy_over_labelled(_forward(model, weights, x), y)
        grads = torch.autograd.grad(loss, list(weights.values()))
        weights = {n: (w - lr * g).detach().requires_grad_() for (n, w), g in zip(weights.items(), grads)}
    return {n: w.detach() for n, w in weights.items()}


def _grad(loss: Tensor, weights: list[Tensor], create_graph: bool = False) -> list[Tensor]:
    """``d loss / d weights``, zero for a weight the loss does not use (a pretrained encoder's pooler)."""
    grads = torch.autograd.grad(loss, weights, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]


def meta_gradient_by_hand(
    model: nn.Module, tasks: Sequence[Task], *, method: str, inner_lr: float, inner_steps: int
) -> Weights:
    """The mean over tasks of the outer gradient, one task after another.

    MAML differentiates the query loss through the inner steps (``create_graph``); first-order MAML drops the
    second-order term by cutting the graph at each inner step; Reptile's update is the mean of ``theta - phi``
    after ``inner_steps`` steps on support and query together (each step on the mean of their two losses).
    """
    theta = dict(model.named_parameters())
    total = {n: torch.zeros_like(p) for n, p in theta.items()}
    for (x_support, y_support), (x_query, y_query) in tasks:
        fast = dict(theta)
        for _ in range(inner_steps):
            loss = cross_entropy_over_labelled(_forward(model, fast, x_support), y_support)
            if method == "reptile":
                loss = (loss + cross_entropy_over_labelled(_forward(model, fast, x_query), y_query)) / 2
            grads = _grad(loss, list(fast.values()), create_graph=method == "maml")
            fast = {n: w - inner_lr * g for (n, w), g in zip(fast.items(), grads)}
            if method != "maml":  # first order: each step starts from plain numbers
                fast = {n: w.detach().requires_grad_() for n, w in fast.items()}
        if method == "reptile":
            task_grad = [theta[n].detach() - fast[n].detach() for n in theta]
        else:  # MAML: back through the inner steps to theta; first order: the query gradient at the adapted weights
            outer = cross_entropy_over_labelled(_forward(model, fast, x_query), y_query)
            task_grad = _grad(outer, list(theta.values()) if method == "maml" else list(fast.values()))
        for name, g in zip(theta, task_grad):
            total[name] += g.detach() / len(tasks)
    return total
