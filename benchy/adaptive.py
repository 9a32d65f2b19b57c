"""Adaptive repetitions (LoadGen-style early stopping): a close call gets more samples, a clear
cell stays cheap.

When a run is judged against a baseline while it runs (`benchy run --baseline`, `benchy ab`),
each target's cells are judged after the planned R rounds. A cell that is not decided — one of
its per-repetition tests `inconclusive`, or `unstable` with a CI that more repetitions could
plausibly clear — keeps being measured: extra rounds of only the undecided cells (in `ab`, the
baseline's and the candidate's repetitions of a cell still back to back), judged again at the
next look (sequential.py: R, halfway, `[gate] max_repetitions`), until every cell is decided,
the last look is reached, or the extra rounds have taken `[gate] extra_time_pct` of the time
the planned rounds took on that target. A cell is recorded once it is settled.

The judgement is the comparison's own (`compare_runs` on the repetitions measured so far, the
run-wide drift included), so a cell stops exactly when the final comparison would call it. Its
α is spent per look (sequential.py), which keeps the false-alarm budget whatever this rule does.

The runner consults `Stopping.settled` after every round; without a baseline, `NoLooks` records
every cell after its last planned repetition, as before.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.compare import Comparison, compare_runs
from benchy.judge.result import ALL_CELLS, Result
from benchy.judge.sequential import Looks
from benchy.results.read import QUANTILES, StoredRun
from benchy.results.schema import IDENTITY, CellKey
from benchy.results.store import cells_frame

if TYPE_CHECKING:
    from benchy.runner import Job, Side
    from benchy.worker.protocol import CellResult

log = logging.getLogger(__name__)


def promising(result: Result, looks: Looks, base_grows: bool) -> bool:
    """Whether more repetitions could decide this result: always for `inconclusive` (an exit 4
    is at stake); for `unstable`, when the side short of a fast speed mode grows, or when the
    CI shrunk to what the last look would give (width ∝
    √(1/m + 1/n)) would leave the boundary it straddles."""
    if result.verdict == "inconclusive":
        return True
    if result.verdict != "unstable" or result.repetitions is None or not looks.adaptive:
        return False
    if result.lacking in ("base", "both") and not base_grows:  # a stored baseline short of
        return False  # repetitions at a matched speed: more of the candidate's cannot help
    if result.lacking == "new" and result.cell.threads > 1 and not base_grows:
        # Its fast mode must hold half the repetitions (modes.match), and a run short of it
        # rarely gets there: here a 2-thread cell's fastest of 24 still moved beyond δ between
        # two runs in 11% of cells (benchmarks/fastest_between_runs.py), and extending 7 such
        # cells took `run --baseline` of the wearable suite from ~80 s to 99 s, all `unstable`.
        return False
    if result.low is None or result.high is None or result.shift is None or result.delta is None:
        return True  # too few repetitions for a CI: more may give one
    if not (math.isfinite(result.low) and math.isfinite(result.high)):
        return True
    m, n = result.repetitions
    most = looks.at[-1]
    shrink = math.sqrt((1 / (most if base_grows else m) + 1 / most) / (1 / m + 1 / n))
    half = (result.high - result.low) / 2 * shrink
    return abs(result.shift - result.delta) > half


def undecided(comparison: Comparison, base_grows: bool) -> set[CellKey]:
    """Cells of the comparison that more repetitions could still decide."""
    return {
        r.cell
        for r in comparison.results
        if r.cell.model != ALL_CELLS
        and r.repetitions is not None
        and promising(r, comparison.looks, base_grows)
    }


def repetition_tables(
    cell: CellKey, results: Sequence[CellResult], figures: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-repetition percentiles, per-repetition figures) of one cell's results so far, in the
    columns StoredRun.repetitions() and .figures() give."""
    rows = []
    for i, r in enumerate(results):
        ns = np.asarray(r["samples_ns"], dtype=np.float64)
        q = np.quantile(ns, list(QUANTILES.values())) / 1e6 if len(ns) else [math.nan] * 3
        values = dict(zip(QUANTILES, q, strict=True))
        rows.append({**cell.columns(), "repetition": i, "n": len(ns), **values})
    reps = pd.DataFrame(rows)
    if figures is None or figures.empty:
        return reps, pd.DataFrame()
    return reps, figures.assign(**cell.columns())


@dataclass
class Measured:
    """One side's cells as measured so far on one target, readable as a stored run."""

    manifest: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    reps: list[pd.DataFrame] = field(default_factory=list)
    figures: list[pd.DataFrame] = field(default_factory=list)

    def run(self) -> StoredRun:
        reps = pd.concat(self.reps, ignore_index=True) if self.reps else pd.DataFrame()
        figures = pd.concat([f for f in self.figures if not f.empty], ignore_index=True) if any(
            not f.empty for f in self.figures
        ) else pd.DataFrame(columns=[*IDENTITY, "repetition"])  # fmt: skip
        manifest = {**self.manifest, "status": "finished"}
        return StoredRun(Path("."), manifest, cells_frame(self.rows), reps, figures)


