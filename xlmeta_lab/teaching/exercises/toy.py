"""Notebook 02's exercises: how related two lexicons are, an episode sampler, token accuracy without padding,
and fine-tuning an initialisation on K sentences by hand.

Each checker builds its own small problem (hand-made sentences, or a few seeded toy languages; no data files)
and compares with the package's own code: :func:`xlmeta_lab.data.toy.form_overlap`,
:class:`xlmeta_lab.episodes.samplers.TaggingEpisodeSampler`, :func:`xlmeta_lab.experiments.adaptation.scoring.count_correct`
and :func:`xlmeta_lab.experiments.adaptation.finetune.finetune`. Every check takes well under a second.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from xlmeta_lab.data.toy import form_overlap as reference_overlap
from xlmeta_lab.data.toy import make_toy_languages
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes.encoders import WordCharEncoder
from xlmeta_lab.episodes.samplers import TaggingEpisodeSampler
from xlmeta_lab.episodes.tensors import IGNORE_INDEX, Labeled
from xlmeta_lab.episodes.vocab import Vocab
from xlmeta_lab.experiments.adaptation.finetune import finetune
from xlmeta_lab.experiments.adaptation.scoring import count_correct
from xlmeta_lab.meta import call_model
from xlmeta_lab.models.backbones import new_tagger
from xlmeta_lab.models.tagger import TaggerConfig, tagging_loss
from xlmeta_lab.teaching.exercises.core import ExerciseFailed, as_numbers, compare_tensors, exercise


def _number(value: float | Tensor) -> Tensor:
    """One number as the float64 tensor :func:`compare_tensors` compares (float32 would miss by rounding)."""
    return torch.tensor([float(value)], dtype=torch.float64)


# -- exercise 1: how related are two lexicons? ------------------------------------------------------------


def form_overlap(a: Sequence[Sentence], b: Sequence[Sentence]) -> float:
    """Share of the word types of ``a`` (punctuation left out) that also occur in ``b``: the package's
    :func:`xlmeta_lab.data.toy.form_overlap`."""
    return reference_overlap(a, b)


def _sentence(words: str, tags: str, lang: str, i: int) -> Sentence:
    return Sentence(tuple(words.split()), tuple(tags.split()), f"hand-{lang}-{i}", lang, "hand")


def _hand_made() -> tuple[list[Sentence], list[Sentence]]:
    """Five French word types, two of them Spanish too; chosen so that each usual slip gives its own number."""
    fr = [
        _sentence("lo ka ka ka mi .", "DET NOUN NOUN NOUN VERB PUNCT", "fr", 0),
        _sentence("ru ka su ?", "NOUN NOUN ADJ PUNCT", "fr", 1),
    ]
    es = [
        _sentence("ka ka zo ka .", "NOUN NOUN VERB NOUN PUNCT", "es", 0),
        _sentence("ru ka .", "VERB NOUN PUNCT", "es", 1),
    ]
    return fr, es


def _types(sentences: Sequence[Sentence], *, punct: bool = False, with_tags: bool = False) -> set:
    return {
        (f, t) if with_tags else f
        for s in sentences
        for f, t in zip(s.forms, s.tags)
        if punct or t != "PUNCT"
    }


@exercise(
    "02.1",
    "how many French word forms are Spanish ones",
    hints=(
        "compare vocabularies, not running text: each distinct word form counts once, and punctuation"
        " is not a word",
        "share = |French forms that are also Spanish forms| / |French forms|: divided by French's own"
        " count, not by the union's",
        "the set of French word forms (tag != 'PUNCT') and the set of Spanish ones; "
        "len(french & spanish) / len(french)",
    ),
    solution=form_overlap,
)
def check_form_overlap(answer: Callable[..., float]) -> str:
    fr, es = _hand_made()
    a, b, a_punct, b_punct = _types(fr), _types(es), _types(fr, punct=True), _types(es, punct=True)
    tokens = [f for s in fr for f, t in zip(s.forms, s.tags) if t != "PUNCT"]
    expected = _number(reference_overlap(fr, es))
    fr_pairs, es_pairs = _types(fr, with_tags=True), _types(es, with_tags=True)
    compare_tensors(
        as_numbers(answer(fr, es), what="the overlap", names=["share"]),
        expected,
        what="the overlap of the hand-made lexicons",
        mistakes={
            "it is the number of shared word types; divide by the number of French word types": _number(
                len(a & b)
            ),
            "it counts word tokens (a frequent word counts many times); count word types, each form once "
            "(a set)": _number(sum(f in b for f in tokens) / len(tokens)),
            "it divides by the union of both lexicons (a Jaccard index); the question is what share of the "
            "FRENCH types the training data covers: divide by the number of French types": _number(
                len(a & b) / len(a | b)
            ),
            "it divides by the number of Spanish types; divide by the number of French types": _number(
                len(a & b) / len(b)
            ),
            "punctuation is counted; leave out words tagged PUNCT ('.' and '?' are in every language)": _number(
                len(a_punct & b_punct) / len(a_punct)
            ),
            "it compares (form, tag) pairs; a form shared with another tag (a verb spelled like a noun) is "
            "still a shared form, which is what an embedding sees": _number(
                len(fr_pairs & es_pairs) / len(fr_pairs)
            ),
            "it is in percent; return a share between 0 and 1": 100 * expected,
        },
        rtol=1e-6,
        atol=1e-9,
    )
    langs = make_toy_languages(40, seed=3, relatedness=0.5)
    result = compare_tensors(
        as_numbers(answer(langs["fr"], langs["es"]), what="the overlap", names=["share"]),
        _number(reference_overlap(langs["fr"], langs["es"])),
        what="the overlap of two toy lexicons",
        rtol=1e-6,
        atol=1e-9,
    )
    return f"{result}, against xlmeta_lab.data.toy.form_overlap, on hand-made and on toy lexicons"


# -- exercise 2: an episode sampler -----------------------------------------------------------------------


def sample_episode(
    sentences: Sequence[Sentence], lang: str, k: int, query_size: int, seed: int
) -> tuple[list[Sentence], list[Sentence]]:
    """``(support, query)``: ``k`` and ``query_size`` distinct sentences of language ``lang``, disjoint, drawn
    with ``random.Random(seed)``; the package's :class:`TaggingEpisodeSampler` draws the same."""
    pool = [s for s in sentences if s.lang == lang]
    longest = max((len(s) for s in pool), default=1)
    episode = TaggingEpisodeSampler(pool, Vocab.build(pool), k, query_size, max_len=longest, seed=seed).draw(
        lang
    )
    return episode.support, episode.query


