"""Notebook 05's exercises: character n-gram overlap, the paired difference of transfer between two
initialisations, and the cosine of two gradient dicts.

Each checker runs the learner's function on small cases whose answers are known and on the workbook's own
functions (:mod:`xlmeta_lab.data.similarity`, :mod:`xlmeta_lab.meta.alignment`), and names the usual slips.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from xlmeta_lab.data import similarity as sim
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.meta.alignment import cosine
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, compare_tensors, exercise


def _sentence(text: str) -> Sentence:
    forms = tuple(text.split())
    return Sentence(forms, ("X",) * len(forms), text, "xx", "exercise")


#: (a, b) sentence lists the checks run on: shared suffixes, case, a short word, and nothing shared.
_TEXTS = (
    (["La nation Française", "une information"], ["The French nation", "an information"]),
    (["el perro", "la casa"], ["le chien", "la maison"]),
    (["abc"], ["xyz"]),
)


# -- exercise 1 ---------------------------------------------------------------------------------------


def char_ngram_overlap(a: list[Sentence], b: list[Sentence], n: int = 3) -> float:
    """Histogram intersection of the two languages' character n-gram distributions (lowercased word forms
    with ``<`` and ``>`` at the edges)."""

    def distribution(sentences: list[Sentence]) -> dict[str, float]:
        counts: Counter[str] = Counter()
        for sentence in sentences:
            for form in sentence.forms:
                word = f"<{form.lower()}>"
                counts.update(word[i : i + n] for i in range(max(1, len(word) - n + 1)))
        total = sum(counts.values())
        return {gram: count / total for gram, count in counts.items()}

    p, q = distribution(a), distribution(b)
    return sum(min(share, q[gram]) for gram, share in p.items() if gram in q)


def _variant(a: list[Sentence], b: list[Sentence], n: int, *, marks: bool, lower: bool, kind: str) -> float:
    def counts(sentences: list[Sentence]) -> Counter[str]:
        out: Counter[str] = Counter()
        for s in sentences:
            for form in s.forms:
                word = form.lower() if lower else form
                word = f"<{word}>" if marks else word
                out.update(word[i : i + n] for i in range(max(1, len(word) - n + 1)))
        return out

    ca, cb = counts(a), counts(b)
    if kind == "jaccard":
        return len(set(ca) & set(cb)) / len(set(ca) | set(cb))
    if kind == "raw":
        return float(sum(min(v, cb[g]) for g, v in ca.items() if g in cb))
    return sim.histogram_intersection(sim.normalise(ca), sim.normalise(cb))


@exercise(
    "05.1",
    "character n-gram overlap",
    hints=(
        "two languages look alike in spelling when their character n-grams occur with similar "
        "frequencies; the overlap of two frequency distributions is the mass they share",
        "p, q = n-gram shares over '<' + lowercased form + '>', each summing to 1; overlap = sum over"
        " n-grams g of min(p_g, q_g)",
        "count the n-grams of '<' + form.lower() + '>' for every word, turn each count into shares that sum "
        "to 1, then add up min(p[g], q[g]) over the n-grams both languages have",
    ),
    solution=char_ngram_overlap,
)
def check_char_ngram_overlap(answer: Callable[..., float]) -> str:
    for texts_a, texts_b in _TEXTS:
        a, b = [_sentence(t) for t in texts_a], [_sentence(t) for t in texts_b]
        expected = sim.char_ngram_overlap(a, b, 3)
        got = answer(a, b, 3)
        if not isinstance(got, (int, float)) or math.isnan(got):
            raise ExerciseFailed(f"return one number in [0, 1]; got {got!r}")
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        slips = {
            "the words have no edge marks: wrap each form as '<' + form + '>' so that prefixes and suffixes "
            "count as their own n-grams": _variant(a, b, 3, marks=False, lower=True, kind="share"),
            "upper and lower case count as different letters: lowercase each form first": _variant(
                a, b, 3, marks=True, lower=False, kind="share"
            ),
            "this is the Jaccard overlap of the n-gram *sets*; weigh each n-gram by its share of the language's "
            "n-grams (counts / total) and add up the smaller share": _variant(
                a, b, 3, marks=True, lower=True, kind="jaccard"
            ),
            "the counts were not turned into shares: divide each count by the language's total first": _variant(
                a, b, 3, marks=True, lower=True, kind="raw"
            ),
        }
        for hint, value in slips.items():
            if math.isclose(got, value, abs_tol=1e-9) and not math.isclose(value, expected, abs_tol=1e-9):
                raise ExerciseFailed(f"the overlap of {texts_a} and {texts_b} is off: {hint}")
        raise ExerciseFailed(f"the overlap of {texts_a} and {texts_b} is {got:.6f}, expected {expected:.6f}")
    return f"the overlap matches the workbook's on {len(_TEXTS)} pairs of texts"


# -- exercise 2 ---------------------------------------------------------------------------------------

Unit = tuple[int, int]


def paired_differences(condition: Mapping[Unit, float], baseline: Mapping[Unit, float]) -> dict[Unit, float]:
    """``condition - baseline`` for every unit (seed, draw) both have, paired on the unit."""
    return {unit: condition[unit] - baseline[unit] for unit in condition if unit in baseline}


@exercise(
    "05.2",
    "the paired difference of transfer",
    hints=(
        "as in notebook 03, compare the condition and the baseline on the same (seed, draw) units, "
        "never their averages",
        "difference(u) = accuracy_condition(u) - accuracy_baseline(u), for every unit u both of them "
        "have",
        "a dict comprehension over the units of the condition, keeping those that are also keys of "
        "the baseline: {u: condition[u] - baseline[u] ...}",
    ),
    solution=paired_differences,
)
def check_paired_differences(answer: Callable[..., dict]) -> str:
    condition = {(0, 1): 0.62, (0, 0): 0.55, (1, 0): 0.60, (1, 1): 0.70}
    baseline = {(0, 0): 0.50, (0, 1): 0.61, (1, 1): 0.64, (2, 0): 0.40}
    expected = paired_differences(condition, baseline)
    got = answer(dict(condition), dict(baseline))
    if not isinstance(got, Mapping):
        raise ExerciseFailed(f"return a dict {{(seed, draw): difference}}; got {type(got).__name__}")
    if set(got) != set(expected):
        extra, missing = sorted(set(got) - set(expected)), sorted(set(expected) - set(got))
        raise ExerciseFailed(
            f"the units are wrong (extra {extra}, missing {missing}): keep exactly the units both conditions have"
        )
    keys = sorted(expected)
    got_t = torch.tensor([float(got[k]) for k in keys], dtype=torch.float64)
    shared = [
        unit for unit in condition if unit in baseline
    ]  # paired by position: the i-th value with the i-th
    positional = {unit: c - b for unit, (c, b) in zip(shared, zip(condition.values(), baseline.values()))}
    result = compare_tensors(
        got_t,
        torch.tensor([expected[k] for k in keys], dtype=torch.float64),
        what="the paired differences",
        mistakes={
            "the pairs were made by position, not by unit: the two dicts list their units in different orders, "
            "so look each unit up in the baseline": torch.tensor(
                [positional.get(k, math.nan) for k in keys], dtype=torch.float64
            ),
        },
        rtol=1e-9,
        atol=1e-12,
    )
    return f"{result}, over the {len(keys)} units both conditions have"


# -- exercise 3 ---------------------------------------------------------------------------------------


def gradient_cosine(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> float:
    """Cosine between two gradient dicts over the names they share, as if each were one flat vector."""
    names = sorted(set(a) & set(b))
    u = torch.cat([a[n].reshape(-1) for n in names]).double()
    v = torch.cat([b[n].reshape(-1) for n in names]).double()
    return float(u @ v / (u.norm() * v.norm()))


def _gradient_pairs() -> list[tuple[dict[str, Tensor], dict[str, Tensor]]]:
    generator = torch.Generator().manual_seed(5)

    def grads(scale: float) -> dict[str, Tensor]:
        return {
            "weight": scale * torch.randn(3, 4, generator=generator, dtype=torch.float64),
            "bias": torch.randn(3, generator=generator, dtype=torch.float64),
        }

    big, small = grads(10.0), grads(0.1)
    return [
        (big, small),
        (grads(1.0), grads(1.0)),
        ({"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([0.0, 2.0])}),
    ]


@exercise(
    "05.3",
    "cosine of two gradient dicts",
    hints=(
        "two gradients agree when they point the same way, whatever their lengths; the parameter "
        "names only say which entries line up",
        "cos = <u, v> / (|u| |v|), u and v being every tensor of each dict flattened and joined in "
        "one order of names",
        "names = sorted(set(a) & set(b)); u = torch.cat([a[n].reshape(-1) for n in names]).double(), "
        "v the same of b; float(u @ v / (u.norm() * v.norm()))",
    ),
    solution=gradient_cosine,
)
def check_gradient_cosine(answer: Callable[..., float]) -> str:
    for a, b in _gradient_pairs():
        expected = cosine(a, b)
        got = answer(a, b)
        if isinstance(got, Tensor):
            got = float(got)
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        per_tensor = sum(cosine({n: a[n]}, {n: b[n]}) for n in a) / len(a)
        dot = float(sum((a[n] * b[n]).sum() for n in a))
        squared = dot / float(sum(a[n].pow(2).sum() for n in a) * sum(b[n].pow(2).sum() for n in b))
        slips = {
            "this is the mean of one cosine per tensor; the cosine of two *directions in parameter space* takes "
            "all tensors together, as one vector each": per_tensor,
            "this is the dot product: divide by both vectors' norms": dot,
            "divided by the squared norms: use norm(u) * norm(v), the square roots": squared,
        }
        for hint, value in slips.items():
            if math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-12):
                raise ExerciseFailed(f"the cosine is off: {hint}")
        raise ExerciseFailed(f"the cosine is {got:.6f}, expected {expected:.6f}")
    return "matches the workbook's cosine on three pairs of gradient dicts (one with tensors of very different size)"
