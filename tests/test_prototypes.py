"""Proto-MAML's prototype head in the engine: the head by hand, the meta-gradient through the prototypes against
central finite differences and against a hand-written loop (float64), and the same head at test time."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn import functional as F

from xlmeta_lab.meta import adapt_trajectory, meta_gradient
from xlmeta_lab.meta.prototypes import PrototypeHead, class_prototypes, prototype_head, task_start

Params = dict[str, Tensor]


def small_classifier(seed: int = 0) -> nn.Module:
    """A body and a linear ``head``, float64, 3 classes; the head starts at zero, as the sentence classifier's."""
    torch.manual_seed(seed)
    model = nn.Sequential()
    model.add_module("body", nn.Sequential(nn.Linear(3, 4), nn.Tanh()))
    model.add_module("head", nn.Linear(4, 3))
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)
    return model.double()


def tasks(n: int = 3, seed: int = 1) -> list[tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return [
        (
            (torch.randn(6, 3, generator=generator, dtype=torch.float64), y),
            (torch.randn(6, 3, generator=generator, dtype=torch.float64), y),
        )
        for _ in range(n)
    ]


def query_loss_by_hand(
    model: nn.Module, theta: Params, task: tuple, lr: float, steps: int, first_order: bool
) -> Tensor:
    """Proto-MAML written out: prototypes from the body, ``W = 2 mu``, ``b = -||mu||^2``, ``steps`` SGD steps
    on the support loss (each gradient a constant if ``first_order``), then the query loss."""
    (xs, ys), (xq, yq) = task
    mu = torch.stack([functional_call(model.body, _body(theta), (xs[ys == c],)).mean(0) for c in range(3)])
    fast = {**theta, "head.weight": 2 * mu, "head.bias": -(mu**2).sum(1)}
    # each weight a variable of its own: the inner gradient is the partial one, the head's start held fixed
    fast = {n: t.clone() for n, t in fast.items()}
    for _ in range(steps):
        loss = F.cross_entropy(functional_call(model, fast, (xs,)), ys)
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
        fast = {n: t - lr * (g.detach() if first_order else g) for (n, t), g in zip(fast.items(), grads)}
    return F.cross_entropy(functional_call(model, fast, (xq,)), yq)


def _body(theta: Params) -> Params:
    return {n.removeprefix("body."): t for n, t in theta.items() if n.startswith("body.")}


def test_the_prototype_head_is_twice_the_class_means_and_minus_their_squared_norms() -> None:
    features = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [9.0, 9.0]])
    labels = torch.tensor([0, 0, 1, -100])  # padding is no example of any class
    assert class_prototypes(features, labels, 3).tolist() == [[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]
    weight, bias = prototype_head(features, labels, 3)
    assert weight.tolist() == [[4.0, 0.0], [0.0, 4.0], [0.0, 0.0]]
    assert bias.tolist() == [-4.0, -4.0, 0.0]


def test_the_prototype_head_chooses_the_nearest_prototype() -> None:
    generator = torch.Generator().manual_seed(0)
    support, labels = torch.randn(12, 5, generator=generator), torch.arange(12) % 4
    points = torch.randn(50, 5, generator=generator)
    weight, bias = prototype_head(support, labels, 4)
    nearest = torch.cdist(points, class_prototypes(support, labels, 4)).argmin(1)
    assert torch.equal((points @ weight.T + bias).argmax(1), nearest)


@pytest.mark.parametrize("batched", [False, True])
def test_maml_from_a_prototype_head_matches_finite_differences(batched: bool) -> None:
    """The meta-gradient flows through the prototypes: central differences of the hand-written objective."""
    model, batch, lr, steps = small_classifier(), tasks(), 0.4, 2
    grads = meta_gradient(
        model,
        F.cross_entropy,
        batch,
        method="maml",
        inner_lr=lr,
        inner_steps=steps,
        start=PrototypeHead(),
        batched=batched,
    )
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}

    def objective(params: Params) -> float:
        params = {n: t.detach().requires_grad_() for n, t in params.items()}  # the inner loop differentiates
        losses = [query_loss_by_hand(model, params, t, lr, steps, False) for t in batch]
        return torch.stack(losses).mean().item()

    eps = 1e-6
    for name in ("body.0.weight", "body.0.bias"):
        numeric = torch.zeros_like(theta[name])
        for i in range(theta[name].numel()):
            up, down = theta[name].clone(), theta[name].clone()
            up.view(-1)[i] += eps
            down.view(-1)[i] -= eps
            numeric.view(-1)[i] = (objective({**theta, name: up}) - objective({**theta, name: down})) / (
                2 * eps
            )
        assert numeric.abs().max() > 1e-3  # the check can fail: the body does get a gradient
        torch.testing.assert_close(grads[name], numeric, atol=1e-7, rtol=1e-6)
    # theta's own head is never read while the prototypes replace it
    assert grads["head.weight"].abs().max() == 0 and grads["head.bias"].abs().max() == 0


