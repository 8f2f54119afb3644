"""From sentences to meta-learning tasks: vocabularies, padded tensors, episode samplers, and the
French few-shot protocol.

A *task* is ``(support, query)``, each ``(x, y)``; ``x = (word_ids, char_ids)`` with shapes
``[S, L]`` and ``[S, L, W]``. For tagging ``y`` is ``[S, L]`` with :data:`IGNORE_INDEX` (-100) on
padding, which ``F.cross_entropy`` skips by default, so the loss needs no separate mask.
Every task from one sampler has the same shapes, so ``sample_batch(n)`` stacks ``n`` tasks into
one :class:`Task` with a leading task dimension, ready for ``torch.func.vmap``.

Why fixed ``L`` and ``W``: vmap needs equal shapes. Samplers *skip* sentences longer than
``max_len`` (a support sentence is then always a whole sentence with all its tags; the number
skipped is reported), and cut words to their first ``max_word_len`` characters (the word id
still sees the full form). :func:`encode_sentences` for evaluation pads to the longest sentence
unless ``max_len`` is given, in which case it truncates (and drops those tags).

Randomness comes only from ``random.Random(seed)`` owned by each sampler: the same seed gives the
same episodes whatever else the program does.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, Protocol, TypeVar

import torch
from torch import Tensor

from xlmeta_lab.data.sib200 import Example, load_labels, load_sib200
from xlmeta_lab.data.ud import UPOS_TAGS, Sentence, load_treebank

PAD, UNK = 0, 1
IGNORE_INDEX = -100
TAG_TO_ID = {tag: i for i, tag in enumerate(UPOS_TAGS)}
_TOKEN = re.compile(r"\w+|[^\w\s]")

Item = TypeVar("Item", Sentence, Example)


def tokenize(text: str) -> list[str]:
    """Words and single punctuation marks; enough for SIB-200 sentences in en/es/fr."""
    return _TOKEN.findall(text)


def tokens_of(item: Sentence | Example) -> Sequence[str]:
    """A UD/toy sentence's forms, or a SIB-200 example's tokenised text."""
    return item.forms if isinstance(item, Sentence) else tokenize(item.text)


@dataclass(frozen=True)
class Vocab:
    """Word and character inventories with PAD=0 and UNK=1.

    Build it from the *training* languages only: a French word that was never seen maps to UNK,
    exactly as it would for a learner with no French. Characters are one inventory shared by
    all languages, which is what lets a character encoder transfer spelling cues. Words are
    lower-cased by default (``lowercase``); characters keep their case (a capital is a cue).
    """

    words: tuple[str, ...]
    chars: tuple[str, ...]
    lowercase: bool = True
    _word_index: dict[str, int] = field(init=False, repr=False, compare=False)
    _char_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_index", {w: i for i, w in enumerate(self.words)})
        object.__setattr__(self, "_char_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def build(
        cls,
        items: Iterable[Sentence | Example],
        min_freq: int = 1,
        char_min_freq: int = 1,
        lowercase: bool = True,
    ) -> Vocab:
        """Words seen at least ``min_freq`` times (chars ``char_min_freq``), most frequent first."""
        words: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        for item in items:
            for form in tokens_of(item):
                words[form.lower() if lowercase else form] += 1
                chars.update(form)
        keep_words = [w for w, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_freq]
        keep_chars = [
            c for c, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])) if n >= char_min_freq
        ]
        return cls(("<pad>", "<unk>", *keep_words), ("<pad>", "<unk>", *keep_chars), lowercase)

    @property
    def n_words(self) -> int:
        return len(self.words)

    @property
    def n_chars(self) -> int:
        return len(self.chars)

    def word_id(self, form: str) -> int:
        return self._word_index.get(form.lower() if self.lowercase else form, UNK)

    def char_ids(self, form: str, max_word_len: int) -> list[int]:
        return [self._char_index.get(c, UNK) for c in form[:max_word_len]]


class TokenInputs(NamedTuple):
    """``x`` of a set of sentences: word ids ``[S, L]`` and character ids ``[S, L, W]``."""

    word_ids: Tensor
    char_ids: Tensor


class Labeled(NamedTuple):
    """``(x, y)``: inputs and targets (tags ``[S, L]`` with -100 padding, or labels ``[S]``).

    ``x`` is any tuple of tensors with the sentence on the first axis (:class:`TokenInputs` for the word
    tagger, :class:`xlmeta_lab.hf.EncoderInputs` for a Hugging Face encoder); the helpers below stack,
    join and slice it field by field, so no code past the encoder needs to know which it is.
    """

    x: tuple[Tensor, ...]
    y: Tensor


def map_inputs(fn: Callable[[Tensor], Tensor], x: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``fn`` applied to each tensor of ``x``, keeping its tuple type (e.g. to slice or move it)."""
    return type(x)(*(fn(t) for t in x))