def _episode(result: object, k: int, query_size: int, lang: str, pool_ids: set[str]) -> tuple[list, list]:
    """The learner's ``(support, query)``, after the checks any episode must pass."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseFailed(f"return (support, query), two lists of sentences; got {type(result).__name__}")
    support, query = (list(part) for part in result)
    items = support + query
    if not all(isinstance(s, Sentence) for s in items):
        odd = next(s for s in items if not isinstance(s, Sentence))
        raise ExerciseFailed(
            f"support and query should hold the sentences themselves (Sentence objects); found {odd!r}"
            + (": you returned indices, use them to pick from the pool" if isinstance(odd, int) else "")
        )
    if (len(support), len(query)) == (query_size, k) and k != query_size:
        raise ExerciseFailed(
            f"support has {len(support)} sentences and query {len(query)}: K and query_size are swapped "
            "(the support set is the K sentences the model adapts on)"
        )
    if len(support) != k or len(query) != query_size:
        raise ExerciseFailed(
            f"support has {len(support)} sentences and query {len(query)}; asked for K={k} and "
            f"query_size={query_size}"
        )
    others = sorted({s.lang for s in items if s.lang != lang})
    if others:
        raise ExerciseFailed(
            f"the episode mixes languages (it holds {', '.join(map(repr, others))} sentences besides {lang!r}): "
            "an episode is one task, so keep only the sentences whose .lang is lang, then draw"
        )
    for name, part in (("support", support), ("query", query)):
        if len({s.sent_id for s in part}) < len(part):
            raise ExerciseFailed(
                f"the {name} set holds the same sentence twice: draw without replacement "
                "(random.Random(seed).sample, not choice in a loop)"
            )
    shared = {s.sent_id for s in support} & {s.sent_id for s in query}
    if shared:
        raise ExerciseFailed(
            f"support and query share {len(shared)} sentence(s): the query scores what adaptation on the support "
            "set learned, so it must be held out from it. Draw K + query_size distinct sentences once, then "
            "split them"
        )
    if any(s.sent_id not in pool_ids for s in items):
        raise ExerciseFailed("the episode holds sentences that are not in the given pool")
    return support, query


def _ids(part: Sequence[Sentence]) -> list[str]:
    return [s.sent_id for s in part]


@exercise(
    "02.2",
    "an episode sampler",
    hints=(
        "an episode is a support set and a query set drawn from one language without overlap, the "
        "same again for the same seed; asking for more sentences than there are must fail loudly",
        "draw k + query_size distinct sentences of the language in one go with a generator seeded by "
        "seed; the first k are the support, the rest the query",
        "keep the sentences of lang; raise ValueError when k + query_size is more than them; "
        "picked = random.Random(seed).sample(range(len(pool)), k + query_size); the first k are the support",
    ),
    solution=sample_episode,
)
def check_sample_episode(answer: Callable[..., tuple]) -> str:
    langs = make_toy_languages(30, seed=5)
    pool = [s for trio in zip(langs["en"], langs["es"], langs["fr"]) for s in trio]  # languages interleaved
    es = [s for s in pool if s.lang == "es"]
    ids = {s.sent_id for s in pool}
    k, query_size = 3, 5
    episodes = {
        seed: _episode(answer(list(pool), "es", k, query_size, seed), k, query_size, "es", ids)
        for seed in range(4)
    }

    state = random.getstate()  # the same seed must give the same episode, whatever the global generator did
    random.seed(987654)
    again = _episode(answer(list(pool), "es", k, query_size, 2), k, query_size, "es", ids)
    random.setstate(state)
    if (_ids(again[0]), _ids(again[1])) != (_ids(episodes[2][0]), _ids(episodes[2][1])):
        raise ExerciseFailed(
            "the same seed gave two different episodes: draw with a generator of your own, random.Random(seed), "
            "not with the global random module"
        )
    if len({tuple(_ids(s + q)) for s, q in episodes.values()}) == 1:
        first = _ids(es[: k + query_size])
        if _ids(episodes[0][0] + episodes[0][1]) == first:
            raise ExerciseFailed(
                "you took the first K + query_size sentences of the pool: every episode of a language would be "
                "the same task. Draw them at random with random.Random(seed)"
            )
        raise ExerciseFailed("the episode does not change with the seed: draw with random.Random(seed)")

    too_many = (25, 10)  # 25 fits in the 30 Spanish sentences, 25 + 10 does not
    try:
        answer(list(pool), "es", *too_many, 0)
    except ValueError as error:
        if str(len(es)) not in str(error):
            raise ExerciseFailed(
                f"K + query_size = 35 is more than the {len(es)} Spanish sentences and you raised ValueError, but "
                f"its message ({str(error)!r}) does not say so: raise your own ValueError that names K, "
                "query_size and the pool's size"
            ) from None
    except Exception as error:  # any other exception is the mistake this names
        raise ExerciseFailed(
            f"K + query_size = 35 is more than the {len(es)} Spanish sentences: raise ValueError naming the sizes "
            f"before drawing, not {type(error).__name__}: {error}"
        ) from None
    else:
        raise ExerciseFailed(
            f"K + query_size = 35 is more than the {len(es)} Spanish sentences, yet your function returned an "
            "episode (only K was checked, or sentences repeat): raise ValueError naming the sizes"
        )

    same = all(
        (_ids(s), _ids(q)) == tuple(_ids(part) for part in sample_episode(pool, "es", k, query_size, seed))
        for seed, (s, q) in episodes.items()
    )
    note = (
        "it draws exactly the episodes TaggingEpisodeSampler draws with the same seed"
        if same
        else "(your draws differ from TaggingEpisodeSampler's, which is fine: it uses "
        "random.Random(seed).sample(range(len(pool)), K + query_size), first K for the support)"
    )
    return f"one language, disjoint support and query, seeded, too-large K refused; {note}"


# -- exercise 3: token accuracy, padding left out --------------------------------------------------------


def token_accuracy(predicted: Tensor, gold: Tensor) -> float:
    """Share of real words (gold != -100) whose predicted tag id is the gold one: the package's
    :func:`xlmeta_lab.experiments.adaptation.scoring.count_correct`, as a share."""
    correct, total = count_correct(predicted, gold)
    return correct / total


def _accuracy_problem(seed: int) -> tuple[Tensor, Tensor]:
    """Tags of sentences of different lengths, padded with -100, and predictions right about 60% of the time."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [7, 2, 5, 3]
    gold = torch.full((len(lengths), max(lengths)), IGNORE_INDEX)
    for i, n in enumerate(lengths):
        gold[i, :n] = torch.randint(0, 17, (n,), generator=generator)
    right = torch.rand(gold.shape, generator=generator) < 0.6
    predicted = torch.where(right, gold.clamp_min(0), torch.randint(0, 17, gold.shape, generator=generator))
    predicted[gold == IGNORE_INDEX] = 0  # what argmax gives on padding: some tag, never -100
    return predicted, gold


