"""t tests on log values. Welch's two-sample t, for the one comparison where ranks cannot work:
the fast speed mode of a cell measured on a machine with speed modes (judge/shift.py), a
handful of values per side that agree within ~1%. And Yuen's trimmed t on paired differences,
for rounds of an interleaved A/B (each candidate process right after its baseline process).
The fewest p-value Mann–Whitney can give 4 vs 4 values is 1/70, far above Holm's first step
over a comparison's tests; the t test uses how tight the values are. Dependency-free (scipy is
optional): Student's t CDF from the regularized incomplete beta function (continued fraction,
Numerical Recipes' betacf)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from benchy.stats import Shift

Bools = npt.NDArray[np.bool_]


def _betacf(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 3e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):  # fmt: skip
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    # I_x(ν/2, 1/2) at x = ν/(ν+t²); near t = 0 as 1 − I_(1−x)(1/2, ν/2), from 1 − x itself
    # (x would round to 1).
    if t * t < df:
        tail = 0.5 * (1.0 - betainc(0.5, df / 2, t * t / (df + t * t)))
    else:
        tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T ≤ t) = p (bisection on t_sf)."""
    lo, hi = -1e6, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1.0 - t_sf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class Prior:
    """What the other cells of a comparison say about a side's variance (Smyth's moderated t,
    limma): a side's variance s² from d = n − 1 degrees of freedom is read as
    (d0·s0² + d·s²) / (d0 + d) with d0 + d degrees of freedom. With three values per side, s²
    alone has 2 degrees of freedom and Holm's level over dozens of tests needs t ≈ 70; the cells
    of one machine, metric and mode share their scatter, and borrowing it is what lets a few
    close values be judged."""

    variance: float  # s0²: the variance pooled over the comparison's fast-mode samples
    df: float  # d0


def _side(v: npt.NDArray[np.float64], prior: Prior | None) -> tuple[float, float]:
    """(moderated variance of the mean, its degrees of freedom)."""
    d = float(len(v) - 1)
    s2 = float(np.var(v, ddof=1))
    if prior is not None:
        s2, d = (prior.df * prior.variance + d * s2) / (prior.df + d), d + prior.df
    return s2 / len(v), d


def _moments(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], prior: Prior | None = None
) -> tuple[float, float, float]:
    """(mean difference y − x, its standard error, Welch–Satterthwaite degrees of freedom)."""
    (vx, dx), (vy, dy) = _side(x, prior), _side(y, prior)
    se2 = vx + vy
    if se2 <= 0:
        return float(np.mean(y) - np.mean(x)), 0.0, dx + dy
    df = se2**2 / (vx**2 / dx + vy**2 / dy)
    return float(np.mean(y) - np.mean(x)), math.sqrt(se2), df


def welch_shift(
    base: npt.ArrayLike, new: npt.ArrayLike, confidence: float, prior: Prior | None = None
) -> Shift:
    """Mean difference new − base with Welch's CI; needs ≥ 2 values per side."""
    x, y = np.asarray(base, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("Welch's t needs at least two values per side")
    d, se, df = _moments(x, y, prior)
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    return Shift(d, d - half, d + half, confidence, len(x), len(y))


def welch_p_above(
    base: npt.ArrayLike, new: npt.ArrayLike, shift: float, prior: Prior | None = None
) -> float:
    """One-sided p-value of H0 "mean(new) − mean(base) ≤ shift"."""
    x, y = np.asarray(base, dtype=np.float64), np.asarray(new, dtype=np.float64)
    d, se, df = _moments(x, y, prior)
    if se == 0:
        return 0.0 if d > shift else 1.0
    return t_sf((d - shift) / se, df)


def pooled(samples: list[npt.NDArray[np.float64]], df: float) -> Prior | None:
    """The prior from these samples (each ≥ 2 values): their pooled variance, or None."""
    d = sum(len(v) - 1 for v in samples)
    if d <= 0:
        return None
    return Prior(sum(float(np.var(v, ddof=1)) * (len(v) - 1) for v in samples) / d, df)


# --- Paired rounds (interleaved A/B) -------------------------------------------------------------

TRIM = 0.2
"""Share trimmed from each end of the per-round differences (Yuen's usual 20%)."""


def _yuen(d: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """(20% trimmed mean, its standard error from the winsorized variance, degrees of freedom)."""
    v = np.sort(d)
    n = len(v)
    g = int(TRIM * n)
    h = n - 2 * g
    winsorized = np.clip(v, v[g], v[n - g - 1])
    se = math.sqrt(float(np.var(winsorized, ddof=1))) / ((1 - 2 * TRIM) * math.sqrt(n))
    return float(v[g : n - g].mean()), se, float(h - 1)


def _crossover(d: npt.NDArray[np.float64], first: Bools | None) -> tuple[float, float, float]:
    """(shift, standard error, degrees of freedom) of paired differences. With `first` (which
    rounds ran in one order, AB/BA crossover): each order's differences are moved by half the
    gap between the two orders' medians, so that the order effect cancels, and Yuen's trimmed
    t runs on all of them, one degree of freedom less for the order effect estimated. Medians
    and the trimming over all rounds keep a hiccup out, even in an order with few rounds (20%
    of 6 trims one round per end, of 4 none). With fewer than 3 rounds in either order, or no
    orders: Yuen's one-sample trimmed t as it is."""
    if first is None or not _both_orders(first):
        return _yuen(d)
    mean, se, df = _yuen(_moved(d, first))
    return mean, se, max(df - 1.0, 1.0)


def _both_orders(first: Bools) -> bool:
    """At least 3 rounds in each order: enough to estimate the order effect."""
    return min(int(first.sum()), int((~first).sum())) >= 3


def _moved(d: npt.NDArray[np.float64], first: Bools) -> npt.NDArray[np.float64]:
    """The differences with each order moved by half the gap between the orders' medians."""
    half = (float(np.median(d[first])) - float(np.median(d[~first]))) / 2
    return np.where(first, d - half, d + half)


def without_order(d: npt.ArrayLike, first: Bools) -> npt.NDArray[np.float64]:
    """The differences with the order effect out: what is left is each round's own scatter
    (for the robust scatter and the notes)."""
    v = np.asarray(d, dtype=np.float64)
    return _moved(v, first) if _both_orders(first) else v


def trimmed_mean(d: npt.ArrayLike, first: Bools | None = None) -> float:
    return _crossover(np.asarray(d, dtype=np.float64), first)[0]


def yuen_shift(d: npt.ArrayLike, confidence: float, first: Bools | None = None) -> Shift:
    """The trimmed mean of paired differences with Yuen's CI (Tukey–McLaughlin's one-sample
    trimmed t; with `first`, the crossover's: `_crossover`); needs ≥ 3 differences."""
    v = np.asarray(d, dtype=np.float64)
    if len(v) < 3:
        raise ValueError("the trimmed t needs at least three pairs")
    mean, se, df = _crossover(v, first)
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    return Shift(mean, mean - half, mean + half, confidence, len(v), len(v))


def yuen_p_above(d: npt.ArrayLike, shift: float, first: Bools | None = None) -> float:
    """One-sided p-value of H0 "the trimmed mean of the paired differences ≤ shift"."""
    mean, se, df = _crossover(np.asarray(d, dtype=np.float64), first)
    if se == 0:
        return 0.0 if mean > shift else 1.0
    return t_sf((mean - shift) / se, df)
