"""Notebook 04's exercises on heads and chance: write the prototype head, and diagnose a result at chance.

Each check names the usual mistake behind a wrong answer (a missing factor 2, the bias's sign, a norm that is not
squared, the mean over all sentences instead of one topic's; a verdict against 1/N where the majority topic is the
line to beat, a training loss at ln N read as learning), not just that the numbers differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from xlmeta_lab.meta.prototypes import prototype_head
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, compare_tensors, exercise

# -- exercise 5: the prototype head -------------------------------------------------------------------


def _head_cases() -> list[tuple[Tensor, Tensor, int]]:
    generator = torch.Generator().manual_seed(26)
    cases = [(torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0, 1]), 2)]
    cases.append((torch.randn(12, 5, generator=generator, dtype=torch.float64), torch.arange(12) % 3, 3))
    labels = torch.tensor([2, 0, 2, 1, 0, 1, 2])  # unordered, unequal counts per class
    cases.append((torch.randn(7, 4, generator=generator, dtype=torch.float64), labels, 3))
    return cases


def _head_mistakes(features: Tensor, labels: Tensor, n_classes: int) -> dict[str, tuple[Tensor, Tensor]]:
    """What the usual wrong answers return, as (weight, bias), each named by what went wrong."""
    weight, bias = prototype_head(features, labels, n_classes)
    mu = weight / 2
    overall = features.mean(0).expand_as(mu)
    summed = torch.stack([features[labels == c].sum(0) for c in range(n_classes)])
    return {
        "W = mu: the weight is twice the prototype (2 mu_c . x comes from expanding -||x - mu_c||^2)": (
            mu,
            bias,
        ),
        "b = +||mu||^2: the bias is minus the squared norm": (weight, -bias),
        "b = -||mu||: the norm in the bias is squared": (weight, -(mu * mu).sum(-1).sqrt()),
        "every row is the mean of all support sentences: take each topic's own sentences": (
            2 * overall,
            -(overall * overall).sum(-1),
        ),
        "sum instead of mean: mu_c is the *mean* embedding of topic c": (
            2 * summed,
            -(summed * summed).sum(-1),
        ),
    }


@exercise(
    "04.5",
    "the prototype head",
    hints=(
        "a prototypical network sends a sentence to its nearest class mean; write that distance as a linear "
        "layer and read off its weight and bias",
        "-||x - mu_c||^2 = 2 mu_c . x - ||mu_c||^2 - ||x||^2, and the last term is the same for every class: "
        "W_c = 2 mu_c, b_c = -||mu_c||^2, with mu_c the mean of the features of class c",
        "mu = torch.stack([features[labels == c].mean(0) for c in range(n_classes)]); "
        "return 2 * mu, -(mu ** 2).sum(1)",
    ),
    solution=prototype_head,
)
def check_prototype_head(answer: Callable[[Tensor, Tensor, int], tuple[Tensor, Tensor]]) -> str:
    for features, labels, n_classes in _head_cases():
        got = answer(features.clone(), labels.clone(), n_classes)
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise ExerciseFailed(f"return (weight [n_classes, D], bias [n_classes]); got {got!r:.80}")
        weight, bias = prototype_head(features, labels, n_classes)
        mistakes = _head_mistakes(features, labels, n_classes)
        for what, index, expected in (("weight", 0, weight), ("bias", 1, bias)):
            named = {
                text: pair[index]
                for text, pair in mistakes.items()
                if not torch.allclose(pair[index], expected)
            }
            compare_tensors(got[index], expected, what=f"the {what}", mistakes=named)
    return "weight and bias match on 3 support sets (one with topics unordered and of unequal sizes)"


# -- exercise 6: diagnose a result at chance ----------------------------------------------------------

#: The diagnoses, in the order they must be ruled out: a model that did not learn its source task cannot transfer,
#: and one that transfers nothing cannot be rescued by choosing its fine-tuning budget.
DIAGNOSES = ("training", "transfer", "fine-tuning", "none")


def diagnose(evidence: Mapping[str, Any]) -> str:
    """Why is French accuracy at chance? ``evidence`` holds ``n_way``, ``majority`` (the test set's majority
    share), ``final_loss`` (training loss at the end), ``source_accuracy`` (held-out source sentences after
    adaptation), ``zero_shot`` (joint with no French), ``accuracy`` (French at K after fine-tuning) and
    ``steps`` (the budget the holdout chose). Returns one of :data:`DIAGNOSES`."""
    uniform_loss = math.log(evidence["n_way"])
    if evidence["final_loss"] >= 0.98 * uniform_loss or (
        evidence["source_accuracy"] <= evidence["majority"]
    ):
        return "training"
    if evidence["accuracy"] <= evidence["majority"] and evidence["zero_shot"] <= evidence["majority"]:
        return "transfer"
    if evidence["accuracy"] < evidence["zero_shot"] and evidence["steps"] > 0:
        return "fine-tuning"
    return "none"


def _evidence(**changes: Any) -> dict[str, Any]:
    healthy = {
        "n_way": 7,
        "majority": 0.25,
        "final_loss": 1.2,
        "source_accuracy": 0.55,
        "zero_shot": 0.30,
        "accuracy": 0.45,
        "steps": 5,
    }
    return {**healthy, **changes}


#: Each case: the evidence, the right diagnosis, and what a wrong answer usually overlooked.
_DIAGNOSIS_CASES: tuple[tuple[dict[str, Any], str, str], ...] = (
    (_evidence(), "none", "45% at K is above the majority topic's 25%: nothing is at chance here"),
    (
        _evidence(final_loss=math.log(7), source_accuracy=0.31, accuracy=0.16),
        "training",
        "a final training loss of ln 7 is a uniform guess: the model learned nothing, whatever else you check",
    ),
    (
        _evidence(final_loss=2.08, source_accuracy=0.26, accuracy=0.2),
        "training",
        "a final loss of 2.08 is *above* ln 7 = 1.95: worse than a uniform guess, so the source task was not "
        "learned (a check for 'close to ln N' misses a loss on the far side of it)",
    ),
    (
        _evidence(source_accuracy=0.22, accuracy=0.2),
        "training",
        "22% on held-out *source* sentences is below the majority topic: the source task was not learned",
    ),
    (
        _evidence(zero_shot=0.2, accuracy=0.22),
        "transfer",
        "the source task was learned, but French at K and zero-shot are both at or below the majority line: "
        "compare against the majority topic (25%), not 1/N (14%)",
    ),
    (
        _evidence(zero_shot=0.32, accuracy=0.17, steps=40),
        "fine-tuning",
        "fine-tuning took it from 32% with no French step to 17%: the budget hurt (steps = 0 belongs in the grid)",
    ),
    (
        _evidence(zero_shot=0.32, accuracy=0.3, steps=0),
        "none",
        "with steps = 0 chosen, no fine-tuning happened, so fine-tuning cannot be the cause",
    ),
)


@exercise(
    "04.6",
    "diagnose a result at chance",
    hints=(
        "rule causes out in order: did the model learn the source task, does anything carry over with no "
        "French at all, did fine-tuning help or hurt",
        "'training' if the final loss is at least 98% of ln N (a uniform guess, or worse) or held-out source "
        "accuracy <= majority share; "
        "else 'transfer' if both K-shot and zero-shot accuracy <= majority; else 'fine-tuning' if accuracy < "
        "zero-shot and steps > 0; else 'none'",
        "ln_n = math.log(evidence['n_way']); check final_loss >= 0.98 * ln_n first, and compare "
        "accuracies with evidence['majority'], not 1 / n_way",
    ),
    solution=diagnose,
)
def check_diagnose(answer: Callable[[Mapping[str, Any]], str]) -> str:
    for evidence, right, overlooked in _DIAGNOSIS_CASES:
        got = answer(dict(evidence))
        if got not in DIAGNOSES:
            raise ExerciseFailed(f"answer one of {', '.join(DIAGNOSES)}; got {got!r}")
        if got != right:
            raise ExerciseFailed(f"with {evidence} you said {got!r}, expected {right!r}: {overlooked}")
    return f"{len(_DIAGNOSIS_CASES)} cases diagnosed, one per cause and two where nothing is wrong"
