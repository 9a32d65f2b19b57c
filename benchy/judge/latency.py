"""Latency shifts between two runs, judged on per-repetition percentiles (one value per fresh
worker process), so that what varies from one process to the next is in the interval.

1. Each cell × percentile: the log of every repetition's percentile on both sides (a `Pair`).
2. Run-wide drift (see drift.py): the median shift of a target's unchanged cells, taken out of
   every cell's shift and reported on its own.
3. Per cell: the shift test of shift.py (speed modes, Hodges–Lehmann with the Mann–Whitney CI,
   robust scatter, Holm across every test of the comparison).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.drift import Drift, DriftKey, applied_drifts, drift_verdict, median_drift
from benchy.judge.result import Result
from benchy.judge.shift import Pair, Scale
from benchy.results.read import QUANTILES
from benchy.results.schema import CellKey


def _ms(log_ms: float) -> str:
    ms = math.exp(log_ms)
    return f"{ms * 1000:.3g} µs" if ms < 1 else f"{ms:.3g} ms"


LATENCY = Scale(log=True, show=_ms, trim=True)


TAIL_SAMPLES = 10
"""A repetition's p90/p99 is compared only when at least this many of its samples lie beyond it:
the p99 of 100 samples is the second largest, which on a shared machine says whether one
scheduler tick (4 ms here) fell into that process's window, not how fast the code is."""


def fewest_samples(metric: str) -> int:
    """Samples per repetition for its percentile to be compared (1000 for p99, 100 for p90)."""
    q = QUANTILES[metric]
    return math.ceil(TAIL_SAMPLES / (1 - q) - 1e-9) if q > 0.5 else 1


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
    interleaved: bool = False,
    within: bool = False,
) -> Result | Pair:
    """The per-repetition values of one cell × percentile, or why they cannot be compared.
    `interleaved`: both sides measured in one job, round by round (a multi-threaded cell is then
    compared by round; shift.py). `within`: each round's two values were timed in turn in one
    process (worker/pair.py): compared by round whatever the threads, and the base/new values
    shown are the medians of those rounds (the processes' figures can differ by more than the
    shift, 17% in an A/A here)."""
    bv, nv = points
    d = delta(gate, metric)
    if base_reps is None or new_reps is None or base_reps.empty or new_reps.empty:
        return Result(cell, metric, "unchecked", bv, nv, delta=d, note="no samples stored")
    need = fewest_samples(metric)
    fewest = int(min(base_reps["n"].min(), new_reps["n"].min()))
    x = base_reps[metric].to_numpy(np.float64)
    y = new_reps[metric].to_numpy(np.float64)
    if fewest < need or (x <= 0).any() or (y <= 0).any():
        point = float(np.median(y) / np.median(x) - 1)
        note = f"needs ≥ {need} samples per repetition, has {fewest}; not compared"
        return Result(cell, metric, "unchecked", bv, nv, point, delta=d, note=note)
    if within:  # show the values compared: the rounds' two models, not the processes
        bv, nv = float(np.median(x)), float(np.median(y))
    return Pair(
        cell, metric, bv, nv, np.log(x), np.log(y),
        base_reps["repetition"].to_numpy(np.int64), new_reps["repetition"].to_numpy(np.int64),
        up=math.log1p(d), down=-math.log1p(-d) if d < 1 else math.inf, scale=LATENCY,
        context=context, model_changed=model_changed, interleaved=interleaved,
        paired=within or (interleaved and cell.threads > 1), within=within,
    )  # fmt: skip


def estimate_drift(pairs: list[Pair], gate: Gate) -> dict[DriftKey, Drift]:
    """Per target and percentile: the median raw shift of the cells whose model is unchanged."""
    # Shifts that compare like with like: both sides at one speed, or their fast modes. On a
    # machine with speed modes the others compare mixtures in run-dependent shares.
    matched = (p for p in pairs if p.matched or not p.scale.trim)
    changes = ((p.cell.target, p.metric, "", p.raw, p.model_changed) for p in matched)
    return median_drift(changes, gate)


def drift_results(
    drifts: dict[DriftKey, Drift], gate: Gate, changes: dict[str, list[str]]
) -> list[Result]:
    """One result per target and percentile whose drift was taken out."""
    out = []
    for drift, cell in applied_drifts(drifts):
        shift, d = math.expm1(drift.shift), delta(gate, drift.metric)
        verdict, note = drift_verdict(abs(shift) > d, drift, changes.get(drift.target, []))
        out.append(Result(cell, drift.metric, verdict, shift=shift, delta=d, note=note))
    return out
