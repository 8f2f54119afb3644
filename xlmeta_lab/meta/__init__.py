"""The functional meta-learning engine: MAML, first-order MAML, Reptile and ANIL on any ``nn.Module``.

Start with :func:`meta_gradient`; :class:`MetaLearner` wraps it with an outer optimiser. A :class:`Task`
is a support set and a query set; :func:`adapt_params` adapts to a new one at test time.
:func:`distributed_meta_gradient` shares a meta-batch among the processes of a ``torch.distributed`` group.
"""

from __future__ import annotations

from xlmeta_lab.meta.adapt import adapt_params, adapt_trajectories, adapt_trajectory
from xlmeta_lab.meta.attention import ensure_double_backward_attention
from xlmeta_lab.meta.batching import vmap_obstacle
from xlmeta_lab.meta.device import resolve_device
from xlmeta_lab.meta.distributed import distributed_meta_gradient
from xlmeta_lab.meta.learner import MetaLearner
from xlmeta_lab.meta.maml import ALGORITHMS, MetaGradient, meta_gradient, meta_gradient_and_loss
from xlmeta_lab.meta.params import call_model, select_adapted, trainable_params
from xlmeta_lab.meta.rates import LearnedInnerRates
from xlmeta_lab.meta.task import LossFn, Task

__all__ = [
    "ALGORITHMS",
    "LearnedInnerRates",
    "LossFn",
    "MetaGradient",
    "MetaLearner",
    "Task",
    "adapt_params",
    "adapt_trajectories",
    "adapt_trajectory",
    "call_model",
    "distributed_meta_gradient",
    "ensure_double_backward_attention",
    "meta_gradient",
    "meta_gradient_and_loss",
    "resolve_device",
    "select_adapted",
    "trainable_params",
    "vmap_obstacle",
]
