"""The MAML meta-gradient computed the slow, explicit ways, as oracles for the engine (notebook 01).

The engine (:mod:`xlmeta_lab.meta.maml`) never writes a Hessian down: it differentiates *through* the
inner step and lets autograd build ``(I - alpha H_i)`` itself. This module computes the same number
three other ways, each with no code in common with the engine's backward pass:

* **explicit Hessian**: flatten the parameters into one vector, form ``H_i`` with
  ``torch.autograd.functional.hessian`` and multiply the matrices out, as the formula is written;
* **Hessian-vector products**: the same product, applied to a vector one factor at a time with
  ``torch.func.vjp`` of ``torch.func.grad``, without forming ``H_i``;
* **closed form** on quadratic tasks ``L(theta) = 1/2 (theta - c)^T A (theta - c)``, where
  adaptation is linear in ``theta`` and the meta-gradient is a short matrix expression
  (:mod:`xlmeta_lab.teaching.quadratic`).

Notation, as in the notebook: for tasks ``i = 1..T`` with support loss ``L_{S_i}`` and query loss
``L_{Q_i}``, inner learning rate ``alpha`` (``inner_lr``) and ``K`` inner steps,

    theta_i^(0) = theta,   theta_i^(k+1) = theta_i^(k) - alpha * P grad L_{S_i}(theta_i^(k)),
    L(theta) = 1/T sum_i L_{Q_i}(theta_i^(K)),
    grad L(theta) = 1/T sum_i (I - alpha H_i^(0) P) ... (I - alpha H_i^(K-1) P) grad L_{Q_i}(theta_i^(K)),

with ``H_i^(k)`` the Hessian of the *support* loss at ``theta_i^(k)`` and ``P`` the diagonal 0/1 mask of
the adapted coordinates (``P = I`` for MAML; only the head for ANIL). The mean over tasks (not the sum)
matches the engine, so the size of the meta-gradient does not grow with the meta-batch.

Everything here works on one flat parameter vector, because that is where ``H`` is a matrix. It is
meant for models with a few hundred parameters: an explicit Hessian of a 7B-parameter model would
need ~200 exabytes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.meta import LossFn, Task, meta_gradient
from xlmeta_lab.meta.params import AdaptSpec, call_model, select_adapted, trainable_params

__all__ = [
    "ParamLayout",
    "TaskLosses",
    "compare_three_ways",
    "first_order_error_curve",
    "flatten_grads",
    "flatten_params",
    "fomaml_gradient",
    "hessian_vector_product",
    "inner_loop",
    "loss_grad",
    "loss_hessian",
    "maml_gradient_explicit",
    "maml_gradient_hvp",
    "meta_objective",
    "mse",
    "reptile_taylor_errors",
    "reptile_update",
    "sine_problem",
    "support_and_query",
    "support_hessian_norm",
    "task_losses",
    "tiny_mlp",
    "unflatten_params",
]

#: A loss as a function of the flat parameter vector: ``vector -> scalar``.
FlatLoss = Callable[[Tensor], Tensor]

# --------------------------------------------------------------------------------------------------
# One vector of parameters
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamLayout:
    """Where each named tensor sits in the flat vector, so a vector can be turned back into a dict."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @property
    def sizes(self) -> list[int]:
        return [math.prod(shape) for shape in self.shapes]

    @property
    def numel(self) -> int:
        """Length of the flat vector (the number of rows of ``H``)."""
        return sum(self.sizes)

    def mask(self, adapt: AdaptSpec, *, like: Tensor | None = None) -> Tensor:
        """The 0/1 vector ``P`` of the coordinates the inner loop updates (``adapt`` as in the engine)."""
        chosen = set(select_adapted(self.names, adapt))
        parts = [torch.full((size,), float(name in chosen)) for name, size in zip(self.names, self.sizes)]
        vector = torch.cat(parts)
        return vector if like is None else vector.to(like)


def flatten_params(
    params: Mapping[str, Tensor], names: Sequence[str] | None = None
) -> tuple[Tensor, ParamLayout]:
    """Concatenate ``params`` (or only ``names``) into one detached vector, and say how to undo it."""
    names = tuple(params) if names is None else tuple(names)
    layout = ParamLayout(names, tuple(params[n].shape for n in names))
    vector = torch.cat([params[n].detach().reshape(-1) for n in names])
    return vector, layout


def unflatten_params(vector: Tensor, layout: ParamLayout) -> dict[str, Tensor]:
    """Split ``vector`` back into named tensors; differentiable, so a loss of the dict is a loss of the vector."""
    pieces = torch.split(vector, layout.sizes)
    return {name: piece.view(shape) for name, piece, shape in zip(layout.names, pieces, layout.shapes)}


