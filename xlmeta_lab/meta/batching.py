"""Can this batch of tasks run in one ``torch.func.vmap`` call, or must the engine loop over it?

``vmap`` runs every task's inner loop at once and is much faster for small models, but not every
model allows it, and what stops one is easier to say before trying than to read from an error deep
inside functorch. So the engine asks :func:`vmap_obstacle` first, stacks the tasks only if nothing is
known to stop them, and if vmap fails anyway it warns once, remembers the model, and loops from then on.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from xlmeta_lab.meta.params import stack_trees, tree_to

#: ``True`` insists on vmap, ``False`` always loops, ``"auto"`` uses vmap where it is known to work.
Batched = bool | Literal["auto"]

#: What a model that cannot run under vmap raises inside it (no batching rule, an in-place write, ...).
VMAP_ERRORS = (RuntimeError, NotImplementedError, ValueError)

#: Normalisation layers whose fused kernels give wrong second-order gradients under vmap: with per-task
#: weights, ``nn.LayerNorm``'s double backward differed from plain autograd by 0.17 (float64, torch 2.13;
#: see pytorch/functorch#534). A composite LayerNorm (``xlmeta_lab.models.tagger.LayerNorm``) is exact.
_FUSED_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)

# Models that failed under vmap once are not tried again (``batched="auto"``).
_VMAP_FAILED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def vmap_obstacle(model: nn.Module, method: str = "maml") -> str | None:
    """Why ``model`` should not run under ``vmap`` for ``method``, or ``None`` if nothing is known to stop it.

    Recurrent layers call fused kernels with no batching rule; BatchNorm that tracks running statistics
    writes to a buffer in place, which vmap forbids; fused normalisation kernels give wrong second-order
    gradients under vmap (measured, see ``_FUSED_NORMS``), so second-order MAML loops over them.
    """
    if model in _VMAP_FAILED:
        return "it failed under vmap earlier in this session"
    for name, module in model.named_modules():
        label = name or "the model"
        if isinstance(module, nn.RNNBase):
            return f"{label} is a {type(module).__name__} (fused recurrent kernel, no vmap rule)"
        if (
            isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.track_running_stats
            and module.training
        ):
            return f"{label} is a BatchNorm that updates running statistics in place"
        has_affine = any(p.requires_grad for p in module.parameters(recurse=False))
        if method == "maml" and isinstance(module, _FUSED_NORMS) and has_affine:
            return (
                f"{label} is a fused {type(module).__name__}, whose second-order gradient under vmap is wrong "
                "in PyTorch (use xlmeta_lab.models.tagger.LayerNorm, a composite LayerNorm, to batch)"
            )
    return None


def stack_for_vmap(
    model: nn.Module, items: Sequence[Any], method: str, batched: Batched, device: torch.device
) -> Any | None:
    """``items`` (tasks, or support sets) stacked along a leading task axis on ``device`` if they will run
    under vmap, else ``None``: the caller loops over them."""
    if batched not in (True, False, "auto"):
        raise ValueError(f"batched must be True, False or 'auto', got {batched!r}")
    if batched is False:
        return None
    obstacle = vmap_obstacle(model, method)
    if batched == "auto" and (obstacle is not None or len(items) < 2):
        return None
    if batched is True and obstacle is not None and model not in _VMAP_FAILED:
        raise ValueError(f"batched=True, but {obstacle}")
    try:
        stacked = stack_trees(list(items))
    except RuntimeError as error:  # torch.stack: tensors of different shapes
        if batched is True:
            raise ValueError(f"batched=True needs tasks of equal shapes (pad them): {error}") from error
        return None
    return tree_to(stacked, device)


def give_up_on_vmap(model: nn.Module, error: BaseException) -> None:
    """Remember that ``model`` failed under vmap (``"auto"`` will not try again) and say why, once."""
    _VMAP_FAILED.add(model)
    warnings.warn(
        f"torch.func.vmap could not run {type(model).__name__} ({type(error).__name__}: "
        f"{str(error).splitlines()[0][:160]}); using the per-task loop from now on.",
        stacklevel=3,
    )
