"""The few-shot protocol: how well does each initialisation learn French from K sentences?

For every condition (scratch, joint, MAML, ...), every training seed and every K:

1. draw ``n_draws`` support sets of K sentences from the French *support pool*: the same draws for every
   condition (a paired design), nested across K (:func:`xlmeta_lab.episodes.support_draws`);
2. fine-tune on each draw with plain SGD for a fixed budget (``lr``, ``steps``). The budget is chosen per
   condition from a small grid by accuracy on the French *holdout* (a part of the support split set aside
   for this), never on a test set: :func:`choose_budget` is not even given the tests;
3. score token accuracy on each test set, counting real words only (targets != -100).

Each (seed, draw) pair is one unit. We report the mean over units with a 95% confidence interval from the
t distribution, and, because the draws are shared, each condition's *paired* difference to a baseline
(the joint model by default), whose interval is narrower than the difference of two intervals suggests.
``K = 0`` means no fine-tuning (for the joint model, that is the zero-shot condition); it has one unit per
seed.

The draws of one K are independent tasks, so they are fine-tuned together by
:func:`xlmeta_lab.train.finetune_batch`, i.e. the engine's :func:`~xlmeta_lab.meta.adapt_trajectory` (one ``vmap`` call where the model allows it).
"""

from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from torch import nn

from xlmeta_lab.backbones import Backbone, backbone_for, vocab_of
from xlmeta_lab.data.ud import Sentence
from xlmeta_lab.episodes import (
    FewShotSplits,
    Labeled,
    SentenceEncoder,
    Vocab,
    as_encoder,
    stack_sets,
    support_draws,
)
from xlmeta_lab.meta.params import AdaptSpec
from xlmeta_lab.results import provenance, write_results
from xlmeta_lab.train import (
    TrainConfig,
    TrainResult,
    adapt_spec,
    correct_counts,
    finetune_batch,
    split_validation,
    train,
)

# Two-sided 95% quantiles of Student's t, t_{0.975, df}; between table entries we interpolate in 1/df,
# which is accurate to about 1e-3 here (and scipy is not a dependency of this package).
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
    11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
    20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}  # fmt: skip
_Z975 = 1.959964


