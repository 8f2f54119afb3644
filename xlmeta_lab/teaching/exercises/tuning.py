"""Open-ended exercises that train: tune MAML's inner loop and design a negative-transfer experiment on the toy
languages (notebook 02), and read the inner rates Meta-SGD learns (notebook 06).

The learner decides what to run; the checks (:mod:`xlmeta_lab.teaching.exercises.findings`) accept any sound
design and refuse numbers that were not measured, designs that cannot answer the question, and conclusions the
learner's own numbers contradict. The toy's measurements (:mod:`xlmeta_lab.teaching.exercises.measures`) are
handed in by the notebook, wrapped in :class:`Recorded` here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.meta import MetaLearner
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, exercise
from xlmeta_lab.teaching.exercises.findings import Recorded, fields, require_best, require_claim
from xlmeta_lab.teaching.exercises.measures import InnerLoopMeasure, SourcesMeasure

# -- 02.5: tune the inner loop --------------------------------------------------------------------------------


def tune_inner_loop(measure: InnerLoopMeasure) -> dict[str, Any]:
    """The workbook's answer: a 2 x 2 grid, its best cell, and whether more inner steps helped at that rate."""
    grid = {(steps, lr): measure(steps, lr) for steps in (1, 2) for lr in (0.1, 0.3)}
    best = max(grid, key=grid.get)
    return {"grid": grid, "best": best, "more_steps_help": grid[(2, best[1])] > grid[(1, best[1])]}


@exercise(
    "02.5",
    "tune MAML's inner loop",
    hints=(
        "a grid: a few inner step counts crossed with a few inner learning rates, each trained and measured "
        "once; then read the grid before you choose",
        "grid[(steps, lr)] = measure(steps, lr) for every pair; best = the pair with the highest accuracy; "
        "more steps help if, at the best lr, the largest step count beats the smallest",
        "grid = {(s, lr): measure(s, lr) for s in (1, 2) for lr in (0.1, 0.3)}; best = max(grid, key=grid.get)",
    ),
    solution=tune_inner_loop,
    open=True,
)
def check_tune_inner_loop(answer: Callable[..., Any], measure: InnerLoopMeasure) -> tuple[str, dict]:
    recorded = Recorded(measure, key=lambda steps, lr: (int(steps), float(lr)))
    finding = fields(answer(recorded), ["grid", "best", "more_steps_help"])
    grid = finding["grid"]
    if not isinstance(grid, Mapping) or not all(isinstance(c, tuple) and len(c) == 2 for c in grid):
        raise ExerciseFailed("'grid' should be a dict {(inner_steps, inner_lr): accuracy}")
    steps, rates = sorted({int(s) for s, _ in grid}), sorted({float(lr) for _, lr in grid})
    if len(steps) < 2 or len(rates) < 2:
        raise ExerciseFailed(
            f"the grid has {len(steps)} step count(s) and {len(rates)} rate(s): a curve needs at least two of each"
        )
    absent = [(s, lr) for s in steps for lr in rates if (s, lr) not in {(int(a), float(b)) for a, b in grid}]
    if absent:
        raise ExerciseFailed(f"the grid misses {absent}: cross every step count with every rate, or the cells cannot be compared")
    scores = {
        (int(s), float(lr)): recorded.require(v, s, lr, what=f"grid[({s}, {lr})]") for (s, lr), v in grid.items()
    }
    best = tuple(finding["best"]) if isinstance(finding["best"], (tuple, list)) else finding["best"]
    require_best(scores, best, what="'best'")
    at_best = {s: scores[(s, best[1])] for s in steps}
    require_claim(
        finding["more_steps_help"],
        at_best[steps[-1]] > at_best[steps[0]],
        what="'more_steps_help'",
        because=f"at inner_lr={best[1]:g}, {steps[-1]} steps give {at_best[steps[-1]]:.3f} and {steps[0]} "
        f"give {at_best[steps[0]]:.3f}",
    )
    line = (
        f"{len(scores)} settings, all measured; best inner_steps={best[0]}, inner_lr={best[1]:g} "
        f"({100 * scores[best]:.1f}% on the French holdout)"
    )
    return line, finding


# -- 02.6: design a negative-transfer experiment --------------------------------------------------------------


def _training_key(training: Mapping[str, Sequence[Sentence]]) -> tuple:
    return tuple(sorted((name, tuple(s.sent_id for s in sentences)) for name, sentences in training.items()))


def negative_transfer_experiment(
    measure: SourcesMeasure, languages: Mapping[str, Sequence[Sentence]]
) -> dict[str, Any]:
    """The workbook's answer: Spanish alone, then Spanish plus an unrelated made-up language, and en + es."""
    size = len(languages["es"])
    unrelated = make_toy_languages(size, seed=1234, languages=("xx",))["xx"]  # its own lexicon and word order
    sets = {
        "es": {"es": languages["es"]},
        "es + unrelated": {"es": languages["es"], "xx": unrelated},
        "en + es": {"en": languages["en"], "es": languages["es"]},
    }
    accuracy = {name: measure(training) for name, training in sets.items()}
    hurts = sorted(name for name in sets if name != "es" and accuracy[name] < accuracy["es"])
    return {"sets": sets, "accuracy": accuracy, "baseline": "es", "hurts": hurts}


