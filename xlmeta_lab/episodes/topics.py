"""Topic classification episodes (SIB-200): N-way K-shot tasks whose labels are permuted in every episode.

An episode picks ``n_way`` topics of one language, ``k_shot`` support and ``query_per_class`` query sentences of
each (disjoint), and gives each chosen topic an output of the head at random: label ``j`` means topic
``slots[j]`` *in this episode only*.

**Why permute the labels.** With 7 topics and one head, every episode of a fixed labelling asks the same
question ("output 3 is sports"), so MAML can lower the query loss without learning to adapt at all: the head
memorises which output is which topic, and the initialisation becomes an ordinary classifier that the inner
loop barely moves. Nothing forces it to become a good *starting point*. With the labels permuted, the only way
to do well on an episode's query set is to read the labels off its support set in the inner loop, so the
meta-gradient rewards an initialisation from which a few steps learn a new labelling: what French, with its own
K examples per topic, will ask. (With few classes this matters more, not less: there are only 7! = 5040
labellings of 7 topics, and one fixed labelling is trivially learnt.) The cost: a meta-learned initialisation
knows no labelling, so with no French example (K = 0) it can do no better than chance. The joint baseline is
trained on the fixed labelling (with no inner loop, a permuted label would be noise), so its K = 0 point is the
zero-shot transfer.

Evaluation uses the fixed labels of ``labels.txt`` (one labelling like any other); the French support sets are
:func:`class_balanced_draws`, K sentences of *each* topic, nested across K and the same for every condition.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from xlmeta_lab.data.sib200 import SIB_LABELS, Example
from xlmeta_lab.episodes.encoders import SentenceEncoder, WordCharEncoder, encode_examples
from xlmeta_lab.episodes.samplers import Episode, _by_lang, _Sampler
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled, take_sentences
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.meta import Task


@dataclass(frozen=True)
class TopicEncoder:
    """Sentences to the :class:`~xlmeta_lab.models.classifier.SentenceClassifier`'s ``(x, y)``: word and
    character ids ``[S, L]`` / ``[S, L, W]``, and the topic id of each sentence ``[S]`` (``labels`` order)."""

    vocab: Vocab
    max_word_len: int = 16
    labels: tuple[str, ...] = SIB_LABELS

    def encode(self, examples: Sequence[Example], max_len: int | None = None) -> Labeled:
        return encode_examples(examples, self.vocab, self.labels, max_len, self.max_word_len)

    def unknown_chars(self, chars: Iterable[str]) -> set[str]:
        return WordCharEncoder(self.vocab, self.max_word_len).unknown_chars(chars)


def permute_labels(y: Tensor, slots: Tensor) -> Tensor:
    """Global topic ids ``y`` as episode labels: topic ``slots[j]`` becomes label ``j``; other topics ``-100``.

    ``slots`` is the inverse of what one might first write: it says which topic each *output* stands for, so
    the label of a sentence is the position of its topic in ``slots`` (``slots[y]`` would apply the
    permutation the wrong way round).
    """
    lookup = torch.full((int(max(y.max(), slots.max())) + 1,), IGNORE_INDEX, dtype=torch.long)
    lookup[slots] = torch.arange(len(slots))
    return torch.where(y == IGNORE_INDEX, y, lookup[y.clamp_min(0)])


def _relabel(data: Labeled, slots: Tensor) -> Labeled:
    return Labeled(data.x, permute_labels(data.y, slots))


class TopicEpisodeSampler(_Sampler[Example]):
    """N-way K-shot topic episodes, one language per episode, labels permuted per episode (see module doc).

    ``examples`` may mix languages (one pool per ``lang``) or be a mapping ``{pool name: examples}``. Each pool is
    encoded once, padded or cut to ``max_len`` words, so every task has the same shapes and a meta-batch runs as
    one ``vmap`` call. ``permute=False`` keeps the global topic ids (the joint baseline's view). A pool with
    fewer than ``n_way`` topics of at least ``k_shot + query_per_class`` sentences is refused, naming its sizes.
    """

    def __init__(
        self,
        examples: Iterable[Example] | Mapping[str, Sequence[Example]],
        encoder: SentenceEncoder,
        n_way: int,
        k_shot: int,
        query_per_class: int,
        *,
        max_len: int = 48,
        seed: int = 0,
        permute: bool = True,
        labels: Sequence[str] = SIB_LABELS,
    ) -> None:
        pools = (
            {name: list(pool) for name, pool in examples.items()}
            if isinstance(examples, Mapping)
            else _by_lang(examples)
        )
        if not pools:
            raise ValueError("no examples given")
        self.labels = tuple(labels)
        if not 2 <= n_way <= len(self.labels):
            raise ValueError(f"n_way={n_way} must be between 2 and the {len(self.labels)} topics")
        if k_shot < 1 or query_per_class < 1:
            raise ValueError(f"k_shot and query_per_class must be >= 1, got {k_shot} and {query_per_class}")
        self.n_way, self.k_shot, self.query_per_class, self.permute = n_way, k_shot, query_per_class, permute
        self.pools = pools
        self.by_label: dict[str, dict[str, list[int]]] = {}
        for lang, pool in pools.items():
            groups = _by_label(pool)
            need = k_shot + query_per_class
            eligible = {label: idx for label, idx in groups.items() if len(idx) >= need}
            if len(eligible) < n_way:
                sizes = ", ".join(f"{label} {len(idx)}" for label, idx in sorted(groups.items()))
                raise ValueError(
                    f"{n_way}-way K={k_shot} with {query_per_class} query per topic needs {n_way} topics with at "
                    f"least {need} sentences each; the {lang!r} pool has {len(eligible)} ({sizes}). "
                    "Lower K or the query size, or give more sentences"
                )
            self.by_label[lang] = eligible
        self.encoded = {lang: encoder.encode(pool, max_len) for lang, pool in pools.items()}
        self.rng = random.Random(seed)

    def _pick(self, lang: str) -> tuple[list[str], list[int], list[int]]:
        """The episode's topics (in output order) and its support and query indices, from ``self.rng``."""
        groups = self.by_label[lang]
        topics = self.rng.sample(sorted(groups), self.n_way)  # random order: topic j is output j
        support: list[int] = []
        query: list[int] = []
        for topic in topics:
            picked = self.rng.sample(groups[topic], self.k_shot + self.query_per_class)
            support += picked[: self.k_shot]
            query += picked[self.k_shot :]
        self.rng.shuffle(support)
        self.rng.shuffle(query)
        return topics, support, query

    def draw(self, lang: str | None = None) -> Episode[Example]:
        lang = lang or self.rng.choice(self.languages)
        topics, support, query = self._pick(lang)
        pool, enc = self.pools[lang], self.encoded[lang]

        def take(idx: list[int]) -> Labeled:
            return take_sentences(enc, torch.tensor(idx, dtype=torch.long))

        if self.permute:
            slots = tuple(topics)
            ids = torch.tensor([self.labels.index(t) for t in topics], dtype=torch.long)
            task = Task(_relabel(take(support), ids), _relabel(take(query), ids))
        else:
            slots, task = self.labels, Task(take(support), take(query))
        return Episode(lang, [pool[i] for i in support], [pool[i] for i in query], task, slots)

    def _indices(self, lang: str) -> tuple[list[int], list[int]]:
        _, support, query = self._pick(lang)
        return support, query


def _by_label(pool: Sequence[Example]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(pool):
        groups[example.label].append(i)
    return dict(groups)


def validation_task(
    examples: Sequence[Example],
    encoder: SentenceEncoder,
    k_shot: int,
    *,
    max_len: int,
    seed: int,
    permute: bool,
    labels: Sequence[str] = SIB_LABELS,
) -> Task:
    """One fixed validation task from a language's held-out sentences: ``k_shot`` of each topic as support
    (fewer for a topic with at most ``k_shot`` held-out sentences, which keeps one for the query), every other
    sentence as query, with one seeded permutation of the labels if ``permute``. A monitor of training, not a
    result: the held-out split is a random tenth or so of each language, not balanced by topic."""
    rng = random.Random(seed)
    groups = _by_label(examples)
    support: list[int] = []
    for label in sorted(groups):
        support += rng.sample(groups[label], min(k_shot, max(1, len(groups[label]) - 1)))
    chosen = set(support)
    query = [i for i in range(len(examples)) if i not in chosen]
    data = encoder.encode(list(examples), max_len)
    sets = [take_sentences(data, torch.tensor(idx, dtype=torch.long)) for idx in (support, query)]
    if permute:
        order = list(labels)
        rng.shuffle(order)
        ids = torch.tensor([list(labels).index(t) for t in order], dtype=torch.long)
        sets = [_relabel(s, ids) for s in sets]
    return Task(*sets)


def class_balanced_draws(pool: Sequence[Example], k: int, n_draws: int, seed: int = 0) -> list[list[Example]]:
    """``n_draws`` support sets of ``k`` sentences of *each* topic in ``pool``: the French K-shot draws.

    The same draws for every condition (paired design), and nested across K: each topic's sentences are shuffled
    once per draw (seeded by ``(seed, draw, topic)``) and the first ``k`` taken, so draw ``d`` at K=1 is inside
    draw ``d`` at K=4. A draw lists its sentences round-robin over the topics. ``k`` larger than the smallest
    topic's share of the pool is refused, naming it.
    """
    groups = {label: [pool[i] for i in idx] for label, idx in sorted(_by_label(pool).items())}
    if not groups:
        raise ValueError("the support pool is empty")
    smallest = min(groups, key=lambda label: len(groups[label]))
    if k > len(groups[smallest]):
        raise ValueError(
            f"K={k} per topic is larger than the support pool allows: it holds {len(groups[smallest])} "
            f"sentences of {smallest!r}"
        )
    draws = []
    for d in range(n_draws):
        shuffled = {}
        for label, items in groups.items():
            order = list(range(len(items)))
            random.Random(f"{seed}:draw:{d}:{label}").shuffle(order)
            shuffled[label] = [items[i] for i in order[:k]]
        draws.append([shuffled[label][i] for i in range(k) for label in groups])
    return draws
