"""The meta-gradient three ways: explicit Hessian, Hessian-vector products and closed form agree with
each other and with the engine (``xlmeta_lab.meta.meta_gradient``), in float64, to round-off.

Vmap-versus-loop, learned inner rates and Hugging Face models are covered in ``test_engine.py``.
"""

from __future__ import annotations

import copy

import pytest
import torch

from xlmeta_lab.meta import meta_gradient
from xlmeta_lab.teaching import derivation as d
from xlmeta_lab.teaching import quadratic as q

TOL = 1e-10  # float64 round-off is ~1e-16; anything near this tolerance is a wrong term, not noise
SEEDS = [0, 1, 2]


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = TOL) -> None:
    assert torch.allclose(a, b, rtol=0, atol=atol), f"max |difference| = {float((a - b).abs().max()):.3e}"


@pytest.fixture(scope="module")
def problem() -> tuple[torch.nn.Module, list]:
    return d.sine_problem(0, hidden=6, n_tasks=3)


def test_flatten_roundtrip_and_layout(problem: tuple) -> None:
    model, _ = problem
    params = dict(model.named_parameters())
    vector, layout = d.flatten_params(params)
    assert vector.shape == (layout.numel,) == (sum(p.numel() for p in model.parameters()),)
    back = d.unflatten_params(vector, layout)
    assert list(back) == list(params)
    for name, p in params.items():
        assert torch.equal(back[name], p.detach())
    mask = layout.mask("head")
    assert int(mask.sum()) == model.head.weight.numel() + model.head.bias.numel()
    assert torch.equal(mask[-int(mask.sum()) :], torch.ones(int(mask.sum())))  # the head is last


@pytest.mark.parametrize("inner_steps", [1, 2, 3])
def test_quadratic_closed_form_explicit_hvp_and_engine_agree(inner_steps: int) -> None:
    # The query has its own centre and curvature, so swapping H_S and H_Q would fail.
    tasks = q.random_quadratic_tasks(3, seed=inner_steps, query_shift=1.0)
    theta = torch.tensor([0.4, -0.7], dtype=torch.float64)
    kwargs = {"inner_lr": 0.2, "inner_steps": inner_steps}
    closed = q.quadratic_meta_gradient(theta, tasks, **kwargs)
    losses = [t.losses() for t in tasks]
    _close(d.maml_gradient_explicit(theta, losses, **kwargs), closed)
    _close(d.maml_gradient_hvp(theta, losses, **kwargs), closed)
    point = q.QuadraticPoint(theta)
    engine = meta_gradient(point, q.quadratic_loss, [t.engine_task() for t in tasks], method="maml", **kwargs)
    _close(engine["theta"], closed)
    for task in tasks:  # the one-step formula of the notebook
        expected = theta - 0.2 * task.support.A @ (theta - task.support.centre)
        _close(task.adapt(theta, 0.2), expected)


def test_quadratic_maml_optimum_zeroes_the_meta_gradient() -> None:
    tasks = q.random_quadratic_tasks(4, seed=0, query_shift=0.5)
    for inner_lr, steps in ((0.0, 1), (0.2, 1), (0.2, 3)):
        optimum = q.quadratic_maml_optimum(tasks, inner_lr=inner_lr, inner_steps=steps)
        _close(
            q.quadratic_meta_gradient(optimum, tasks, inner_lr=inner_lr, inner_steps=steps),
            torch.zeros(2, dtype=torch.float64),
        )
    joint = q.quadratic_maml_optimum(tasks, inner_lr=0.0)
    a = sum(t.query.A for t in tasks)
    _close(joint, torch.linalg.solve(a, sum(t.query.A @ t.query.centre for t in tasks)))


@pytest.mark.parametrize("inner_steps", [1, 3])
def test_explicit_hessian_and_hvp_agree_on_mlp(problem: tuple, inner_steps: int) -> None:
    model, tasks = problem
    theta, _, losses = d.task_losses(model, d.mse, tasks)
    kwargs = {"inner_lr": 0.05, "inner_steps": inner_steps}
    _close(d.maml_gradient_explicit(theta, losses, **kwargs), d.maml_gradient_hvp(theta, losses, **kwargs))


def test_oracle_is_the_gradient_of_the_meta_objective(problem: tuple) -> None:
    """A directional finite difference: no autograd through anything, so it checks the oracle itself."""
    model, tasks = problem
    theta, _, losses = d.task_losses(model, d.mse, tasks)
    kwargs = {"inner_lr": 0.05, "inner_steps": 2}
    grad = d.maml_gradient_explicit(theta, losses, **kwargs)
    direction = torch.randn(theta.shape, generator=torch.Generator().manual_seed(0), dtype=theta.dtype)
    h = 1e-5
    plus = d.meta_objective(theta + h * direction, losses, **kwargs)
    minus = d.meta_objective(theta - h * direction, losses, **kwargs)
    finite_difference = (plus - minus) / (2 * h)
    assert abs(float(finite_difference - grad @ direction)) < 1e-7 * max(1.0, float(grad.norm()))


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("inner_steps", [1, 2, 3])
@pytest.mark.parametrize("seed", SEEDS)
def test_engine_maml_matches_explicit_hessian(seed: int, inner_steps: int, batched: bool) -> None:
    model, tasks = d.sine_problem(seed, hidden=5, n_tasks=3)
    row = d.compare_three_ways(model, d.mse, tasks, inner_lr=0.05, inner_steps=inner_steps, batched=batched)
    assert row["explicit_vs_engine"] < TOL and row["hvp_vs_engine"] < TOL and row["explicit_vs_hvp"] < TOL, (
        row
    )
    assert row["hessian_term"] > 1e-3, "the check needs a Hessian term large enough to notice"


