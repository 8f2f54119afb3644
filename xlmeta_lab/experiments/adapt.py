"""Few-shot fine-tuning from any initialisation: the test-time side of meta-learning.

Fine-tuning is the same plain-SGD update as MAML's inner loop, so a meta-learned initialisation is adapted
the way it was trained to be. Training (validation episodes) and the few-shot protocol both call these;
neither reaches into the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import nn

from xlmeta_lab.episodes.tensors import Labeled, stack_sets, take_sentences
from xlmeta_lab.meta import adapt_trajectory
from xlmeta_lab.meta.params import AdaptSpec, Params, tree_to
from xlmeta_lab.models.tagger import tagging_loss


def finetune(model: nn.Module, support: Labeled, *, lr: float, steps: int, adapt: AdaptSpec = None) -> Params:
    """``steps`` SGD steps with step size ``lr`` on the whole support set, from ``model``'s weights.

    The same update as MAML's inner loop, so a meta-learned initialisation is fine-tuned the way it was
    trained to be. Returns the adapted weights; ``model`` itself is unchanged.
    """
    return {
        n: t[0]
        for n, t in finetune_batch(model, stack_sets([support]), lr=lr, record=(steps,), adapt=adapt)[
            steps
        ].items()
    }


def finetune_batch(
    model: nn.Module,
    supports: Labeled,
    *,
    lr: float,
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
) -> dict[int, Params]:
    """Fine-tune ``model`` on ``D`` support sets at once; weights after each step count in ``record``.

    ``supports`` holds the sets stacked on a leading axis (e.g. ``word_ids [D, K, L]``). The draws are
    independent tasks, so they go through the engine's :func:`~xlmeta_lab.meta.adapt_trajectory` together
    (one ``vmap`` call where the model allows it). Returns ``{steps: {name: tensor [D, ...]}}``, so one
    trajectory serves every candidate step budget.
    """
    supports = tree_to(supports, next(model.parameters()).device)
    draws = [take_sentences(supports, d) for d in range(supports.y.shape[0])]
    return adapt_trajectory(
        model, tagging_loss, draws, inner_lr=lr, record=record, adapt=adapt, batched=batched
    )
