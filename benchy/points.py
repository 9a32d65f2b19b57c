"""Comparisons of point values: memory (with the run-wide offset taken out, as for latency),
accuracy (deterministic: exact within a tolerance) and energy (shown, not gated, until
per-repetition energy is stored). The runner keeps one memory figure per cell (the peak over its
repetitions), so memory has no CI; its run-to-run scatter on this VM, once the run-wide offset is
out, stays under 0.8 MiB (README, Performance)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchy.config import Gate
from benchy.metrics import CLASSIFICATION
from benchy.shifts import Drift, applied_drifts, drift_verdict, median_drift
from benchy.verdict import Result

MEMORY_COLUMNS = {"peak_memory": "peak_rss_mb", "model_memory": "model_memory_mb"}
ENERGY_COLUMN = "energy_per_inference_mj"


@dataclass(frozen=True)
class MemoryPair:
    cell: dict[str, str]
    metric: str
    base: float
    new: float
    context: tuple[str, ...]
    model_changed: bool


def collect(
    cell: dict[str, str],
    metric: str,
    b: dict[str, Any],
    n: dict[str, Any],
    gate: Gate,
    context: tuple[str, ...],
) -> Result | MemoryPair | None:
    if metric in MEMORY_COLUMNS:
        column = MEMORY_COLUMNS[metric]
        bv, nv = b.get(column), n.get(column)
        if bv is None or nv is None:
            return _one_sided(cell, metric, bv, nv, context)
        changed = any("model sha256" in c for c in context)
        return MemoryPair(cell, metric, float(bv), float(nv), context, changed)
    if metric == "accuracy":
        return _quality(cell, b, n, gate, context)
    return _energy(cell, b, n, gate, context)


def memory_drift(pairs: list[MemoryPair], gate: Gate) -> dict[tuple[str, str], Drift]:
    """Per target and memory figure: the median change (MiB) of the cells whose model did not
    change — the worker's own footprint moves every cell alike from one run to the next."""
    return median_drift(
        ((p.cell["target"], p.metric, p.new - p.base, p.model_changed) for p in pairs), gate
    )


def judge_memory(
    pairs: list[MemoryPair], drifts: dict[tuple[str, str], Drift], gate: Gate
) -> list[Result]:
    out = []
    for p in pairs:
        offset = drifts[(p.cell["target"], p.metric)].shift
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


def _one_sided(
    cell: dict[str, str], metric: str, bv: Any, nv: Any, context: tuple[str, ...]
) -> Result | None:
    if bv is None and nv is None:
        return None
    side = "baseline" if nv is None else "new run"
    note = f"measured in the {side} only"
    return Result(cell, metric, "unchecked", bv, nv, note=note, context=context)


def _quality(
    cell: dict[str, str], b: dict[str, Any], n: dict[str, Any], gate: Gate, ctx: tuple[str, ...]
) -> Result | None:
    bv, nv = b.get("metric_value"), n.get("metric_value")
    if bv is None or nv is None:
        return _one_sided(cell, "accuracy", bv, nv, ctx)
    if b.get("metric") != n.get("metric"):
        note = f"metric changed ({b.get('metric')} → {n.get('metric')}); not compared"
        return Result(cell, "accuracy", "unchecked", bv, nv, note=note, context=ctx)
    name = str(n.get("metric"))
    if name in CLASSIFICATION or name.startswith("top"):
        diff, tol = nv - bv, gate.accuracy_points
        verdict = "regressed" if diff < -tol else "improved" if diff > tol else "unchanged"
        note = f"{name} {bv:.2f} → {nv:.2f}"
        return Result(cell, "accuracy", verdict, bv, nv, diff, delta=tol, points=True, note=note,
                      context=ctx)  # fmt: skip
    rel, tol = (nv / bv - 1 if bv else math.inf), gate.error_pct / 100  # mae, rmse: lower wins
    verdict = "regressed" if rel > tol else "improved" if rel < -tol else "unchanged"
    note = f"{name} {bv:.4g} → {nv:.4g}"
    return Result(cell, "accuracy", verdict, bv, nv, rel, delta=tol, note=note, context=ctx)


def _energy(
    cell: dict[str, str], b: dict[str, Any], n: dict[str, Any], gate: Gate, ctx: tuple[str, ...]
) -> Result | None:
    bv, nv = b.get(ENERGY_COLUMN), n.get(ENERGY_COLUMN)
    if bv is None or nv is None:
        return _one_sided(cell, "energy", bv, nv, ctx)
    rel = nv / bv - 1 if bv else math.inf
    note = "point values (no per-repetition energy stored): shown, not gated"
    return Result(cell, "energy", "unchecked", bv, nv, rel, delta=gate.energy_pct / 100,
                  note=note, context=ctx)  # fmt: skip
