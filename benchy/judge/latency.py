"""Latency shifts between two runs, judged on per-repetition percentiles (one value per fresh
worker process), so that what varies from one process to the next is in the interval.

1. Each cell × percentile: the log of every repetition's percentile on both sides.
2. Run-wide drift (see drift.py): the median shift of a target's unchanged cells, taken out of
   every cell's shift and reported on its own.
3. Per cell: Hodges–Lehmann shift with the Mann–Whitney CI; one-sided p-values against ±δ;
   Holm across all these tests; then the verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchy.config import Gate
from benchy.judge.drift import Drift, applied_drifts, drift_verdict, median_drift
from benchy.judge.result import Result, with_
from benchy.results.read import QUANTILES
from benchy.results.schema import CellKey
from benchy.stats import cv, hodges_lehmann, holm, mwu_p_above, shift_ci_depth

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Sample:
    """One cell × percentile, both sides, in log space."""

    cell: CellKey
    metric: str
    base: float | None  # the cells' point values, for display
    new: float | None
    x: Floats  # log of each baseline repetition's percentile
    y: Floats
    context: tuple[str, ...]
    model_changed: bool

    @property
    def raw(self) -> float:
        """Hodges–Lehmann log-shift before any drift is taken out."""
        return float(np.median((self.y[None, :] - self.x[:, None]).ravel()))


def delta(gate: Gate, metric: str) -> float:
    return float(getattr(gate, f"{metric}_pct")) / 100


def collect(
    cell: CellKey,
    metric: str,
    base_reps: pd.DataFrame | None,
    new_reps: pd.DataFrame | None,
    points: tuple[float | None, float | None],
    gate: Gate,
    context: tuple[str, ...],
    model_changed: bool,
) -> Result | Sample:
    """The per-repetition values of one cell × percentile, or why they cannot be compared."""
    bv, nv = points
    d = delta(gate, metric)
    if base_reps is None or new_reps is None or base_reps.empty or new_reps.empty:
        return Result(cell, metric, "unchecked", bv, nv, delta=d, note="no samples stored")
    need = math.ceil(1 / (1 - QUANTILES[metric])) if QUANTILES[metric] > 0.5 else 1
    fewest = int(min(base_reps["n"].min(), new_reps["n"].min()))
    x = base_reps[metric].to_numpy(np.float64)
    y = new_reps[metric].to_numpy(np.float64)
    if fewest < need or (x <= 0).any() or (y <= 0).any():
        point = float(np.median(y) / np.median(x) - 1)
        note = f"needs ≥ {need} samples per repetition, has {fewest}; not compared"
        return Result(cell, metric, "unchecked", bv, nv, point, delta=d, note=note)
    return Sample(cell, metric, bv, nv, np.log(x), np.log(y), context, model_changed)


def estimate_drift(samples: list[Sample], gate: Gate) -> dict[tuple[str, str], Drift]:
    """Per target and percentile: the median raw shift of the cells whose model is unchanged."""
    return median_drift(((s.cell.target, s.metric, s.raw, s.model_changed) for s in samples), gate)


@dataclass
class _Test:
    sample: Sample
    result: Result
    p_up: float = 1.0
    p_down: float = 1.0
    tested: bool = False


def judge_latency(
    samples: list[Sample], drifts: dict[tuple[str, str], Drift], gate: Gate
) -> list[Result]:
    """Every sample's verdict, in order; Holm across the ones with a finite CI."""
    tests = [_prepare(s, drifts[(s.cell.target, s.metric)].shift, gate) for s in samples]
    family = [t for t in tests if t.tested]
    alpha = (1 - gate.confidence) / 2  # the CI's one-sided tail
    rejected = holm([min(t.p_up, t.p_down) for t in family], alpha)
    for t, reject in zip(family, rejected, strict=True):
        t.result = _decide(t, reject, len(family))
    return [t.result for t in tests]


def _prepare(s: Sample, drift: float, gate: Gate) -> _Test:
    d = delta(gate, s.metric)
    y = s.y - drift
    hl = hodges_lehmann(s.x, y, gate.confidence)
    low = math.expm1(hl.low) if math.isfinite(hl.low) else -math.inf  # unbounded, not −100%
    result = Result(
        s.cell,
        s.metric,
        "inconclusive",
        s.base,
        s.new,
        math.expm1(hl.estimate),
        low,
        math.expm1(hl.high),
        d,
        confidence=gate.confidence,
        context=s.context,
        raw=math.expm1(s.raw) if drift else None,
    )
    cv_base, cv_new = cv(np.exp(s.x)), cv(np.exp(s.y))
    scatter = max((c for c in (cv_base, cv_new) if not math.isnan(c)), default=0.0)
    note = ""
    if scatter * 100 > gate.unstable_cv_pct:
        note = f"CV {cv_base:.0%} base, {cv_new:.0%} new > {gate.unstable_cv_pct:g}%"
        # Scatter hides shifts up to its own size, not one that moved every repetition past
        # every other by more than δ: that is judged (a 30× slowdown is never just "unstable").
        apart = max(y.min() - s.x.max(), s.x.min() - y.max())
        if apart <= math.log1p(d):
            return _Test(s, with_(result, verdict="unstable", note=f"{note}: not gated"))
        note += ", but every repetition moved past every other by more than δ"
        result = with_(result, note=note)
    if not math.isfinite(hl.low):
        note = (
            f"{len(s.x)} vs {len(y)} repetitions are too few for a {gate.confidence:.0%} CI "
            f"(need ≥ {fewest_repetitions(gate.confidence)} each)"
        )
        return _Test(s, with_(result, note=note))
    up = mwu_p_above(s.x, y, math.log1p(d))
    down = mwu_p_above(y, s.x, -math.log1p(-d)) if d < 1 else 1.0
    return _Test(s, result, up, down, tested=True)


def fewest_repetitions(confidence: float) -> int:
    """The fewest repetitions per side for which a CI of the shift exists at this confidence."""
    r = 2
    while shift_ci_depth(r, r, confidence) == 0:
        r += 1
    return r


def _decide(t: _Test, rejected: bool, family: int) -> Result:
    r = t.result
    assert r.low is not None and r.high is not None and r.delta is not None
    up = t.p_up <= t.p_down
    note = ""
    if rejected and up and r.low > r.delta:
        verdict = "regressed"
    elif rejected and not up and r.high < -r.delta:
        verdict = "improved"
    elif r.high > r.delta:
        verdict = "inconclusive"
        if r.low > r.delta:
            note = f"clears δ alone, not after Holm over {family} tests"
    else:
        verdict = "unchanged"
    note = "; ".join(filter(None, [r.note, note]))
    return with_(r, verdict=verdict, note=note, p=min(t.p_up, t.p_down))


def drift_results(
    drifts: dict[tuple[str, str], Drift], gate: Gate, changes: dict[str, list[str]]
) -> list[Result]:
    """One result per target and percentile whose drift was taken out."""
    out = []
    for target, metric, drift, cell in applied_drifts(drifts):
        shift, d = math.expm1(drift.shift), delta(gate, metric)
        verdict, note = drift_verdict(abs(shift) > d, drift.cells, changes.get(target, []))
        out.append(Result(cell, metric, verdict, shift=shift, delta=d, note=note))
    return out
