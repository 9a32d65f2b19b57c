"""Memory between two runs (`peak_memory`, `model_memory`): one figure per cell (the peak over its
repetitions), compared as a point value against δ = the larger of `memory_pct` and `memory_mb`,
after the run-wide offset is taken out (the worker's own footprint moves every cell alike from
one run to the next; see drift.py). Its run-to-run scatter on this VM, once that offset is out,
stays under 0.8 MiB (README, Performance)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchy.config import Gate
from benchy.judge.drift import Drift, applied_drifts, drift_verdict, median_drift
from benchy.judge.result import Result, one_sided
from benchy.results.schema import MODEL_MEMORY, PEAK_RSS, CellKey

MEMORY_COLUMNS = {"peak_memory": PEAK_RSS, "model_memory": MODEL_MEMORY}


@dataclass(frozen=True)
class MemoryPair:
    cell: CellKey
    metric: str
    base: float
    new: float
    context: tuple[str, ...]
    model_changed: bool


def collect(
    cell: CellKey,
    metric: str,
    b: dict[str, Any],
    n: dict[str, Any],
    context: tuple[str, ...],
    model_changed: bool,
) -> Result | MemoryPair | None:
    column = MEMORY_COLUMNS[metric]
    bv, nv = b.get(column), n.get(column)
    if bv is None or nv is None:
        return one_sided(cell, metric, bv, nv, context)
    return MemoryPair(cell, metric, float(bv), float(nv), context, model_changed)


def memory_drift(pairs: list[MemoryPair], gate: Gate) -> dict[tuple[str, str], Drift]:
    """Per target and memory figure: the median change (MiB) of the cells whose model did not
    change."""
    return median_drift(
        ((p.cell.target, p.metric, p.new - p.base, p.model_changed) for p in pairs), gate
    )


def judge_memory(
    pairs: list[MemoryPair], drifts: dict[tuple[str, str], Drift], gate: Gate
) -> list[Result]:
    out = []
    for p in pairs:
        offset = drifts[(p.cell.target, p.metric)].shift
        limit = max(gate.memory_pct / 100 * abs(p.base), gate.memory_mb)
        diff = p.new - p.base - offset
        verdict = "regressed" if diff > limit else "improved" if diff < -limit else "unchanged"
        note = f"{diff:+.2f} MiB vs δ {limit:.2f} MiB"
        if offset:
            note += f" (run-wide {offset:+.2f} MiB taken out)"
        rel = diff / p.base if p.base else math.inf
        delta = limit / p.base if p.base else None
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