@pytest.mark.parametrize("inner_steps", [1, 2])
def test_engine_fomaml_is_the_first_order_formula(problem: tuple, inner_steps: int) -> None:
    model, tasks = problem
    theta, layout, losses = d.task_losses(model, d.mse, tasks)
    engine = meta_gradient(model, d.mse, tasks, method="fomaml", inner_lr=0.05, inner_steps=inner_steps)
    _close(
        d.flatten_grads(engine, layout),
        d.fomaml_gradient(theta, losses, inner_lr=0.05, inner_steps=inner_steps),
    )


def test_first_and_second_order_differ_by_a_real_margin(problem: tuple) -> None:
    model, tasks = problem
    theta, _, losses = d.task_losses(model, d.mse, tasks)
    exact = d.maml_gradient_hvp(theta, losses, inner_lr=0.05)
    first = d.fomaml_gradient(theta, losses, inner_lr=0.05)
    assert float((exact - first).norm() / exact.norm()) > 0.05
    # ...and by exactly the dropped term alpha/T sum_i H_i grad L_Q(theta_i) for one step
    dropped = torch.stack(
        [
            d.hessian_vector_product(
                t.support, theta, d.loss_grad(t.query, d.inner_loop(theta, t.support, inner_lr=0.05)[-1])
            )
            for t in losses
        ]
    ).mean(0)
    _close(first - exact, 0.05 * dropped)
    # at alpha = 0 there is nothing to drop
    _close(d.maml_gradient_hvp(theta, losses, inner_lr=0.0), d.fomaml_gradient(theta, losses, inner_lr=0.0))
    curve = d.first_order_error_curve(model, d.mse, tasks, inner_lrs=[0.0, 0.01, 0.05])
    assert curve["relative_error"][0] < TOL and curve["relative_error"][1] < curve["relative_error"][2]


@pytest.mark.parametrize("inner_steps", [1, 3])
def test_reptile_matches_a_hand_written_sgd_loop(problem: tuple, inner_steps: int) -> None:
    model, tasks = problem
    inner_lr = 0.02
    expected = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for (xs, ys), (xq, yq) in tasks:
        copy_ = copy.deepcopy(model)
        optimiser = torch.optim.SGD(copy_.parameters(), lr=inner_lr)
        for _ in range(inner_steps):
            optimiser.zero_grad()
            loss = (d.mse(copy_(xs), ys) + d.mse(copy_(xq), yq)) / 2
            loss.backward()
            optimiser.step()
        for (n, p), adapted in zip(model.named_parameters(), copy_.parameters()):
            expected[n] += (p.detach() - adapted.detach()) / len(tasks)
    engine = meta_gradient(model, d.mse, tasks, method="reptile", inner_lr=inner_lr, inner_steps=inner_steps)
    theta, layout, losses = d.task_losses(model, d.mse, tasks)
    oracle = d.reptile_update(theta, losses, inner_lr=inner_lr, inner_steps=inner_steps)
    for name in expected:
        _close(engine[name], expected[name])
    _close(oracle, d.flatten_grads(expected, layout))


def test_reptile_taylor_series() -> None:
    """One step is exactly a gradient step; with K >= 2 the second-order prediction's error falls like alpha^2."""
    model, tasks = d.sine_problem(1, hidden=6, n_tasks=1)
    theta, _, (task,) = d.task_losses(model, d.mse, tasks)
    loss = d.support_and_query(task)
    one = d.reptile_taylor_errors(theta, loss, inner_lrs=[0.01, 0.04], inner_steps=1)
    assert max(one["first_order"]) < 1e-12
    lrs = [0.004, 0.002]
    three = d.reptile_taylor_errors(theta, loss, inner_lrs=lrs, inner_steps=3)
    first_ratio = three["first_order"][0] / three["first_order"][1]
    second_ratio = three["second_order"][0] / three["second_order"][1]
    assert 1.7 < first_ratio < 2.3 and 3.4 < second_ratio < 4.6, (first_ratio, second_ratio)


@pytest.mark.parametrize("inner_steps", [1, 2])
@pytest.mark.parametrize("adapt", ["head", "hidden2"])
def test_anil_matches_the_oracle_restricted_to_the_adapted_layer(
    problem: tuple, adapt: str, inner_steps: int
) -> None:
    model, tasks = problem
    kwargs = {"inner_lr": 0.05, "inner_steps": inner_steps}
    engine = meta_gradient(model, d.mse, tasks, method="maml", adapt=adapt, **kwargs)
    # 1) the adapted layer alone, the rest of the network held fixed as constants
    names = [f"{adapt}.weight", f"{adapt}.bias"]
    theta, layout, losses = d.task_losses(model, d.mse, tasks, names=names)
    _close(d.flatten_grads(engine, layout), d.maml_gradient_explicit(theta, losses, **kwargs))
    # 2) every parameter, with the inner step masked: factors (I - alpha H P) reach the frozen layers too
    theta, layout, losses = d.task_losses(model, d.mse, tasks)
    mask = layout.mask(adapt, like=theta)
    full = d.maml_gradient_explicit(theta, losses, adapted=mask, **kwargs)
    _close(d.flatten_grads(engine, layout), full)
    _close(d.maml_gradient_hvp(theta, losses, adapted=mask, **kwargs), full)
