"""Episode samplers: support and query sets drawn from task pools, with fixed shapes for vmap.

Every task from one sampler has the same shapes, so ``sample_batch(n)`` stacks ``n`` tasks into one
:class:`~xlmeta_lab.meta.Task` with a leading task dimension. Samplers *skip* sentences longer than
``max_len`` (a support sentence is then always a whole sentence with all its tags; the number skipped is
reported). Randomness comes only from the ``random.Random(seed)`` each sampler owns: the same seed gives the
same episodes whatever else the program does. :func:`support_draws` draws the few-shot protocol's K-sentence
support sets the same way, seeded per draw.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

from xlmeta_lab.data.sib200 import Example
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import SentenceEncoder, as_encoder
from xlmeta_lab.episodes.tensors import Labeled, stack_tasks, take_sentences
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.meta import Task

Item = TypeVar("Item", Sentence, Example)


@dataclass(frozen=True)
class Episode(Generic[Item]):
    """What a sampler drew, readable (``support``/``query`` items) and as tensors (``task``).

    ``slots`` (classification only) names the topic each output of the head stands for in this episode:
    with the labels permuted, ``task``'s label ``j`` means topic ``slots[j]``.
    """

    lang: str
    support: list[Item]
    query: list[Item]
    task: Task
    slots: tuple[str, ...] = ()


def _by_lang(items: Iterable[Item]) -> dict[str, list[Item]]:
    pools: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        pools[item.lang].append(item)
    return dict(pools)


class _Sampler(Generic[Item]):
    """Shared machinery: one pool per language, pre-encoded once, indexed per episode."""

    pools: dict[str, list[Item]]
    encoded: dict[str, Labeled]
    rng: random.Random

    def _indices(self, lang: str) -> tuple[list[int], list[int]]:
        raise NotImplementedError

    @property
    def languages(self) -> list[str]:
        return sorted(self.pools)

    def draw(self, lang: str | None = None) -> Episode[Item]:
        """One episode from one language (uniformly chosen unless ``lang`` is given)."""
        lang = lang or self.rng.choice(self.languages)
        support, query = self._indices(lang)
        pool, enc = self.pools[lang], self.encoded[lang]

        def take(idx: list[int]) -> Labeled:
            return take_sentences(enc, torch.tensor(idx, dtype=torch.long))

        return Episode(
            lang, [pool[i] for i in support], [pool[i] for i in query], Task(take(support), take(query))
        )

    def sample(self, lang: str | None = None) -> Task:
        return self.draw(lang).task

    def sample_batch(self, n: int, lang: str | None = None) -> Task:
        """``n`` tasks stacked: every tensor gains a leading dimension ``n`` (for vmap)."""
        return stack_tasks([self.sample(lang) for _ in range(n)])


class TaggingEpisodeSampler(_Sampler[Sentence]):
    """Support and query sentences drawn disjointly from one language's pool.

    ``sentences`` may mix languages: a task picks one language, then draws ``support_size`` +
    ``query_size`` distinct sentences from it. Sentences longer than ``max_len`` are skipped
    (``self.skipped[lang]`` counts them). A mapping ``{task name: sentences}`` gives the task pools
    directly instead (e.g. one per English genre, see :func:`xlmeta_lab.data.roles.training_tasks`); the names
    then take the place of languages everywhere below. ``vocab`` may be any :class:`SentenceEncoder` (e.g.
    a Hugging Face tokenizer's, :class:`xlmeta_lab.episodes.subwords.SubwordEncoder`); a :class:`Vocab` encodes words and
    characters, cut to ``max_word_len``.
    """

    def __init__(
        self,
        sentences: Iterable[Sentence] | Mapping[str, Sequence[Sentence]],
        vocab: Vocab | SentenceEncoder,
        support_size: int,
        query_size: int,
        max_len: int = 48,
        max_word_len: int = 16,
        seed: int = 0,
    ) -> None:
        all_pools = (
            {name: list(pool) for name, pool in sentences.items()}
            if isinstance(sentences, Mapping)
            else _by_lang(sentences)
        )
        self.pools = {lang: [s for s in pool if len(s) <= max_len] for lang, pool in all_pools.items()}
        self.skipped = {lang: len(all_pools[lang]) - len(pool) for lang, pool in self.pools.items()}
        self.support_size, self.query_size = support_size, query_size
        if not self.pools:
            raise ValueError("no sentences given")
        for lang, pool in self.pools.items():
            if support_size + query_size > len(pool):
                raise ValueError(
                    f"support_size K={support_size} + query_size {query_size} needs {support_size + query_size} "
                    f"distinct sentences, but the {lang!r} pool has {len(pool)} "
                    f"({self.skipped[lang]} longer than max_len={max_len} skipped)"
                )
        encoder = as_encoder(vocab, max_word_len)
        self.encoded = {lang: encoder.encode(pool, max_len) for lang, pool in self.pools.items()}
        self.rng = random.Random(seed)

    def _indices(self, lang: str) -> tuple[list[int], list[int]]:
        picked = self.rng.sample(range(len(self.pools[lang])), self.support_size + self.query_size)
        return picked[: self.support_size], picked[self.support_size :]


def support_draws(pool: Sequence[Item], k: int, n_draws: int, seed: int = 0) -> list[list[Item]]:
    """``n_draws`` K-item support sets from ``pool``, the same for every condition (paired design).

    Draw ``d`` is the first ``k`` items of a permutation seeded by ``(seed, d)``, so the sets are
    nested across K (draw d at K=5 is inside draw d at K=10): differences between K are then
    not a matter of luck in the draw.
    """
    if k > len(pool):
        raise ValueError(f"K={k} is larger than the support pool ({len(pool)} items)")
    draws = []
    for d in range(n_draws):
        order = list(range(len(pool)))
        random.Random(f"{seed}:draw:{d}").shuffle(order)
        draws.append([pool[i] for i in order[:k]])
    return draws
