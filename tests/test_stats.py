"""The protocol's statistics: the crossed interval's coverage, the permutation p-value pinned to its exact value,
Holm's correction on a worked example, and the quantiles from scipy (no table of our own)."""

from __future__ import annotations

import math
import time
from itertools import permutations
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xlmeta_lab.experiments.protocol import stats
from xlmeta_lab.experiments.protocol.stats import (
    coverage_simulation,
    crossed_ci,
    crossed_difference,
    holm,
    mean_ci,
    permutation_p_value,
    spearman,
)


def test_crossed_interval_coverage_holds_where_the_unit_level_t_interval_does_not() -> None:
    """Synthetic crossed data with a known effect (3 seeds x 5 draws, seeds varying most): 2,000 replications."""
    started = time.perf_counter()
    coverage = coverage_simulation(replications=2000, seed=7)
    assert time.perf_counter() - started < 5
    assert coverage.replications == 2000
    assert 0.93 <= coverage.crossed <= 0.97
    assert coverage.unit_level < 0.90


def test_crossed_interval_coverage_when_only_draws_vary_seed_means_would_fail() -> None:
    """The draws are shared by every seed, so averaging draws within a seed keeps the draw effect in every seed's
    mean: the crossed interval still covers; a t interval over seed means would not (checked by hand here)."""
    coverage = coverage_simulation(sd_seed=0.0, sd_draw=1.0, sd_residual=0.3, replications=2000, seed=3)
    assert 0.93 <= coverage.crossed <= 0.97
    rng = np.random.default_rng(3)
    y = 1.0 + rng.standard_normal((2000, 1, 5)) + 0.3 * rng.standard_normal((2000, 3, 5))
    seed_means = y.mean(axis=2)
    half = scipy_stats.t.ppf(0.975, 2) * seed_means.std(axis=1, ddof=1) / math.sqrt(3)
    assert np.mean(np.abs(seed_means.mean(axis=1) - 1.0) <= half) < 0.80


def test_crossed_interval_matches_the_mean_square_formula_on_a_small_grid() -> None:
    y = np.array([[1.0, 2.0, 4.0], [2.0, 2.5, 6.0]])
    units = {(s, d): y[s, d] for s in range(2) for d in range(3)}
    ms_seed = 3 * np.sum((y.mean(1) - y.mean()) ** 2) / 1
    ms_draw = 2 * np.sum((y.mean(0) - y.mean()) ** 2) / 2
    resid = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    ms_res = np.sum(resid**2) / 2
    assert ms_seed > ms_res and ms_draw > ms_res  # both components kept
    total = ms_seed + ms_draw - ms_res
    df = total**2 / (ms_seed**2 / 1 + ms_draw**2 / 2 + ms_res**2 / 2)
    ci = crossed_ci(units)
    assert ci.mean == pytest.approx(y.mean())
    assert ci.df == pytest.approx(df)
    assert ci.half_width == pytest.approx(scipy_stats.t.ppf(0.975, df) * math.sqrt(total / 6))
    assert ci.n == 6


def test_crossed_difference_pairs_by_key_and_a_constant_difference_has_no_width() -> None:
    base = {(s, d): 0.5 + 0.1 * d + 0.05 * s for s in range(3) for d in range(4)}
    shifted = {u: v + 0.02 for u, v in reversed(list(base.items()))}
    ci = crossed_difference(shifted, base)
    assert ci.mean == pytest.approx(0.02) and ci.half_width == pytest.approx(0.0, abs=1e-12)
    assert ci.p_value == 0.0


def test_one_seed_is_the_unit_level_interval_conditional_on_that_seed() -> None:
    units = {(0, d): v for d, v in enumerate([0.1, 0.4, 0.2, 0.3])}
    assert crossed_ci(units) == mean_ci(list(units.values()))


def test_quantiles_come_from_scipy_and_there_is_no_table() -> None:
    for df in (1, 2.5, 7, 35, 1000):
        assert stats.t_quantile_975(df) == scipy_stats.t.ppf(0.975, df)
    source = Path(stats.__file__).read_text()
    assert "12.706" not in source and "_T975" not in source
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.half_width == pytest.approx(scipy_stats.t.ppf(0.975, 2) / math.sqrt(3))
    assert ci.p_value == pytest.approx(scipy_stats.ttest_1samp([1.0, 2.0, 3.0], 0.0).pvalue)


def test_permutation_p_value_exact_for_a_symmetric_case_two_sided() -> None:
    """n = 5: all 120 re-pairings are enumerated. A perfect association is matched in |rho| by the identity and
    the reversal only, so the two-sided p is 2/120; a one-sided p (1/120) fails this."""
    xs, ys = [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]
    assert permutation_p_value(xs, ys) == pytest.approx(2 / 120, abs=1e-12)
    assert permutation_p_value(xs, ys[::-1]) == pytest.approx(2 / 120, abs=1e-12)
    # the same value by brute force over every pairing
    observed = abs(spearman(xs, ys))
    hits = sum(abs(spearman(xs, list(p))) >= observed - 1e-12 for p in permutations(ys))
    assert hits == 2


def test_permutation_p_value_null_case_and_the_plus_one_of_a_monte_carlo_test() -> None:
    """rho = 0 exactly: every re-pairing is at least as extreme, p = 1. With 12 values (12! re-pairings) the test
    samples 999 of them; a perfect association is essentially never re-drawn, so p is the +1 correction's floor,
    2 / (999 + 1) two-sided; a dropped +1 would give 0."""
    assert spearman([1, 2, 3, 4], [2, 4, 1, 3]) == pytest.approx(0.0, abs=1e-12)
    assert permutation_p_value([1, 2, 3, 4], [2, 4, 1, 3]) == pytest.approx(1.0)
    xs = list(range(12))
    assert permutation_p_value(xs, xs, n_permutations=999, seed=1) == pytest.approx(2 / 1000, abs=1e-12)


def test_spearman_with_ties_and_constants() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))
    assert math.isnan(permutation_p_value([1, 2, 3], [5, 5, 5]))


def test_holm_on_a_worked_example() -> None:
    """p = (0.01, 0.04, 0.03, 0.005) sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1, made monotone."""
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    with_gap = holm([0.01, math.nan, 0.02])
    assert with_gap[0] == pytest.approx(0.02) and math.isnan(with_gap[1]) and with_gap[2] == pytest.approx(0.02)
    assert holm([0.6, 0.5]) == pytest.approx([1.0, 1.0])
