"""Few-shot fine-tuning from any initialisation: the test-time side of meta-learning.

Fine-tuning is the same plain-SGD update as MAML's inner loop, so a meta-learned initialisation is adapted
the way it was trained to be. Training (validation episodes) and the few-shot protocol both call these;
neither reaches into the other.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder, bucket_draws
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled, stack_sets, take_sentences
from xlmeta_lab.episodes.word_types import SpelledOnce, spell_once
from xlmeta_lab.experiments.config import ProtocolConfig
from xlmeta_lab.meta import adapt_trajectories, adapt_trajectory, call_model
from xlmeta_lab.meta.params import AdaptSpec, Params, select_adapted, trainable_params, tree_to
from xlmeta_lab.meta.prototypes import task_start
from xlmeta_lab.models.tagger import SpelledOnceTagger, Tagger, tagging_loss

#: Sentences per length bucket of a support set (:func:`fine_tuning_sets`): K = 50 is read as 4 buckets of
#: 12 or 13, each padded to its own longest sentence instead of the longest of all.
SUPPORT_BUCKET = 16
#: Support sets of at most this many sentences are fine-tuned at every rate of a grid in one vmap call
#: (:func:`finetune_rates`). ``xlmeta bench --protocol`` measured it against one call per rate at 1 thread: 1.6x
#: faster at K = 1, 1.2x at K = 5, and 0.85x at K = 20, where a batch of rates x draws no longer pays. Stacked sets
#: only: a tagger that reads characters is fine-tuned on its sets spelled once, one call per rate. The bench at
#: 0e675d9: at K = 5 that is faster (1.73x over stacked per rate, all rates together 1.05x); at K = 1, where
#: notebook 03's budget search does not go, together would be a little faster (1.27x against 1.16x).
RATES_TOGETHER_UP_TO = 5


class FineTuningDiverged(ValueError):
    """Fine-tuning ended with a NaN or infinite loss: the weights still tag every word, but what they score is
    no result. The message names what was fine-tuned and the budget (steps, lr)."""


def finetune(
    model: nn.Module, support: Labeled, *, lr: float, steps: int, adapt: AdaptSpec = None, head: str = "zero"
) -> Params:
    """``steps`` SGD steps with step size ``lr`` on the whole support set, from ``model``'s weights.

    The same update as MAML's inner loop, so a meta-learned initialisation is fine-tuned the way it was
    trained to be, from the same ``head`` (``"prototype"``: the support set's class prototypes, see
    :mod:`xlmeta_lab.meta.prototypes`). Returns the adapted weights; ``model`` itself is unchanged. Weights that are no longer finite
    are refused (:class:`FineTuningDiverged`), so a diverged adaptation is never scored, saved or plotted.
    """
    weights = {
        n: t[0]
        for n, t in finetune_batch(
            model, stack_sets([support]), lr=lr, record=(steps,), adapt=adapt, head=head
        )[steps].items()
    }
    broken = [n for n, t in weights.items() if not torch.isfinite(t).all()]
    if broken:
        raise FineTuningDiverged(
            f"fine-tuning for {steps} steps at lr={lr} left non-finite weights ({', '.join(broken[:3])}"
            f"{', ...' if len(broken) > 3 else ''}), so the adapted model has no score; fine-tune with a smaller "
            "learning rate or fewer steps"
        )
    return weights


def finetune_batch(
    model: nn.Module,
    supports: Labeled | Sequence[Labeled] | SpelledOnce,
    *,
    lr: float,
    record: Sequence[int],
    adapt: AdaptSpec = None,
    batched: bool | Literal["auto"] = "auto",
    head: str = "zero",
) -> dict[int, Params]:
    """Fine-tune ``model`` on ``D`` support sets at once; weights after each step count in ``record``.

    ``supports`` holds the sets stacked on a leading axis (e.g. ``word_ids [D, K, L]``), or the same sets in
    length buckets, each stacked so (:func:`~xlmeta_lab.episodes.encoders.bucket_draws`), or spelled once
    (:func:`~xlmeta_lab.episodes.word_types.spell_once`): then every step reads each bucket at its own length
    (and each spelling once) and takes the loss over all of a draw's words, the same mean as on the stacked
    sets. The draws are independent tasks, so they go through the engine's
    :func:`~xlmeta_lab.meta.adapt_trajectory` together (one ``vmap`` call where the model allows it).
    Returns ``{steps: {name: tensor [D, ...]}}``, so one trajectory serves every candidate step budget.
    ``head="prototype"`` starts each draw from its own class prototypes, so ``record`` holding 0 scores the
    prototype classifier before any step.
    """
    if not isinstance(supports, Labeled):
        if head != "zero":
            raise ValueError(
                f"head={head!r} starts from the whole support set: give it stacked, not in buckets"
            )
        return _finetune_sets(model, supports, lr=lr, record=record, adapt=adapt, batched=batched)
    supports = tree_to(supports, next(model.parameters()).device)
    draws = [take_sentences(supports, d) for d in range(supports.y.shape[0])]
    return adapt_trajectory(
        model,
        tagging_loss,
        draws,
        inner_lr=lr,
        record=record,
        adapt=adapt,
        batched=batched,
        start=task_start(head),
    )


def finetune_rates(
    model: nn.Module,
    supports: Labeled | Sequence[Labeled] | SpelledOnce,
    *,
    lrs: Sequence[float],
    record: Sequence[int],
    adapt: AdaptSpec = None,
    head: str = "zero",
) -> dict[float, dict[int, Params]]:
    """:func:`finetune_batch` at every rate of ``lrs``: ``{lr: {steps: {name: tensor [D, ...]}}}``.

    Small stacked support sets (at most :data:`RATES_TOGETHER_UP_TO` sentences each) go through the engine's
    :func:`~xlmeta_lab.meta.adapt_trajectories`, all rates x draws as one batch of tasks; larger ones, and sets in
    length buckets or spelled once, one call per rate, which is faster there. The numbers agree to float rounding
    either way.
    """
    small = isinstance(supports, Labeled) and supports.y.shape[1] <= RATES_TOGETHER_UP_TO
    if not small or len(set(lrs)) == 1:
        return {
            lr: finetune_batch(model, supports, lr=lr, record=record, adapt=adapt, head=head) for lr in lrs
        }
    supports = tree_to(supports, next(model.parameters()).device)
    draws = [take_sentences(supports, d) for d in range(supports.y.shape[0])]
    return adapt_trajectories(
        model, tagging_loss, draws, inner_lrs=lrs, record=record, adapt=adapt, start=task_start(head)
    )


def _finetune_sets(
    model: nn.Module,
    supports: Sequence[Labeled] | SpelledOnce,
    *,
    lr: float,
    record: Sequence[int],
    adapt: AdaptSpec,
    batched: bool | Literal["auto"],
) -> dict[int, Params]:
    """:func:`finetune_batch` on support sets in length buckets, or spelled once (:func:`fine_tuning_sets`): the
    engine adapts a view of ``model`` that reads a draw's sets one by one (its weights named ``model.<name>``),
    with the loss over all their words."""
    supports = tree_to(supports, next(model.parameters()).device)
    view: nn.Module
    if isinstance(supports, SpelledOnce):
        view, sets = SpelledOnceTagger(model), supports.sets
        inputs = [supports.draw_inputs(d) for d in range(sets[0].y.shape[0])]
    else:
        view, sets = _Buckets(model), supports
        inputs = [tuple(tuple(t[d] for t in b.x) for b in sets) for d in range(sets[0].y.shape[0])]
    draws = [(x, tuple(b.y[d] for b in sets)) for d, x in enumerate(inputs)]
    chosen = set(select_adapted(trainable_params(model), adapt))
    trajectory = adapt_trajectory(
        view,
        _buckets_loss,
        draws,
        inner_lr=lr,
        record=record,
        adapt=lambda name: name.removeprefix("model.") in chosen,
        batched=batched,
    )
    return {
        steps: {name.removeprefix("model."): t for name, t in weights.items()}
        for steps, weights in trajectory.items()
    }


def padding_reach(model: nn.Module) -> int | None:
    """How many padding positions past a sentence's last word can change what ``model`` says about its words;
    ``None`` where any can (a BiLSTM reads the sentence from its padded end) or the model is not known here.

    The word tagger's padding positions are not zeros (they carry the input projection's bias), and each of its
    context convolutions reads ``kernel_size // 2`` positions to the right: a word sees that far past the end of
    its sentence through each layer. So a sentence padded by at least that many positions reads the same
    however much more padding follows, which is what lets :func:`~xlmeta_lab.episodes.encoders.bucket_draws`
    pad each bucket to its own length without changing a number beyond float noise.
    """
    if not isinstance(model, Tagger):
        return None
    config = model.config
    if config.context == "conv":
        return config.context_layers * (config.kernel_size // 2)
    return 0 if config.context == "none" else None


def fine_tuning_sets(
    draws: Sequence[Sequence[Sentence]],
    encoder: SentenceEncoder,
    model: nn.Module,
    head: str,
    stacked: Labeled,
) -> Labeled | list[Labeled] | SpelledOnce:
    """The draws as fine-tuning reads them, as cheaply as the model allows: sets of more than
    :data:`SUPPORT_BUCKET` sentences in length buckets (:func:`~xlmeta_lab.episodes.encoders.bucket_draws`), and
    for a tagger that reads characters, every set with each draw's words spelled once
    (:func:`~xlmeta_lab.episodes.word_types.spell_once`). Both need the model's reach into padding to be known
    and each draw to start from the model's own head; otherwise ``stacked`` (all draws padded to one length) as
    it is. A prototype head is computed from the whole support set at once, and a BiLSTM reads every padding
    position, so those are never split."""
    sets = length_buckets(draws, encoder, model, head, stacked)
    if padding_reach(model) is None or head != "zero" or getattr(model, "chars", None) is None:
        return sets
    return spell_once(sets if isinstance(sets, list) else [sets])


def length_buckets(
    draws: Sequence[Sequence[Sentence]],
    encoder: SentenceEncoder,
    model: nn.Module,
    head: str,
    stacked: Labeled,
) -> Labeled | list[Labeled]:
    """The draws in length buckets (:func:`~xlmeta_lab.episodes.encoders.bucket_draws`) where
    :func:`fine_tuning_sets` cuts them, sets of more than :data:`SUPPORT_BUCKET` sentences for a model whose reach
    into padding is known and each draw starting from the model's own head; else ``stacked``. Before words were
    spelled once, these were the sets fine-tuning read (``xlmeta bench --protocol`` times them as such)."""
    reach = padding_reach(model)
    if reach is None or head != "zero" or len(draws[0]) <= SUPPORT_BUCKET:
        return stacked
    return bucket_draws(draws, encoder, reach=reach, size=SUPPORT_BUCKET)


class _Buckets(nn.Module):
    """``model`` read on a support set given as length buckets: one call per bucket, the logits of each."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *buckets: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return tuple(self.model(*x) for x in buckets)