def t_quantile_975(df: int) -> float:
    """``t_{0.975}`` with ``df`` degrees of freedom: the multiplier of the standard error for a 95% CI."""
    if df < 1:
        raise ValueError(f"a t quantile needs df >= 1, got {df}")
    if df in _T975:
        return _T975[df]
    if df > 120:
        lo, hi, t_lo, t_hi = 120, math.inf, _T975[120], _Z975
    else:
        lo = max(d for d in _T975 if d < df)
        hi = min(d for d in _T975 if d > df)
        t_lo, t_hi = _T975[lo], _T975[hi]
    w = (1 / lo - 1 / df) / (1 / lo - (0 if hi == math.inf else 1 / hi))
    return t_lo + w * (t_hi - t_lo)


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% confidence interval over ``n`` units (``nan`` bounds when ``n < 2``)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean_ci(values: Sequence[float]) -> Interval:
    """Mean and 95% t-interval: ``mean +- t_{0.975, n-1} * sd / sqrt(n)``."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    half = t_quantile_975(n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


# --------------------------------------------------------------------------------------------------
# Conditions and the protocol's settings.
# --------------------------------------------------------------------------------------------------


@dataclass
class Condition:
    """An initialisation to evaluate: one model per training seed, and what fine-tuning adapts."""

    name: str
    models: Sequence[nn.Module]
    seeds: Sequence[int]
    adapt: AdaptSpec = None

    def __post_init__(self) -> None:
        if len(self.models) != len(self.seeds) or not self.models:
            raise ValueError(
                f"condition {self.name!r}: give one model per seed (got {len(self.models)} and {len(self.seeds)})"
            )


@dataclass(frozen=True)
class ProtocolConfig:
    """K values, draws, and the fine-tuning grid the budget is chosen from (on the holdout).

    Choosing the budget fine-tunes every grid point, so on real data it may use a subset: ``budget_ks``
    (default: every K > 0), ``budget_draws`` draws (default ``n_draws``) and the first ``budget_models``
    seeds' models (default: all). Its draws come from their own seed, apart from the evaluation draws.
    """

    ks: tuple[int, ...] = (0, 1, 5, 10, 20)
    n_draws: int = 5
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3)
    steps: tuple[int, ...] = (5, 10, 25, 50)
    draw_seed: int = 0
    baseline: str | None = "joint"
    max_word_len: int = 12
    budget_ks: tuple[int, ...] = ()
    budget_draws: int = 0
    budget_models: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """The fine-tuning budget a condition gets, and the holdout accuracy that chose it."""

    lr: float
    steps: int
    holdout_acc: float


def _stack_draws(draws: Sequence[Sequence[Sentence]], encoder: SentenceEncoder) -> Labeled:
    """Draws of equal K encoded to one shape (the longest sentence among them) and stacked on a leading
    draw axis, ready for vmap."""
    max_len = max(len(s) for d in draws for s in d)
    return stack_sets([encoder.encode(list(d), max_len) for d in draws])


def encode_buckets(
    sentences: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    max_word_len: int = 16,
    size: int = 128,
) -> list[Labeled]:
    """An evaluation set in chunks of sentences of similar length, so little compute goes to padding.

    ``encoder`` may be a bare :class:`Vocab` (words cut to ``max_word_len`` characters).
    """
    encoder = as_encoder(encoder, max_word_len)
    ordered = sorted(sentences, key=lambda s: len(s))
    return [encoder.encode(ordered[i : i + size]) for i in range(0, len(ordered), size)]


def _counts(
    model: nn.Module, params: Mapping[str, Any] | None, buckets: Sequence[Labeled]
) -> tuple[int, int]:
    pairs = [correct_counts(model, params, bucket) for bucket in buckets]
    return sum(c for c, _ in pairs), sum(t for _, t in pairs)


def _accuracy_per_draw(
    model: nn.Module, stacked: Mapping[str, Any], data: Sequence[Labeled]
) -> list[tuple[int, int]]:
    n_draws = next(iter(stacked.values())).shape[0]
    return [_counts(model, {n: t[d] for n, t in stacked.items()}, data) for d in range(n_draws)]


def choose_budget(
    condition: Condition,
    support_pool: Sequence[Sentence],
    holdout: Sequence[Sentence],
    encoder: SentenceEncoder | Vocab,
    protocol: ProtocolConfig,
) -> Budget:
    """The (lr, steps) from the grid with the best mean holdout accuracy over seeds, Ks and draws.

    Takes only the support pool and the holdout: the test sets cannot influence the budget. Ties go to
    the earlier grid entry (smaller lr, fewer steps), so the choice is deterministic.
    """
    encoder = as_encoder(encoder, protocol.max_word_len)
    holdout_data = encode_buckets(holdout, encoder)
    scores: dict[tuple[float, int], list[float]] = defaultdict(list)
    ks = protocol.budget_ks or tuple(k for k in protocol.ks if k > 0)
    n_draws = protocol.budget_draws or protocol.n_draws
    models = condition.models[: protocol.budget_models or None]
    for model in models:
        for k in ks:
            draws = support_draws(support_pool, k, n_draws, protocol.draw_seed + 7919)
            supports = _stack_draws(draws, encoder)
            for lr in protocol.lrs:
                trajectory = finetune_batch(
                    model, supports, lr=lr, record=protocol.steps, adapt=condition.adapt
                )
                for steps, weights in trajectory.items():
                    scores[(lr, steps)] += [
                        c / t for c, t in _accuracy_per_draw(model, weights, holdout_data)
                    ]
    best = max(scores, key=lambda key: (statistics.fmean(scores[key]), -key[0], -key[1]))
    return Budget(best[0], best[1], statistics.fmean(scores[best]))


# --------------------------------------------------------------------------------------------------
# The protocol.
# --------------------------------------------------------------------------------------------------


@dataclass
class ProtocolResult:
    """Per-unit ``rows``, per (condition, K, test set) ``summary``, and the chosen ``budgets``."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    budgets: dict[str, Budget]
    protocol: ProtocolConfig
    paths: dict[str, Path] = field(default_factory=dict)

    def get(self, condition: str, k: int, test_set: str | None = None) -> dict[str, Any]:
        """The summary row of one condition at one K (first test set unless named)."""
        test_set = test_set or self.summary[0]["test_set"]
        for row in self.summary:
            if row["condition"] == condition and row["K"] == k and row["test_set"] == test_set:
                return row
        raise KeyError(f"no result for condition={condition!r}, K={k}, test_set={test_set!r}")

    def table(self, test_set: str | None = None) -> str:
        """A plain-text table: mean accuracy ± 95% CI half-width per condition and K, in percent."""
        test_set = test_set or self.summary[0]["test_set"]
        rows = [r for r in self.summary if r["test_set"] == test_set]
        conditions = list(dict.fromkeys(r["condition"] for r in rows))
        ks = sorted({r["K"] for r in rows})
        width, name_width = 20, max(len(n) for n in ["condition", *conditions]) + 1
        lines = [f"token accuracy on {test_set}, % (mean ± 95% CI half-width over seeds x draws)"]
        lines.append("condition".ljust(name_width) + "".join(f"K={k}".rjust(width) for k in ks))
        for name in conditions:
            cells = []
            for k in ks:
                match = [r for r in rows if r["condition"] == name and r["K"] == k]
                cells.append(_cell(match[0]) if match else "")
            lines.append(name.ljust(name_width) + "".join(c.rjust(width) for c in cells))
        return "\n".join(lines)