@exercise(
    "02.3",
    "token accuracy without padding",
    hints=(
        "padding positions are not words: leave them out of the count of words and of the correct "
        "ones",
        "accuracy = #(real positions where predicted == gold) / #(real positions), a position being "
        "real when its gold label is not the padding label -100",
        "real = gold != -100; the share of real positions where predicted == gold",
    ),
    solution=token_accuracy,
)
def check_token_accuracy(answer: Callable[..., float]) -> str:
    for seed in (0, 1):
        predicted, gold = _accuracy_problem(seed)
        real = gold != IGNORE_INDEX
        hits = (predicted == gold) & real
        correct, total = count_correct(predicted, gold)
        per_sentence = (hits.sum(1) / real.sum(1)).mean()
        result = compare_tensors(
            as_numbers(answer(predicted.clone(), gold.clone()), what="the accuracy", names=["accuracy"]),
            _number(correct / total),
            what="the token accuracy",
            mistakes={
                "padding is counted as wrong: it divides by every position; count only positions where "
                "gold != -100": _number(correct / gold.numel()),
                "padding is counted as right: leave positions where gold == -100 out of both counts": (
                    _number((correct + int((~real).sum())) / gold.numel())
                ),
                "it averages per-sentence accuracies, so a 2-word sentence weighs as much as a 7-word one; "
                "token accuracy counts every word once: total correct / total real words": _number(
                    per_sentence
                ),
                "it is in percent; return a share between 0 and 1": _number(100 * correct / total),
            },
            rtol=1e-6,
            atol=1e-9,
        )
        flat = as_numbers(
            answer(predicted.reshape(-1), gold.reshape(-1)), what="the accuracy", names=["accuracy"]
        )
        compare_tensors(
            flat,
            _number(correct / total),
            what="the token accuracy of the same tags flattened to 1-D (as the notebook passes them)",
            rtol=1e-6,
            atol=1e-9,
        )
    return f"{result}, against xlmeta_lab.experiments.adaptation.scoring.count_correct, on padded 2-D and flat 1-D tags"


