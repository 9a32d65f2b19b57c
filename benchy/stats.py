"""Latency statistics: percentiles, distribution-free CIs of quantiles, and the two-sample
shift (Hodges–Lehmann with its Mann–Whitney CI) that regression verdicts rest on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

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


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for this confidence (2.576 for 0.99)."""
    return _z(confidence)


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


def quantile_ci_ranks(n: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """0-based order-statistic ranks (lo, hi) with P(x_lo ≤ ξ_q ≤ x_hi) ≥ confidence, for the
    q-quantile ξ_q of a continuous distribution; None where no sample is a bound that tight
    (too few samples), meaning −∞ or +∞.

    The number of samples below ξ_q is Binomial(n, q): exact for n ≤ 1000, normal above.
    """
    if n < 1:
        raise ValueError("no samples")
    tail = (1.0 - confidence) / 2
    if n > 1000:
        half = _z(confidence) * math.sqrt(n * q * (1 - q))
        lo_i, hi_i = math.floor(n * q - half) - 1, math.ceil(n * q + half)
        return (lo_i if lo_i >= 0 else None), (hi_i if hi_i <= n - 1 else None)
    pmf = _binomial_pmf(n, q)
    cdf = np.cumsum(pmf)
    # x_(l) (1-based) exceeds ξ_q iff at most l-1 samples lie below it: P = cdf[l-1] ≤ tail.
    below = np.nonzero(cdf <= tail)[0]
    lo = int(below[-1]) if len(below) else None  # 1-based l = index + 1 → 0-based index
    # x_(u) (1-based) is under ξ_q iff at least u samples lie below it: P = 1 - cdf[u-1] ≤ tail.
    above = np.nonzero(1.0 - cdf <= tail)[0]
    hi = int(above[0]) if len(above) and above[0] <= n - 1 else None
    return lo, hi


def _binomial_pmf(n: int, p: float) -> npt.NDArray[np.float64]:
    logp = [
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
        for k in range(n + 1)
    ]
    return np.exp(np.asarray(logp, dtype=np.float64))


def quantile_ci(
    sorted_x: npt.NDArray[np.float64], q: float, confidence: float
) -> tuple[float, float]:
    """Distribution-free CI of the q-quantile from sorted samples; ±inf where unbounded."""
    lo, hi = quantile_ci_ranks(len(sorted_x), q, confidence)
    return (
        -math.inf if lo is None else float(sorted_x[lo]),
        math.inf if hi is None else float(sorted_x[hi]),
    )


# --- Two-sample shift: Hodges–Lehmann estimate and the Mann–Whitney CI -------------------------


@lru_cache(maxsize=256)
def _mwu_counts(m: int, n: int) -> tuple[int, ...]:
    """Number of arrangements giving U = 0..m·n under H0 (no shift), exactly.

    These are the coefficients of the Gaussian binomial [m+n choose m]_q = ∏ (1-q^(n+i))/(1-q^i),
    built one factor at a time so every intermediate is a polynomial (exact integer arithmetic).
    """
    poly = [1]
    for i in range(1, m + 1):
        deg = len(poly) - 1 + n
        grown = poly + [0] * n
        for k in range(deg, n + i - 1, -1):  # × (1 - q^(n+i))
            grown[k] -= grown[k - n - i]
        for k in range(i, deg + 1):  # ÷ (1 - q^i): exact, a running sum with stride i
            grown[k] += grown[k - i]
        poly = grown
    return tuple(poly)


EXACT_LIMIT = 60
"""Exact Mann–Whitney distribution when both sides have at most this many values."""


def mwu_cdf(m: int, n: int) -> npt.NDArray[np.float64]:
    """P(U ≤ u) for u = 0..m·n under H0, with U = #{(i, j): y_j > x_i}; exact for small samples,
    normal approximation (continuity-corrected) beyond EXACT_LIMIT. Read-only (cached)."""
    return _mwu_cdf(m, n)


@lru_cache(maxsize=1024)
def _mwu_cdf(m: int, n: int) -> npt.NDArray[np.float64]:
    out = _mwu_cdf_uncached(m, n)
    out.setflags(write=False)
    return out


def _mwu_cdf_uncached(m: int, n: int) -> npt.NDArray[np.float64]:
    if m <= EXACT_LIMIT and n <= EXACT_LIMIT:
        counts = _mwu_counts(m, n)
        total = math.comb(m + n, m)
        running, out = 0, []
        for c in counts:
            running += c
            out.append(running / total)
        return np.asarray(out, dtype=np.float64)
    mean, sd = m * n / 2, math.sqrt(m * n * (m + n + 1) / 12)
    u = np.arange(m * n + 1)
    return np.asarray([0.5 * (1 + math.erf((v + 0.5 - mean) / (sd * math.sqrt(2)))) for v in u])


def shift_ci_depth(m: int, n: int, confidence: float) -> int:
    """k such that [d_(k), d_(mn+1-k)] (1-based, over the m·n sorted pairwise differences) covers
    the true shift with probability ≥ confidence; 0 when no such interval exists (too few values).
    """
    cdf = mwu_cdf(m, n)
    tail = (1.0 - confidence) / 2
    # Coverage fails when U ≤ k-1 or U ≥ mn-k+1: each has probability cdf[k-1] (symmetry).
    ok = np.nonzero(cdf <= tail)[0]
    return int(ok[-1]) + 1 if len(ok) else 0


@dataclass(frozen=True)
class Shift:
    """Shift of `new` against `base` on the scale it was computed (log for relative shifts)."""

    estimate: float
    low: float  # −inf when the samples are too few for the confidence asked
    high: float  # +inf likewise
    confidence: float
    m: int
    n: int


def hodges_lehmann(base: npt.ArrayLike, new: npt.ArrayLike, confidence: float) -> Shift:
    """Hodges–Lehmann shift (median of all pairwise differences new_j − base_i) with the
    distribution-free CI from the Mann–Whitney order statistics of those differences."""
    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(new, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise ValueError("no values")
    d = np.sort((y[None, :] - x[:, None]).ravel())
    k = shift_ci_depth(len(x), len(y), confidence)
    low = float(d[k - 1]) if k else -math.inf
    high = float(d[len(d) - k]) if k else math.inf
    return Shift(float(np.median(d)), low, high, confidence, len(x), len(y))


def mwu_p_above(base: npt.ArrayLike, new: npt.ArrayLike, shift: float) -> float:
    """One-sided exact p-value of H0 "new − base ≤ shift" against "new − base > shift":
    P(U ≥ u_obs) where u_obs counts pairs with new_j − base_i > shift (ties count one half)."""
    x = np.asarray(base, dtype=np.float64)
    y = np.asarray(new, dtype=np.float64)
    d = y[None, :] - x[:, None]
    u = float((d > shift).sum() + 0.5 * (d == shift).sum())
    cdf = mwu_cdf(len(x), len(y))
    below = math.ceil(u) - 1  # P(U ≥ u) = 1 − P(U ≤ ceil(u) − 1)
    return 1.0 if below < 0 else float(max(0.0, 1.0 - cdf[below]))


def holm(pvalues: list[float], alpha: float) -> list[bool]:
    """Holm's step-down rejections at family-wise level alpha, in the input order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    reject = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > alpha / (len(pvalues) - rank):
            break
        reject[i] = True
    return reject


MAD_TO_SD = 1.482602218505602
"""1 / Φ⁻¹(3/4): the median absolute deviation × this estimates σ of a normal sample."""


def robust_scatter(values: npt.ArrayLike) -> float:
    """Scaled median absolute deviation (≈ σ for a normal sample; of log values, ≈ the relative
    scatter). One repetition far from the others moves it by at most one rank: a hiccup is named
    (see `outliers`), it does not make a cell look unstable. nan below two values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return math.nan
    return float(MAD_TO_SD * np.median(np.abs(v - np.median(v))))


def outliers(values: npt.ArrayLike, floor: float, z: float = 3.5) -> list[int]:
    """Indices of values farther from the median than z scaled MADs (Iglewicz and Hoaglin's
    modified z-score, 3.5) and than `floor` (a deviation too small to matter is not named, even
    where the MAD is ~0)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 3:
        return []
    dev = np.abs(v - np.median(v))
    limit = max(z * robust_scatter(v), floor)
    return [int(i) for i in np.nonzero(dev > limit)[0]]


# --- Slowed repetitions --------------------------------------------------------------------------


def slow_limit(values: npt.ArrayLike, floor: float, spread: float = 3.0) -> float | None:
    """Above which a sample's values were slowed, or None when that cannot be told. Other load
    only ever slows a process, so the fast reference is the sample's lower quartile and its scale
    the scaled MAD of the lower half (both untouched while fewer than half the values are
    slowed); values farther above the quartile than `floor` (δ: closer values move a shift by
    less than that) plus `spread` × that scale were slowed. None below 4 values, or when half
    or more lie above (the slow ones are then the bulk, not a fringe)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = len(v)
    if n < 4:
        return None
    lower = v[: (n + 1) // 2]
    limit = float(np.quantile(v, 0.25)) + floor + spread * robust_scatter(lower)
    if 2 * int((v >= limit).sum()) >= n:
        return None
    return limit


def fast_mode(values: npt.ArrayLike, width: float, fewest: int = 3) -> npt.NDArray[np.bool_] | None:
    """Which values are the sample's fast speed mode, or None when it has none that can be told.

    Some machines (a VM whose host runs a worker process at one of two speeds) put every
    repetition of a cell in one of two modes tens of percent apart, in shares that change from
    run to run: no quantile of the whole sample is comparable between runs, the fast mode is.
    It is the values from the fastest up to the first gap of width/2 (δ/2) or more after the
    first `fewest` values, twice as wide as any step inside; it is told when it spans at most
    1.5 × width (a chain of slowed values without such a gap is no mode). No such gap and a
    span that small: one mode, all True."""
    v = np.asarray(values, dtype=np.float64)
    s = np.sort(v)
    if len(s) < fewest:
        return None
    # The first gap after `fewest` values: a fast mode with a step inside it (1.00, 1.004 |
    # 1.04 … 1.053, measured) is one mode; the span bounds how far that reaches.
    steps = np.diff(s)
    gaps = np.nonzero(steps[fewest - 1 :] >= width / 2)[0] + fewest - 1
    k = int(gaps[0]) + 1 if len(gaps) else len(s)
    if k < fewest or s[k - 1] - s[0] > 1.5 * width:
        return None
    if k < len(s) and steps[k - 1] < 2 * steps[: k - 1].max():  # no wider than the steps inside
        return None
    mode: npt.NDArray[np.bool_] = v <= s[k - 1]
    return mode
