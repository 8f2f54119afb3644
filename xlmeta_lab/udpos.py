"""The real experiment: meta-train on English and Spanish UD treebanks, adapt to French from K sentences.

Everything here is wiring: which files feed which role, the profile's sizes, and the checks that keep the
French test data out of training. The training loops, the protocol and the statistics are the same code
the toy notebook uses (:mod:`xlmeta_lab.train`, :mod:`xlmeta_lab.evaluate`).

Roles of the files (DESIGN.md, "Data"):

* training: en EWT dev+test and es GSD dev+test (never en/es PUD: they translate the French PUD test);
* French support pool and budget holdout: fr GSD dev, split once, disjoint;
* French tests: fr GSD test and fr PUD, read only to score.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from xlmeta_lab.data.ud import UPOS_TAGS, Sentence
from xlmeta_lab.episodes import (
    IGNORE_INDEX,
    FewShotSplits,
    SentenceEncoder,
    Vocab,
    french_fewshot_splits,
    meta_training_treebanks,
    parallel_pud,
)
from xlmeta_lab.evaluate import (
    ProtocolConfig,
    TrainedConditions,
    encode_buckets,
    protocol_from_settings,
    train_conditions,
    train_config_from_settings,
)
from xlmeta_lab.train import TrainConfig, predict

NOTEBOOK = "03_en_es_to_fr"
#: ``MODEL`` of notebook 03 for the tagger trained from scratch; anything else names a Hugging Face encoder.
WORD_TAGGER = "char-cnn"


def run_name(profile: str, seed: int, model: str = WORD_TAGGER) -> str:
    """The name of a run's results and checkpoints; each encoder (hub name or full folder path) its own."""
    suffix = "" if model == WORD_TAGGER else "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")
    return f"{NOTEBOOK}-{profile}-seed{seed}{suffix}"


@dataclass
class UDSetup:
    """The real experiment's data by role, and the training and protocol settings of a profile."""

    training: dict[str, list[Sentence]]
    splits: FewShotSplits
    train_config: TrainConfig
    protocol: ProtocolConfig
    genre_training: dict[str, list[Sentence]]


def training_tasks(
    treebanks: Mapping[str, Sequence[Sentence]], split_by: str = "language"
) -> dict[str, list[Sentence]]:
    """Meta-training task pools: one per language, or several per language (``split_by="genre"``).

    Two training tasks are few for meta-learning to generalise over. English EWT mixes five web genres
    (answers, email, newsgroup, reviews, weblog: the ``sent_id`` prefix), so ``"genre"`` makes each genre a
    task. Spanish GSD has no genre labels (its ids mark file chunks of very unequal size, not documents), so
    it is cut, in file order, into as many equal blocks as English has genres. That keeps the two
    languages equally likely, because the episode sampler picks a task pool uniformly: five English pools
    against one Spanish pool would quietly turn the experiment into an English one.
    """
    if split_by == "language":
        return {lang: list(sentences) for lang, sentences in treebanks.items()}
    if split_by != "genre":
        raise ValueError(f"split_by must be 'language' or 'genre', got {split_by!r}")
    genres = {lang: _genre_pools(sentences) for lang, sentences in treebanks.items()}
    n_groups = max((len(pools) for pools in genres.values() if pools), default=1)
    tasks: dict[str, list[Sentence]] = {}
    for lang, sentences in treebanks.items():
        pools = genres[lang] or _blocks(sentences, n_groups)
        tasks.update({f"{lang}-{name}": pool for name, pool in pools.items()})
    return tasks


def _genre_pools(sentences: Sequence[Sentence]) -> dict[str, list[Sentence]]:
    """EWT-style ``<genre>-<document>-<n>`` ids by genre; empty if the ids carry no genre (one prefix)."""
    pools: dict[str, list[Sentence]] = defaultdict(list)
    for sentence in sentences:
        pools[sentence.sent_id.split("-", 1)[0]].append(sentence)
    return dict(sorted(pools.items())) if len(pools) > 1 else {}


def _blocks(sentences: Sequence[Sentence], n_groups: int) -> dict[str, list[Sentence]]:
    """``n_groups`` contiguous, equally sized blocks in file order (neighbouring sentences share a text)."""
    n = min(n_groups, len(sentences))
    bounds = [round(i * len(sentences) / n) for i in range(n + 1)]
    return {f"part{g + 1}": list(sentences[bounds[g] : bounds[g + 1]]) for g in range(n)}