# -- exercise 4: fine-tuning by hand ----------------------------------------------------------------------


def finetune_by_hand(model: nn.Module, support: Labeled, lr: float, steps: int) -> dict[str, Tensor]:
    """``steps`` plain SGD steps of size ``lr`` on the support set's tagging loss, from a copy of the model's
    weights: the package's :func:`xlmeta_lab.experiments.adaptation.finetune.finetune`, which the protocol uses."""
    return finetune(model, support, lr=lr, steps=steps)


def plain_sgd(model: nn.Module, support: Labeled, lr: float, steps: int) -> dict[str, Tensor]:
    """The loop written out (used by the checker for the values a slip produces)."""
    params = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    for _ in range(steps):
        loss = tagging_loss(call_model(model, params, support.x), support.y)
        grads = torch.autograd.grad(loss, list(params.values()))
        params = {n: (p - lr * g).detach().requires_grad_(True) for (n, p), g in zip(params.items(), grads)}
    return {n: p.detach() for n, p in params.items()}


def _flat(params: object, names: Sequence[str]) -> Tensor:
    if not isinstance(params, dict) or set(params) != set(names):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ExerciseFailed(
            f"return a dict of the adapted weights with the model's parameter names ({len(names)} of them, e.g. "
            f"{names[0]!r}); got {got if isinstance(got, str) else got[:4]}"
        )
    return torch.cat([params[n].detach().reshape(-1).to(torch.float64) for n in names])