def _buckets_loss(logits: Sequence[Tensor], tags: Sequence[Tensor]) -> Tensor:
    """:func:`tagging_loss` over the words of every bucket together: their summed loss over their count."""
    words = sum((t != IGNORE_INDEX).sum() for t in tags)
    return sum(tagging_loss(out, t, reduction="sum") for out, t in zip(logits, tags)) / words


@torch.no_grad()
def diverged_draws(model: nn.Module, weights: Params, supports: Labeled) -> list[int]:
    """The draws (positions on the leading axis of ``weights`` and ``supports``) whose loss on their own support
    set is NaN or infinite after fine-tuning: the way to tell a diverged fine-tuning from a poor one, since both
    give an accuracy."""
    device = next(iter(weights.values())).device
    bad = []
    for d in range(supports.y.shape[0]):
        support = tree_to(take_sentences(supports, d), device)
        loss = tagging_loss(call_model(model, {n: t[d] for n, t in weights.items()}, support.x), support.y)
        if not math.isfinite(loss.item()):
            bad.append(d)
    return bad


def require_finite(
    model: nn.Module, weights: Params, supports: Labeled, *, lr: float, steps: int, what: str
) -> None:
    """Raise :class:`FineTuningDiverged`, naming ``what`` (e.g. the condition and K) and the budget, when any
    draw's fine-tuning ended with a non-finite loss (see :func:`diverged_draws`)."""
    bad = diverged_draws(model, weights, supports)
    if bad:
        raise FineTuningDiverged(
            f"{what}: fine-tuning for {steps} steps at lr={lr} ended with a non-finite loss on the support set "
            f"in {len(bad)} of {supports.y.shape[0]} draw(s), so it has no score; fine-tune with a smaller "
            "learning rate or fewer steps (fewshot: --lrs, --steps; evaluate: the profile's finetune_lrs)"
        )


def report_diverged_budgets(
    name: str, diverged: set[tuple[float, int]], protocol: ProtocolConfig, *, chosen_from: bool
) -> None:
    """A budget whose fine-tuning diverged is no candidate: say which were left out, or refuse when none is left."""
    if not diverged:
        return
    budgets = ", ".join(f"lr={lr} steps={steps}" for lr, steps in sorted(diverged))
    if not chosen_from:
        raise FineTuningDiverged(
            f"{name}: fine-tuning ended with a non-finite loss on the support set at every budget of the grid "
            f"(lrs {', '.join(map(str, protocol.lrs))}; steps {', '.join(map(str, protocol.steps))}), so no "
            "budget can be chosen and nothing scored; give smaller learning rates or fewer steps (fewshot: --lrs, "
            "--steps; evaluate: the profile's finetune_lrs, finetune_steps)"
        )
    warnings.warn(
        f"{name}: fine-tuning ended with a non-finite loss on the support set at {budgets}; left out of the "
        "budget choice",
        stacklevel=3,
    )