def take_sentences(data: Labeled, index: Tensor | slice | int) -> Labeled:
    """Sentences ``index`` of ``data`` (a slice, an index tensor, or one position of a stacked axis)."""
    return Labeled(map_inputs(lambda t: t[index], data.x), data.y[index])


def move_set(data: Labeled, device: torch.device | str) -> Labeled:
    """``data`` on ``device`` (a no-op when it is there already)."""
    return Labeled(map_inputs(lambda t: t.to(device), data.x), data.y.to(device))


def _combine(fn: Callable[[list[Tensor]], Tensor], sets: Sequence[Labeled]) -> Labeled:
    xs = [s.x for s in sets]
    return Labeled(type(xs[0])(*(fn(list(parts)) for parts in zip(*xs))), fn([s.y for s in sets]))


def stack_sets(sets: Sequence[Labeled]) -> Labeled:
    """Equally shaped ``(x, y)`` sets stacked on a new leading axis (draws or tasks, for vmap)."""
    return _combine(torch.stack, sets)


def concat_sets(sets: Sequence[Labeled]) -> Labeled:
    """Equally padded ``(x, y)`` sets as one mini-batch (e.g. the joint baseline's view of a meta-batch)."""
    return _combine(torch.cat, sets)


class Task(NamedTuple):
    """``((x_support, y_support), (x_query, y_query))``; batched tasks add a leading dimension."""

    support: Labeled
    query: Labeled


def padding_mask(y: Tensor) -> Tensor:
    """True where a tag is real; for accuracy counts (the loss needs no mask, see module doc)."""
    return y != IGNORE_INDEX


def stack_tasks(tasks: Sequence[Task]) -> Task:
    """Stack equally shaped tasks along a new first dimension (the meta-batch)."""
    return Task(stack_sets([t.support for t in tasks]), stack_sets([t.query for t in tasks]))


def encode_tokens(
    token_lists: Sequence[Sequence[str]], vocab: Vocab, max_len: int, max_word_len: int
) -> TokenInputs:
    """Pad/truncate token lists to ``[S, max_len]`` word ids and ``[S, max_len, max_word_len]`` char ids."""
    # Flat lists and one tensor() call each: building nested tensors element-wise is ~10x slower.
    char_rows: dict[str, list[int]] = {}
    no_word = [PAD] * max_word_len
    words: list[int] = []
    chars: list[int] = []
    for tokens in token_lists:
        kept = list(tokens[:max_len])
        padding = max_len - len(kept)
        words += [vocab.word_id(form) for form in kept]
        words += [PAD] * padding
        for form in kept:
            row = char_rows.get(form)
            if row is None:
                ids = vocab.char_ids(form, max_word_len)
                row = char_rows[form] = ids + [PAD] * (max_word_len - len(ids))
            chars += row
        chars += no_word * padding
    shape = (len(token_lists), max_len)
    return TokenInputs(
        torch.tensor(words, dtype=torch.long).reshape(shape),
        torch.tensor(chars, dtype=torch.long).reshape(*shape, max_word_len),
    )


