"""One test case per cell × budget and per cell × compared metric, for JUnit and markdown.

Outcomes: `failure` (budget failed, regressed), `error` (the cell crashed or timed out),
`skipped` (inconclusive, unstable, unchecked, unavailable, missing), `passed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchy.judge.budgets import Check
from benchy.judge.compare import Comparison
from benchy.judge.result import Result, whole_target_title
from benchy.report.comparison import mde_text
from benchy.results.schema import FAILED_STATUSES, CellKey

RESULT_OUTCOME = {
    "regressed": "failure",
    "error": "error",
    "inconclusive": "skipped",
    "unstable": "skipped",
    "unchecked": "skipped",
    "missing": "skipped",
    "improved": "passed",
    "unchanged": "passed",
    "new": "passed",
    "drift": "passed",
}
CHECK_OUTCOME = {"fail": "failure", "inconclusive": "skipped", "unchecked": "skipped"}


@dataclass(frozen=True)
class Case:
    cell: CellKey
    name: str  # "budget latency_p90_ms", "vs baseline p50", "run"
    outcome: str  # passed | failure | error | skipped
    message: str
    detail: str = ""
    kind: str = ""  # budget | regression | crash | ""
    seconds: float = 0.0
    verdict: str = ""  # the comparison verdict or budget outcome behind the case
    metric: str = ""  # the compared metric (comparison cases)
    mde: str = ""  # its minimum detectable effect, as text (comparison cases judged on a CI)

    @property
    def needs_attention(self) -> bool:
        """Failures, crashes and open questions; not what is merely unjudged or unstable."""
        return self.outcome in ("failure", "error") or self.verdict == "inconclusive"

    @property
    def target(self) -> str:
        return self.cell.target

    @property
    def title(self) -> str:
        return whole_target_title(self.cell) or self.cell.title()


def _seconds(row: dict[str, Any]) -> float:
    return sum(float(row.get(k) or 0.0) for k in ("window_s", "warmup_s", "overhead_s"))


def build_cases(
    rows: list[dict[str, Any]],
    checks: dict[CellKey, list[Check]],
    comparison: Comparison | None,
) -> list[Case]:
    """Cases in the run's cell order; a baseline cell missing from the run comes last."""
    by_cell: dict[CellKey, list[Result]] = {}
    if comparison is not None:
        for r in comparison.results:
            by_cell.setdefault(r.cell, []).append(r)
    cases: list[Case] = []
    seen = set()
    for row in rows:
        key = CellKey.of(row)
        seen.add(key)
        own = _cell_cases(key, row, checks.get(key, []), by_cell.get(key, []))
        share = _seconds(row) / len(own) if own else 0.0
        cases += [Case(**{**c.__dict__, "seconds": share}) for c in own]
    for key, results in by_cell.items():
        if key not in seen:
            cases += [_result_case(r) for r in results]
    return cases


def _cell_cases(
    cell: CellKey, row: dict[str, Any], checks: list[Check], results: list[Result]
) -> list[Case]:
    status = row["status"]
    if status == "n/a":
        return []
    if status in FAILED_STATUSES:
        why = f"{status}: {row.get('error') or ''}"
        return [Case(cell, "run", "error", why, kind="crash")]
    if status != "ok":
        return [Case(cell, "run", "skipped", f"{status}: {row.get('error') or ''}")]
    cases = [
        Case(
            cell,
            f"budget {c.budget}",
            CHECK_OUTCOME.get(c.outcome, "passed"),
            c.message(),
            kind="budget",
            verdict=c.outcome,
        )
        for c in checks
    ]
    return cases + [_result_case(r) for r in results if r.verdict != "error"]


def _result_case(r: Result) -> Case:
    detail = [f"baseline {r.base}", f"new {r.new}"] if r.base is not None else []
    if r.raw is not None:
        detail.append(f"shift before the run-wide drift was taken out: {r.raw * 100:+.1f}%")
    if r.p is not None:
        detail.append(f"one-sided p = {r.p:.3g} (Holm family of the comparison's tests)")
    mde = mde_text(r) if r.mde is not None else ""
    if mde:
        detail.append(f"minimum detectable effect: {mde} (a shift this large would have been "
                      "regressed)")  # fmt: skip
    if r.repetitions is not None:
        detail.append(f"repetitions compared: {r.repetitions[0]} baseline, {r.repetitions[1]} new")
    detail += [f"differs: {c}" for c in r.context]
    outcome = RESULT_OUTCOME.get(r.verdict, "skipped")
    message = f"{r.verdict}: {r.message()}"
    name = "vs baseline" if r.metric == "cell" else f"vs baseline {r.metric}"
    return Case(r.cell, name, outcome, message, "\n".join(detail), "regression", verdict=r.verdict,
                metric=r.metric, mde=mde)  # fmt: skip
