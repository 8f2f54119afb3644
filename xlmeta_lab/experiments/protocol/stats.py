"""Means with 95% confidence intervals from the t distribution, paired differences, and a rank correlation
with its permutation p-value (for a handful of languages, where no normal approximation holds).

scipy is not a dependency of the package, so the t quantiles come from a table (checked against scipy in
the tests).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Fewer units than this get no interval and no verdict: with 2 units the t multiplier is 12.7, so a "95% CI"
#: says nothing, and printing one invites reading noise as a result.
MIN_UNITS_FOR_INTERVAL = 3

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


def paired_difference(values: Mapping[Hashable, float], baseline: Mapping[Hashable, float]) -> Interval:
    """Mean of ``values[u] - baseline[u]`` over the units ``u`` both have, with its 95% t-interval.

    A unit is one (seed, draw): both conditions were fine-tuned on the same draw from the same seed, so the
    per-unit differences cancel what the draw does to both, and their interval is narrower than the two
    conditions' intervals suggest. Units are paired by key, never by position.
    """
    shared = sorted(set(values) & set(baseline))
    return mean_ci([values[u] - baseline[u] for u in shared])


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


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks of ``values``, ties sharing their mean rank (``[10, 20, 20] -> [1, 2.5, 2.5]``)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    start = 0
    while start < len(order):
        stop = start
        while stop + 1 < len(order) and values[order[stop + 1]] == values[order[start]]:
            stop += 1
        for i in order[start : stop + 1]:
            out[i] = (start + stop) / 2 + 1
        start = stop + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the ranks (``nan`` when either is constant)."""
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"need two sequences of the same length >= 2, got {len(xs)} and {len(ys)}")
    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def permutation_p_value(xs: Sequence[float], ys: Sequence[float], n_permutations: int = 5000, seed: int = 0) -> float:
    """Two-sided p-value of Spearman's correlation against "no association": the share of seeded random
    re-pairings of ``ys`` with ``xs`` whose correlation is at least as far from 0 (counting the observed one)."""
    observed = abs(spearman(xs, ys))
    if math.isnan(observed):
        return math.nan
    rng, shuffled = random.Random(seed), list(ys)
    hits = 0
    for _ in range(n_permutations):
        rng.shuffle(shuffled)
        hits += abs(spearman(xs, shuffled)) >= observed - 1e-12
    return (hits + 1) / (n_permutations + 1)
