"""Which data plays which role: what trains, what French support sets are drawn from, what is only scored.

* training: en EWT dev+test and es GSD dev+test (never en/es PUD: they translate the French PUD test); the
  transfer analysis adds de GSD, nl Alpino, ro RRT, ru GSD, fi TDT, id GSD and zh GSD, dev+test each
  (:data:`SOURCE_TREEBANKS`): a source language is never scored, so both its splits train;
  SIB-200: *train* of each source language only (rows are translations of each other across languages);
* French support pool and budget holdout: fr GSD dev (SIB-200: fra dev, held out per topic), split once, disjoint;
* French tests: fr GSD test and fr PUD (SIB-200: fra test), read only to score.

:func:`assert_no_test_leakage` refuses a set-up that breaks these rules, on sentence ids and source files;
:func:`assert_no_sib200_leakage` does the same for SIB-200, on ``index_id`` (the FLORES sentence a row translates).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from xlmeta_lab.data.sib200 import SOURCE_LANGUAGES, TARGET, Example, flores_code, load_labels, load_sib200
from xlmeta_lab.data.splits import seeded_split
from xlmeta_lab.data.ud import Sentence, has_own_id, load_treebank

Item = TypeVar("Item", Sentence, Example)

#: Every registered file the UD experiment reads, by role: training, French support and tests, and the
#: parallel PUD treebanks the leakage check compares against. ``xlmeta workbook`` checks them before it starts.
UD_EXPERIMENT_FILES = (
    "en_ewt-dev",
    "en_ewt-test",
    "es_gsd-dev",
    "es_gsd-test",
    "fr_gsd-dev",
    "fr_gsd-test",
    "fr_pud-test",
    "en_pud-test",
    "es_pud-test",
)


#: Every language the transfer analysis (notebook 05) may train on, with the registered files that train it.
#: A source language is never scored, so its dev *and* test splits both train (the train splits of these
#: treebanks are not mirrored); French is never a source: it is the target, scored on fr GSD test and fr PUD.
SOURCE_TREEBANKS: dict[str, tuple[str, ...]] = {
    "en": ("en_ewt-dev", "en_ewt-test"),
    "es": ("es_gsd-dev", "es_gsd-test"),
    "de": ("de_gsd-dev", "de_gsd-test"),
    "nl": ("nl_alpino-dev", "nl_alpino-test"),
    "ro": ("ro_rrt-dev", "ro_rrt-test"),
    "ru": ("ru_gsd-dev", "ru_gsd-test"),
    "fi": ("fi_tdt-dev", "fi_tdt-test"),
    "id": ("id_gsd-dev", "id_gsd-test"),
    "zh": ("zh_gsd-dev", "zh_gsd-test"),
}
#: The files notebook 05 reads: every source treebank, the French support/holdout and tests, and the PUD
#: translations the leakage check compares against.
TRANSFER_EXPERIMENT_FILES = tuple(key for keys in SOURCE_TREEBANKS.values() for key in keys) + tuple(
    key for key in UD_EXPERIMENT_FILES if not key.startswith(("en_ewt", "es_gsd"))
)


@dataclass(frozen=True)
class FewShotSplits(Generic[Item]):
    """French data by role. ``support_pool``: where K-shot support sets are drawn;
    ``holdout``: a disjoint part of the same split for choosing fine-tuning budgets;
    ``tests``: evaluation only, never for training or choosing anything."""

    support_pool: list[Item]
    holdout: list[Item]
    tests: dict[str, list[Item]]


def _hold_out(items: list[Item], fraction: float, seed: int) -> tuple[list[Item], list[Item]]:
    """``(pool, holdout)``: a seeded ``fraction`` of a French dev split set aside to choose budgets."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {fraction}")
    holdout, pool = seeded_split(items, [round(fraction * len(items))], seed)
    return pool, holdout


def french_fewshot_splits(
    data_dir: str | os.PathLike | None = None, holdout_fraction: float = 0.2, seed: int = 0
) -> FewShotSplits[Sentence]:
    """French tagging: support pool and holdout from fr GSD *dev*; tests fr GSD test and fr PUD."""
    pool, holdout = _hold_out(load_treebank("fr_gsd-dev", data_dir), holdout_fraction, seed)
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


def source_treebanks(
    languages: Sequence[str] | None = None, data_dir: str | os.PathLike | None = None
) -> dict[str, list[Sentence]]:
    """Training sentences of each source language in ``languages`` (default: all of :data:`SOURCE_TREEBANKS`):
    the dev and test splits of its treebank. French is refused: it is the target, never a source."""
    languages = list(SOURCE_TREEBANKS if languages is None else languages)
    for lang in languages:
        if lang == "fr":
            raise ValueError("French is the target language: it is never trained on")
        if lang not in SOURCE_TREEBANKS:
            raise ValueError(f"no source treebank for {lang!r}; known: {', '.join(SOURCE_TREEBANKS)}")
    return {
        lang: [s for key in SOURCE_TREEBANKS[lang] for s in load_treebank(key, data_dir)] for lang in languages
    }