def _cell(row: Mapping[str, Any]) -> str:
    if math.isnan(row["ci_low"]):
        return f"{100 * row['mean']:.1f} (n={row['n']})"
    return f"{100 * row['mean']:.1f} ± {100 * (row['ci_high'] - row['mean']):.1f} (n={row['n']})"


def run_protocol(
    conditions: Sequence[Condition],
    splits: FewShotSplits,
    encoder: SentenceEncoder | Vocab,
    protocol: ProtocolConfig = ProtocolConfig(),
    *,
    progress: Callable[[str], None] | None = None,
) -> ProtocolResult:
    """Evaluate every condition on every test set of ``splits`` (see the module doc for the protocol).

    ``encoder`` turns sentences into the conditions' inputs (``TrainedConditions.encoder``; a bare
    :class:`Vocab` means the word tagger's, with ``protocol.max_word_len``). Budgets are chosen first, for
    all conditions, from ``splits.support_pool`` and ``splits.holdout`` alone; only then are the test sets
    read.
    """
    encoder = as_encoder(encoder, protocol.max_word_len)
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise ValueError(f"condition names must be unique, got {names}")
    budgets = {
        c.name: choose_budget(c, splits.support_pool, splits.holdout, encoder, protocol) for c in conditions
    }
    if progress is not None:
        progress("budgets: " + ", ".join(f"{n} lr={b.lr} steps={b.steps}" for n, b in budgets.items()))
    tests = {name: encode_buckets(s, encoder) for name, s in splits.tests.items()}
    rows: list[dict[str, Any]] = []
    for condition in conditions:
        budget = budgets[condition.name]
        for seed, model in zip(condition.seeds, condition.models):
            for k in protocol.ks:
                if k == 0:  # no fine-tuning: the initialisation as it is
                    per_test = {t: [_counts(model, None, data)] for t, data in tests.items()}
                    lr, steps = 0.0, 0
                else:
                    draws = support_draws(splits.support_pool, k, protocol.n_draws, protocol.draw_seed)
                    supports = _stack_draws(draws, encoder)
                    weights = finetune_batch(
                        model, supports, lr=budget.lr, record=(budget.steps,), adapt=condition.adapt
                    )[budget.steps]
                    per_test = {t: _accuracy_per_draw(model, weights, data) for t, data in tests.items()}
                    lr, steps = budget.lr, budget.steps
                for test_set, counts in per_test.items():
                    for draw, (correct, total) in enumerate(counts):
                        rows.append(
                            {
                                "condition": condition.name,
                                "K": k,
                                "seed": seed,
                                "draw": draw,
                                "test_set": test_set,
                                "accuracy": correct / total,
                                "correct": correct,
                                "total": total,
                                "lr": lr,
                                "steps": steps,
                            }
                        )
        if progress is not None:
            progress(f"evaluated {condition.name}")
    return ProtocolResult(rows, summarise(rows, protocol.baseline), budgets, protocol)


def summarise(rows: Sequence[Mapping[str, Any]], baseline: str | None = "joint") -> list[dict[str, Any]]:
    """Mean and 95% CI per (condition, K, test set), with the paired difference to ``baseline``.

    The difference pairs units with the same (seed, draw) at the same K and test set; conditions without
    the baseline's units get ``nan``.
    """
    groups: dict[tuple[str, int, str], dict[tuple[int, int], float]] = defaultdict(dict)
    for r in rows:
        groups[(r["condition"], r["K"], r["test_set"])][(r["seed"], r["draw"])] = r["accuracy"]
    summary = []
    for (name, k, test_set), units in groups.items():
        ci = mean_ci(list(units.values()))
        row = {
            "condition": name,
            "K": k,
            "test_set": test_set,
            "mean": ci.mean,
            "ci_low": ci.low,
            "ci_high": ci.high,
            "n": ci.n,
        }
        base = groups.get((baseline, k, test_set), {}) if baseline else {}
        shared = sorted(set(units) & set(base))
        diff = mean_ci([units[u] - base[u] for u in shared]) if shared and name != baseline else None
        row.update(
            {
                "baseline": baseline,
                "diff": diff.mean if diff else math.nan,
                "diff_low": diff.low if diff else math.nan,
                "diff_high": diff.high if diff else math.nan,
            }
        )
        summary.append(row)
    return summary


