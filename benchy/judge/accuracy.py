"""Accuracy between two runs: deterministic for a fixed model and dataset, so compared exactly
within a tolerance — `accuracy_points` for classification metrics, `error_pct` (relative) for
MAE/RMSE, where lower is better."""

from __future__ import annotations

import math
from typing import Any

from benchy.config import Gate
from benchy.judge.result import Result, one_sided
from benchy.metrics import CLASSIFICATION
from benchy.results.schema import METRIC, METRIC_VALUE, CellKey


def compare_accuracy(
    cell: CellKey, b: dict[str, Any], n: dict[str, Any], gate: Gate, ctx: tuple[str, ...]
) -> Result | None:
    bv, nv = b.get(METRIC_VALUE), n.get(METRIC_VALUE)
    if bv is None or nv is None:
        return one_sided(cell, "accuracy", bv, nv, ctx)
    if b.get(METRIC) != n.get(METRIC):
        note = f"metric changed ({b.get(METRIC)} → {n.get(METRIC)}); not compared"
        return Result(cell, "accuracy", "unchecked", bv, nv, note=note, context=ctx)
    name = str(n.get(METRIC))
    if name in CLASSIFICATION or name.startswith("top"):
        diff, tol = nv - bv, gate.accuracy_points
        verdict = "regressed" if diff < -tol else "improved" if diff > tol else "unchanged"
        note = f"{name} {bv:.2f} → {nv:.2f}"
        return Result(cell, "accuracy", verdict, bv, nv, diff, delta=tol, points=True, note=note,
                      context=ctx)  # fmt: skip
    rel, tol = (nv / bv - 1 if bv else math.inf), gate.error_pct / 100
    verdict = "regressed" if rel > tol else "improved" if rel < -tol else "unchanged"
    note = f"{name} {bv:.4g} → {nv:.4g}"
    return Result(cell, "accuracy", verdict, bv, nv, rel, delta=tol, note=note, context=ctx)