@exercise(
    "02.4",
    "fine-tuning on K sentences by hand",
    hints=(
        "fine-tuning is the inner loop alone: plain gradient descent on the support set, from a copy "
        "of the initialisation, leaving the model itself untouched",
        "params_(t+1) = params_t - lr * grad L_support(params_t) for t = 0 .. steps - 1, with no "
        "graph kept from one step to the next",
        "params = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}; "
        "steps times: loss = tagging_loss(call_model(model, params, support.x), support.y), "
        "grads = torch.autograd.grad(loss, list(params.values())), params = p - lr * g (detached again)",
    ),
    solution=finetune_by_hand,
)
def check_finetune_by_hand(answer: Callable[..., dict[str, Tensor]]) -> str:
    langs = make_toy_languages(12, seed=4, languages=("es",))
    vocab = Vocab.build(langs["es"])
    support = WordCharEncoder(vocab, 8).encode(langs["es"][:5])
    config = TaggerConfig(
        n_tags=17,
        n_words=vocab.n_words,
        n_chars=vocab.n_chars,
        word_dim=8,
        char_dim=6,
        char_channels=8,
        hidden=12,
    )
    model = new_tagger(config, seed=0)
    names = [n for n, _ in model.named_parameters()]
    start = _flat(dict(model.named_parameters()), names)
    lr, steps = 0.3, 3

    def sgd(lr: float, steps: int) -> Tensor:
        return _flat(plain_sgd(model, support, lr, steps), names)

    got = _flat(answer(model, support, lr, steps), names)
    if not torch.equal(_flat(dict(model.named_parameters()), names), start):
        raise ExerciseFailed(
            "your function changed the model's own weights: adapt a copy (p.detach().clone()), so every condition "
            "and every draw starts from the same initialisation"
        )
    try:
        result = compare_tensors(
            got,
            _flat(finetune(model, support, lr=lr, steps=steps), names),
            what="the adapted weights",
            mistakes={
                "the weights did not move: take the steps, and return the adapted weights, not the model's": start,
                f"it took {steps - 1} steps: the loop runs one step too few": sgd(lr, steps - 1),
                f"it took {steps + 1} steps: the loop runs one step too many": sgd(lr, steps + 1),
                "the steps went uphill: p - lr * g, minus": sgd(-lr, steps),
                "every step used the gradient at the start: take each step's gradient at the weights the previous "
                "step reached": start - steps * (start - sgd(lr, 1)),
            },
            rtol=1e-4,
            atol=1e-6,
        )
    except ExerciseFailed as failure:
        if "differs from the reference" not in str(failure):
            raise
        raise ExerciseFailed(
            f"{failure}. Fine-tuning here is plain SGD on the whole support set with tagging_loss (the mean over "
            "real words): no optimiser state (Adam, momentum), no mini-batches, no dropout"
        ) from None
    return f"{result}, against xlmeta_lab.experiments.adaptation.finetune.finetune ({steps} steps on 5 toy sentences)"
