"""The measurements the open-ended exercises hand to the learner: one call, one honest number.

An open-ended exercise asks the learner to decide what to measure (which inner-loop settings, which source
languages, which adaptation budgets) and to draw a conclusion; it does not ask them to rewrite the protocol. So
each measurement here is a closure over a notebook's data and settings that trains or adapts with the package's
own code and scores on the French *holdout* (never a test set: a choice made on a test score is a defect). The
checks call the same closure again on one of the learner's points, so a number typed in, or measured some
other way, does not pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import torch
from torch import nn

from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder
from xlmeta_lab.episodes.samplers import support_draws
from xlmeta_lab.experiments.adaptation.finetune import finetune
from xlmeta_lab.experiments.adaptation.scoring import token_accuracy
from xlmeta_lab.experiments.studies.conditions import train_conditions
from xlmeta_lab.experiments.studies.toy import ToySetup

#: A measurement of the toy: French holdout accuracy of MAML trained with these inner-loop settings.
InnerLoopMeasure = Callable[[int, float], float]
#: A measurement of the toy: French holdout accuracy of MAML trained on these source languages.
SourcesMeasure = Callable[[Mapping[str, Sequence[Sentence]]], float]
#: French holdout accuracy of an initialisation after ``steps`` fine-tuning steps on support draw ``draw``.
BudgetMeasure = Callable[[int, int], float]


def adapted_accuracy(
    model: nn.Module,
    encoder: SentenceEncoder,
    support: Sequence[Sentence],
    scored: Sequence[Sentence],
    *,
    lr: float,
    steps: int,
) -> float:
    """Token accuracy on ``scored`` after ``steps`` SGD steps of size ``lr`` on ``support`` (0 steps: as it is)."""
    weights = finetune(model, encoder.encode(list(support)), lr=lr, steps=steps) if steps else None
    return token_accuracy(model, weights, encoder.encode(list(scored)))


#: Accuracies already measured, by everything a toy measurement depends on: the same training twice (exercise 6's
#: en + es is exercise 5's default cell) is deterministic, so it is measured once.
_MEASURED: dict[tuple, float] = {}


def toy_maml_accuracy(
    setup: ToySetup, training: Mapping[str, Sequence[Sentence]], *, k: int, lr: float, steps: int, **knobs: float
) -> float:
    """Train MAML on ``training`` (``knobs`` override the toy's train config, e.g. ``inner_steps``), adapt it to
    the first K-sentence French draw with the given budget, and score it on the French holdout."""
    config = replace(setup.train_config, **knobs)
    (support,) = support_draws(setup.splits.support_pool, k, 1, setup.protocol.draw_seed)
    key = (
        repr(config),
        tuple(sorted((name, tuple(s.sent_id for s in sentences)) for name, sentences in training.items())),
        tuple(s.sent_id for s in support),
        tuple(s.sent_id for s in setup.splits.holdout),
        k,
        lr,
        steps,
        setup.seeds[0],
    )
    if key not in _MEASURED:
        trained = train_conditions(training, config, ["maml"], setup.seeds[:1], scratch=False, device="cpu")
        model = trained.conditions[0].models[0]
        _MEASURED[key] = adapted_accuracy(model, trained.encoder, support, setup.splits.holdout, lr=lr, steps=steps)
    return _MEASURED[key]


def inner_loop_measure(setup: ToySetup, *, k: int, lr: float, steps: int) -> InnerLoopMeasure:
    """``measure(inner_steps, inner_lr)``: MAML trained on the toy's en + es with that inner loop, adapted to
    French from K sentences with a fixed budget, scored on the holdout."""

    def measure(inner_steps: int, inner_lr: float) -> float:
        if int(inner_steps) != inner_steps or inner_steps < 1 or not inner_lr > 0:
            raise ValueError(f"inner_steps must be a whole number >= 1 and inner_lr > 0; got {inner_steps}, {inner_lr}")
        return toy_maml_accuracy(
            setup, setup.training, k=k, lr=lr, steps=steps, inner_steps=int(inner_steps), inner_lr=float(inner_lr)
        )

    return measure


def sources_measure(setup: ToySetup, *, k: int, lr: float, steps: int) -> SourcesMeasure:
    """``measure(training)``: MAML trained on the source languages ``{name: sentences}`` (any you make),
    adapted to the toy's French from K sentences with a fixed budget, scored on the holdout."""

    def measure(training: Mapping[str, Sequence[Sentence]]) -> float:
        if not training or any(not sentences for sentences in training.values()):
            raise ValueError("give at least one source language, each with sentences")
        if "fr" in training:
            raise ValueError("French is the target: training on it would measure nothing about transfer")
        return toy_maml_accuracy(setup, training, k=k, lr=lr, steps=steps)

    return measure


def budget_measure(
    model: nn.Module,
    encoder: SentenceEncoder,
    support_pool: Sequence[Sentence],
    holdout: Sequence[Sentence],
    *,
    k: int,
    lr: float,
    draw_seed: int,
) -> BudgetMeasure:
    """``measure(steps, draw)``: ``model`` fine-tuned for ``steps`` steps at ``lr`` on French support draw
    ``draw`` of K sentences (the protocol's draws), scored on the holdout."""

    def measure(steps: int, draw: int) -> float:
        if int(steps) != steps or steps < 0 or int(draw) != draw or draw < 0:
            raise ValueError(f"steps and draw must be whole numbers >= 0; got {steps}, {draw}")
        support = support_draws(support_pool, k, int(draw) + 1, draw_seed)[int(draw)]
        with torch.no_grad() if steps == 0 else torch.enable_grad():
            return adapted_accuracy(model, encoder, support, holdout, lr=lr, steps=int(steps))

    return measure
