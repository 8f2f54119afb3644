"""Intervals, tests and family-wise corrections for the few-shot protocol, on top of :mod:`scipy.stats`.

**Why a crossed interval.** A unit of the protocol is a (training seed, support draw) pair, and the *same* draws
are reused for every seed. Units that share a seed share that seed's model; units that share a draw share its
sentences. So the 15 units of a 3 seeds x 5 draws run are not 15 independent values, and the textbook
``mean +- t_{n-1} sd / sqrt(n)`` over them (:func:`mean_ci`) counts three seeds' worth of seed variation as if it
were fifteen. :func:`crossed_ci` models the units as the two-way crossed random-effects design they are,

    y[s, d] = mu + a[s] + b[d] + e[s, d],   a ~ N(0, var_seed), b ~ N(0, var_draw), e ~ N(0, var_residual),

estimates the three variance components from the balanced two-way ANOVA's mean squares (truncated at zero), and
gives ``mean +- t_{0.975, df} sqrt(Var(mean))`` with ``Var(mean) = var_seed / S + var_draw / D + var_residual /
(S D)`` and Satterthwaite's degrees of freedom for that combination of mean squares (Satterthwaite 1946,
*Biometrics Bulletin* 2(6):110-114; the variance of a crossed design's grand mean as in Searle, Casella &
McCulloch 1992, *Variance Components*, ch. 4; McGraw & Wong 1996, *Psychological Methods* 1(1):30-46).

We prefer it to the two-way "pigeonhole" bootstrap that resamples seeds and draws independently (Owen 2007,
*Annals of Applied Statistics* 1(2):697-711), because the protocol has three seeds: a bootstrap over three seeds
has ten distinct resamples and its percentile interval is far too narrow, whereas the t quantile with
Satterthwaite's df (about 2 when the seeds dominate) widens the interval as much as three seeds warrant. Truncating
a component at zero only ever widens the interval, so the method is conservative when the residual dominates; the
coverage simulation (:func:`coverage_simulation`, and ``tests/test_stats.py``) measures both effects.

Other tools here: unit-level t intervals (:func:`mean_ci`, :func:`paired_difference`, for values that *are*
independent, or where a sentence says "unit-level"), Spearman's rank correlation with its two-sided permutation
p-value (:func:`spearman`, :func:`permutation_p_value`), and Holm's step-down correction for a family of tests
(:func:`holm`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

#: Fewer units than this get no interval and no verdict: with 2 units the t multiplier is 12.7, so a "95% CI"
#: says nothing, and printing one invites reading noise as a result.
MIN_UNITS_FOR_INTERVAL = 3
#: The family-wise error rate Holm's correction keeps, and the two-sided level of every interval.
ALPHA = 0.05


def t_quantile_975(df: float) -> float:
    """``t_{0.975}`` with ``df`` degrees of freedom (Satterthwaite's may be fractional): the multiplier of the
    standard error for a 95% CI."""
    if not df >= 1:
        raise ValueError(f"a t quantile needs df >= 1, got {df}")
    return float(stats.t.ppf(1 - ALPHA / 2, df))


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% confidence interval over ``n`` units (``nan`` bounds when there is none), the
    degrees of freedom of its t quantile, and the two-sided p-value of "the mean is 0" from the same t."""

    mean: float
    low: float
    high: float
    n: int
    df: float = math.nan
    p_value: float = math.nan

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _t_interval(mean: float, variance: float, df: float, n: int) -> Interval:
    """``mean +- t_{0.975, df} sqrt(variance)`` with the p-value of the matching t test."""
    se = math.sqrt(variance)
    half = t_quantile_975(df) * se
    p = float(2 * stats.t.sf(abs(mean) / se, df)) if se > 0 else (1.0 if mean == 0 else 0.0)
    return Interval(mean, mean - half, mean + half, n, df, p)


def mean_ci(values: Sequence[float]) -> Interval:
    """Mean and unit-level 95% t-interval, ``mean +- t_{0.975, n-1} sd / sqrt(n)``: right for independent
    values (seeds, languages), too narrow for the protocol's crossed units (use :func:`crossed_ci`)."""
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    return _t_interval(mean, statistics.variance(values) / n, n - 1, n)


def paired_difference(values: Mapping[Hashable, float], baseline: Mapping[Hashable, float]) -> Interval:
    """Mean of ``values[u] - baseline[u]`` over the units ``u`` both have, with its *unit-level* 95% t-interval
    (units treated as independent; :func:`crossed_difference` is the protocol's). Paired by key, never by
    position: the per-unit differences cancel what a draw does to both conditions."""
    shared = sorted(set(values) & set(baseline))
    return mean_ci([values[u] - baseline[u] for u in shared])


def _grid(units: Mapping[tuple[Hashable, Hashable], float]) -> np.ndarray | None:
    """``{(seed, draw): value}`` as a seeds x draws array, or ``None`` when some (seed, draw) is missing."""
    seeds = sorted({s for s, _ in units})
    draws = sorted({d for _, d in units})
    if len(units) != len(seeds) * len(draws):
        return None
    return np.array([[units[(s, d)] for d in draws] for s in seeds], dtype=float)


def crossed_variance(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Var(grand mean), Satterthwaite df)`` of balanced crossed data ``y[..., seed, draw]`` (any leading batch
    axes, so a simulation estimates thousands of replications at once); needs at least 2 seeds and 2 draws.

    The components come from the mean squares, ``var_seed = (MS_seed - MS_res) / D`` and ``var_draw = (MS_draw -
    MS_res) / S``, each truncated at 0; ``Var(mean)`` is then a combination ``sum c_i MS_i`` and its df
    ``(sum c_i MS_i)^2 / sum (c_i MS_i)^2 / df_i``.
    """
    n_seeds, n_draws = y.shape[-2:]
    if n_seeds < 2 or n_draws < 2:
        raise ValueError(f"a crossed variance needs >= 2 seeds and >= 2 draws, got {n_seeds} x {n_draws}")
    grand = y.mean(axis=(-2, -1), keepdims=True)
    by_seed, by_draw = y.mean(axis=-1, keepdims=True), y.mean(axis=-2, keepdims=True)
    df_seed, df_draw = n_seeds - 1, n_draws - 1
    df_res = df_seed * df_draw
    ms_seed = n_draws * ((by_seed - grand) ** 2).sum(axis=(-2, -1)) / df_seed
    ms_draw = n_seeds * ((by_draw - grand) ** 2).sum(axis=(-2, -1)) / df_draw
    ms_res = ((y - by_seed - by_draw + grand) ** 2).sum(axis=(-2, -1)) / df_res
    # A component kept (its mean square above the residual's) adds its MS and takes one MS_res away.
    keep_seed, keep_draw = (ms_seed > ms_res).astype(float), (ms_draw > ms_res).astype(float)
    c_res = 1.0 - keep_seed - keep_draw
    terms = (keep_seed * ms_seed, keep_draw * ms_draw, c_res * ms_res)
    total = sum(terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = total**2 / (terms[0] ** 2 / df_seed + terms[1] ** 2 / df_draw + terms[2] ** 2 / df_res)
    df = np.where(total > 0, df, df_res)
    return total / (n_seeds * n_draws), np.maximum(df, 1.0)


def crossed_ci(units: Mapping[tuple[Hashable, Hashable], float]) -> Interval:
    """Mean and 95% interval of ``{(seed, draw): value}`` for the crossed design (module docstring).

    A complete grid of >= 2 seeds and >= 2 draws gets the two-way interval. With one seed (or one draw) only the
    other factor varies, and the unit-level t interval is the interval conditional on that seed. An incomplete
    grid falls back to a t interval over the seeds' means, each averaging its draws.
    """
    n = len(units)
    seeds = {s for s, _ in units}
    draws = {d for _, d in units}
    if n < MIN_UNITS_FOR_INTERVAL or len(seeds) < 2 or len(draws) < 2:
        return mean_ci(list(units.values()))
    grid = _grid(units)
    if grid is None:
        per_seed = [statistics.fmean(v for (s, _), v in units.items() if s == seed) for seed in sorted(seeds)]
        ci = mean_ci(per_seed)
        return Interval(statistics.fmean(units.values()), ci.low, ci.high, n, ci.df, ci.p_value)
    variance, df = crossed_variance(grid)
    return _t_interval(float(grid.mean()), float(variance), float(df), n)


def crossed_difference(
    values: Mapping[tuple[Hashable, Hashable], float], baseline: Mapping[tuple[Hashable, Hashable], float]
) -> Interval:
    """The paired difference ``values - baseline`` over the (seed, draw) units both have, with the crossed
    interval (:func:`crossed_ci`): the protocol's interval for every verdict."""
    return crossed_ci({u: values[u] - baseline[u] for u in set(values) & set(baseline)})


def units_of(
    rows: Sequence[Mapping[str, Any]], condition: str, k: int, test_set: str
) -> dict[tuple[int, int], float]:
    """``{(seed, draw): accuracy}`` of one condition at one K on one test set: the units a paired difference
    pairs."""
    return {
        (r["seed"], r["draw"]): r["accuracy"]
        for r in rows
        if r["condition"] == condition and r["K"] == k and r["test_set"] == test_set
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979, *Scand. J. Statistics* 6(2):65-70): reject where the
    adjusted value is below ``ALPHA`` and the family-wise error rate stays at ``ALPHA`` whatever the dependence
    between the tests. ``nan`` (no test) stays ``nan`` and does not count towards the family's size."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation (``nan`` when either sequence is constant)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"need two sequences of the same length >= 2, got {len(xs)} and {len(ys)}")
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return math.nan
    return float(stats.spearmanr(xs, ys).statistic)


def permutation_p_value(xs: Sequence[float], ys: Sequence[float], n_permutations: int = 9999, seed: int = 0) -> float:
    """Two-sided p-value of Spearman's correlation against "no association", from re-pairings of ``ys`` with
    ``xs`` (:func:`scipy.stats.permutation_test`): exact when ``n!`` is at most ``n_permutations``, otherwise
    from that many seeded random re-pairings with the observed pairing counted among them (the ``+1`` that
    keeps a Monte Carlo p-value valid; Phipson & Smyth 2010)."""
    if math.isnan(spearman(xs, ys)):
        return math.nan
    x_ranks = _centred_ranks(np.asarray(xs, dtype=float))

    def rho(y: np.ndarray, axis: int = -1) -> np.ndarray:
        """Spearman's rho of ``xs`` with each re-pairing of ``ys`` (a batch along the leading axes)."""
        y_ranks = _centred_ranks(np.moveaxis(y, axis, -1))
        return (y_ranks * x_ranks).sum(axis=-1) / np.sqrt((y_ranks**2).sum(axis=-1) * (x_ranks**2).sum())

    # One sample re-paired: its n! orderings are the null distribution (two samples would count (n!)^2).
    test = stats.permutation_test(
        (np.asarray(ys, dtype=float),),
        rho,
        permutation_type="pairings",
        alternative="two-sided",
        n_resamples=n_permutations,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(test.pvalue)


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    """Mid-ranks along the last axis minus their mean: Pearson's correlation of two of these is Spearman's."""
    ranks = stats.rankdata(values, axis=-1)
    return ranks - ranks.mean(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Coverage:
    """How often each interval held the true effect in :func:`coverage_simulation`."""

    crossed: float
    unit_level: float
    replications: int
    n_seeds: int
    n_draws: int
    sd_seed: float
    sd_draw: float
    sd_residual: float


def coverage_simulation(
    *,
    n_seeds: int = 3,
    n_draws: int = 5,
    sd_seed: float = 1.0,
    sd_draw: float = 0.5,
    sd_residual: float = 0.5,
    replications: int = 2000,
    effect: float = 1.0,
    seed: int = 0,
) -> Coverage:
    """Synthetic crossed paired differences ``effect + a[seed] + b[draw] + e``, ``replications`` times: the share
    of replications whose 95% interval holds ``effect``, for :func:`crossed_ci` and for the unit-level t interval
    of :func:`mean_ci` over the ``n_seeds * n_draws`` units. Vectorised: thousands of replications in well under
    a second."""
    rng = np.random.default_rng(seed)
    shape = (replications, n_seeds, n_draws)
    y = (
        effect
        + sd_seed * rng.standard_normal((replications, n_seeds, 1))
        + sd_draw * rng.standard_normal((replications, 1, n_draws))
        + sd_residual * rng.standard_normal(shape)
    )
    mean = y.mean(axis=(1, 2))
    variance, df = crossed_variance(y)
    half = stats.t.ppf(1 - ALPHA / 2, df) * np.sqrt(variance)
    crossed = float(np.mean(np.abs(mean - effect) <= half))
    n = n_seeds * n_draws
    flat = y.reshape(replications, n)
    unit_half = stats.t.ppf(1 - ALPHA / 2, n - 1) * flat.std(axis=1, ddof=1) / math.sqrt(n)
    unit_level = float(np.mean(np.abs(mean - effect) <= unit_half))
    return Coverage(crossed, unit_level, replications, n_seeds, n_draws, sd_seed, sd_draw, sd_residual)


def coverage_sentence(coverage: Coverage) -> str:
    """What :func:`coverage_simulation` found, in one sentence with its numbers."""
    c = coverage
    return (
        f"Synthetic paired differences, {c.n_seeds} seeds x {c.n_draws} draws, seed sd {c.sd_seed:g}, draw sd "
        f"{c.sd_draw:g}, residual sd {c.sd_residual:g}, {c.replications} replications: the crossed 95% interval "
        f"held the true effect in {100 * c.crossed:.1f}% of them, the unit-level t interval over "
        f"{c.n_seeds * c.n_draws} units in {100 * c.unit_level:.1f}%."
    )