@exercise(
    "02.6",
    "design a negative-transfer experiment",
    hints=(
        "negative transfer is a source that makes the target WORSE when it is added: so compare a set of "
        "sources with the same set plus one more, everything else fixed",
        "accuracy[name] = measure(training set); a set hurts when it holds the baseline's languages and more, "
        "and scores below the baseline",
        "sets = {'es': {'es': ...}, 'es + xx': {'es': ..., 'xx': make_toy_languages(n, seed=..., "
        "languages=('xx',))['xx']}, ...}; hurts = [n for n in sets if accuracy[n] < accuracy[baseline]]",
    ),
    solution=negative_transfer_experiment,
    open=True,
)
def check_negative_transfer(
    answer: Callable[..., Any], measure: SourcesMeasure, languages: Mapping[str, Sequence[Sentence]]
) -> tuple[str, dict]:
    recorded = Recorded(measure, key=_training_key)
    finding = fields(answer(recorded, languages), ["sets", "accuracy", "baseline", "hurts"])
    sets, accuracy, baseline = finding["sets"], finding["accuracy"], finding["baseline"]
    if not isinstance(sets, Mapping) or len(sets) < 3:
        raise ExerciseFailed("'sets' should name at least three training sets: a baseline and two to compare with it")
    if baseline not in sets:
        raise ExerciseFailed(f"the baseline {baseline!r} is not one of your sets {list(sets)}")
    scores = {name: recorded.require(accuracy.get(name), sets[name], what=f"accuracy[{name!r}]") for name in sets}
    larger = [n for n in sets if n != baseline and set(sets[baseline]) < set(sets[n])]
    if not larger:
        raise ExerciseFailed(
            f"no set holds the baseline's languages ({sorted(sets[baseline])}) plus another, so the design cannot "
            "show a language hurting: add one to the baseline and keep the rest fixed"
        )
    expected = sorted(n for n in sets if n != baseline and scores[n] < scores[baseline])
    if sorted(finding["hurts"]) != expected:
        raise ExerciseFailed(f"'hurts' is {sorted(finding['hurts'])}; your own numbers put {expected} below the baseline")
    line = (
        f"{len(sets)} training sets, all measured against {baseline!r} ({100 * scores[baseline]:.1f}%); "
        f"below it: {', '.join(expected) or 'none'}"
    )
    return line, finding


# -- 06.4: read the inner rates Meta-SGD learns ---------------------------------------------------------------


def learned_rates_experiment() -> dict[str, Any]:
    """The workbook's answer: Meta-SGD on sine regression, 60 meta-steps, rates averaged over inner steps."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    init = 0.01
    learner = MetaLearner(
        model, nn.functional.mse_loss, inner_lr=init, inner_steps=1, outer_lr=0.003, learn_inner_lr=True
    )
    stream = torch.Generator().manual_seed(0)
    for _ in range(60):
        learner.step(sine_tasks(4, generator=stream))
    rates = {name: float(rate.detach().mean()) for name, rate in learner.inner_rates.named_rates().items()}
    return {
        "learner": learner,
        "init": init,
        "rates": rates,
        "largest": max(rates, key=rates.get),
        "grew": sorted(name for name, rate in rates.items() if rate > init),
    }


@exercise(
    "06.4",
    "read the inner rates Meta-SGD learns",
    hints=(
        "Meta-SGD learns one inner step size per parameter tensor alongside the initialisation; after "
        "training, the rates that grew mark the layers the inner loop should move most",
        "rates[name] = the learned rate of that tensor, averaged over inner steps; compare each with the "
        "rate it started from",
        "MetaLearner(model, loss, inner_lr=init, learn_inner_lr=True); learner.step(sine_tasks(4, "
        "generator=g)) in a loop; learner.inner_rates.named_rates()",
    ),
    solution=learned_rates_experiment,
    open=True,
)
def check_learned_rates(answer: Callable[..., Any]) -> tuple[str, dict]:
    finding = fields(answer(), ["learner", "init", "rates", "largest", "grew"])
    learner = finding["learner"]
    if not isinstance(learner, MetaLearner) or learner.inner_rates is None:
        raise ExerciseFailed("'learner' should be the MetaLearner you trained, made with learn_inner_lr=True")
    rates = {name: float(rate.detach().mean()) for name, rate in learner.inner_rates.named_rates().items()}
    init = float(finding["init"])
    if all(abs(rate - init) < 1e-6 for rate in rates.values()):  # float32 rates store init to ~1e-9
        raise ExerciseFailed(f"every rate is still {init:g}: the learner took no meta-step, or init is not its inner_lr")
    told = finding["rates"]
    if not isinstance(told, Mapping) or set(told) != set(rates):
        raise ExerciseFailed(f"'rates' should have one entry per learned rate: {sorted(rates)}")
    wrong = [n for n in rates if abs(float(told[n]) - rates[n]) > 1e-9 * max(1.0, abs(rates[n]))]
    if wrong:
        raise ExerciseFailed(f"'rates' differ from the learner's own for {wrong}: average each over its inner steps")
    require_best(rates, finding["largest"], what="'largest'")
    grew = sorted(n for n, rate in rates.items() if rate > init)
    if sorted(finding["grew"]) != grew:
        raise ExerciseFailed(f"'grew' is {sorted(finding['grew'])}; the rates above {init:g} are {grew}")
    line = f"{len(rates)} learned rates read from the learner; largest {finding['largest']} ({rates[finding['largest']]:.4g})"
    return line, finding
