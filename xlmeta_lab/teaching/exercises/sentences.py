"""Notebook 04's exercises: an episode's labels permuted, an N-way K-shot episode drawn, accuracy against chance.

Each checker runs the learner's function on small cases with known answers, compares with the workbook's own
code (:mod:`xlmeta_lab.episodes.topics`), and, on a miss, names the mistake people make: the permutation applied
the wrong way round, a topic with too many support sentences, support and query sharing a sentence, the number of
topics in the data taken for the number of outputs.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from xlmeta_lab.episodes.topics import permute_labels
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, compare_tensors, exercise

# -- exercise 1 ---------------------------------------------------------------------------------------


def episode_labels(y: Tensor, slots: Tensor) -> Tensor:
    """The episode's label of each sentence: the position, in ``slots``, of its topic id ``y``."""
    return permute_labels(y, slots)


def _label_cases() -> list[tuple[Tensor, Tensor]]:
    generator = torch.Generator().manual_seed(4)
    cases = [(torch.tensor([0, 1, 2, 0]), torch.tensor([2, 0, 1]))]  # a 3-cycle: its inverse differs from it
    for n_way, n_topics in ((7, 7), (5, 7)):
        slots = torch.randperm(n_topics, generator=generator)[:n_way]
        y = slots[torch.randint(n_way, (12,), generator=generator)]
        cases.append((y, slots))
    return cases


@exercise(
    "04.1",
    "permute an episode's labels",
    hints=(
        "in an episode a label is a slot, not a topic: the order of the slots is fresh in every "
        "episode, so a sentence's label is the position of its topic among the slots",
        "label(sentence) = the j with slots[j] == topic(sentence): the inverse of the permutation "
        "slots, built once and then indexed",
        "label j stands for topic slots[j], so a sentence of topic t gets the j with slots[j] == t: build a "
        "lookup table with lookup[slots] = torch.arange(len(slots)) and read it at y",
    ),
    solution=episode_labels,
)
def check_episode_labels(answer: Callable[[Tensor, Tensor], Tensor]) -> str:
    for y, slots in _label_cases():
        expected = permute_labels(y, slots)
        result = compare_tensors(
            answer(y.clone(), slots.clone()),
            expected.to(torch.float64),
            what="the episode labels",
            mistakes={
                "it is slots[y]: the permutation applied the wrong way round. slots[j] is the topic of OUTPUT j; "
                "a sentence's label is the output whose topic is its own (the inverse permutation)": (
                    slots[y.clamp(max=len(slots) - 1)].to(torch.float64)
                ),
                "it is y unchanged: the global topic ids. In an episode, label j must mean topic slots[j]": (
                    y.to(torch.float64)
                ),
            },
            rtol=0,
            atol=0,
        )
    return f"{result} on {len(_label_cases())} episodes (7-way and 5-way of 7 topics, and a 3-cycle)"


# -- exercise 2 ---------------------------------------------------------------------------------------


def sample_episode(
    labels: Sequence[str], n_way: int, k_shot: int, query_per_class: int, rng: random.Random
) -> tuple[list[int], list[int]]:
    """Indices into ``labels`` of an N-way K-shot episode: ``n_way`` topics, ``k_shot`` support and
    ``query_per_class`` query sentences of each, support and query disjoint; a ValueError if a topic is short."""
    by_topic: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_topic.setdefault(label, []).append(index)
    need = k_shot + query_per_class
    eligible = sorted(topic for topic, idx in by_topic.items() if len(idx) >= need)
    if len(eligible) < n_way:
        raise ValueError(
            f"{n_way}-way with {need} sentences per topic: only {len(eligible)} topics have enough"
        )
    support: list[int] = []
    query: list[int] = []
    for topic in rng.sample(eligible, n_way):
        picked = rng.sample(by_topic[topic], need)
        support += picked[:k_shot]
        query += picked[k_shot:]
    return support, query


def _pool(seed: int) -> list[str]:
    sizes = {"science": 9, "travel": 8, "politics": 7, "sports": 6, "health": 5, "fun": 4, "geography": 3}
    labels = [topic for topic, n in sizes.items() for _ in range(n)]
    random.Random(seed).shuffle(labels)
    return labels


def _check_one_episode(labels: list[str], support: object, query: object, n: int, k: int, q: int) -> None:
    if not isinstance(support, list | tuple) or not isinstance(query, list | tuple):
        raise ExerciseFailed(f"return two lists of indices (support, query); got {type(support).__name__}")
    if len(support) != n * k or len(query) != n * q:
        raise ExerciseFailed(
            f"{n}-way {k}-shot with {q} query per topic has {n * k} support and {n * q} query sentences; yours "
            f"has {len(support)} and {len(query)}"
        )
    if set(support) & set(query):
        raise ExerciseFailed(
            "support and query share a sentence: draw k_shot + query_per_class distinct sentences of a topic "
            "at once and split them, so the query set tests what the support set did not show"
        )
    if len(set(support)) != len(support) or len(set(query)) != len(query):
        raise ExerciseFailed("a sentence appears twice in one set: sample without replacement (rng.sample)")
    per_support = Counter(labels[i] for i in support)
    per_query = Counter(labels[i] for i in query)
    if set(per_support) != set(per_query) or len(per_support) != n:
        raise ExerciseFailed(
            f"support has topics {sorted(per_support)} and query {sorted(per_query)}: both need the same {n} topics"
        )
    if set(per_support.values()) != {k} or set(per_query.values()) != {q}:
        raise ExerciseFailed(
            f"each topic needs exactly {k} support and {q} query sentences; yours has {dict(per_support)} in "
            f"the support set: pick the topics first, then the sentences of each topic"
        )


