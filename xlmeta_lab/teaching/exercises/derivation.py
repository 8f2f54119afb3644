"""Notebook 01's exercises: the one-step meta-gradient, a Hessian-vector product, first-order MAML, Reptile's
direction, and the seed's MAML loop written by hand.

Each checker runs the learner's function on small float64 sine-regression problems (the ones the notebook
uses) and compares with the oracles of :mod:`xlmeta_lab.teaching.derivation`, which share no code with the
engine; the last one compares with the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from xlmeta_lab.meta import Task, meta_gradient
from xlmeta_lab.meta.params import call_model, trainable_params
from xlmeta_lab.teaching import derivation as d
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, compare_tensors, exercise

#: The problems every check runs on: (seed, hidden units, tasks). Two seeds, so a lucky match is not enough.
_PROBLEMS = ((0, 6, 3), (1, 8, 2))


def _flat_problems() -> list[tuple[Tensor, list[d.TaskLosses]]]:
    problems = []
    for seed, hidden, n_tasks in _PROBLEMS:
        model, tasks = d.sine_problem(seed, hidden=hidden, n_tasks=n_tasks)
        theta, _, losses = d.task_losses(model, d.mse, tasks)
        problems.append((theta, losses))
    return problems


# -- exercise 1 ---------------------------------------------------------------------------------------


def one_step_meta_gradient(theta: Tensor, task: d.TaskLosses, inner_lr: float) -> Tensor:
    """``(I - alpha H_S(theta)) grad L_Q(theta - alpha grad L_S(theta))`` by autograd through the step."""
    theta = theta.detach().requires_grad_(True)
    (support_grad,) = torch.autograd.grad(task.support(theta), theta, create_graph=True)
    adapted = theta - inner_lr * support_grad
    (meta,) = torch.autograd.grad(task.query(adapted), theta)
    return meta


@exercise(
    "01.1",
    "the one-step meta-gradient",
    hints=(
        "MAML's meta-gradient is the gradient of the query loss AFTER one inner step, taken with "
        "respect to the starting point: the inner step itself has to stay differentiable",
        "g = (I - alpha H_S(theta)) grad L_Q(theta'), where theta' = theta - alpha grad L_S(theta); "
        "autograd builds the (I - alpha H_S) factor for you if the inner gradient keeps its graph",
        "take the support gradient with create_graph=True, step, then differentiate the query loss at the "
        "adapted point with respect to theta",
    ),
    solution=one_step_meta_gradient,
)
def check_one_step_meta_gradient(answer: Callable[..., Tensor]) -> str:
    inner_lr = 0.05
    for theta, tasks in _flat_problems():
        task = tasks[0]
        expected = d.maml_gradient_explicit(theta, [task], inner_lr=inner_lr)
        adapted = theta - inner_lr * d.loss_grad(task.support, theta)
        result = compare_tensors(
            answer(theta.clone(), task, inner_lr),
            expected,
            what="the meta-gradient",
            mistakes={
                "it equals the first-order gradient: the Hessian term is missing. Keep the inner gradient's "
                "graph (torch.autograd.grad(..., create_graph=True)) so the outer gradient flows through it": (
                    d.fomaml_gradient(theta, [task], inner_lr=inner_lr)
                ),
                "it is the query gradient at theta: evaluate the query loss at the ADAPTED parameters "
                "theta - inner_lr * grad L_S(theta)": d.loss_grad(task.query, theta),
                "the inner step went uphill: adapted = theta - inner_lr * grad (minus, not plus)": (
                    d.maml_gradient_explicit(theta, [task], inner_lr=-inner_lr)
                ),
                "it uses the support loss where the query loss belongs: the step uses the support set, the "
                "score the query set": d.maml_gradient_explicit(
                    theta, [d.TaskLosses(task.support, task.support)], inner_lr=inner_lr
                ),
                "it is the gradient of the query loss at the adapted point, without the chain rule through "
                "the step: differentiate with respect to theta, not to the adapted parameters": d.loss_grad(
                    task.query, adapted
                ),
            },
            rtol=1e-8,
            atol=1e-10,
        )
    return f"{result}, against the explicit-Hessian oracle, on {len(_PROBLEMS)} networks"


# -- exercise 2 ---------------------------------------------------------------------------------------


def hessian_vector_product(loss: Callable[[Tensor], Tensor], theta: Tensor, vector: Tensor) -> Tensor:
    """``H(theta) @ vector`` by differentiating ``grad L(theta) . vector`` once more (never forming H)."""
    theta = theta.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
    (hvp,) = torch.autograd.grad(grad @ vector, theta)
    return hvp


@exercise(
    "01.2",
    "a Hessian-vector product",
    hints=(
        "H v is the gradient of the directional derivative grad L . v: one more backward pass gives "
        "it, without ever forming the Hessian",
        "H(theta) v = d/dtheta [ grad L(theta) . v ], with v held constant",
        "grad = torch.autograd.grad(loss(theta), theta, create_graph=True); then differentiate (grad * vector).sum()",
    ),
    solution=hessian_vector_product,
)
def check_hessian_vector_product(answer: Callable[..., Tensor]) -> str:
    generator = torch.Generator().manual_seed(3)
    for theta, tasks in _flat_problems():
        loss = tasks[0].support
        vector = torch.randn(theta.shape, generator=generator, dtype=theta.dtype)
        hessian = d.loss_hessian(loss, theta)
        result = compare_tensors(
            answer(loss, theta.clone(), vector),
            hessian @ vector,
            what="H @ v",
            mistakes={
                "it is the gradient, not H @ v: differentiate (grad * vector).sum() a second time": d.loss_grad(
                    loss, theta
                ),
                "it is the vector itself: the second differentiation must be of grad . vector with the graph "
                "of grad kept (create_graph=True)": vector,
            },
            rtol=1e-8,
            atol=1e-10,
        )
    return f"{result}, against the explicit Hessian times v"


# -- exercise 3 ---------------------------------------------------------------------------------------


def first_order_meta_gradient(theta: Tensor, task: d.TaskLosses, inner_lr: float) -> Tensor:
    """FOMAML: the query gradient at the adapted point, with the inner step treated as a constant."""
    theta = theta.detach().requires_grad_(True)
    (support_grad,) = torch.autograd.grad(task.support(theta), theta)
    adapted = (theta - inner_lr * support_grad).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(task.query(adapted), adapted)
    return grad


@exercise(
    "01.3",
    "the first-order meta-gradient",
    hints=(
        "first-order MAML treats the adapted point as a constant: the inner step moves theta, but no "
        "gradient flows back through it",
        "g_FO = grad L_Q(theta'), theta' = theta - alpha grad L_S(theta): MAML's gradient with (I - "
        "alpha H_S) replaced by I",
        "the same as exercise 1 without create_graph: detach the adapted point, and take the query "
        "gradient there with torch.autograd.grad",
    ),
    solution=first_order_meta_gradient,
)
def check_first_order_meta_gradient(answer: Callable[..., Tensor]) -> str:
    inner_lr = 0.05
    for theta, tasks in _flat_problems():
        task = tasks[0]
        result = compare_tensors(
            answer(theta.clone(), task, inner_lr),
            d.fomaml_gradient(theta, [task], inner_lr=inner_lr),
            what="the first-order meta-gradient",
            mistakes={
                "it still contains the Hessian term (it is full MAML): the first-order variant treats the "
                "inner gradient as a constant, so no create_graph, and detach the adapted point": (
                    d.maml_gradient_explicit(theta, [task], inner_lr=inner_lr)
                ),
                "it is the query gradient at theta: take it at the adapted point": d.loss_grad(task.query, theta),
            },
            rtol=1e-8,
            atol=1e-10,
        )
    return f"{result}, against the oracle"


# -- exercise 4 ---------------------------------------------------------------------------------------


def reptile_direction(
    theta: Tensor, loss: Callable[[Tensor], Tensor], inner_lr: float, inner_steps: int
) -> Tensor:
    """``theta - theta^(K)`` after ``K`` steps of SGD on ``loss``: where Reptile moves the initialisation from."""
    point = theta.detach()
    for _ in range(inner_steps):
        point = point.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(point), point)
        point = (point - inner_lr * grad).detach()
    return theta.detach() - point


def _sgd_end(theta: Tensor, loss: Callable[[Tensor], Tensor], inner_lr: float, steps: int) -> Tensor:
    return d.inner_loop(theta, loss, inner_lr=inner_lr, inner_steps=steps)[-1]


@exercise(
    "01.4",
    "Reptile's direction",
    hints=(
        "Reptile needs no second derivative and no query set: adapt for a few steps and look at how "
        "far, and which way, you moved",
        "theta_k = theta_(k-1) - alpha grad L(theta_(k-1)) for k = 1 .. K; the direction is theta_0 -"
        " theta_K",
        "point = theta; inner_steps times: point = point - inner_lr * "
        "torch.autograd.grad(loss(point), point)[0] (point detached and requires_grad_ each time); "
        "return theta - point",
    ),
    solution=reptile_direction,
)
def check_reptile_direction(answer: Callable[..., Tensor]) -> str:
    inner_lr, steps = 0.02, 3
    for theta, tasks in _flat_problems():
        loss = d.support_and_query(tasks[0])
        end = _sgd_end(theta, loss, inner_lr, steps)
        result = compare_tensors(
            answer(theta.clone(), loss, inner_lr, steps),
            theta - end,
            what="Reptile's direction",
            mistakes={
                f"it is the direction after {steps - 1} steps: the loop runs one step too few": theta
                - _sgd_end(theta, loss, inner_lr, steps - 1),
                f"it is the direction after {steps + 1} steps: the loop runs one step too many": theta
                - _sgd_end(theta, loss, inner_lr, steps + 1),
                "it is K gradients at theta: each step must take the gradient where the previous step ended": (
                    steps * inner_lr * d.loss_grad(loss, theta)
                ),
                "it is the final point itself, not theta minus it": end,
            },
            rtol=1e-8,
            atol=1e-10,
        )
    return f"{result}, after {steps} SGD steps"


# -- exercise 5: the seed's MAML loop, by hand -----------------------------------------------------------


def maml_outer_step(
    model: nn.Module, params: dict[str, Tensor], tasks: Sequence[Task], inner_lr: float, outer_lr: float
) -> dict[str, Tensor]:
    """One step of the seed's algorithm: an inner step per task, then
    ``theta0 <- theta0 - outer_lr * sum_i grad_theta0 L_i(theta_i)``."""
    meta_grads = {name: torch.zeros_like(p) for name, p in params.items()}
    for (x_support, y_support), (x_query, y_query) in tasks:
        support_loss = d.mse(call_model(model, params, x_support), y_support)
        grads = torch.autograd.grad(support_loss, list(params.values()), create_graph=True)
        adapted = {name: p - inner_lr * g for (name, p), g in zip(params.items(), grads)}
        query_loss = d.mse(call_model(model, adapted, x_query), y_query)
        for name, g in zip(params, torch.autograd.grad(query_loss, list(params.values()))):
            meta_grads[name] += g
    return {name: (p - outer_lr * meta_grads[name]).detach().requires_grad_(True) for name, p in params.items()}


def engine_outer_step(
    model: nn.Module, params: dict[str, Tensor], tasks: Sequence[Task], inner_lr: float, outer_lr: float
) -> dict[str, Tensor]:
    """The same step through the engine: ``meta_gradient`` is the *mean* over tasks, so it is scaled by ``T``
    to match the seed's sum."""
    with torch.no_grad():
        for name, p in trainable_params(model).items():
            p.copy_(params[name])
    grads = meta_gradient(model, d.mse, list(tasks), method="maml", inner_lr=inner_lr, inner_steps=1)
    return {
        name: (p.detach() - outer_lr * len(tasks) * grads[name]).requires_grad_(True) for name, p in params.items()
    }


