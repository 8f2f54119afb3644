"""The functional meta-learning engine: MAML, first-order MAML, Reptile and ANIL on any ``nn.Module``.

Start with :func:`meta_gradient`; :class:`MetaLearner` wraps it with an outer optimiser.
"""

from __future__ import annotations

from .attention import ensure_double_backward_attention
from .device import resolve_device
from .learner import MetaLearner
from .maml import (
    METHODS,
    MetaGradient,
    adapt_params,
    adapt_trajectory,
    meta_gradient,
    meta_gradient_and_loss,
    vmap_obstacle,
)
from .params import call_model, select_adapted, trainable_params
from .rates import LearnedInnerRates

__all__ = [
    "METHODS",
    "LearnedInnerRates",
    "MetaGradient",
    "MetaLearner",
    "adapt_params",
    "adapt_trajectory",
    "call_model",
    "ensure_double_backward_attention",
    "meta_gradient",
    "meta_gradient_and_loss",
    "resolve_device",
    "select_adapted",
    "trainable_params",
    "vmap_obstacle",
]
