"""Memory between two runs (`peak_memory`, `model_memory`), against δ = the larger of
`memory_pct` and `memory_mb`, after the run-wide offset is taken out (the worker's own footprint
moves every cell alike from one run to the next; see drift.py).

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
from benchy.judge.drift import Drift, applied_drifts, drift_verdict, median_drift
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


def memory_drift(pairs: list[MemoryPair | Pair], gate: Gate) -> dict[tuple[str, str], Drift]:
    """Per target and memory figure: the median change (MiB) of the cells whose model did not
    change (the per-repetition shift where there is one, else the change of the point values)."""
    return median_drift(
        (
            (p.cell.target, p.metric, p.raw if isinstance(p, Pair) else p.new - p.base,
             p.model_changed)
            for p in pairs
        ),
        gate,
    )  # fmt: skip


def judge_memory(
    pairs: list[MemoryPair], drifts: dict[tuple[str, str], Drift], gate: Gate
) -> list[Result]:
    """Point values: regressed when the change beyond the run-wide offset exceeds δ."""
    out = []
    for p in pairs:
        offset = drifts[(p.cell.target, p.metric)].shift
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
    drifts: dict[tuple[str, str], Drift], gate: Gate, changes: dict[str, list[str]]
) -> list[Result]:
    out = []
    for target, metric, drift, cell in applied_drifts(drifts):
        verdict, note = drift_verdict(
            abs(drift.shift) > gate.memory_mb, drift.cells, changes.get(target, [])
        )
        note = f"{drift.shift:+.2f} MiB: {note}"
        out.append(Result(cell, metric, verdict, note=note))
    return out
