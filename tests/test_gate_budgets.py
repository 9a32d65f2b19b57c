"""Latency budgets judged on a confidence interval of the percentile, and the exit codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchy import exitcodes
from benchy.judge import budgets, outcome


def row(samples_ms: np.ndarray, reps: np.ndarray | None = None, **values: object) -> dict:  # type: ignore[type-arg]
    ns = (np.asarray(samples_ms) * 1e6).astype(np.int64)
    tags = np.zeros(len(ns), dtype=np.int64) if reps is None else reps
    p90 = float(np.percentile(samples_ms, 90))
    return {"status": "ok", "latency_p90_ms": p90, "_samples": (ns, tags), **values}


def judge(r: dict, limits: dict[str, float], confidence: float = 0.99) -> budgets.BudgetVerdict:  # type: ignore[type-arg]
    """The budgets judged with the row's samples handed over as the runner hands them."""
    samples = r.pop("_samples", None)
    return budgets.judge_budgets(r, limits, confidence, samples)


SPREAD = np.linspace(9.0, 11.0, 2001)  # p90 = 10.8 ms, known to ±0.02 ms at 99%


@pytest.mark.parametrize(
    ("budget", "verdict"), [(5.0, "fail"), (10.8, "inconclusive"), (20.0, "pass")]
)
def test_a_latency_budget_is_judged_on_the_ci(budget: float, verdict: str) -> None:
    v = judge(row(SPREAD), {"latency_p90_ms": budget})
    assert v.verdict == verdict
    check = v.checks[0]
    assert check.low is not None and check.high is not None
    assert check.low <= 10.8 <= check.high
    assert check.high - check.low < 0.1
    if verdict == "fail":
        assert v.failed == [f"latency_p90_ms: 10.8 [99% CI {check.low:.4g}, {check.high:.4g}] > 5"]
    if verdict == "inconclusive":
        assert v.failed[0].endswith("straddles 10.8 (inconclusive)")


def test_the_ci_covers_every_repetition_percentile() -> None:
    """Two processes that disagree: the budget between them cannot be decided."""
    fast, slow = np.linspace(9.0, 10.0, 1001), np.linspace(10.0, 11.0, 1001)
    samples = np.concatenate([fast, slow])
    reps = np.repeat([0, 1], 1001)
    v = judge(row(samples, reps), {"latency_p90_ms": 10.5})
    assert v.verdict == "inconclusive"
    assert v.checks[0].low == pytest.approx(9.9, abs=0.01)  # repetition 0's own p90
    assert v.checks[0].high == pytest.approx(10.9, abs=0.01)  # repetition 1's


def test_too_few_samples_cannot_pass_a_tail_budget() -> None:
    v = judge(row(np.full(30, 1.0)), {"latency_p90_ms": 100.0})
    assert v.verdict == "inconclusive"  # 30 samples cannot bound p90 from above at 99%
    assert v.checks[0].high == float("inf")
    assert judge(row(np.full(30, 1.0)), {"latency_p90_ms": 100.0}, 0.9).verdict == "pass"


def test_the_samples_table_form_is_read_too() -> None:
    ns = (SPREAD * 1e6).astype(np.int64)
    table = pd.DataFrame({"repetition": np.zeros(len(ns), dtype=np.int64), "latency_ns": ns})
    r = {"status": "ok", "latency_p90_ms": 10.8}
    samples = (table["latency_ns"].to_numpy(), table["repetition"].to_numpy())
    assert budgets.judge_budgets(r, {"latency_p90_ms": 5.0}, samples=samples).verdict == "fail"


def test_point_budgets_without_samples_keep_their_meaning() -> None:
    v = judge({"status": "ok", "peak_rss_mb": 600.0}, {"peak_memory_mb": 512})
    assert v.verdict == "fail"
    assert v.failed == ["peak_memory_mb: 600 > 512"]


def test_exit_codes_for_every_verdict() -> None:
    ok, fail, err = {"verdict": "pass"}, {"verdict": "fail"}, {"verdict": "error"}
    unsure = {"verdict": "inconclusive"}
    assert outcome.exit_code([ok]) == exitcodes.PASS == 0
    assert outcome.exit_code([ok, fail]) == exitcodes.FAILED == 1
    assert outcome.exit_code([ok], regressions=["unchanged", "regressed"]) == 1
    assert outcome.exit_code([ok, err]) == exitcodes.ERROR == 3
    assert outcome.exit_code([ok], regressions=["error"]) == 3
    assert outcome.exit_code([ok, unsure]) == exitcodes.INCONCLUSIVE == 4
    assert outcome.exit_code([ok], regressions=["inconclusive"]) == 4
    assert outcome.exit_code([ok, unsure], inconclusive="pass") == 0
    assert outcome.exit_code([ok], regressions=["unstable", "drift", "improved", "new"]) == 0
    assert outcome.exit_code([fail, unsure]) == 1  # a failure outranks a doubt
    assert outcome.run_verdict(1, [fail], ["regressed"]) == "budget failed and regressed"
