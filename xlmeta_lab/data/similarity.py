"""How close is a source language to French? Measured on the treebanks themselves, no outside knowledge.

Three measures, each a number in [0, 1] where 1 means "the same":

* **character n-gram overlap**: the share of character n-gram mass two languages have in common (histogram
  intersection, ``sum_g min(p(g), q(g))``) over lowercased word forms with boundary marks (``<de>`` gives
  ``<de``, ``de>``). The tagger reads characters, so this is what its character CNN can carry over;
* **UPOS bigram similarity**: ``1 - JS(p, q)``, one minus the Jensen-Shannon divergence (base 2, so it lies in
  [0, 1]) between the distributions of adjacent tag pairs, sentence start and end included: which tag follows
  which, a picture of word order and of what the tagger's context layer learns;
* **word-order similarity**: for a few tag pairs (adjective and noun, auxiliary and verb, ...) the share of
  adjacent occurrences in one order (``ADJ NOUN`` among ``ADJ NOUN`` + ``NOUN ADJ``), compared between the
  languages as ``1 - mean |difference|``. Adjacency is only a proxy for the dependency-based word order of
  typology (``the house of`` is ``NOUN ADP`` without being a postposition), and it says so in its name.

For French these are computed on the support pool (fr GSD dev), never on a test set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence

from xlmeta_lab.data.ud import Sentence

#: Tag pairs whose adjacent order the word-order proxy compares: (first, second) counts as "first before".
ORDER_PAIRS: tuple[tuple[str, str], ...] = (
    ("ADJ", "NOUN"),
    ("DET", "NOUN"),
    ("NUM", "NOUN"),
    ("AUX", "VERB"),
)
#: Marks of a sentence's start and end in UPOS bigrams.
START, END = "<s>", "</s>"


def char_ngrams(sentences: Iterable[Sentence], n: int = 3) -> Counter[str]:
    """Counts of character n-grams of every word form, lowercased, with ``<`` and ``>`` marking the word's
    edges (a word shorter than ``n - 2`` letters still gives its one padded n-gram, e.g. ``<a>``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    counts: Counter[str] = Counter()
    for sentence in sentences:
        for form in sentence.forms:
            word = f"<{form.lower()}>"
            counts.update(word[i : i + n] for i in range(max(1, len(word) - n + 1)))
    return counts


def normalise(counts: Mapping[Hashable, float]) -> dict[Hashable, float]:
    """Counts as a probability distribution (shares summing to 1); an empty count is an error."""
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("cannot normalise empty counts")
    return {key: value / total for key, value in counts.items()}


def histogram_intersection(p: Mapping[Hashable, float], q: Mapping[Hashable, float]) -> float:
    """``sum_g min(p(g), q(g))`` of two distributions: 1 when equal, 0 when they share nothing."""
    return sum(min(value, q[key]) for key, value in p.items() if key in q)


def char_ngram_overlap(a: Iterable[Sentence], b: Iterable[Sentence], n: int = 3) -> float:
    """Histogram intersection of the character n-gram distributions of ``a`` and ``b`` (see module doc)."""
    return histogram_intersection(normalise(char_ngrams(a, n)), normalise(char_ngrams(b, n)))


def upos_bigrams(sentences: Iterable[Sentence]) -> Counter[tuple[str, str]]:
    """Counts of adjacent UPOS pairs, with :data:`START` and :data:`END` around each sentence."""
    counts: Counter[tuple[str, str]] = Counter()
    for sentence in sentences:
        tags = (START, *sentence.tags, END)
        counts.update(zip(tags, tags[1:]))
    return counts


def jensen_shannon(p: Mapping[Hashable, float], q: Mapping[Hashable, float]) -> float:
    """Jensen-Shannon divergence in bits: ``H(m) - (H(p) + H(q)) / 2`` with ``m = (p + q) / 2``; in [0, 1]."""

    def entropy(dist: Iterable[float]) -> float:
        return -sum(x * math.log2(x) for x in dist if x > 0)

    keys = set(p) | set(q)
    mixture = [(p.get(k, 0.0) + q.get(k, 0.0)) / 2 for k in keys]
    return max(0.0, entropy(mixture) - (entropy(p.values()) + entropy(q.values())) / 2)


def upos_bigram_similarity(a: Iterable[Sentence], b: Iterable[Sentence]) -> float:
    """``1 - JS`` between the UPOS bigram distributions of ``a`` and ``b``."""
    return 1.0 - jensen_shannon(normalise(upos_bigrams(a)), normalise(upos_bigrams(b)))


def order_preference(sentences: Iterable[Sentence], first: str, second: str) -> float:
    """Share of ``first second`` among adjacent ``first second`` and ``second first``; ``nan`` if neither occurs."""
    before = after = 0
    for sentence in sentences:
        for left, right in zip(sentence.tags, sentence.tags[1:]):
            before += (left, right) == (first, second)
            after += (left, right) == (second, first)
    return before / (before + after) if before + after else math.nan


def word_order_profile(
    sentences: Sequence[Sentence], pairs: Sequence[tuple[str, str]] = ORDER_PAIRS
) -> dict[str, float]:
    """:func:`order_preference` for each pair, keyed ``"ADJ<NOUN"`` (share of ADJ before NOUN)."""
    return {f"{first}<{second}": order_preference(sentences, first, second) for first, second in pairs}


def profile_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """``1 - mean |a[k] - b[k]|`` over the keys both profiles measured (``nan`` where one never saw the pair)."""
    diffs = [abs(a[k] - b[k]) for k in a if k in b and not (math.isnan(a[k]) or math.isnan(b[k]))]
    return 1.0 - sum(diffs) / len(diffs) if diffs else math.nan


def word_order_similarity(
    a: Sequence[Sentence], b: Sequence[Sentence], pairs: Sequence[tuple[str, str]] = ORDER_PAIRS
) -> float:
    """How alike the adjacent-order preferences of ``a`` and ``b`` are (see module doc)."""
    return profile_similarity(word_order_profile(a, pairs), word_order_profile(b, pairs))


#: The measures :func:`similarities_to` computes, by the name the notebook and its plots use.
MEASURES = ("char 3-gram overlap", "UPOS bigram similarity", "word-order similarity")


def similarities_to(
    target: Sequence[Sentence], sources: Mapping[str, Sequence[Sentence]]
) -> dict[str, dict[str, float]]:
    """Every measure of :data:`MEASURES` between ``target`` and each source: ``{source: {measure: value}}``."""
    target_ngrams = normalise(char_ngrams(target, 3))
    target_bigrams = normalise(upos_bigrams(target))
    target_order = word_order_profile(target)
    return {
        name: {
            MEASURES[0]: histogram_intersection(target_ngrams, normalise(char_ngrams(sentences, 3))),
            MEASURES[1]: 1.0 - jensen_shannon(target_bigrams, normalise(upos_bigrams(sentences))),
            MEASURES[2]: profile_similarity(target_order, word_order_profile(sentences)),
        }
        for name, sentences in sources.items()
    }