def parallel_pud(data_dir: str | os.PathLike | None = None) -> dict[str, list[Sentence]]:
    """en/es/fr PUD, aligned by ``sent_id``: for the parallel analysis only, never for training."""
    return {lang: load_treebank(f"{lang}_pud-test", data_dir) for lang in ("en", "es", "fr")}


def sib200_experiment_files(languages: Sequence[str] = SOURCE_LANGUAGES) -> tuple[str, ...]:
    """Every registered file a SIB-200 run on ``languages`` reads: their train splits and labels, and French
    dev and test. ``xlmeta workbook`` checks them before it starts."""
    codes = [flores_code(lang) for lang in languages]
    return tuple(
        [f"sib200-{code}-{split}" for code in codes for split in ("train", "labels")]
        + [f"sib200-{TARGET}-{split}" for split in ("dev", "test", "labels")]
    )


def sib200_meta_training(
    languages: Sequence[str] = SOURCE_LANGUAGES, data_dir: str | os.PathLike | None = None
) -> dict[str, list[Example]]:
    """SIB-200 meta-training pools, one per language (keyed by short code): their *train* split only, because
    rows are translations across languages and French dev and test must not be seen in any language."""
    pools = {}
    for lang in languages:
        examples = load_sib200(lang, "train", data_dir)
        pools[examples[0].lang] = examples
    return pools


def _hold_out_per_label(
    items: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """``(pool, holdout)`` with a seeded ``fraction`` of *each* topic held out, so both keep every topic."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {fraction}")
    pool: list[Example] = []
    holdout: list[Example] = []
    for label in sorted({e.label for e in items}):
        group = [e for e in items if e.label == label]
        held, rest = seeded_split(group, [round(fraction * len(group))], f"{seed}:holdout:{label}")
        holdout += held
        pool += rest
    return pool, holdout


def sib200_french_splits(
    data_dir: str | os.PathLike | None = None, holdout_fraction: float = 0.2, seed: int = 0
) -> FewShotSplits[Example]:
    """French topic classification: support pool and holdout from fra *dev* (``holdout_fraction`` of each
    topic held out to choose budgets), test on fra *test*. Translations of dev and test rows are in no
    language's *train* split."""
    pool, holdout = _hold_out_per_label(load_sib200(TARGET, "dev", data_dir), holdout_fraction, seed)
    return FewShotSplits(pool, holdout, {f"sib200-{TARGET}-test": load_sib200(TARGET, "test", data_dir)})


def assert_no_sib200_leakage(
    training: Mapping[str, Sequence[Example]], splits: FewShotSplits[Example]
) -> None:
    """Refuse a SIB-200 set-up in which a French test sentence, or a translation of one in any language, could
    be trained on; or the French support pool or holdout could.

    Checks ``index_id`` (the FLORES-200 sentence every language's row translates) and the language of every
    training example (no French at all).
    """
    train_ids = {e.index_id for pool in training.values() for e in pool}
    test_ids = {e.index_id for examples in splits.tests.values() for e in examples}
    french_ids = {e.index_id for e in [*splits.support_pool, *splits.holdout]}
    problems = {
        "training holds a French test sentence or a translation of one": train_ids & test_ids,
        "training holds a translation of a French support or holdout sentence": train_ids & french_ids,
        "the French support pool or holdout meets the test set": french_ids & test_ids,
        "training holds French sentences": {
            e.index_id for pool in training.values() for e in pool if e.lang == "fr"
        },
    }
    found = {what: sorted(ids)[:5] for what, ids in problems.items() if ids}
    if found:
        raise ValueError(
            "test data would leak into training: "
            + "; ".join(f"{k} (index_id e.g. {v})" for k, v in found.items())
        )


def sib200_labels(data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The 7 global labels in labels.txt order (label id = position)."""
    return load_labels("en", data_dir)


def split_target(
    sentences: Sequence[Sentence], *, holdout: int, test: int, seed: int = 0, test_name: str = "test"
) -> FewShotSplits:
    """A target language's sentences by role: ``test`` for scoring only, ``holdout`` for choosing the
    fine-tuning budget, the rest as the pool the K-shot support sets are drawn from (seeded, disjoint)."""
    if holdout + test >= len(sentences):
        raise ValueError(
            f"holdout={holdout} + test={test} leaves no support pool in {len(sentences)} sentences"
        )
    held, tests, pool = seeded_split(sentences, [holdout, test], f"{seed}:target-split", keep_order=False)
    return FewShotSplits(pool, held, {test_name: tests})


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


def shared_sentences(support: Sequence[Sentence], test: Sequence[Sentence]) -> list[Sentence]:
    """The sentences of ``test`` that ``support`` holds too: the same words, or the same ``sent_id`` given by
    their files (a PUD translation shares its id, not its words). Ids made up for files without ``# sent_id``
    are not compared: they repeat across files by position alone."""
    words = {s.forms for s in support}
    ids = {s.sent_id for s in support if has_own_id(s)}
    return [s for s in test if s.forms in words or (has_own_id(s) and s.sent_id in ids)]


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