@pytest.mark.parametrize(("method", "first_order"), [("maml", False), ("fomaml", True)])
@pytest.mark.parametrize("batched", [False, True])
def test_the_engine_matches_a_hand_written_proto_maml_loop(
    method: str, first_order: bool, batched: bool
) -> None:
    model, batch = small_classifier(seed=3), tasks(seed=4)
    grads = meta_gradient(
        model,
        F.cross_entropy,
        batch,
        method=method,
        inner_lr=0.3,
        inner_steps=1,
        start=PrototypeHead(),
        batched=batched,
    )
    theta = dict(model.named_parameters())
    loss = torch.stack([query_loss_by_hand(model, theta, t, 0.3, 1, first_order) for t in batch]).mean()
    expected = torch.autograd.grad(loss, [theta["body.0.weight"], theta["body.0.bias"]])
    torch.testing.assert_close(grads["body.0.weight"], expected[0])
    torch.testing.assert_close(grads["body.0.bias"], expected[1])


def test_reptile_gets_a_body_update_from_one_step_only_from_a_prototype_head() -> None:
    """From a zero head one inner step moves only the head (no logit depends on the body yet), so Reptile's
    body update, the distance the inner loop travelled, is exactly zero; from a prototype head it is not."""
    zero = meta_gradient(small_classifier(), F.cross_entropy, tasks(), method="reptile", inner_lr=0.5)
    proto = meta_gradient(
        small_classifier(), F.cross_entropy, tasks(), method="reptile", inner_lr=0.5, start=PrototypeHead()
    )
    assert zero["body.0.weight"].abs().max() == 0
    assert proto["body.0.weight"].abs().max() > 1e-4


def test_zero_inner_steps_train_a_prototypical_network() -> None:
    """MAML from a prototype head with no inner step: the gradient of the query loss of nearest-prototype
    classification; Reptile, which would not move, is refused."""
    model, batch = small_classifier(), tasks()
    grads = meta_gradient(model, F.cross_entropy, batch, inner_lr=0.1, inner_steps=0, start=PrototypeHead())
    theta = dict(model.named_parameters())
    loss = torch.stack([query_loss_by_hand(model, theta, t, 0.1, 0, False) for t in batch]).mean()
    torch.testing.assert_close(grads["body.0.weight"], torch.autograd.grad(loss, theta["body.0.weight"])[0])
    with pytest.raises(ValueError, match="inner_steps must be >= 1 for reptile"):
        meta_gradient(
            model,
            F.cross_entropy,
            batch,
            method="reptile",
            inner_lr=0.1,
            inner_steps=0,
            start=PrototypeHead(),
        )
    with pytest.raises(ValueError, match="inner_steps must be >= 1 for maml"):
        meta_gradient(model, F.cross_entropy, batch, inner_lr=0.1, inner_steps=0)


def test_reptile_leaves_the_head_a_prototype_start_replaces_alone() -> None:
    grads = meta_gradient(
        small_classifier(),
        F.cross_entropy,
        tasks(),
        method="reptile",
        inner_lr=0.5,
        inner_steps=2,
        start=PrototypeHead(),
    )
    assert grads["head.weight"].abs().max() == 0 and grads["body.0.weight"].abs().max() > 0


@pytest.mark.parametrize("batched", [False, True])
def test_adaptation_from_a_prototype_head_at_zero_steps_is_the_prototype_classifier(batched: bool) -> None:
    model, batch = small_classifier(), tasks(n=2)
    supports = [support for support, _ in batch]
    runs = adapt_trajectory(
        model, F.cross_entropy, supports, inner_lr=0.5, record=(0, 3), start=PrototypeHead(), batched=batched
    )
    theta = {n: p.detach() for n, p in model.named_parameters()}
    for d, (xs, ys) in enumerate(supports):
        features = functional_call(model.body, _body(theta), (xs,))
        weight, bias = prototype_head(features, ys, 3)
        torch.testing.assert_close(runs[0]["head.weight"][d], weight)
        torch.testing.assert_close(runs[0]["head.bias"][d], bias)
        assert not torch.allclose(runs[3]["head.weight"][d], weight)  # three steps moved on from the start


def test_task_start_names_the_known_heads() -> None:
    assert task_start("zero") is None and task_start("prototype") == PrototypeHead()
    with pytest.raises(ValueError, match="zero, prototype"):
        task_start("protoype")
