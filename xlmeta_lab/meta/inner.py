"""The inner loop: ``theta_i = theta - alpha * grad L_S(theta)``, repeated ``inner_steps`` times.

Everything that decides how a task is adapted (which model, which loss, which weights move, how far
each step goes, how many steps) is one :class:`InnerLoop`, so a function that adapts takes one named
settings object instead of a row of positional arguments. The loop is written twice, because the two
execution paths differentiate differently: :meth:`InnerLoop.run_autograd` with ``torch.autograd.grad``
(the per-task loop, and test-time adaptation) and :meth:`InnerLoop.run_func` with ``torch.func.grad``
(inside ``vmap``, and inside ``torch.compile``). Both take the same steps and give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from xlmeta_lab.meta.params import Params, call_model
from xlmeta_lab.meta.prototypes import TaskStart
from xlmeta_lab.meta.rates import LearnedInnerRates
from xlmeta_lab.meta.task import LossFn

#: The inner step size ``alpha``: one number, or a learned rate per parameter and step (Meta-SGD), or a 0-d tensor:
#: one task's rate inside ``vmap``, so tasks adapted at different rates share one call (:func:`~.adapt.adapt_trajectories`).
InnerLR = float | Tensor | LearnedInnerRates
#: Rate of parameter ``name`` at inner step ``step``.
RateOf = Callable[[str, int], Tensor | float]


@dataclass(frozen=True)
class InnerLoop:
    """How every task of a meta-batch is adapted.

    Frozen, so that ``torch.compile`` can take it as an argument and guard on its fields: the same
    settings with new task tensors reuse the compiled code instead of compiling again. A new one per
    meta-step costs well under a microsecond, and Dynamo's guards check its fields as fast as they
    checked the same values passed one by one (about 10 us either way on the sine benchmark).
    """

    model: nn.Module
    loss_fn: LossFn
    #: The names the inner loop updates (all trainable parameters, or ANIL's head); the rest stay at theta.
    adapted: tuple[str, ...]
    inner_lr: InnerLR
    inner_steps: int
    #: Where each task's fast weights start: ``theta`` itself (``None``), or e.g. ``theta`` with its head set
    #: from the support set (:class:`~xlmeta_lab.meta.prototypes.PrototypeHead`), differentiably in ``theta``.
    start: TaskStart | None = None

    def start_task(self, params: Params, support: tuple) -> Params:
        """The task's starting weights: ``params``, or what :attr:`start` makes of them and the support set."""
        return dict(params) if self.start is None else self.start(self.model, params, support)

    def learned_rates(self) -> dict[str, Tensor]:
        """The learned rate tensors, keyed ``inner_lr.<name>`` (none for a fixed rate): meta-parameters too."""
        return self.inner_lr.named_rates() if isinstance(self.inner_lr, LearnedInnerRates) else {}

    def rate(self, rate_tensors: Mapping[str, Tensor] | None = None) -> RateOf:
        """``rate(name, step)``; learned rates are read from ``rate_tensors`` (functional copies) if given."""
        inner_lr = self.inner_lr
        if isinstance(inner_lr, LearnedInnerRates):
            if rate_tensors is None:
                return inner_lr.rate
            return lambda name, step: rate_tensors[f"inner_lr.{name}"][step]
        return lambda name, step: inner_lr

    def data_loss(self, params: Mapping[str, Tensor], sets: Sequence[tuple]) -> Tensor:
        """Mean loss over one or more ``(x, y)`` sets: the support set, or support and query for Reptile."""
        losses = [self.loss_fn(call_model(self.model, params, x), y) for x, y in sets]
        return losses[0] if len(losses) == 1 else torch.stack(losses).mean()

    def run_autograd(self, params: Params, sets: Sequence[tuple], *, create_graph: bool) -> Params:
        """``inner_steps`` SGD steps with ``torch.autograd.grad``; ``create_graph`` keeps the second-order
        path (MAML), without it each step's gradient is a constant (FOMAML, Reptile, test time)."""
        rate, adapted = self.rate(), self.adapted
        fast = self.start_task(params, sets[0])
        for n in adapted:  # a detached start still needs a graph for the first gradient
            if not fast[n].requires_grad:
                fast[n] = fast[n].detach().requires_grad_()
            elif self.start is not None:
                # A node of its own: a prototype head is computed from these very tensors, and the inner
                # gradient of a weight must not run back through the head's start as well (run_func's
                # torch.func.grad sees each adapted weight as one input, the same way).
                fast[n] = fast[n].view_as(fast[n])
        for step in range(self.inner_steps):
            loss = self.data_loss(fast, sets)
            # a start computed from theta (prototypes) must keep its graph for the query loss's backward
            grads = torch.autograd.grad(
                loss,
                [fast[n] for n in adapted],
                create_graph=create_graph,
                retain_graph=create_graph or self.start is not None,
                allow_unused=True,
            )
            used = {n: g for n, g in zip(adapted, grads) if g is not None}  # unused weights keep their value
            fast = sgd_update(fast, used, rate, step)
            if not create_graph and not any(t.requires_grad for t in params.values()):
                fast = {n: t.detach().requires_grad_(n in adapted) for n, t in fast.items()}
        return fast

    def run_func(
        self,
        params: Params,
        sets: Sequence[tuple],
        *,
        first_order: bool,
        rate_tensors: Mapping[str, Tensor] | None = None,
    ) -> Params:
        """The same SGD steps with ``torch.func.grad``, so they can run inside ``vmap`` and an outer ``grad``."""
        rate, adapted = self.rate(rate_tensors), self.adapted
        fast = self.start_task(params, sets[0])
        for step in range(self.inner_steps):

            def support_loss(sub: Params, fast: Params = fast) -> Tensor:
                return self.data_loss({**fast, **sub}, sets)

            grads = torch.func.grad(support_loss)({n: fast[n] for n in adapted})
            if first_order:  # FOMAML: the inner gradient is a constant, so no Hessian term reaches theta
                grads = {n: g.detach() for n, g in grads.items()}
            fast = sgd_update(fast, grads, rate, step)
        return fast


def sgd_update(fast: Params, grads: Mapping[str, Tensor], rate: RateOf, step: int) -> Params:
    """``theta <- theta - alpha * g`` for the adapted names; the others stay as they are.

    A fixed rate uses ``torch.add(theta, g, alpha=-rate)``: one fused pass over the weights instead of
    a multiply and a subtract, which matters for large embedding tables.
    """
    updated = dict(fast)
    for name, grad in grads.items():
        alpha = rate(name, step)
        if isinstance(alpha, Tensor):
            updated[name] = fast[name] - alpha * grad
        else:
            updated[name] = torch.add(fast[name], grad, alpha=-alpha)
    return updated