def one_step_meta_loss(
    model: nn.Module, params: dict[str, Tensor], tasks: Sequence[Task], *, inner_lr: float
) -> float:
    """The meta-objective ``1/T sum_i L_{Q_i}(theta_i)`` of a parameter dict, after one inner step per task:
    the number a MAML training curve plots (notebook 01 compares the loop written by hand with the engine)."""
    start = {name: p.detach().requires_grad_(True) for name, p in params.items()}
    losses = []
    for (x_support, y_support), (x_query, y_query) in tasks:
        grads = torch.autograd.grad(d.mse(call_model(model, start, x_support), y_support), list(start.values()))
        adapted = {name: p - inner_lr * g for (name, p), g in zip(start.items(), grads)}
        losses.append(d.mse(call_model(model, adapted, x_query), y_query).detach())
    return float(torch.stack(losses).mean())


def _as_vector(params: object, names: Sequence[str]) -> Tensor:
    if not isinstance(params, dict) or set(params) != set(names):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ExerciseFailed(f"return a dict with the same names as params ({sorted(names)}); got {got}")
    return torch.cat([params[n].detach().reshape(-1) for n in names])


@exercise(
    "01.5",
    "the MAML loop by hand",
    hints=(
        "one outer step: adapt a copy of the parameters to each task's support set, score each "
        "adapted copy on its query set, and move the shared parameters against the gradient of the "
        "total",
        "params <- params - beta * sum over tasks of grad_params L_Q(params - alpha grad "
        "L_S(params)): a sum over the tasks, not a mean",
        "for each task: support loss -> torch.autograd.grad(..., create_graph=True) -> adapted params -> "
        "query loss -> its gradient w.r.t. params, summed over tasks; then params - outer_lr * sum",
    ),
    solution=maml_outer_step,
)
def check_maml_outer_step(answer: Callable[..., dict[str, Tensor]]) -> str:
    inner_lr, outer_lr = 0.05, 0.01
    for seed, hidden, n_tasks in _PROBLEMS:
        model, tasks = d.sine_problem(seed, hidden=hidden, n_tasks=n_tasks)
        start = {n: p.detach().clone().requires_grad_(True) for n, p in trainable_params(model).items()}
        names = list(start)
        theta = _as_vector(start, names)

        def moved(direction: dict[str, Tensor], scale: float, theta: Tensor = theta, names: list = names) -> Tensor:
            return theta - scale * _as_vector(direction, names)

        engine = meta_gradient(model, d.mse, tasks, method="maml", inner_lr=inner_lr)
        first_order = meta_gradient(model, d.mse, tasks, method="fomaml", inner_lr=inner_lr)
        got = _as_vector(answer(model, {n: p.clone() for n, p in start.items()}, tasks, inner_lr, outer_lr), names)
        result = compare_tensors(
            got,
            moved(engine, outer_lr * n_tasks),
            what="the parameters after one outer step",
            mistakes={
                "you averaged the tasks' gradients; the seed's outer step sums them (the engine averages, "
                "so it is scaled by T to compare)": moved(engine, outer_lr),
                "the Hessian term is missing (this is first-order MAML): the inner gradient needs "
                "create_graph=True": moved(first_order, outer_lr * n_tasks),
                "the outer step went uphill: theta0 - outer_lr * sum": moved(engine, -outer_lr * n_tasks),
                "the parameters did not move": theta,
            },
            rtol=1e-8,
            atol=1e-10,
        )
    return f"{result}, against the engine's meta_gradient (x T, for the sum)"