def write_protocol_results(
    result: ProtocolResult,
    name: str,
    *,
    config: Mapping[str, Any],
    seeds: Sequence[int],
    out_dir: str | Path = "results",
) -> dict[str, Path]:
    """``out_dir/name.json`` (provenance, protocol, budgets, summary, rows) and CSVs of summary and rows."""
    record = provenance({**dict(config), "protocol": result.protocol.to_dict()}, list(seeds))
    result.paths = write_results(
        name,
        provenance_record=record,
        tables={"summary": result.summary, "rows": result.rows},
        extra={"budgets": {k: asdict(v) for k, v in result.budgets.items()}},
        out_dir=out_dir,
    )
    return result.paths


# --------------------------------------------------------------------------------------------------
# Wiring used by the toy notebook, the widget and the CLI (the UD wiring follows the same shape).
# --------------------------------------------------------------------------------------------------


def split_target(
    sentences: Sequence[Sentence], *, holdout: int, test: int, seed: int = 0, test_name: str = "test"
) -> FewShotSplits:
    """A target language's sentences by role: ``test`` for scoring only, ``holdout`` for choosing the
    fine-tuning budget, the rest as the pool the K-shot support sets are drawn from (seeded, disjoint)."""
    if holdout + test >= len(sentences):
        raise ValueError(
            f"holdout={holdout} + test={test} leaves no support pool in {len(sentences)} sentences"
        )
    order = list(range(len(sentences)))
    random.Random(f"{seed}:target-split").shuffle(order)
    pick = [sentences[i] for i in order]
    return FewShotSplits(pick[holdout + test :], pick[:holdout], {test_name: pick[holdout : holdout + test]})


@dataclass
class TrainedConditions:
    """Conditions ready for :func:`run_protocol`, the training runs behind them, and their shared backbone."""

    conditions: list[Condition]
    runs: dict[str, list[TrainResult]]
    backbone: Backbone

    @property
    def encoder(self) -> SentenceEncoder:
        """What :func:`run_protocol` needs to encode French for these conditions."""
        return self.backbone.encoder

    @property
    def vocab(self) -> Vocab | None:
        """The word tagger's vocabulary (``None`` for a Hugging Face encoder)."""
        return vocab_of(self.backbone)


def train_conditions(
    languages: Mapping[str, Sequence[Sentence]],
    base: TrainConfig,
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    scratch: bool = True,
    out_dir: str | Path | None = None,
    progress: bool = False,
    device: str = "cpu",
) -> TrainedConditions:
    """Train one initialisation per method and seed on ``languages``, plus the untrained ``scratch`` model.

    Every run builds its vocabulary from the same training split, so all conditions (scratch included)
    share one architecture and vocabulary and differ only in how their weights were learned. With
    ``base.encoder`` set, every condition starts from that pretrained encoder, and scratch is the encoder
    with a fresh head: no en/es tagging at all.
    """
    runs: dict[str, list[TrainResult]] = {}
    for method in methods:
        runs[method] = [
            train(
                languages,
                replace(base, method=method, seed=seed),
                Path(out_dir) / f"{method}-seed{seed}" if out_dir is not None else None,
                resume=out_dir is not None,
                progress=progress,
                device=device,
            )
            for seed in seeds
        ]
    backbones = [r.backbone for rs in runs.values() for r in rs]
    if any(b != backbones[0] for b in backbones):
        raise RuntimeError("runs built different vocabularies; train them on the same languages")
    if backbones:
        backbone = backbones[0]
    else:  # only scratch: build the backbone as train() would
        backbone = backbone_for(base, split_validation(languages, base.val_fraction, base.data_seed)[0])
    conditions = []
    if scratch:
        conditions.append(
            Condition("scratch", [backbone.new_model(s).to(device).eval() for s in seeds], list(seeds))
        )
    conditions += [Condition(m, [r.model for r in rs], list(seeds), adapt_spec(m)) for m, rs in runs.items()]
    return TrainedConditions(conditions, runs, backbone)