@exercise(
    "04.2",
    "an N-way K-shot episode",
    hints=(
        "an N-way K-shot episode picks N topics that can fill it, then K support and some query "
        "sentences of each, never the same sentence twice",
        "eligible topics have at least k_shot + query_per_class sentences; choose n_way of them, then"
        " k_shot + query_per_class sentences of each, split into k_shot for the support and the rest "
        "for the query",
        "group the indices by topic, rng.sample n_way topics among those with at least k_shot + query_per_class "
        "sentences, then rng.sample that many of each topic and split them into support and query",
    ),
    solution=sample_episode,
)
def check_sample_episode(answer: Callable[..., tuple[list[int], list[int]]]) -> str:
    seen_topics: Counter[str] = Counter()
    firsts = set()
    for seed in range(40):
        labels = _pool(seed)
        n, k, q = (3, 2, 1) if seed % 2 else (5, 1, 2)
        support, query = answer(labels, n, k, q, random.Random(seed))
        _check_one_episode(labels, support, query, n, k, q)
        seen_topics.update({labels[i] for i in support})
        firsts.add(tuple(sorted(support)))
    if len(firsts) < 30:
        raise ExerciseFailed(
            "40 episodes from 40 seeds are nearly all the same: draw with the rng you are given"
        )
    if len(seen_topics) < 7:
        missing = {"science", "travel", "politics", "sports", "health", "fun", "geography"} - set(seen_topics)
        raise ExerciseFailed(
            f"topics {sorted(missing)} are never chosen: choose among every topic that has enough"
        )
    try:
        answer(_pool(0), 2, 9, 1, random.Random(0))
    except ValueError:
        pass
    else:
        raise ExerciseFailed(
            "K=9 + 1 query per topic is more than any topic holds (at most 9): refuse it with a ValueError that says "
            "so, instead of returning a short episode"
        )
    return "40 episodes: sizes, disjoint support and query, K and the query size per topic, every topic drawn"


# -- exercise 3 ---------------------------------------------------------------------------------------


def accuracy_against_chance(predicted: Tensor, y: Tensor, n_classes: int) -> tuple[float, float, float]:
    """``(accuracy, uniform chance 1/n_classes, the majority topic's share of y)``."""
    accuracy = float((predicted == y).float().mean())
    majority = Counter(y.tolist()).most_common(1)[0][1] / len(y)
    return accuracy, 1.0 / n_classes, majority


@exercise(
    "04.3",
    "accuracy against chance",
    hints=(
        "a number means something only next to what guessing gets: guessing uniformly, and always "
        "saying the commonest label",
        "accuracy = mean(predicted == y); chance = 1 / n_classes; majority = (largest count of one "
        "label in y) / len(y)",
        "accuracy is the share of predicted == y; uniform chance is 1 / n_classes (the head's outputs, not the "
        "topics present); the majority baseline is the largest count among y's values divided by len(y)",
    ),
    solution=accuracy_against_chance,
)
def check_accuracy_against_chance(answer: Callable[[Tensor, Tensor, int], tuple[float, float, float]]) -> str:
    generator = torch.Generator().manual_seed(5)
    cases = [
        (torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 7),  # two topics absent from y
        (torch.zeros(10, dtype=torch.long), torch.tensor([0, 0, 0, 0, 1, 1, 2, 3, 4, 5]), 7),
    ]
    y = torch.randint(7, (50,), generator=generator)
    cases.append((torch.randint(7, (50,), generator=generator), y, 7))
    for predicted, y, n in cases:
        got = answer(predicted.clone(), y.clone(), n)
        expected = accuracy_against_chance(predicted, y, n)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise ExerciseFailed(
                f"return three numbers (accuracy, uniform chance, majority share); got {got!r}"
            )
        names = ("accuracy", "uniform chance", "majority share")
        for name, value, right in zip(names, got, expected, strict=True):
            if abs(float(value) - right) > 1e-9:
                hint = ""
                if name == "uniform chance" and abs(float(value) - 1 / len(set(y.tolist()))) < 1e-9:
                    hint = ": 1 / (topics present in y) is not chance; the head chooses among all n_classes"
                elif (
                    name == "majority share"
                    and abs(float(value) - Counter(predicted.tolist()).most_common(1)[0][1] / len(y)) < 1e-9
                ):
                    hint = ": that is the most frequent *prediction*; the baseline predicts y's most frequent topic"
                elif name == "accuracy" and abs(float(value) - 100 * right) < 1e-6:
                    hint = ": return a share in [0, 1], not a percentage"
                raise ExerciseFailed(f"the {name} is {float(value):.4g}, expected {right:.4g}{hint}")
    return "accuracy, 1/N and the majority share match on 3 cases (one with topics missing from y)"
