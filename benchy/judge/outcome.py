"""The run's exit code and one-line verdict, from the cells' budget verdicts and a comparison's."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchy import exitcodes


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
        return exitcodes.ERROR
    if any(r["verdict"] == "fail" for r in rows) or "regressed" in compared:
        return exitcodes.FAILED
    unsure = any(r["verdict"] == "inconclusive" for r in rows) or "inconclusive" in compared
    if unsure and inconclusive != "pass":
        return exitcodes.INCONCLUSIVE
    return exitcodes.PASS


def run_verdict(code: int, rows: list[dict[str, Any]], regressions: Iterable[str] = ()) -> str:
    """The one-word-ish verdict stored in run.json and printed last."""
    if code == exitcodes.ERROR:
        return "error"
    if code == exitcodes.FAILED:
        parts = []
        if any(r["verdict"] == "fail" for r in rows):
            parts.append("budget failed")
        if "regressed" in set(regressions):
            parts.append("regressed")
        return " and ".join(parts)
    if code == exitcodes.INCONCLUSIVE:
        return "inconclusive"
    return "pass"


def idle_targets(rows: list[dict[str, Any]], targets: Iterable[str]) -> dict[str, str]:
    """Targets on which no cell was measured, with why: a gate must not pass on nothing (exit 3).
    An `unavailable` runtime is not a failure in itself, but a target that measured nothing at
    all is."""
    out = {}
    for target in targets:
        own = [r for r in rows if r["target"] == target]
        if any(r["status"] == "ok" for r in own):
            continue
        reasons = sorted({str(r.get("error") or r["status"]) for r in own})
        shown = "; ".join(reasons[:2]) or "none in the matrix"
        if len(reasons) > 2:
            shown += f"; … ({len(reasons) - 2} more)"
        out[target] = f"no cell was measured ({len(own)} cells: {shown})"
    return out
