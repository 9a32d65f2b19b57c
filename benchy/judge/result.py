"""One comparison result (a cell × metric, or a whole cell) and how it reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from benchy.results.schema import CellKey

LABELS = {
    "p50": "p50",
    "p90": "p90",
    "p99": "p99",
    "peak_memory": "peak memory",
    "model_memory": "model memory",
    "accuracy": "accuracy",
    "energy": "energy",
}
GATED = ("regressed", "error")  # verdicts that fail the gate (exit 1 and 3)
VERDICTS = (
    "error",  # the new run's cell crashed, timed out or errored (exit 3)
    "regressed",  # worse by more than δ, confidently (exit 1)
    "inconclusive",  # cannot rule out a change beyond δ (exit 4)
    "unstable",  # cannot be judged: speed modes with nothing to compare, or robust scatter over
    # the limit while the CI straddles δ; shown with the reason, not gated
    "drift",  # every cell of a target moved alike, nothing else changed: taken out, shown
    "missing",  # the baseline has the cell, the new run does not (or could not run it)
    "new",  # the new run has a cell the baseline did not run
    "improved",
    "unchecked",  # not comparable (too few samples, one side only, not gated by design)
    "unchanged",
)
ALL_CELLS = "all cells"


def all_cells(target: str, runtime: str = "") -> CellKey:
    """The pseudo cell a run-wide result (drift of a whole target, or of its cells of one
    runtime) is filed under."""
    return CellKey(target, ALL_CELLS, "", runtime, "", 0)


def whole_target_title(cell: CellKey) -> str | None:
    if cell.model != ALL_CELLS:
        return None
    which = f"all {cell.runtime} cells" if cell.runtime else ALL_CELLS
    return f"{cell.target} ({which})"


@dataclass(frozen=True)
class Result:
    """One cell × metric (or the whole cell, metric "cell", when it could not be compared)."""

    cell: CellKey
    metric: str
    verdict: str  # one of VERDICTS
    base: float | None = None  # point values (cells columns)
    new: float | None = None
    shift: float | None = None  # relative (0.072 = +7.2%), or points for a classification metric
    low: float | None = None  # CI of the shift; None for point comparisons
    high: float | None = None
    delta: float | None = None  # threshold in the unit of `shift`
    points: bool = False  # shift and delta are accuracy points, not relative
    p: float | None = None  # one-sided p-value in the Holm family
    confidence: float | None = None  # of the CI
    note: str = ""
    context: tuple[str, ...] = ()  # what differs between the runs for this cell
    raw: float | None = None  # the shift before the run-wide drift was taken out
    mde: float | None = None  # minimum detectable effect, in the unit of `shift` (judge/shift.py)
    repetitions: tuple[int, int] | None = None  # per-repetition values compared: base, new
    lacking: str = ""  # "base", "new" or "both": short of repetitions at a matched speed

    @property
    def title(self) -> str:
        return whole_target_title(self.cell) or self.cell.title()

    def message(self) -> str:
        """E.g. `p50 +7.2% [99% CI +5.1%, +9.4%] > 5%`."""
        name = LABELS.get(self.metric, self.metric)
        if self.shift is None:
            return f"{name}: {self.note}" if self.note else name
        text = f"{name} {_fmt(self.shift, self.points)}"
        if self.low is not None and self.high is not None:
            level = f"{self.confidence:.0%} " if self.confidence else ""
            text += f" [{level}CI {_fmt(self.low, self.points)}, {_fmt(self.high, self.points)}]"
        if self.delta is not None:
            limit = f"{self.delta:.3g} points" if self.points else f"{self.delta * 100:.3g}%"
            past = self.verdict == "unchanged" and (self.high or 0) > self.delta
            text += {
                "regressed": f" > {limit}",
                "improved": f" < −{limit}",
                "inconclusive": f" straddles {limit}",
                "unchanged": f" reaches past {limit}" if past else f" within ±{limit}",
            }.get(self.verdict, "")
        return f"{text}; {self.note}" if self.note else text


def _fmt(value: float, points: bool) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    body = f"{value:+.2f} points" if points else f"{value * 100:+.1f}%"
    return body.replace("-", "−")


def with_(result: Result, **changes: Any) -> Result:
    return replace(result, **changes)


def one_sided(
    cell: CellKey, metric: str, base: Any, new: Any, context: tuple[str, ...]
) -> Result | None:
    """A metric measured on one side only: shown, not judged (None when on neither)."""
    if base is None and new is None:
        return None
    side = "baseline" if new is None else "new run"
    note = f"measured in the {side} only"
    return Result(cell, metric, "unchecked", base, new, note=note, context=context)