def merge_results(results: Sequence[ProtocolResult], baseline: str | None = None) -> ProtocolResult:
    """One result from several protocol runs over the same French splits and draws (e.g. initialisations
    trained on different language sets, which need their own vocabularies); condition names must differ."""
    rows = [r for result in results for r in result.rows]
    budgets = {k: v for result in results for k, v in result.budgets.items()}
    protocol = results[0].protocol
    return ProtocolResult(rows, summarise(rows, baseline or protocol.baseline), budgets, protocol)


def describe_difference(row: Mapping[str, Any], unit: str = "points") -> str:
    """A sentence for a paired difference, worded by what the interval shows (no claim the data lack)."""
    diff, low, high = (100 * row[k] for k in ("diff", "diff_low", "diff_high"))
    name, base, k = row["condition"], row["baseline"], row["K"]
    if math.isnan(diff):
        return f"{name} has no paired comparison with {base} at K={k}."
    if math.isnan(low):
        return f"{name} is {diff:+.1f} {unit} against {base} at K={k}, from a single unit: no interval, no claim."
    interval = f"{diff:+.1f} {unit}, 95% CI [{low:+.1f}, {high:+.1f}], n={row['n']}"
    if low > 0:
        return f"At K={k}, {name} beats {base}: {interval}."
    if high < 0:
        return f"At K={k}, {name} is worse than {base}: {interval}."
    return f"At K={k}, {name} and {base} cannot be told apart: {interval} (the interval contains 0)."


@dataclass
class ToySetup:
    """Everything a toy experiment needs, derived from a notebook profile: data, configs, seeds."""

    languages: dict[str, list[Sentence]]
    training: dict[str, list[Sentence]]
    splits: FewShotSplits
    train_config: TrainConfig
    protocol: ProtocolConfig
    seeds: list[int]


def train_config_from_settings(settings: Mapping[str, Any], seed: int, **fixed: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a notebook profile: every profile key that names a field, then ``fixed``.

    Checkpoints follow validation (``checkpoint_every = eval_every``); ``seed`` seeds both the run and
    the validation split (``data_seed``), so a profile and a seed name one experiment.
    """
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in settings.items() if k in names}
    values.update(checkpoint_every=settings["eval_every"], seed=seed, data_seed=seed, **fixed)
    return TrainConfig(**values)


def protocol_from_settings(settings: Mapping[str, Any], seed: int, **fixed: Any) -> ProtocolConfig:
    """A :class:`ProtocolConfig` from a notebook profile (``finetune_lrs``/``finetune_steps`` are the grid)."""
    values: dict[str, Any] = {
        "ks": tuple(settings["ks"]),
        "n_draws": settings["n_draws"],
        "lrs": tuple(settings["finetune_lrs"]),
        "steps": tuple(settings["finetune_steps"]),
        "budget_ks": tuple(settings.get("budget_ks", ())),
        "budget_draws": settings.get("budget_draws", 0),
        "budget_models": settings.get("budget_models", 0),
        "draw_seed": seed,
    }
    return ProtocolConfig(**{**values, **fixed})


def toy_setup(settings: Mapping[str, Any], seed: int, **toy_knobs: Any) -> ToySetup:
    """The toy en/es -> fr experiment from ``profile_settings("02_toy_languages", ...)`` (``toy_knobs``
    override :class:`~xlmeta_lab.data.toy.ToyConfig` fields, e.g. ``relatedness``)."""
    from xlmeta_lab.data.toy import make_toy_languages

    knobs = {"relatedness": settings["relatedness"], **toy_knobs}
    counts = {"en": settings["sentences"], "es": settings["sentences"], "fr": settings["fr_sentences"]}
    languages = make_toy_languages(counts, seed=seed, **knobs)
    splits = split_target(
        languages["fr"],
        holdout=settings["fr_holdout"],
        test=settings["fr_test"],
        seed=seed,
        test_name="fr-test",
    )
    max_len = max(len(s) for sentences in languages.values() for s in sentences)
    config = train_config_from_settings(settings, seed, max_len=max_len, max_word_len=10)
    protocol = protocol_from_settings(settings, seed, max_word_len=10)
    training = {"en": languages["en"], "es": languages["es"]}
    return ToySetup(
        languages, training, splits, config, protocol, [seed + i for i in range(settings["n_seeds"])]
    )
