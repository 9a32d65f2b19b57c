from __future__ import annotations

import numpy as np
import pytest

from benchy.stats import median_ci_ranks, summarize


@pytest.mark.parametrize(
    ("n", "ranks"),
    # 1-based order statistics from the standard table of distribution-free 95% CIs for the median.
    [(6, (1, 6)), (10, (2, 9)), (20, (6, 15)), (30, (10, 21)), (100, (40, 61))],
)
def test_median_ci_ranks_match_the_binomial_table(n: int, ranks: tuple[int, int]) -> None:
    lo, hi = median_ci_ranks(n)
    assert (lo + 1, hi + 1) == ranks


def test_ci_covers_the_true_median_at_least_95_percent() -> None:
    rng = np.random.default_rng(7)
    for n in (15, 200, 2000):  # exact branch and normal-approximation branch
        hits = 0
        for _ in range(400):
            s = summarize(rng.lognormal(0.0, 0.5, n))  # true median = e^0 = 1
            hits += s.ci_low <= 1.0 <= s.ci_high
        assert hits / 400 >= 0.93, n  # 95% nominal, minus sampling slack for 400 trials


def test_summary_values() -> None:
    s = summarize(np.arange(1, 101, dtype=float))
    assert s.n == 100
    assert s.p50 == pytest.approx(50.5)
    assert s.p90 == pytest.approx(90.1)
    assert s.p99 == pytest.approx(99.01)
    assert (s.min, s.max) == (1.0, 100.0)
    assert s.mean == pytest.approx(50.5)
    assert (s.ci_low, s.ci_high) == (40.0, 61.0)


def test_empty_samples_are_refused() -> None:
    with pytest.raises(ValueError):
        summarize([])
