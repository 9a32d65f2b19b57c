from __future__ import annotations

import math

import numpy as np
import pytest

from benchy.judge import budgets, outcome
from benchy.metrics import agreement, score


def test_accuracy_and_top_k() -> None:
    out = np.array([[0.1, 0.9, 0.0], [0.8, 0.15, 0.05], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    y = np.array([1, 1, 2, 2])
    assert score("accuracy", out, y).value == pytest.approx(50.0)
    top2 = score("top_k", out, y, top_k=2)
    assert top2.metric == "top2"
    assert top2.value == pytest.approx(100.0)


def test_regression_metrics() -> None:
    out = np.array([[1.0], [2.0], [4.0]])
    y = np.array([1.0, 3.0, 2.0])
    assert score("mae", out, y).value == pytest.approx(1.0)
    assert score("rmse", out, y).value == pytest.approx(math.sqrt(5 / 3))


def test_agreement() -> None:
    ref = np.array([[0.0, 1.0], [1.0, 0.0], [0.6, 0.4]])
    out = np.array([[0.1, 0.9], [0.9, 0.1], [0.4, 0.6]])
    agree, max_abs = agreement(out, ref, classification=True)
    assert agree == pytest.approx(200 / 3)
    assert max_abs == pytest.approx(0.2)
    assert agreement(out, ref, classification=False)[0] is None


def row(**values: object) -> dict[str, object]:
    return {"status": "ok", **values}


def test_budgets_pass_fail_and_headroom() -> None:
    v = budgets.judge_budgets(
        row(latency_p90_ms=40.0, peak_rss_mb=100.0), {"latency_p90_ms": 50, "peak_memory_mb": 400}
    )
    assert v.verdict == "pass"
    assert v.tightest == "latency_p90_ms"
    assert v.headroom_pct == pytest.approx(20.0)
    v = budgets.judge_budgets(
        row(latency_p90_ms=60.0, accuracy=80.0), {"latency_p90_ms": 50, "accuracy_min": 85}
    )
    assert v.verdict == "fail"
    assert v.failed == ["latency_p90_ms: 60 > 50", "accuracy_min: 80 < 85"]


def test_unmeasured_budget_is_reported_not_invented() -> None:
    v = budgets.judge_budgets(
        row(latency_p90_ms=1.0, accuracy=None), {"accuracy_min": 90, "latency_p90_ms": 5}
    )
    assert v.verdict == "pass"
    assert v.unchecked == ["accuracy_min"]


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("crashed", "error"),
        ("timeout", "error"),
        ("error", "error"),
        ("n/a", "n/a"),
        ("unavailable", "unavailable"),
    ],
)
def test_non_ok_cells(status: str, verdict: str) -> None:
    assert budgets.judge_budgets({"status": status}, {"latency_p90_ms": 1}).verdict == verdict


def test_exit_codes() -> None:
    ok, bad, err = {"verdict": "pass"}, {"verdict": "fail"}, {"verdict": "error"}
    assert outcome.exit_code([ok, {"verdict": "n/a"}]) == 0
    assert outcome.exit_code([ok, bad]) == 1
    assert outcome.exit_code([ok, bad, err]) == 3
    assert outcome.exit_code([ok], target_failed=True) == 3