class Stopping(Protocol):
    """What the runner asks after every round (runner.Runner.stopping)."""

    active: bool  # False: cells are recorded after their planned repetitions

    def settled(self, target: str, rep: int, results: dict[Job, list[CellResult]],
                wall: dict[Job, float], open_jobs: list[Job]) -> list[Job]:  # fmt: skip
        """After round `rep` (0-based) on `target`: the open jobs to record now."""
        ...


class NoLooks:
    """No baseline while measuring: every cell is recorded after its planned repetitions."""

    active = False

    def settled(self, target: str, rep: int, results: dict[Job, list[CellResult]],
                wall: dict[Job, float], open_jobs: list[Job]) -> list[Job]:  # fmt: skip
        return []


class Adaptive:
    """Adaptive repetitions for one job: the candidate side (last) judged against a stored
    baseline (`base`) or against the job's first side (`benchy ab`)."""

    active = True

    def __init__(
        self,
        gate: Gate,
        repetitions: int,
        candidate: Side,
        base: StoredRun | None = None,
    ) -> None:
        self.gate = gate
        self.repetitions = repetitions
        self.looks = Looks.plan(repetitions, gate.max_repetitions)
        self.candidate = candidate
        self.base = base
        self._seen: dict[Job, tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]] = {}
        self._planned: dict[str, float] = {}
        self.taken: dict[CellKey, int] = {}
        """Repetitions each cell took (for the report)."""
        self.stopped: dict[str, str] = {}
        """Targets whose extra rounds were cut short, and why."""

    def settled(self, target: str, rep: int, results: dict[Job, list[CellResult]],
                wall: dict[Job, float], open_jobs: list[Job]) -> list[Job]:  # fmt: skip
        """After round `rep` (0-based): the open jobs to record now."""
        done = rep + 1
        if done < self.repetitions:
            return []
        if done == self.repetitions:
            self._planned[target] = sum(wall.values())
        extra = sum(wall.values()) - self._planned[target]
        budget = self._planned[target] * self.gate.extra_time_pct / 100
        if done >= self.looks.at[-1]:
            return self._all(open_jobs, results)
        if extra > budget:
            planned = self._planned[target]
            self.stopped[target] = (
                f"extra rounds stopped at {done} repetitions: {extra:.0f} s > "
                f"{self.gate.extra_time_pct:g}% of the planned rounds' {planned:.0f} s"
            )
            log.info("%s: %s", target, self.stopped[target])
            return self._all(open_jobs, results)
        if done not in self.looks.at:
            return []
        try:
            open_cells = self._undecided(open_jobs, results)
        except Exception as exc:  # the comparison at the end will say what is wrong
            log.debug("%s: adaptive judgement failed: %s", target, exc, exc_info=True)
            return self._all(open_jobs, results)
        settled = [j for j in open_jobs if j[1].key not in open_cells]
        for job in settled:
            self.taken[job[1].key] = len(results[job])
        if open_cells:
            log.info("%s: %d cells undecided after %d repetitions, measuring them again",
                     target, len(open_cells), done)  # fmt: skip
        return settled

    def _all(self, open_jobs: list[Job], results: dict[Job, list[CellResult]]) -> list[Job]:
        for job in open_jobs:
            self.taken[job[1].key] = len(results[job])
        return list(open_jobs)

    def _undecided(self, open_jobs: list[Job], results: dict[Job, list[CellResult]]) -> set[
            CellKey]:  # fmt: skip
        """The open cells the comparison of everything measured so far on this target (settled
        cells as they were when they settled) leaves undecided."""
        for job in open_jobs:
            seen = self._tables(job, results[job])
            if seen is not None:
                self._seen[job] = seen
        target = open_jobs[0][1].target if open_jobs else ""
        sides: dict[int, Measured] = {}
        for (side, cell), (row, reps, figures) in self._seen.items():
            if cell.target != target:
                continue
            measured = sides.setdefault(id(side), Measured(dict(side.store.manifest)))
            measured.rows.append(row)
            measured.reps.append(reps)
            measured.figures.append(figures)
        new = sides.get(id(self.candidate))
        if new is None:
            return set()
        new.manifest["looks"] = self.looks.payload()
        base = self.base
        if base is None:
            others = [m for k, m in sides.items() if k != id(self.candidate)]
            if not others:
                return set()
            base = others[0].run()
        comparison = compare_runs(base, new.run(), self.gate, interleaved=self.base is None)
        return undecided(comparison, base_grows=self.base is None) & {j[1].key for j in open_jobs}

    def _tables(
        self, job: Job, results: list[CellResult]
    ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame] | None:
        """A job's row and per-repetition tables as the store would get them, or None when its
        row cannot be assembled (the runner records that cell with the reason)."""
        side, cell = job
        facts = (side.store.manifest.get("targets") or {}).get(cell.target) or {}
        try:
            record = side.rows.measured(cell, list(results), 0.0, facts)
        except Exception:
            log.debug("%s: no row to judge yet", cell.key.title(), exc_info=True)
            return None
        reps, figures = repetition_tables(cell.key, results, record.tables.get("repetitions"))
        return record.row, reps, figures

    def summary(self) -> dict[str, Any]:
        """What run.json keeps: the looks, the repetitions each extended cell took."""
        extended = {k.title(): n for k, n in self.taken.items() if n > self.repetitions}
        return {**self.looks.payload(), "extended": extended, "stopped": self.stopped}
