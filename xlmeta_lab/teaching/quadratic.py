"""Quadratic tasks: the third, analytic oracle for the meta-gradient, and pictures in two dimensions.

On ``L(theta) = 1/2 (theta - c)^T A (theta - c)`` an inner step is linear in ``theta``
(``theta_i = (I - alpha A) theta + alpha A c``), so adaptation, the meta-gradient and even the MAML optimum
have closed forms that share no code with the engine. Notebook 01 uses them to check the engine a third way
and to draw ``theta`` being *mapped* to each task's adapted weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from xlmeta_lab.meta import Task
from xlmeta_lab.teaching.derivation import TaskLosses


@dataclass(frozen=True)
class Quadratic:
    """``L(theta) = 1/2 (theta - centre)^T A (theta - centre)``: gradient ``A (theta - centre)``, Hessian ``A``."""

    A: Tensor
    centre: Tensor

    def __call__(self, theta: Tensor) -> Tensor:
        diff = theta - self.centre
        return 0.5 * diff @ self.A @ diff

    def grad(self, theta: Tensor) -> Tensor:
        return self.A @ (theta - self.centre)


@dataclass(frozen=True)
class QuadraticTask:
    """A task whose support and query losses are quadratics, so adaptation and meta-gradient have closed forms."""

    support: Quadratic
    query: Quadratic

    def step_matrix(self, inner_lr: float, inner_steps: int = 1) -> Tensor:
        """``M = (I - alpha A_S)^K``: the inner loop maps ``theta - c_S`` to ``M (theta - c_S)``."""
        eye = torch.eye(len(self.support.centre), dtype=self.support.A.dtype)
        return torch.linalg.matrix_power(eye - inner_lr * self.support.A, inner_steps)

    def adapt(self, theta: Tensor, inner_lr: float, inner_steps: int = 1) -> Tensor:
        """``theta_i = c_S + M (theta - c_S)``; for one step, ``theta - alpha A_S (theta - c_S)``."""
        return self.support.centre + self.step_matrix(inner_lr, inner_steps) @ (theta - self.support.centre)

    def meta_gradient(self, theta: Tensor, inner_lr: float, inner_steps: int = 1) -> Tensor:
        """``M^T A_Q (theta_i - c_Q)``: the chain rule with a constant Jacobian ``M``."""
        step = self.step_matrix(inner_lr, inner_steps)
        return step.T @ self.query.grad(self.adapt(theta, inner_lr, inner_steps))

    def losses(self) -> TaskLosses:
        """The same task as flat-vector losses, for the general oracles."""
        return TaskLosses(self.support, self.query)

    def engine_task(self) -> Task:
        """The task in the engine's form, for :class:`QuadraticPoint` and :func:`quadratic_loss`."""
        nothing = torch.zeros(0, dtype=self.support.A.dtype)
        return (nothing, (self.support.A, self.support.centre)), (nothing, (self.query.A, self.query.centre))


class QuadraticPoint(nn.Module):
    """A "model" whose only parameter is the point ``theta`` and whose output is that point, so the engine can run on quadratics."""

    def __init__(self, theta: Tensor) -> None:
        super().__init__()
        self.theta = nn.Parameter(theta.clone())

    def forward(self, _: Tensor) -> Tensor:
        return self.theta


def quadratic_loss(output: Tensor, target: tuple[Tensor, Tensor]) -> Tensor:
    """``loss_fn`` for :class:`QuadraticPoint`: the target is ``(A, centre)``."""
    A, centre = target
    return Quadratic(A, centre)(output)


def quadratic_meta_gradient(
    theta: Tensor, tasks: Sequence[QuadraticTask], *, inner_lr: float, inner_steps: int = 1
) -> Tensor:
    """The closed-form MAML meta-gradient, averaged over tasks."""
    return torch.stack([t.meta_gradient(theta, inner_lr, inner_steps) for t in tasks]).mean(0)


def quadratic_maml_optimum(
    tasks: Sequence[QuadraticTask], *, inner_lr: float, inner_steps: int = 1
) -> Tensor:
    """The initialisation MAML converges to on quadratic tasks, solved exactly.

    The meta-gradient is affine in ``theta``: ``sum_i M_i^T A_i M_i theta + b_i``; setting it to zero is a
    linear system. With ``inner_lr = 0`` this is the joint-training optimum ``(sum A_i)^-1 sum A_i c_i``.
    """
    dim = len(tasks[0].support.centre)
    origin = torch.zeros(dim, dtype=tasks[0].support.A.dtype)
    offset = quadratic_meta_gradient(origin, tasks, inner_lr=inner_lr, inner_steps=inner_steps)
    columns = [
        quadratic_meta_gradient(e, tasks, inner_lr=inner_lr, inner_steps=inner_steps) - offset
        for e in torch.eye(dim, dtype=origin.dtype)
    ]
    return torch.linalg.solve(torch.stack(columns, dim=1), -offset)


def random_quadratic_tasks(
    n_tasks: int,
    *,
    seed: int,
    flat: tuple[float, float] = (0.2, 0.6),
    steep: tuple[float, float] = (2.5, 4.5),
    spread: float = 2.0,
    query_shift: float = 0.0,
    dtype: torch.dtype = torch.float64,
) -> list[QuadraticTask]:
    """2-D quadratic tasks: elongated bowls (one ``flat`` and one ``steep`` eigenvalue), randomly rotated and centred.

    Elongated on purpose: one inner step fixes a steep direction almost completely and a flat one hardly
    at all, which is what makes MAML's initialisation differ from joint training's.

    ``query_shift = 0`` makes the query loss equal the support loss (the picture in the notebook); a
    positive value moves the query centre and rescales its curvature, so a check can tell ``H_S`` from ``H_Q``.
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(shape, generator=generator, dtype=dtype)

    def bowl() -> Tensor:
        angle = uniform(0.0, math.pi)
        rotation = torch.stack(
            [torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])]
        )
        return rotation @ torch.diag(torch.stack([uniform(*flat), uniform(*steep)])) @ rotation.T

    tasks = []
    for _ in range(n_tasks):
        support = Quadratic(bowl(), uniform(-spread, spread, 2))
        if query_shift:
            query = Quadratic(support.A * uniform(0.5, 1.5), support.centre + query_shift * uniform(-1, 1, 2))
        else:
            query = support
        tasks.append(QuadraticTask(support, query))
    return tasks