def flatten_grads(grads: Mapping[str, Tensor], layout: ParamLayout) -> Tensor:
    """The engine's gradient dict as one vector in ``layout``'s order, to compare with the oracles."""
    return torch.cat([grads[n].detach().reshape(-1) for n in layout.names])


class TaskLosses(NamedTuple):
    """One task's support and query losses as functions of the flat parameter vector."""

    support: FlatLoss
    query: FlatLoss


def task_losses(
    model: nn.Module, loss_fn: LossFn, tasks: Sequence[Task], names: Sequence[str] | None = None
) -> tuple[Tensor, ParamLayout, list[TaskLosses]]:
    """Turn a model and engine-style tasks into ``(theta, layout, [TaskLosses])`` on one flat vector.

    ``names`` restricts the vector to some parameters (e.g. the head); the others are held at the
    model's current values, as constants.
    """
    params = {n: p.detach() for n, p in trainable_params(model).items()}
    theta, layout = flatten_params(params, names)

    def on_vector(x: Any, y: Any) -> FlatLoss:
        def loss(vector: Tensor) -> Tensor:
            return loss_fn(call_model(model, {**params, **unflatten_params(vector, layout)}, x), y)

        return loss

    return theta, layout, [TaskLosses(on_vector(*support), on_vector(*query)) for support, query in tasks]


# --------------------------------------------------------------------------------------------------
# The oracles
# --------------------------------------------------------------------------------------------------


def loss_grad(loss: FlatLoss, theta: Tensor) -> Tensor:
    """``grad loss(theta)`` as a plain (detached) vector."""
    theta = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss(theta), theta)
    return grad


def loss_hessian(loss: FlatLoss, theta: Tensor) -> Tensor:
    """The full ``P x P`` Hessian of ``loss`` at ``theta`` (``torch.autograd.functional.hessian``)."""
    return torch.autograd.functional.hessian(loss, theta.detach(), vectorize=True)


def hessian_vector_product(loss: FlatLoss, theta: Tensor, vector: Tensor) -> Tensor:
    """``H(theta) @ vector`` without forming ``H``, at the cost of about two extra backward passes.

    It is the vector-Jacobian product of the gradient function (reverse over reverse), which equals
    ``H @ vector`` because ``H`` is symmetric. Forward over reverse (``torch.func.jvp`` of
    ``torch.func.grad``) is the textbook alternative, but ``F.mse_loss`` fails under it in PyTorch 2.13
    ("ZeroTensors are immutable"), and an oracle should work for every loss.
    """
    _, vjp = torch.func.vjp(torch.func.grad(loss), theta.detach())
    (hvp,) = vjp(vector.detach())
    return hvp


def inner_loop(
    theta: Tensor, support: FlatLoss, *, inner_lr: float, inner_steps: int = 1, adapted: Tensor | None = None
) -> list[Tensor]:
    """The adaptation path ``[theta^(0), ..., theta^(K)]`` of plain SGD on the support loss (no graph kept)."""
    path = [theta.detach()]
    for _ in range(inner_steps):
        step = loss_grad(support, path[-1])
        path.append(path[-1] - inner_lr * (step if adapted is None else adapted * step))
    return path


def _maml_gradient(
    theta: Tensor,
    tasks: Sequence[TaskLosses],
    *,
    inner_lr: float,
    inner_steps: int,
    adapted: Tensor | None,
    hessian_times: Callable[[FlatLoss, Tensor, Tensor], Tensor],
) -> Tensor:
    """``1/T sum_i prod_k (I - alpha H_i^(k) P) grad L_{Q_i}(theta_i^(K))``, given a way to apply ``H`` to a vector.

    The product is applied right to left: the last inner step's factor acts first, exactly the order
    reverse-mode autograd walks the inner loop backwards.
    """
    total = torch.zeros_like(theta)
    for task in tasks:
        path = inner_loop(theta, task.support, inner_lr=inner_lr, inner_steps=inner_steps, adapted=adapted)
        vector = loss_grad(task.query, path[-1])
        for point in reversed(path[:-1]):
            masked = vector if adapted is None else adapted * vector
            vector = vector - inner_lr * hessian_times(task.support, point, masked)
        total += vector
    return total / len(tasks)


