"""Open-ended exercises: their checks accept several sound findings and refuse wrong ones.

Each check runs here on a stand-in measurement (a deterministic formula instead of a training run), so these
tests take seconds; the notebooks run the same checks on real measurements. A sound finding is any design that
measures what it reports and concludes what its own numbers say; the refusals are the slips a grader sees:
a number typed in, a choice that is not the argmax, a claim its numbers contradict, a design that cannot answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from xlmeta_lab.data.sine import sine_tasks
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.experiments.protocol.stats import paired_difference, spearman
from xlmeta_lab.meta import MetaLearner
from xlmeta_lab.teaching.exercises import ExerciseFailed, check, lookup, registered
from xlmeta_lab.teaching.exercises.readings import one_step_or_many, predict_best_source, versus_joint
from xlmeta_lab.teaching.exercises.tuning import negative_transfer_experiment, tune_inner_loop


def _inner_loop(steps: int, lr: float) -> float:
    return 0.5 + 0.02 * steps - abs(lr - 0.1)


def _sources(training: dict) -> float:
    return 0.8 - 0.1 * ("xx" in training) + 0.05 * ("en" in training) - 0.02 * ("es" not in training)


def _budget(steps: int, draw: int) -> float:
    return 0.4 + 0.3 * (1 - 0.6**steps) + 0.01 * draw


_UNITS = {
    ("maml", 5): {(0, 0): 0.62, (0, 1): 0.66, (1, 0): 0.64, (1, 1): 0.65},
    ("joint", 5): {(0, 0): 0.55, (0, 1): 0.58, (1, 0): 0.57, (1, 1): 0.59},
    ("maml", 20): {(0, 0): 0.80, (0, 1): 0.78, (1, 0): 0.79, (1, 1): 0.81},
    ("joint", 20): {(0, 0): 0.79, (0, 1): 0.80, (1, 0): 0.78, (1, 1): 0.80},
    ("fomaml", 5): {(0, 0): 0.50, (0, 1): 0.52, (1, 0): 0.51, (1, 1): 0.53},
}
_SIMILARITIES = {
    "es": {"char 3-grams": 0.60, "tag bigrams": 0.80},
    "ro": {"char 3-grams": 0.50, "tag bigrams": 0.85},
    "en": {"char 3-grams": 0.40, "tag bigrams": 0.70},
    "zh": {"char 3-grams": 0.01, "tag bigrams": 0.50},
}
_ACCURACY = {"es": 0.70, "ro": 0.72, "en": 0.60, "zh": 0.30}
_LANGUAGES = make_toy_languages(12, seed=0)


def _units(name: str, k: int) -> dict:
    return _UNITS[(name, k)]


def _inputs(key: str) -> tuple:
    return {
        "02.5": (_inner_loop,),
        "02.6": (_sources, _LANGUAGES),
        "03.4": (_budget,),
        "04.4": (_units, ["joint", "maml", "fomaml"], [0, 5, 20]),
        "05.4": (_SIMILARITIES, _ACCURACY),
        "06.4": (),
    }[key]


# -- sound findings other than the workbook's ------------------------------------------------------------------


def _wider_grid(measure: Callable) -> dict:
    grid = {(s, lr): measure(s, lr) for s in (1, 2, 4) for lr in (0.05, 0.1, 0.2)}
    best = max(grid, key=grid.get)
    return {"grid": grid, "best": best, "more_steps_help": grid[(4, best[1])] > grid[(1, best[1])]}


def _english_plus_unrelated(measure: Callable, languages: dict) -> dict:
    unrelated = make_toy_languages(12, seed=7, languages=("xx",))["xx"]
    sets = {
        "en + es": {"en": languages["en"], "es": languages["es"]},
        "en + es + xx": {"en": languages["en"], "es": languages["es"], "xx": unrelated},
        "es": {"es": languages["es"]},
        "en": {"en": languages["en"]},
    }
    accuracy = {name: measure(training) for name, training in sets.items()}
    hurts = [n for n in sets if n != "en + es" and accuracy[n] < accuracy["en + es"]]
    return {"sets": sets, "accuracy": accuracy, "baseline": "en + es", "hurts": hurts}


def _three_draws_more_steps(measure: Callable) -> dict:
    draws = [0, 1, 2]
    accuracy = {s: [measure(s, d) for d in draws] for s in (0, 1, 5, 25)}
    mean = {s: sum(v) / len(v) for s, v in accuracy.items()}
    share = (mean[1] - mean[0]) / (mean[25] - mean[0])
    return {"draws": draws, "accuracy": accuracy, "one_step_share": share, "one_step_is_most": share >= 0.5}


def _fomaml_at_5(units: Callable, methods: list, ks: list) -> dict:
    interval = paired_difference(units("fomaml", 5), units("joint", 5))
    verdict = "better" if interval.low > 0 else "worse" if interval.high < 0 else "no claim"
    return {"method": "fomaml", "k": 5, "difference": (interval.mean, interval.low, interval.high), "verdict": verdict}


def _maml_at_20(units: Callable, methods: list, ks: list) -> dict:
    return {**_fomaml_at_5(lambda m, k: units("maml" if m == "fomaml" else m, 20), methods, ks), "method": "maml", "k": 20}


def _tag_bigrams(similarities: dict, accuracy: dict) -> dict:
    langs = sorted(accuracy)
    predicted = max(langs, key=lambda lang: similarities[lang]["tag bigrams"])
    measured = max(langs, key=accuracy.get)
    rho = spearman([similarities[lang]["tag bigrams"] for lang in langs], [accuracy[lang] for lang in langs])
    return {"measure": "tag bigrams", "predicted": predicted, "measured": measured, "agree": predicted == measured,
            "rank_correlation": rho}


def _small_meta_sgd() -> dict:
    torch.manual_seed(3)
    learner = MetaLearner(
        nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)).double(), nn.functional.mse_loss,
        inner_lr=0.05, inner_steps=2, outer_lr=0.01, learn_inner_lr=True,
    )
    stream = torch.Generator().manual_seed(1)
    for _ in range(10):
        learner.step(sine_tasks(2, generator=stream))
    rates = {n: float(r.detach().mean()) for n, r in learner.inner_rates.named_rates().items()}
    return {"learner": learner, "init": 0.05, "rates": rates, "largest": max(rates, key=rates.get),
            "grew": [n for n, r in rates.items() if r > 0.05]}


SOUND = {
    "02.5": [tune_inner_loop, _wider_grid],
    "02.6": [negative_transfer_experiment, _english_plus_unrelated],
    "03.4": [one_step_or_many, _three_draws_more_steps],
    "04.4": [versus_joint, _fomaml_at_5, _maml_at_20],
    "05.4": [predict_best_source, _tag_bigrams],
    "06.4": [lookup("06.4").solution, _small_meta_sgd],
}


def test_six_open_exercises_across_notebooks_02_to_06() -> None:
    keys = [e.key for e in registered() if e.open]
    assert len(keys) >= 6 and {k[:2] for k in keys} <= {"02", "03", "04", "05", "06"}
    assert set(keys) == set(SOUND)


@pytest.mark.parametrize(("key", "answer"), [(k, a) for k, answers in SOUND.items() for a in answers])
def test_an_open_check_accepts_several_sound_findings(key: str, answer: Callable, capsys: pytest.CaptureFixture[str]) -> None:
    finding = check(key, answer, *_inputs(key))
    assert isinstance(finding, dict)
    assert f"exercise {lookup(key).number}: correct" in capsys.readouterr().out


def test_the_sound_findings_really_differ() -> None:
    """'Several correct answers' means different conclusions pass, not one answer spelled twice."""
    assert tune_inner_loop(_inner_loop)["best"] != _wider_grid(_inner_loop)["best"]
    assert versus_joint(_units, ["joint", "maml"], [0, 5, 20])["verdict"] == "better"
    assert _maml_at_20(_units, [], [])["verdict"] == "no claim"
    assert predict_best_source(_SIMILARITIES, _ACCURACY)["agree"] != _tag_bigrams(_SIMILARITIES, _ACCURACY)["agree"]


# -- findings a grader must refuse ------------------------------------------------------------------------------


def _edited(answer: Callable, change: Callable[[dict], Any]) -> Callable:
    def edited(*inputs: Any) -> dict:
        finding = answer(*inputs)
        change(finding)
        return finding

    return edited


def _typed_in(finding: dict) -> None:
    finding["grid"][(1, 0.3)] = 0.99


def _one_rate(measure: Callable) -> dict:
    grid = {(s, 0.1): measure(s, 0.1) for s in (1, 2, 3)}
    return {"grid": grid, "best": (3, 0.1), "more_steps_help": True}


def _no_superset(measure: Callable, languages: dict) -> dict:
    sets = {"en": {"en": languages["en"]}, "es": {"es": languages["es"]}, "xx": {"xx": languages["fr"][:6]}}
    accuracy = {name: measure(training) for name, training in sets.items()}
    return {"sets": sets, "accuracy": accuracy, "baseline": "es", "hurts": [n for n in sets if accuracy[n] < accuracy["es"]][:0]}


def _one_draw(measure: Callable) -> dict:
    accuracy = {s: [measure(s, 0)] for s in (0, 1, 25)}
    return {"draws": [0], "accuracy": accuracy, "one_step_share": 0.5, "one_step_is_most": True}


def _unpaired(units: Callable, methods: list, ks: list) -> dict:
    a, b = list(units("maml", 5).values()), list(units("joint", 5).values())
    mean = sum(a) / len(a) - sum(b) / len(b)
    return {"method": "maml", "k": 5, "difference": (mean, mean - 0.1, mean + 0.1), "verdict": "no claim"}


def _pearson(similarities: dict, accuracy: dict) -> dict:
    finding = predict_best_source(similarities, accuracy)
    xs = torch.tensor([similarities[lang][finding["measure"]] for lang in sorted(accuracy)])
    ys = torch.tensor([accuracy[lang] for lang in sorted(accuracy)])
    finding["rank_correlation"] = float(torch.corrcoef(torch.stack([xs, ys]))[0, 1])
    return finding


def _untrained() -> dict:
    learner = MetaLearner(nn.Linear(1, 1).double(), nn.functional.mse_loss, inner_lr=0.1, learn_inner_lr=True)
    rates = {n: float(r.detach().mean()) for n, r in learner.inner_rates.named_rates().items()}
    return {"learner": learner, "init": 0.1, "rates": rates, "largest": next(iter(rates)), "grew": []}


def _flip(name: str) -> Callable[[dict], None]:
    def flip(finding: dict) -> None:
        finding[name] = not finding[name]

    return flip


def _set(name: str, value: Any) -> Callable[[dict], None]:
    return lambda finding: finding.__setitem__(name, value)


def _smallest_rate(finding: dict) -> None:
    finding["largest"] = min(finding["rates"], key=finding["rates"].get)


WRONG = [
    ("02.5", _edited(tune_inner_loop, _typed_in), "is 0.99, but the measure returned"),
    ("02.5", _edited(tune_inner_loop, _set("best", (1, 0.3))), "your own numbers put"),
    ("02.5", _edited(tune_inner_loop, _flip("more_steps_help")), "'more_steps_help' is"),
    ("02.5", _one_rate, "a curve needs at least two of each"),
    ("02.6", _no_superset, "the design cannot show a language hurting"),
    ("02.6", _edited(negative_transfer_experiment, _set("hurts", [])), "your own numbers put ['es + unrelated']"),
    ("02.6", _edited(negative_transfer_experiment, lambda f: f["accuracy"].__setitem__("es", 0.9)), "but the measure returned"),
    ("03.4", _one_draw, "at least two support draws"),
    ("03.4", _edited(one_step_or_many, _set("one_step_share", 0.5)), "'one_step_share' is 0.5"),
    ("03.4", _edited(one_step_or_many, _flip("one_step_is_most")), "'one_step_is_most' is"),
    ("04.4", _edited(_maml_at_20, _set("verdict", "better")), "supports 'no claim'"),
    ("04.4", _unpaired, "the difference's low is"),
    ("04.4", _edited(versus_joint, _set("k", 0)), "K above 0"),
    ("05.4", _edited(predict_best_source, _set("predicted", "ro")), "your own numbers put 'es'"),
    ("05.4", _edited(predict_best_source, _flip("agree")), "'agree' is"),
    ("05.4", _pearson, "'rank_correlation' is"),
    ("06.4", _untrained, "the learner took no meta-step"),
    ("06.4", _edited(_small_meta_sgd, _smallest_rate), "'largest' is"),
]


@pytest.mark.parametrize(("key", "answer", "message"), WRONG, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(WRONG)])
def test_an_open_check_refuses_an_unsound_finding(key: str, answer: Callable, message: str) -> None:
    with pytest.raises(ExerciseFailed, match=re.escape(message)):
        check(key, answer, *_inputs(key))


def test_every_open_exercise_is_refused_something() -> None:
    assert {key for key, _, _ in WRONG} == set(SOUND)


def test_an_open_exercise_not_done_returns_nothing_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    def stub(*inputs: Any) -> dict:
        raise NotImplementedError

    assert check("05.4", stub, _SIMILARITIES, _ACCURACY) is None
    out = capsys.readouterr().out
    assert "exercise 4: not done yet" in out and "open-ended, so nothing stands in" in out


def test_a_closed_exercise_takes_no_inputs() -> None:
    with pytest.raises(TypeError, match="checked on its own problems"):
        check("02.3", lookup("02.3").solution, 1)


def test_the_stand_in_measures_are_what_the_checks_see() -> None:
    """The refusals above are about the findings, not about degenerate stand-ins."""
    assert _budget(25, 0) > _budget(1, 0) > _budget(0, 0)
    assert not math.isnan(spearman(list(_ACCURACY.values()), [s["char 3-grams"] for s in _SIMILARITIES.values()]))
