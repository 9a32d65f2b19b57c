"""Budgets → a verdict per cell, and the run's exit code.

A latency budget is judged on a confidence interval of the percentile, not on the point value:
`fail` when the whole interval is over the budget, `inconclusive` when it straddles the budget.
The interval is the distribution-free order-statistic CI over all samples, widened to cover each
repetition's own percentile (what one fresh process to the next gives). Memory, size and accuracy
are point values (they do not scatter like latency).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from benchy.config import BUDGET_KEYS, FLOOR_BUDGETS
from benchy.stats import quantile_ci

EXIT_PASS, EXIT_BUDGET, EXIT_USAGE, EXIT_ERROR, EXIT_INCONCLUSIVE = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
FAILED_STATUSES = ("error", "crashed", "timeout")
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
class Verdict:
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


def _latency(row: dict[str, Any]) -> _Latency | None:
    """The runner hands `judge` the row with its samples still on it: `_tables["samples"]`
    (a frame with `latency_ns` and `repetition`) or the older `_samples` = (ns, repetition)."""
    table = (row.get("_tables") or {}).get("samples")
    if table is not None and len(table):
        return _Latency(table["latency_ns"].to_numpy(), table["repetition"].to_numpy())
    samples = row.get("_samples")
    if samples is None or samples[0] is None or not len(samples[0]):
        return None
    return _Latency(samples[0], samples[1])


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


def judge(
    row: dict[str, Any], budgets: dict[str, float], confidence: float = DEFAULT_CONFIDENCE
) -> Verdict:
    status = row["status"]
    if status != "ok":
        verdict = "error" if status in FAILED_STATUSES else status
        return Verdict(verdict, [], [], None, None)
    latency = _latency(row)
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
    return Verdict(
        verdict,
        failed + unsure,
        [c.budget for c in checks if c.outcome == "unchecked"],
        tightest,
        None if tightest is None else headroom,
        checks,
    )


def exit_code(
    rows: list[dict[str, Any]],
    target_failed: bool = False,
    regressions: Iterable[str] = (),
    inconclusive: str = "flag",
) -> int:
    """0 pass · 1 budget failed or regressed · 3 crash/target failure · 4 inconclusive (budget
    or comparison), unless `inconclusive` is "pass". `regressions` are comparison verdicts."""
    compared = set(regressions)
    if target_failed or any(r["verdict"] == "error" for r in rows) or "error" in compared:
        return EXIT_ERROR
    if any(r["verdict"] == "fail" for r in rows) or "regressed" in compared:
        return EXIT_BUDGET
    unsure = any(r["verdict"] == "inconclusive" for r in rows) or "inconclusive" in compared
    if unsure and inconclusive != "pass":
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


def run_verdict(code: int, rows: list[dict[str, Any]], regressions: Iterable[str] = ()) -> str:
    """The one-word-ish verdict stored in run.json and printed last."""
    if code == EXIT_ERROR:
        return "error"
    if code == EXIT_BUDGET:
        parts = []
        if any(r["verdict"] == "fail" for r in rows):
            parts.append("budget failed")
        if "regressed" in set(regressions):
            parts.append("regressed")
        return " and ".join(parts)
    if code == EXIT_INCONCLUSIVE:
        return "inconclusive"
    return "pass"
