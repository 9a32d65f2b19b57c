"""Latency shifts between two runs, judged on per-repetition percentiles (one value per fresh
worker process), so that what varies from one process to the next is in the interval.

1. Each cell × percentile: the log of every repetition's percentile on both sides.
2. Run-wide drift: a shared machine drifts (this VM: ±6% within ten minutes), and every cell of
   a target moves with it. Its size is the median shift of the target's cells whose model did
   not change (at least `drift_min_cells` of them); it is taken out of every cell's shift and
   reported on its own: `drift` when nothing else differs, `inconclusive` when something that
   touches every cell (runtime version, machine, benchy, settings) changed too.
3. Per cell: Hodges–Lehmann shift with the Mann–Whitney CI; one-sided p-values against ±δ;
   Holm across all these tests; then the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchy.config import Gate
from benchy.runs import QUANTILES
from benchy.stats import cv, hodges_lehmann, holm, mwu_p_above, shift_ci_depth
from benchy.store import IDENTITY
from benchy.verdict import ALL_CELLS, Result, with_

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Sample:
    """One cell × percentile, both sides, in log space."""

    cell: dict[str, str]
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


@dataclass(frozen=True)
class Drift:
    target: str
    metric: str
    shift: float  # log-shift taken out of every cell (0 when not applied)
    cells: int  # cells it was estimated from
    applied: bool

    def text(self) -> str:
        if self.metric in QUANTILES:
            return f"{math.expm1(self.shift) * 100:+.1f}%".replace("-", "−")
        return f"{self.shift:+.2f} MiB".replace("-", "−")


def steady(reps: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """Take a run's own drift out of its repetitions. The runner interleaves repetitions: round k
    measures repetition k of every cell of a target, one after the other. The median, over the
    cells, of each cell's deviation from its own median in round k is how fast the machine was
    during that round; every value of the round is divided by it. Needs `drift_min_cells` cells
    in a round; a real change in a few cells does not move the median."""
    if not gate.drift_correction or reps.empty:
        return reps
    out = reps.copy()
    cell = reps[IDENTITY].astype(str).agg("/".join, axis=1)
    for _, group in reps.groupby("target", sort=False, observed=True):
        rounds = group["repetition"]
        if rounds.map(rounds.value_counts()).min() < gate.drift_min_cells:
            continue
        for metric in QUANTILES:
            logv = group[metric].astype(np.float64).apply(math.log)
            dev = logv - logv.groupby(cell[group.index]).transform("median")
            speed = dev.groupby(rounds).median()
            out.loc[group.index, metric] = np.exp(logv - rounds.map(speed))
    return out


def delta(gate: Gate, metric: str) -> float:
    return float(getattr(gate, f"{metric}_pct")) / 100


def collect(
    cell: dict[str, str],
    metric: str,
    base_reps: pd.DataFrame | None,
    new_reps: pd.DataFrame | None,
    points: tuple[float | None, float | None],
    gate: Gate,
    context: tuple[str, ...],
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
    changed = any("model sha256" in c for c in context)
    return Sample(cell, metric, bv, nv, np.log(x), np.log(y), context, changed)


def estimate_drift(samples: list[Sample], gate: Gate) -> dict[tuple[str, str], Drift]:
    """Per target and percentile: the median raw shift of the cells whose model is unchanged."""
    return median_drift(
        ((s.cell["target"], s.metric, s.raw, s.model_changed) for s in samples), gate
    )


def median_drift(
    changes: Iterable[tuple[str, str, float, bool]], gate: Gate
) -> dict[tuple[str, str], Drift]:
    """(target, metric, change, model changed?) → per target and metric the median change of
    the cells whose model did not change, applied when enough such cells exist."""
    groups: dict[tuple[str, str], list[float]] = {}
    for target, metric, change, model_changed in changes:
        group = groups.setdefault((target, metric), [])
        if not model_changed:
            group.append(change)
    out = {}
    for (target, metric), values in groups.items():
        applied = gate.drift_correction and len(values) >= gate.drift_min_cells
        shift = float(np.median(values)) if applied else 0.0
        out[(target, metric)] = Drift(target, metric, shift, len(values), applied)
    return out


@dataclass
class _Test:
    sample: Sample
    result: Result
    p_up: float = 1.0
    p_down: float = 1.0
    tested: bool = False


def judge(samples: list[Sample], drifts: dict[tuple[str, str], Drift], gate: Gate) -> list[Result]:
    """Every sample's verdict, in order; Holm across the ones with a finite CI."""
    tests = [_prepare(s, drifts[(s.cell["target"], s.metric)].shift, gate) for s in samples]
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


def drift_verdict(beyond: bool, cells: int, changes: list[str]) -> tuple[str, str]:
    """The verdict on a run-wide drift: beyond δ or not, and what else changed."""
    basis = f"median of {cells} cells whose model did not change"
    if not beyond:
        return "unchanged", f"run-wide drift ({basis}), taken out of every cell"
    if changes:
        return "inconclusive", (
            f"every cell moved alike ({basis}) while {', '.join(changes)} changed too: "
            "machine drift cannot be told from that change; measure both sides in one job"
        )
    return "drift", (
        f"every cell moved alike ({basis}) and nothing else differs: the machine; "
        "taken out of every cell, not gated"
    )


def applied_drifts(
    drifts: dict[tuple[str, str], Drift],
) -> Iterator[tuple[str, str, Drift, dict[str, str]]]:
    """(target, metric, drift, the all-cells pseudo cell) for each drift taken out."""
    for (target, metric), drift in drifts.items():
        if drift.applied:
            yield (
                target,
                metric,
                drift,
                {k: "" for k in IDENTITY}
                | {
                    "target": target,
                    "model": ALL_CELLS,
                },
            )


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
