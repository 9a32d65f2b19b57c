"""Budgets → a verdict per cell.

A latency budget is judged on a confidence interval of the percentile, not on the point value:
`fail` when the whole interval is over the budget, `inconclusive` when it straddles the budget.
The interval is the distribution-free order-statistic CI over all samples, widened to cover each
repetition's own percentile (what one fresh process to the next gives). Memory, size and accuracy
are point values (they do not scatter like latency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from benchy.config import BUDGET_KEYS, FLOOR_BUDGETS
from benchy.results.schema import FAILED_STATUSES
from benchy.stats import quantile_ci

LATENCY_QUANTILES = {"latency_p50_ms": 0.5, "latency_p90_ms": 0.9, "latency_p99_ms": 0.99}

DEFAULT_CONFIDENCE = 0.99


@dataclass(frozen=True)
class Check:
    """One budget on one cell."""

    budget: str
    limit: float
    value: float | None
    low: float | None  # CI of the value; None when the point value decides
    high: float | None
    confidence: float
    outcome: str  # pass | fail | inconclusive | unchecked

    @property
    def floor(self) -> bool:
        return self.budget in FLOOR_BUDGETS

    def message(self) -> str:
        if self.value is None:
            return f"{self.budget}: not measured"
        op = "<" if self.floor else ">"
        ci = ""
        if self.low is not None and self.high is not None:
            ci = f" [{self.confidence:.0%} CI {_g(self.low)}, {_g(self.high)}]"
        if self.outcome == "inconclusive":
            return f"{self.budget}: {self.value:.4g}{ci} straddles {self.limit:g} (inconclusive)"
        if self.outcome == "fail":
            return f"{self.budget}: {self.value:.4g}{ci} {op} {self.limit:g}"
        return f"{self.budget}: {self.value:.4g}{ci} within {self.limit:g}"


def _g(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.4g}"


@dataclass(frozen=True)
class BudgetVerdict:
    verdict: str  # pass | fail | inconclusive | error | n/a | unavailable
    failed: list[str]  # failed budgets, then inconclusive ones (marked so)
    unchecked: list[str]
    tightest: str | None  # the budget with the least headroom
    headroom_pct: float | None
    checks: list[Check] = field(default_factory=list)


def _value(row: dict[str, Any], column: str) -> float | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


class _Latency:
    """A cell's samples (ms, sorted once) and repetition tags, for percentile CIs."""

    def __init__(self, samples_ns: npt.ArrayLike, reps: npt.ArrayLike | None) -> None:
        ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
        tags = np.zeros(len(ms), dtype=np.int64) if reps is None else np.asarray(reps)
        self.sorted = np.sort(ms)
        self.groups = [ms[tags == r] for r in np.unique(tags)] if len(ms) else []

    def ci(self, q: float, confidence: float) -> tuple[float, float]:
        low, high = quantile_ci(self.sorted, q, confidence)
        if len(self.groups) > 1:
            own = [float(np.quantile(g, q)) for g in self.groups]
            low, high = min(low, *own), max(high, *own)
        return low, high


Samples = tuple[npt.ArrayLike, npt.ArrayLike]
"""A cell's per-invoke latencies (ns) and the repetition each came from."""


def check(
    name: str, limit: float, row: dict[str, Any], latency: _Latency | None, confidence: float
) -> Check:
    column = BUDGET_KEYS[name]
    value = _value(row, column)
    if value is None:
        return Check(name, limit, None, None, None, confidence, "unchecked")
    floor = name in FLOOR_BUDGETS
    if column in LATENCY_QUANTILES and latency is not None:
        low, high = latency.ci(LATENCY_QUANTILES[column], confidence)
        if low > limit:
            outcome = "fail"
        elif high <= limit:
            outcome = "pass"
        else:
            outcome = "inconclusive"
        return Check(name, limit, value, low, high, confidence, outcome)
    ok = value >= limit if floor else value <= limit
    return Check(name, limit, value, None, None, confidence, "pass" if ok else "fail")


def judge_budgets(
    row: dict[str, Any],
    budgets: dict[str, float],
    confidence: float = DEFAULT_CONFIDENCE,
    samples: Samples | None = None,
) -> BudgetVerdict:
    """The cell's verdict on its budgets; latency budgets on CIs from `samples` (without them,
    latency budgets are point comparisons)."""
    status = row["status"]
    if status != "ok":
        verdict = "error" if status in FAILED_STATUSES else status
        return BudgetVerdict(verdict, [], [], None, None)
    latency = None if samples is None or not len(samples[0]) else _Latency(*samples)  # type: ignore[arg-type]
    checks = [check(name, limit, row, latency, confidence) for name, limit in budgets.items()]
    tightest, headroom = None, math.inf
    for c in checks:
        if c.value is None:
            continue
        room = (
            (c.value - c.limit if c.floor else c.limit - c.value) / c.limit * 100
            if c.limit
            else math.inf
        )
        if room < headroom:
            tightest, headroom = c.budget, room
    failed = [c.message() for c in checks if c.outcome == "fail"]
    unsure = [c.message() for c in checks if c.outcome == "inconclusive"]
    verdict = "fail" if failed else "inconclusive" if unsure else "pass"
    return BudgetVerdict(
        verdict,
        failed + unsure,
        [c.budget for c in checks if c.outcome == "unchecked"],
        tightest,
        None if tightest is None else headroom,
        checks,
    )