def maml_gradient_explicit(
    theta: Tensor,
    tasks: Sequence[TaskLosses],
    *,
    inner_lr: float,
    inner_steps: int = 1,
    adapted: Tensor | None = None,
) -> Tensor:
    """The MAML meta-gradient with every support Hessian formed as a matrix: the formula, literally.

    ``adapted`` is the 0/1 mask ``P`` of :meth:`ParamLayout.mask` (``None``: adapt everything). Cost
    ``O(P^2)`` memory per Hessian, so only for small models; that is the point of an oracle.
    """

    def explicit(loss: FlatLoss, point: Tensor, vector: Tensor) -> Tensor:
        return loss_hessian(loss, point) @ vector

    return _maml_gradient(
        theta, tasks, inner_lr=inner_lr, inner_steps=inner_steps, adapted=adapted, hessian_times=explicit
    )


def maml_gradient_hvp(
    theta: Tensor,
    tasks: Sequence[TaskLosses],
    *,
    inner_lr: float,
    inner_steps: int = 1,
    adapted: Tensor | None = None,
) -> Tensor:
    """The MAML meta-gradient with Hessian-vector products: same formula, ``O(P)`` memory, never forms ``H``."""
    return _maml_gradient(
        theta,
        tasks,
        inner_lr=inner_lr,
        inner_steps=inner_steps,
        adapted=adapted,
        hessian_times=hessian_vector_product,
    )


def fomaml_gradient(
    theta: Tensor,
    tasks: Sequence[TaskLosses],
    *,
    inner_lr: float,
    inner_steps: int = 1,
    adapted: Tensor | None = None,
) -> Tensor:
    """First-order MAML: drop every ``alpha H`` factor, keep ``1/T sum_i grad L_{Q_i}(theta_i^(K))``."""
    total = torch.zeros_like(theta)
    for task in tasks:
        path = inner_loop(theta, task.support, inner_lr=inner_lr, inner_steps=inner_steps, adapted=adapted)
        total += loss_grad(task.query, path[-1])
    return total / len(tasks)


def meta_objective(
    theta: Tensor,
    tasks: Sequence[TaskLosses],
    *,
    inner_lr: float,
    inner_steps: int = 1,
    adapted: Tensor | None = None,
) -> Tensor:
    """``L(theta) = 1/T sum_i L_{Q_i}(theta_i^(K))``: the number every meta-gradient above is the gradient of."""
    losses = [
        task.query(
            inner_loop(theta, task.support, inner_lr=inner_lr, inner_steps=inner_steps, adapted=adapted)[-1]
        )
        for task in tasks
    ]
    return torch.stack(losses).mean().detach()


def support_and_query(task: TaskLosses) -> FlatLoss:
    """The loss Reptile descends: the mean of the support and query losses (as the engine does)."""
    return lambda vector: (task.support(vector) + task.query(vector)) / 2


def reptile_update(
    theta: Tensor, tasks: Sequence[TaskLosses], *, inner_lr: float, inner_steps: int = 1
) -> Tensor:
    """Reptile's direction ``1/T sum_i (theta - theta_i^(K))``, where each task runs SGD on all its data.

    Reptile has no query evaluation and no gradient of an adapted loss: it only moves the
    initialisation towards where SGD ends up. Step with ``theta <- theta - outer_lr * update``.
    """
    total = torch.zeros_like(theta)
    for task in tasks:
        total += (
            theta - inner_loop(theta, support_and_query(task), inner_lr=inner_lr, inner_steps=inner_steps)[-1]
        )
    return total / len(tasks)


def reptile_taylor_errors(
    theta: Tensor, loss: FlatLoss, *, inner_lrs: Sequence[float], inner_steps: int
) -> dict[str, list[float]]:
    """How well Reptile's direction is predicted by its Taylor series, for each ``alpha`` in ``inner_lrs``.

    For ``K`` SGD steps on one loss with gradient ``g`` and Hessian ``H`` at ``theta``,

        (theta - theta^(K)) / (K alpha) = g - alpha (K - 1)/2 H g + O(alpha^2),

    and ``H g = 1/2 grad |g|^2``. Returns the relative errors of the first-order prediction (``g``)
    and of the second-order one: they should shrink like ``alpha`` and ``alpha^2`` for ``K >= 2``, and
    be round-off for ``K = 1``, where Reptile *is* one gradient step.
    """
    grad = loss_grad(loss, theta)
    curvature = hessian_vector_product(loss, theta, grad)
    scale = grad.norm()
    errors: dict[str, list[float]] = {"first_order": [], "second_order": []}
    for alpha in inner_lrs:
        direction = (theta - inner_loop(theta, loss, inner_lr=alpha, inner_steps=inner_steps)[-1]) / (
            inner_steps * alpha
        )
        second = grad - alpha * (inner_steps - 1) / 2 * curvature
        errors["first_order"].append(float((direction - grad).norm() / scale))
        errors["second_order"].append(float((direction - second).norm() / scale))
    return errors