def encode_sentences(
    sentences: Sequence[Sentence], vocab: Vocab, max_len: int | None = None, max_word_len: int = 16
) -> Labeled:
    """Tagged sentences as ``(x, y)`` tensors; ``max_len=None`` pads to the longest (no truncation)."""
    max_len = max_len or max((len(s) for s in sentences), default=1)
    tags = torch.full((len(sentences), max_len), IGNORE_INDEX, dtype=torch.long)
    for i, sentence in enumerate(sentences):
        ids = [TAG_TO_ID[t] for t in sentence.tags[:max_len]]
        tags[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return Labeled(encode_tokens([s.forms for s in sentences], vocab, max_len, max_word_len), tags)


class SentenceEncoder(Protocol):
    """Turns tagged sentences into a model's ``(x, y)``: what samplers and the protocol ask of a tagger.

    ``max_len=None`` pads to the longest sentence and cuts nothing (evaluation); a number gives every call
    the same shape (episodes, so tasks stack for vmap), and words past it lose their tags.
    """

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled: ...


@dataclass(frozen=True)
class WordCharEncoder:
    """Word and character ids from a :class:`Vocab`, words cut to ``max_word_len`` characters."""

    vocab: Vocab
    max_word_len: int = 16

    def encode(self, sentences: Sequence[Sentence], max_len: int | None = None) -> Labeled:
        return encode_sentences(sentences, self.vocab, max_len, self.max_word_len)


def as_encoder(encoder: SentenceEncoder | Vocab, max_word_len: int = 16) -> SentenceEncoder:
    """``encoder`` itself, or a bare :class:`Vocab` as a :class:`WordCharEncoder` (the common case)."""
    return WordCharEncoder(encoder, max_word_len) if isinstance(encoder, Vocab) else encoder


def encode_examples(
    examples: Sequence[Example],
    vocab: Vocab,
    labels: Sequence[str],
    max_len: int | None = None,
    max_word_len: int = 16,
) -> Labeled:
    """Classification examples as ``(x, y)``; ``y[i]`` is the *global* label id (index in ``labels``)."""
    token_lists = [tokenize(e.text) for e in examples]
    max_len = max_len or max((len(t) for t in token_lists), default=1)
    y = torch.tensor([list(labels).index(e.label) for e in examples], dtype=torch.long)
    return Labeled(encode_tokens(token_lists, vocab, max_len, max_word_len), y)


@dataclass(frozen=True)
class Episode(Generic[Item]):
    """What a sampler drew, readable (``support``/``query`` items) and as tensors (``task``)."""

    lang: str
    support: list[Item]
    query: list[Item]
    task: Task


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
    directly instead (e.g. one per English genre, see :func:`xlmeta_lab.udpos.training_tasks`); the names
    then take the place of languages everywhere below. ``vocab`` may be any :class:`SentenceEncoder` (e.g.
    a Hugging Face tokenizer's, :class:`xlmeta_lab.hf.SubwordEncoder`); a :class:`Vocab` encodes words and
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


class ClassificationEpisodeSampler(_Sampler[Example]):
    """N-way K-shot sentence classification episodes (SIB-200), one language per episode.

    ``y`` holds *global* label ids (the index in ``labels``, i.e. labels.txt order), not
    episode-local 0..N-1: one 7-way head is shared by every episode and by French evaluation,
    so nothing has to be re-mapped between meta-training and test. Texts longer than
    ``max_len`` tokens are truncated (the label stays valid). Each chosen class contributes
    ``k_shot`` support and ``query_per_class`` query examples, disjoint, in shuffled order.
    """

    def __init__(
        self,
        examples: Iterable[Example],
        vocab: Vocab,
        labels: Sequence[str],
        n_way: int,
        k_shot: int,
        query_per_class: int,
        max_len: int = 64,
        max_word_len: int = 16,
        seed: int = 0,
    ) -> None:
        self.pools = _by_lang(examples)
        self.labels, self.n_way, self.k_shot, self.query_per_class = (
            tuple(labels),
            n_way,
            k_shot,
            query_per_class,
        )
        if not self.pools:
            raise ValueError("no examples given")
        if not 1 <= n_way <= len(self.labels):
            raise ValueError(f"n_way={n_way} must be between 1 and the {len(self.labels)} labels")
        self.by_label: dict[str, dict[str, list[int]]] = {}
        for lang, pool in self.pools.items():
            groups: dict[str, list[int]] = defaultdict(list)
            for i, example in enumerate(pool):
                groups[example.label].append(i)
            eligible = {label: idx for label, idx in groups.items() if len(idx) >= k_shot + query_per_class}
            if len(eligible) < n_way:
                sizes = ", ".join(f"{label} {len(idx)}" for label, idx in sorted(groups.items()))
                raise ValueError(
                    f"{n_way}-way with K={k_shot} + {query_per_class} query per class needs {n_way} classes with "
                    f"at least {k_shot + query_per_class} examples; the {lang!r} pool has {len(eligible)} ({sizes})"
                )
            self.by_label[lang] = eligible
        self.encoded = {
            lang: encode_examples(pool, vocab, labels, max_len, max_word_len)
            for lang, pool in self.pools.items()
        }
        self.rng = random.Random(seed)

    def _indices(self, lang: str) -> tuple[list[int], list[int]]:
        groups = self.by_label[lang]
        support: list[int] = []
        query: list[int] = []
        for label in self.rng.sample(sorted(groups), self.n_way):
            picked = self.rng.sample(groups[label], self.k_shot + self.query_per_class)
            support += picked[: self.k_shot]
            query += picked[self.k_shot :]
        self.rng.shuffle(support)
        self.rng.shuffle(query)
        return support, query


# --- The French few-shot protocol -------------------------------------------------------------


@dataclass(frozen=True)
class FewShotSplits(Generic[Item]):
    """French data by role. ``support_pool``: where K-shot support sets are drawn;
    ``holdout``: a disjoint part of the same split for choosing fine-tuning budgets;
    ``tests``: evaluation only, never for training or choosing anything."""

    support_pool: list[Item]
    holdout: list[Item]
    tests: dict[str, list[Item]]


def _split_off(items: list[Item], fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {fraction}")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_holdout = round(fraction * len(items))
    held = set(order[:n_holdout])
    return [x for i, x in enumerate(items) if i not in held], [x for i, x in enumerate(items) if i in held]


def french_fewshot_splits(
    data_dir: str | os.PathLike | None = None, holdout_fraction: float = 0.2, seed: int = 0
) -> FewShotSplits[Sentence]:
    """French tagging: support pool and holdout from fr GSD *dev*; tests fr GSD test and fr PUD."""
    pool, holdout = _split_off(load_treebank("fr_gsd-dev", data_dir), holdout_fraction, seed)
    tests = {key: load_treebank(key, data_dir) for key in ("fr_gsd-test", "fr_pud-test")}
    return FewShotSplits(pool, holdout, tests)


def meta_training_treebanks(data_dir: str | os.PathLike | None = None) -> dict[str, list[Sentence]]:
    """Meta-training sources: en EWT dev+test and es GSD dev+test.

    Never en/es PUD: they are translations of fr PUD (same ``sent_id``), a French test set.
    """
    return {
        "en": load_treebank("en_ewt-dev", data_dir) + load_treebank("en_ewt-test", data_dir),
        "es": load_treebank("es_gsd-dev", data_dir) + load_treebank("es_gsd-test", data_dir),
    }


def parallel_pud(data_dir: str | os.PathLike | None = None) -> dict[str, list[Sentence]]:
    """en/es/fr PUD, aligned by ``sent_id``: for the parallel analysis only, never for training."""
    return {lang: load_treebank(f"{lang}_pud-test", data_dir) for lang in ("en", "es", "fr")}


def sib200_meta_training(data_dir: str | os.PathLike | None = None) -> dict[str, list[Example]]:
    """SIB-200 meta-training: en and es *train* only (rows are translations across languages)."""
    return {lang: load_sib200(lang, "train", data_dir) for lang in ("en", "es")}


def sib200_french_splits(
    data_dir: str | os.PathLike | None = None, holdout_fraction: float = 0.2, seed: int = 0
) -> FewShotSplits[Example]:
    """French topic classification: support pool and holdout from fra *dev* (whose translations
    are not in en/es train), test on fra *test*."""
    pool, holdout = _split_off(load_sib200("fr", "dev", data_dir), holdout_fraction, seed)
    return FewShotSplits(pool, holdout, {"sib200-fra_Latn-test": load_sib200("fr", "test", data_dir)})


def sib200_labels(data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The 7 global labels in labels.txt order (label id = position)."""
    return load_labels("en", data_dir)


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
