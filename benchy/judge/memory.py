"""Memory between two runs (`peak_memory`, `model_memory`), against δ = the larger of
`memory_pct` and `memory_mb`, after the run-wide offset is taken out (see drift.py). The offset
is the runtime's where a runtime has `drift_min_cells` unchanged cells: most of a worker's
footprint is its runtime's libraries and allocator, and between two runs on this VM the cells
of one runtime move alike, by up to 0.4 MiB, while another runtime's move the other way (over
56 pairs of runs, the spread left after one offset per target needed a margin of 0.57 MiB at
p90; after one per runtime, 0.21 MiB).

With each repetition's figure stored (repetitions.parquet) memory is judged like latency, by the
shift test of shift.py on the MiB values (CI, Holm, minimum detectable effect). Runs stored
before that have one figure per cell (the peak over its repetitions), compared as a point value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.drift import (
    Drift,
    DriftKey,
    applied_drifts,
    drift_of,
    drift_verdict,
    median_drift,
)
from benchy.judge.result import Result, one_sided
from benchy.judge.shift import Pair, Scale
from benchy.results.schema import MODEL_MEMORY, PEAK_RSS, CellKey

MEMORY_COLUMNS = {"peak_memory": PEAK_RSS, "model_memory": MODEL_MEMORY}
MIB = Scale(log=False, show=lambda v: f"{v:.2f} MiB")


@dataclass(frozen=True)
class MemoryPair:
    """One figure per side (runs without per-repetition memory)."""

    cell: CellKey
    metric: str
    base: float
    new: float
    context: tuple[str, ...]
    model_changed: bool


def limit(gate: Gate, base: float) -> float:
    """δ in MiB: the larger of memory_pct of the baseline and memory_mb."""
    return max(gate.memory_pct / 100 * abs(base), gate.memory_mb)


def per_repetition(frame: pd.DataFrame | None, column: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, rounds) of one figure over a cell's repetitions, None when not measured."""
    if frame is None or column not in frame:
        return None
    values = frame[column].to_numpy(np.float64, na_value=np.nan)
    known = ~np.isnan(values)
    if not known.any():
        return None
    return values[known], frame["repetition"].to_numpy(np.int64)[known]


def collect(
    cell: CellKey,
    metric: str,
    b: dict[str, Any],
    n: dict[str, Any],
    reps: tuple[pd.DataFrame | None, pd.DataFrame | None],
    gate: Gate,
    context: tuple[str, ...],
    model_changed: bool,
) -> Result | MemoryPair | Pair | None:
    column = MEMORY_COLUMNS[metric]
    bv, nv = b.get(column), n.get(column)
    if bv is None or nv is None:
        return one_sided(cell, metric, bv, nv, context)
    xs, ys = per_repetition(reps[0], column), per_repetition(reps[1], column)
    if xs is None or ys is None:
        return MemoryPair(cell, metric, float(bv), float(nv), context, model_changed)
    mb = limit(gate, float(np.median(xs[0])))
    return Pair(cell, metric, float(bv), float(nv), xs[0], ys[0], xs[1], ys[1], up=mb, down=mb,
                scale=MIB, context=context, model_changed=model_changed)  # fmt: skip


def memory_drift(pairs: list[MemoryPair | Pair], gate: Gate) -> dict[DriftKey, Drift]:
    """Per target, memory figure and runtime: the median change (MiB) of the cells whose model
    did not change (the per-repetition shift where there is one, else the change of the point
    values); the whole target's for the runtimes with too few cells of their own."""
    changes = [
        (p.cell, p.metric, p.raw if isinstance(p, Pair) else p.new - p.base, p.model_changed)
        for p in pairs
    ]
    own = median_drift(((c.target, m, c.runtime, v, mc) for c, m, v, mc in changes), gate)
    out = {key: d for key, d in own.items() if d.applied}
    short = {(c.target, m) for c, m, _, _ in changes if (c.target, m, c.runtime) not in out}
    whole = median_drift(((c.target, m, "", v, mc) for c, m, v, mc in changes), gate)
    return out | {key: d for key, d in whole.items() if key[:2] in short}


def judge_memory(
    pairs: list[MemoryPair], drifts: dict[DriftKey, Drift], gate: Gate
) -> list[Result]:
    """Point values: regressed when the change beyond the run-wide offset exceeds δ."""
    out = []
    for p in pairs:
        drift = drift_of(drifts, p.cell, p.metric)
        offset = drift.shift if drift is not None else 0.0
        mb = limit(gate, p.base)
        diff = p.new - p.base - offset
        verdict = "regressed" if diff > mb else "improved" if diff < -mb else "unchanged"
        note = f"{diff:+.2f} MiB vs δ {mb:.2f} MiB (one figure per run: no CI)"
        if offset:
            note += f" (run-wide {offset:+.2f} MiB taken out)"
        rel = diff / p.base if p.base else math.inf
        delta = mb / p.base if p.base else None
        out.append(Result(p.cell, p.metric, verdict, p.base, p.new, rel, delta=delta, note=note,
                          context=p.context))  # fmt: skip
    return out


def memory_drift_results(
    drifts: dict[DriftKey, Drift], gate: Gate, changes: dict[str, list[str]]
) -> list[Result]:
    out = []
    for drift, cell in applied_drifts(drifts):
        beyond = abs(drift.shift) > gate.memory_mb
        verdict, note = drift_verdict(beyond, drift, changes.get(drift.target, []))
        out.append(Result(cell, drift.metric, verdict, note=f"{drift.text()}: {note}"))
    return out
