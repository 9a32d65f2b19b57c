"""Budgets → a verdict per cell, and the run's exit code."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchy.config import BUDGET_KEYS, FLOOR_BUDGETS

EXIT_PASS, EXIT_BUDGET, EXIT_USAGE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FAILED_STATUSES = ("error", "crashed", "timeout")


@dataclass(frozen=True)
class Verdict:
    verdict: str  # pass | fail | error | n/a | unavailable
    failed: list[str]
    unchecked: list[str]
    tightest: str | None  # the budget with the least headroom
    headroom_pct: float | None


def _value(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def judge(row: dict[str, Any], budgets: dict[str, float]) -> Verdict:
    status = row["status"]
    if status != "ok":
        verdict = "error" if status in FAILED_STATUSES else status
        return Verdict(verdict, [], [], None, None)
    failed, unchecked = [], []
    tightest, headroom = None, math.inf
    for name, limit in budgets.items():
        value = _value(row, BUDGET_KEYS[name])
        if value is None:
            unchecked.append(name)
            continue
        floor = name in FLOOR_BUDGETS
        ok = value >= limit if floor else value <= limit
        if not ok:
            op = "<" if floor else ">"
            failed.append(f"{name}: {value:.4g} {op} {limit:g}")
        room = (value - limit if floor else limit - value) / limit * 100 if limit else math.inf
        if room < headroom:
            tightest, headroom = name, room
    return Verdict(
        "fail" if failed else "pass",
        failed,
        unchecked,
        tightest,
        None if tightest is None else headroom,
    )


def exit_code(rows: list[dict[str, Any]], target_failed: bool = False) -> int:
    if target_failed or any(r["verdict"] == "error" for r in rows):
        return EXIT_ERROR
    if any(r["verdict"] == "fail" for r in rows):
        return EXIT_BUDGET
    return EXIT_PASS