def assert_no_test_leakage(
    training: Mapping[str, Sequence[Sentence]], splits: FewShotSplits, pud: Mapping[str, Sequence[Sentence]]
) -> None:
    """Refuse a set-up in which a French test sentence, or a translation of one, could be trained on.

    Checks sentence ids (en/es PUD share theirs with fr PUD) and the source treebank of every training
    sentence; the French support pool and holdout must not meet the tests either.
    """
    train_ids = {s.sent_id for pool in training.values() for s in pool}
    test_ids = {s.sent_id for sentences in splits.tests.values() for s in sentences}
    pud_ids = {s.sent_id for sentences in pud.values() for s in sentences}
    french_ids = {s.sent_id for s in [*splits.support_pool, *splits.holdout]}
    problems = {
        "training shares sentence ids with a French test set": train_ids & test_ids,
        "training holds PUD sentence ids (translations of the French PUD test)": train_ids & pud_ids,
        "the French support pool or holdout meets a test set": french_ids & test_ids,
    }
    sources = {s.source for pool in training.values() for s in pool}
    bad_sources = {src for src in sources if "pud" in src.lower() or src.startswith("fr")}
    if bad_sources:
        problems["training draws on forbidden treebanks"] = bad_sources
    found = {what: sorted(ids)[:5] for what, ids in problems.items() if ids}
    if found:
        raise ValueError(
            "test data would leak into training: " + "; ".join(f"{k} (e.g. {v})" for k, v in found.items())
        )


def ud_setup(
    settings: Mapping[str, Any],
    seed: int,
    data_dir: str | os.PathLike | None = None,
    *,
    model: str = WORD_TAGGER,
) -> UDSetup:
    """The en+es -> fr experiment from ``profile_settings("03_en_es_to_fr", profile)``, leakage-checked.

    ``model`` is :data:`WORD_TAGGER` (the from-scratch char/word tagger) or a Hugging Face encoder's name
    or folder; an encoder takes the profile's ``encoder_settings`` over the word tagger's (a pretrained
    network wants far smaller learning rates than one trained from nothing).
    """
    if model != WORD_TAGGER:
        settings = {**settings, **settings.get("encoder_settings", {}), "encoder": model}
    treebanks = meta_training_treebanks(data_dir)
    training = training_tasks(treebanks, settings.get("split_by", "language"))
    genre_training = training_tasks(treebanks, "genre")
    splits = french_fewshot_splits(data_dir, holdout_fraction=settings["holdout_fraction"], seed=seed)
    parallel = parallel_pud(data_dir)
    for pools in (training, genre_training):
        assert_no_test_leakage(pools, splits, parallel)
    config = train_config_from_settings(settings, seed)
    protocol = protocol_from_settings(settings, seed, max_word_len=settings["max_word_len"])
    return UDSetup(training, splits, config, protocol, genre_training)


def train_genre_conditions(
    setup: UDSetup,
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> TrainedConditions:
    """``methods`` meta-trained on the ten genre/block tasks instead of two languages, named ``<method>-genres``.

    Same sentences, settings, seeds and budget as the main conditions; only the task pools differ, so the
    paired comparison with the same method on two tasks measures what more tasks buy. The vocabulary is
    this run's own (the validation split is drawn per pool), so evaluate these conditions in a protocol run
    of their own and join the results with :func:`xlmeta_lab.evaluate.merge_results`.
    """
    trained = train_conditions(
        setup.genre_training,
        setup.train_config,
        methods,
        seeds,
        scratch=False,
        out_dir=out_dir,
        progress=progress,
        device=device,
    )
    return TrainedConditions(
        [replace(c, name=f"{c.name}-genres") for c in trained.conditions],
        {f"{method}-genres": runs for method, runs in trained.runs.items()},
        trained.backbone,
    )


def tag_distribution(sentences: Sequence[Sentence]) -> dict[str, float]:
    """Share of each UPOS tag among the words of ``sentences`` (0 for tags that never occur)."""
    counts = Counter(tag for s in sentences for tag in s.tags)
    total = sum(counts.values())
    return {tag: counts[tag] / total for tag in UPOS_TAGS}


@torch.no_grad()
def per_tag_accuracy(
    model: torch.nn.Module,
    params: Mapping[str, torch.Tensor] | None,
    sentences: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    max_word_len: int = 16,
) -> dict[str, tuple[int, int]]:
    """``{tag: (correct, total)}`` over the real words of ``sentences``: which tags transfer, which do not.

    ``encoder`` encodes the sentences for ``model`` (a bare :class:`Vocab`: words cut to ``max_word_len``).
    """
    counts: dict[str, list[int]] = {tag: [0, 0] for tag in UPOS_TAGS}
    for bucket in encode_buckets(sentences, encoder, max_word_len):
        predicted = predict(model, dict(params) if params is not None else None, bucket.x)
        real = bucket.y != IGNORE_INDEX
        for tag_id, hit in zip(bucket.y[real].tolist(), (predicted == bucket.y)[real].tolist()):
            counts[UPOS_TAGS[tag_id]][0] += int(hit)
            counts[UPOS_TAGS[tag_id]][1] += 1
    return {tag: (c, t) for tag, (c, t) in counts.items() if t}
