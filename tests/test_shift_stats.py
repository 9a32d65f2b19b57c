"""The statistics regression verdicts rest on, against exact values and known distributions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from benchy.stats import (
    _mwu_counts,
    hodges_lehmann,
    holm,
    median_ci_ranks,
    mwu_cdf,
    mwu_p_above,
    outliers,
    quantile_ci,
    quantile_ci_ranks,
    robust_scatter,
    shift_ci_depth,
    slow_limit,
)


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 3), (3, 3), (4, 5), (5, 5), (3, 7)])
def test_mann_whitney_null_distribution_matches_enumeration(m: int, n: int) -> None:
    counts = [0] * (m * n + 1)
    for xs in itertools.combinations(range(m + n), m):
        ys = [v for v in range(m + n) if v not in xs]
        counts[sum(y > x for x in xs for y in ys)] += 1
    assert _mwu_counts(m, n) == tuple(counts)
    assert mwu_cdf(m, n)[-1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("n", "crit95", "crit99"),
    # Two-sided critical values of U for m = n (standard Mann–Whitney tables): the CI of the
    # shift is [d_(U+1), d_(mn-U)], so its depth is U + 1.
    [(5, 2, 0), (6, 5, 2), (7, 8, 4), (8, 13, 7), (9, 17, 11), (10, 23, 16), (12, 37, 27)],
)
def test_ci_depth_matches_the_mann_whitney_table(n: int, crit95: int, crit99: int) -> None:
    assert shift_ci_depth(n, n, 0.95) == crit95 + 1
    assert shift_ci_depth(n, n, 0.99) == crit99 + 1


def test_too_few_values_give_an_unbounded_interval() -> None:
    assert shift_ci_depth(4, 4, 0.99) == 0  # 1/C(8,4) = 1.4% > 0.5%: no 99% interval exists
    s = hodges_lehmann([1, 2, 3, 4], [5, 6, 7, 8], 0.99)
    assert (s.low, s.high) == (-math.inf, math.inf)
    assert s.estimate == 4


def test_hodges_lehmann_shift_and_ci_by_hand() -> None:
    # new = base + 3: the 100 differences are 3 + k for k = -9..9, k appearing 10 - |k| times.
    # The 99% depth for 10 vs 10 is 17: the 17th smallest difference is at k = -4 (cumulative
    # counts 1, 3, 6, 10, 15, 21), i.e. -1, and symmetrically the 84th is 7.
    base = np.arange(1.0, 11.0)
    s = hodges_lehmann(base, base + 3, 0.99)
    assert (s.estimate, s.low, s.high) == (3.0, -1.0, 7.0)
    s95 = hodges_lehmann(base, base + 3, 0.95)  # depth 24: cumulative 21 → k = -3
    assert (s95.low, s95.high) == (0.0, 6.0)


def test_relative_shift_of_a_scaled_sample_is_exact() -> None:
    base = np.array([3.1, 2.9, 3.3, 3.0, 3.2, 2.8, 3.05, 3.15])
    s = hodges_lehmann(np.log(base), np.log(base * 1.07), 0.99)
    assert math.expm1(s.estimate) == pytest.approx(0.07)
    assert math.expm1(s.low) < 0.07 < math.expm1(s.high)


@pytest.mark.parametrize("draw", ["lognormal", "exponential", "uniform"])
def test_ci_covers_the_true_shift_at_least_99_percent(draw: str) -> None:
    rng = np.random.default_rng(11)
    sample = {
        "lognormal": lambda k: rng.lognormal(0, 0.3, k),
        "exponential": lambda k: rng.exponential(1.0, k),
        "uniform": lambda k: rng.uniform(0, 1, k),
    }[draw]
    hits = 0
    trials = 600
    for _ in range(trials):
        s = hodges_lehmann(sample(10), sample(10) + 0.25, 0.99)
        hits += s.low <= 0.25 <= s.high
    assert hits / trials >= 0.975  # 99% nominal (≥ 99.0% exact), minus sampling slack


def test_one_sided_p_values() -> None:
    base = np.arange(10.0)
    assert mwu_p_above(base, base + 100, 0.0) == pytest.approx(1 / math.comb(20, 10))
    assert mwu_p_above(base, base - 100, 0.0) == pytest.approx(1.0)
    # Consistency with the CI: the 99% lower bound clears a shift iff p ≤ 0.5%.
    new = base + 3
    low = hodges_lehmann(base, new, 0.99).low
    assert mwu_p_above(base, new, low - 1e-9) <= 0.005 < mwu_p_above(base, new, low + 1e-9)


def test_holm_textbook_example() -> None:
    # Sorted 0.005 ≤ .05/4, 0.01 ≤ .05/3, 0.03 > .05/2: stop; 0.04 is not rejected either.
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([], 0.05) == []


def test_quantile_ci_ranks() -> None:
    for n in (6, 10, 20, 30, 100, 999):
        assert quantile_ci_ranks(n, 0.5, 0.95) == median_ci_ranks(n)
    assert quantile_ci_ranks(30, 0.9, 0.99)[1] is None  # 30 samples cannot bound p90 above
    assert quantile_ci_ranks(59, 0.9, 0.99)[1] == 58  # 0.9^59 < 0.5%: the maximum bounds it


def test_quantile_ci_covers_the_true_p90() -> None:
    rng = np.random.default_rng(3)
    true_p90 = -math.log(0.1)  # exponential(1)
    for n in (200, 3000):
        hits = 0
        for _ in range(300):
            low, high = quantile_ci(np.sort(rng.exponential(1.0, n)), 0.9, 0.99)
            hits += low <= true_p90 <= high
        assert hits / 300 >= 0.97, n


def test_scatter_is_robust_to_one_repetition_far_off() -> None:
    """Issue 12: a mean/std CV called a cell unstable over one hiccup (42 µs among eleven
    29.3 µs): the scaled MAD does not move, and the hiccup is named instead."""
    steady = [29.3, 29.2, 29.4, 29.3, 29.25, 29.35, 29.3, 29.28, 29.32, 29.3, 29.31]
    values = np.log([*steady, 42.0])
    assert robust_scatter(values) < 0.005
    assert np.std(values, ddof=1) / 1 > 0.1  # what the old CV saw
    assert outliers(values, floor=0.025) == [11]
    assert robust_scatter(np.array([1.0, 2.0, 3.0])) == pytest.approx(1.4826, rel=1e-3)
    assert math.isnan(robust_scatter([1.0]))


def test_outliers_below_the_floor_are_not_named() -> None:
    # MAD ~0: a 0.1% deviation is many MADs away but too small to matter.
    assert outliers(np.log([10.0] * 9 + [10.01]), floor=0.025) == []


def _cut(values: np.ndarray, floor: float) -> int:
    """How many values slow_limit sets aside (0 when it cannot tell)."""
    limit = slow_limit(values, floor)
    return 0 if limit is None else int((values >= limit).sum())


def test_slowed_values_are_a_fringe_above_the_lower_quartile() -> None:
    floor = math.log1p(0.05)
    fast = np.log([5.6, 5.61, 5.59, 5.62, 5.6, 5.58, 5.61, 5.6])
    slowed = np.log([7.0, 7.3, 8.1, 9.5])
    limit = slow_limit(np.concatenate([fast, slowed]), floor)
    assert limit is not None and fast.max() < limit < slowed.min()
    # Slow values that are the bulk are not a fringe: not cut.
    assert _cut(np.concatenate([fast[:3], slowed, slowed + 0.001]), floor) == 0
    assert slow_limit(np.concatenate([fast[:5], slowed, slowed[:3] + 0.001]), floor) is None
    # Spread without a fringe, or a step below δ, is not cut either.
    assert _cut(np.log(np.linspace(5.0, 6.0, 12)), floor) == 0
    assert _cut(np.concatenate([fast, fast + 0.03]), floor) == 0
