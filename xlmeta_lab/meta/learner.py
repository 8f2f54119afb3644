"""A meta-learner: the engine's meta-gradient plus an outer optimiser, in two verbs.

``learner.step(tasks)`` makes one meta-update of the initialisation; ``learner.adapt(support)``
fine-tunes a copy of it to a new task. Everything else (data, logging, checkpoints) is the
trainer's job, so this class stays small enough to read beside notebook 01.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from xlmeta_lab.meta.adapt import adapt_params
from xlmeta_lab.meta.batching import Batched
from xlmeta_lab.meta.distributed import distributed_meta_gradient
from xlmeta_lab.meta.maml import Algorithm, MetaGradient, meta_gradient_and_loss
from xlmeta_lab.meta.params import AdaptSpec, Params, select_adapted, trainable_params
from xlmeta_lab.meta.prototypes import TaskStart
from xlmeta_lab.meta.rates import LearnedInnerRates
from xlmeta_lab.meta.task import LossFn, Task


class MetaLearner(nn.Module):
    """Meta-train an initialisation with MAML, FOMAML, Reptile or ANIL.

    Arguments:
        model: the network whose parameters are the initialisation.
        loss_fn: ``loss_fn(model_output, targets) -> scalar``.
        method: ``"maml"``, ``"fomaml"`` or ``"reptile"``.
        inner_lr: inner-loop step size.
        inner_steps: inner-loop steps per task.
        outer_lr: Adam's step size for the initialisation (and the learned rates).
        adapt: parameters the inner loop updates (``None``: all; ``"head"``: ANIL).
        learn_inner_lr: learn one inner rate per adapted tensor and step (Meta-SGD / MAML++).
        batched, compile: see :func:`xlmeta_lab.meta.meta_gradient`.
        start: where each task's inner loop starts (``None``: the initialisation; a
            :class:`~xlmeta_lab.meta.prototypes.PrototypeHead`: its head set from the support set's prototypes),
            in meta-training and in :meth:`adapt`.
        distributed: every process of a ``torch.distributed`` group passes the same tasks to :meth:`step`,
            computes the meta-gradient of its share and all-reduces it, so all take the same outer step
            (:mod:`xlmeta_lab.meta.distributed`).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> learner = MetaLearner(nn.Linear(1, 1), nn.functional.mse_loss, inner_lr=0.1)
        >>> task = ((torch.ones(4, 1), torch.zeros(4, 1)), (torch.ones(4, 1), torch.zeros(4, 1)))
        >>> loss = learner.step([task])
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        method: Algorithm = "maml",
        inner_lr: float = 0.1,
        inner_steps: int = 1,
        outer_lr: float = 1e-3,
        adapt: AdaptSpec = None,
        learn_inner_lr: bool = False,
        batched: Batched = "auto",
        compile: bool = False,
        distributed: bool = False,
        start: TaskStart | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn
        self.method = method
        self.inner_steps = inner_steps
        self.adapt_spec = adapt
        self.batched = batched
        self.compile = compile
        self.distributed = distributed
        self.start = start
        adapted = select_adapted(trainable_params(model), adapt)
        self.inner_rates = LearnedInnerRates(adapted, inner_steps, inner_lr) if learn_inner_lr else None
        self.inner_lr = inner_lr
        self.optimizer = torch.optim.Adam(self.parameters(), lr=outer_lr)

    def step(self, tasks: Sequence[Task]) -> MetaGradient:
        """One meta-update from a batch of tasks; returns the meta-gradient and the mean query loss."""
        engine = distributed_meta_gradient if self.distributed else meta_gradient_and_loss
        result = engine(
            self.model,
            self.loss_fn,
            tasks,
            method=self.method,
            inner_lr=self.inner_rates if self.inner_rates is not None else self.inner_lr,
            inner_steps=self.inner_steps,
            adapt=self.adapt_spec,
            batched=self.batched,
            compile=self.compile,
            start=self.start,
        )
        named = dict(self.model.named_parameters())
        if self.inner_rates is not None:
            named.update(self.inner_rates.named_rates())
        self.optimizer.zero_grad(set_to_none=True)
        for name, grad in result.grads.items():
            if named[name].requires_grad:
                named[name].grad = grad
        self.optimizer.step()
        return result

    def adapt(self, support: tuple[Any, Any], inner_steps: int | None = None) -> Params:
        """Weights fine-tuned on ``support`` from the current initialisation (the model is unchanged)."""
        steps = inner_steps or self.inner_steps
        rates = (
            self.inner_rates if self.inner_rates is not None and steps <= self.inner_steps else self.inner_lr
        )
        return adapt_params(
            self.model,
            self.loss_fn,
            support,
            inner_lr=rates,
            inner_steps=steps,
            adapt=self.adapt_spec,
            start=self.start,
        )
