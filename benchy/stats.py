"""Latency statistics: percentiles and a distribution-free confidence interval of the median."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p90: float
    p99: float
    mean: float
    std: float
    min: float
    max: float
    ci_low: float
    ci_high: float


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """0-based order-statistic ranks (lo, hi) with P(x_lo ≤ median ≤ x_hi) ≥ confidence.

    Exact binomial for n ≤ 1000, normal approximation above (its error is negligible there).
    """
    if n < 1:
        raise ValueError("no samples")
    alpha = 1.0 - confidence
    if n <= 1000:
        # Largest j with P(X ≤ j) ≤ alpha/2, X ~ Binomial(n, 1/2): [x_(j), x_(n-1-j)] (0-based)
        # covers the median with probability ≥ confidence.
        total, cdf, j, term = 2**n, 0, -1, 1
        while True:
            cdf += term  # term = C(n, j+1)
            if cdf / total > alpha / 2:
                break
            j += 1
            term = term * (n - j) // (j + 1)
        lo = max(j, 0)
        return lo, n - 1 - lo
    z = 1.959963984540054 if confidence == 0.95 else _z(confidence)
    half = z * math.sqrt(n) / 2
    lo = max(math.floor(n / 2 - half) - 1, 0)
    hi = min(math.ceil(n / 2 + half), n - 1)
    return lo, hi


def _z(confidence: float) -> float:
    # Inverse normal CDF by bisection: dependency-free and only used for unusual confidences.
    target = 1 - (1 - confidence) / 2
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def summarize(samples: npt.ArrayLike, confidence: float = 0.95) -> Summary:
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(x)
    if n == 0:
        raise ValueError("no samples")
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    lo, hi = median_ci_ranks(n, confidence)
    return Summary(
        n=n,
        p50=float(p50),
        p90=float(p90),
        p99=float(p99),
        mean=float(x.mean()),
        std=float(x.std(ddof=1)) if n > 1 else 0.0,
        min=float(x[0]),
        max=float(x[-1]),
        ci_low=float(x[lo]),
        ci_high=float(x[hi]),
    )