# --------------------------------------------------------------------------------------------------
# Small models and tasks to check on
# --------------------------------------------------------------------------------------------------


def tiny_mlp(hidden: int, *, seed: int, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A 1 -> hidden -> hidden -> 1 tanh network: smooth, so its Hessians are non-trivial; ``head`` is the last layer."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(
        OrderedDict(
            hidden1=nn.Linear(1, hidden),
            act1=nn.Tanh(),
            hidden2=nn.Linear(hidden, hidden),
            act2=nn.Tanh(),
            head=nn.Linear(hidden, 1),
        )
    ).to(dtype)
    with torch.no_grad():  # seeded here so a check does not depend on the global RNG
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=dtype) / math.sqrt(max(p.shape[-1], 1)))
    return model


def sine_problem(
    seed: int, *, hidden: int, n_tasks: int, n_support: int = 5, n_query: int = 10
) -> tuple[nn.Sequential, list[Task]]:
    """A seeded ``(model, tasks)`` pair in float64: the unit every numerical check in notebook 01 runs on."""
    model = tiny_mlp(hidden, seed=seed)
    return model, sine_tasks(n_tasks, seed=10_000 + seed, n_support=n_support, n_query=n_query)


def mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error, the loss of the sine tasks."""
    return nn.functional.mse_loss(prediction, target)


def compare_three_ways(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    inner_lr: float,
    inner_steps: int = 1,
    adapt: AdaptSpec = None,
    batched: bool = False,
) -> dict[str, float]:
    """Largest absolute differences between the explicit-Hessian, HVP and engine (autograd) meta-gradients.

    Also returns ``hessian_term``, the largest entry of the part the first-order approximation drops: a
    check is only convincing if the differences are far below it (a bug in the Hessian term would show).
    """
    theta, layout, losses = task_losses(model, loss_fn, tasks)
    adapted = None if adapt is None else layout.mask(adapt, like=theta)
    kwargs = {"inner_lr": inner_lr, "inner_steps": inner_steps, "adapted": adapted}
    explicit = maml_gradient_explicit(theta, losses, **kwargs)
    hvp = maml_gradient_hvp(theta, losses, **kwargs)
    engine = flatten_grads(
        meta_gradient(
            model,
            loss_fn,
            tasks,
            method="maml",
            inner_lr=inner_lr,
            inner_steps=inner_steps,
            adapt=adapt,
            batched=batched,
        ),
        layout,
    )
    first_order = fomaml_gradient(theta, losses, **kwargs)
    return {
        "explicit_vs_hvp": float((explicit - hvp).abs().max()),
        "explicit_vs_engine": float((explicit - engine).abs().max()),
        "hvp_vs_engine": float((hvp - engine).abs().max()),
        "hessian_term": float((explicit - first_order).abs().max()),
    }


def first_order_error_curve(
    model: nn.Module,
    loss_fn: LossFn,
    tasks: Sequence[Task],
    *,
    inner_lrs: Sequence[float],
    inner_steps: int = 1,
) -> dict[str, list[float]]:
    """For each ``alpha``: ``|g_FO - g_MAML| / |g_MAML|`` and the cosine between the two directions.

    The relative error says how wrong the step's length and direction are together; the cosine says
    whether an optimiser would still go the same way, which is often what matters.
    """
    theta, _, losses = task_losses(model, loss_fn, tasks)
    curve: dict[str, list[float]] = {"relative_error": [], "cosine": []}
    for alpha in inner_lrs:
        exact = maml_gradient_hvp(theta, losses, inner_lr=alpha, inner_steps=inner_steps)
        first = fomaml_gradient(theta, losses, inner_lr=alpha, inner_steps=inner_steps)
        curve["relative_error"].append(float((first - exact).norm() / exact.norm()))
        curve["cosine"].append(float(torch.nn.functional.cosine_similarity(first, exact, dim=0)))
    return curve


def support_hessian_norm(model: nn.Module, loss_fn: LossFn, tasks: Sequence[Task]) -> list[float]:
    """``|H_S|_2 = max |eigenvalue|`` of each task's support Hessian at the model's weights.

    It sets the scale of ``alpha``: the first-order error ``alpha H_S g_Q`` is at most ``alpha |H_S|_2 |g_Q|``,
    and near ``alpha = 1 / |H_S|_2`` one inner step already moves as far as the curvature allows.
    """
    theta, _, losses = task_losses(model, loss_fn, tasks)
    return [float(torch.linalg.eigvalsh(loss_hessian(task.support, theta)).abs().max()) for task in losses]
