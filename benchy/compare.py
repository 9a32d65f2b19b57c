"""Baseline vs candidate: cells matched by identity (target, model, variant, runtime,
delegate, threads), one result per cell × metric, and verdicts that do not cry wolf.

Latency percentiles: see `benchy.shifts` (per-repetition values, run-wide drift taken out,
Hodges–Lehmann shift with its Mann–Whitney CI, Holm across the tests). Memory and accuracy are
deterministic enough to compare point values against δ; energy is shown, not gated, until
per-repetition energy is stored. Everything that differs between the runs is listed beside the
results, and next to each result it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from benchy import points, shifts
from benchy.config import Gate
from benchy.differences import Difference, differences
from benchy.gate import FAILED_STATUSES
from benchy.runs import QUANTILES, StoredRun, cell_key
from benchy.store import IDENTITY
from benchy.verdict import GATED, Result, with_

NOT_GLOBAL = ("git_commit", "suite_sha256")  # differences that cannot move every cell alike
MACHINE_SCOPE = {"target", "runtime"}  # a target's facts and runtime versions


@dataclass
class Comparison:
    base: StoredRun
    new: StoredRun
    gate: Gate
    results: list[Result]
    differences: list[Difference]
    family: int = 0  # latency tests in the Holm family
    drifts: dict[tuple[str, str], shifts.Drift] | None = None

    def verdicts(self) -> list[str]:
        return [r.verdict for r in self.results]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.verdicts():
            out[v] = out.get(v, 0) + 1
        return out

    def drift_text(self) -> str:
        applied = [d for d in (self.drifts or {}).values() if d.applied]
        return ", ".join(f"{d.target} {d.metric} {d.text()}" for d in applied)

    def summary(self) -> dict[str, Any]:
        """What run.json keeps of the comparison."""
        return {
            "baseline": str(self.base.dir),
            "counts": self.counts(),
            "holm_family": self.family,
            "confidence": self.gate.confidence,
            "drift": {
                f"{d.target}/{d.metric}": d.text()
                for d in (self.drifts or {}).values()
                if d.applied
            },
            "regressed": [f"{r.title}: {r.message()}" for r in self.results if r.verdict in GATED],
            "differences": [d.text() for d in self.differences],
        }


def compare_runs(base: StoredRun, new: StoredRun, gate: Gate) -> Comparison:
    diffs = differences(base.manifest, new.manifest, base.cells, new.cells)
    targets = set(new.cells["target"].astype(str))
    base_rows = {k: r for k, r in base.records().items() if k[0] in targets}
    new_rows = new.records()
    reps_base, reps_new = _reps_by_cell(base, gate), _reps_by_cell(new, gate)
    items: list[Result | shifts.Sample | points.MemoryPair] = []
    for key in [*new_rows, *(k for k in base_rows if k not in new_rows)]:
        b, n = base_rows.get(key), new_rows.get(key)
        cell = dict(zip(IDENTITY, key, strict=True))
        context = tuple(d.text() for d in diffs if d.applies(cell))
        whole = _cell_state(cell, b, n)
        if whole is not None:
            if whole.verdict != "skip":
                items.append(with_(whole, context=context))
            continue
        assert b is not None and n is not None
        for metric in gate.metrics:
            got: Result | shifts.Sample | points.MemoryPair | None
            if metric in QUANTILES:
                column = f"latency_{metric}_ms"
                got = shifts.collect(
                    cell,
                    metric,
                    reps_base.get(key),
                    reps_new.get(key),
                    (b.get(column), n.get(column)),
                    gate,
                    context,
                )
            else:
                got = points.collect(cell, metric, b, n, gate, context)
            if got is not None:
                items.append(got)
    samples = [i for i in items if isinstance(i, shifts.Sample)]
    pairs = [i for i in items if isinstance(i, points.MemoryPair)]
    drifts = shifts.estimate_drift(samples, gate)
    offsets = points.memory_drift(pairs, gate)
    judged = iter(shifts.judge(samples, drifts, gate))
    memory = iter(points.judge_memory(pairs, offsets, gate))
    results = [
        next(judged)
        if isinstance(i, shifts.Sample)
        else next(memory)
        if isinstance(i, points.MemoryPair)
        else i
        for i in items
    ]
    changes = _global_changes(diffs, targets)
    overall = shifts.drift_results(drifts, gate, changes)
    overall += points.memory_drift_results(offsets, gate, changes)
    family = sum(r.p is not None for r in results)
    return Comparison(base, new, gate, overall + results, diffs, family, drifts | offsets)


def _global_changes(diffs: list[Difference], targets: set[str]) -> dict[str, list[str]]:
    """Per target, the differences that could move every one of its cells alike."""
    run_wide = [
        d.what
        for d in diffs
        if not d.scope and d.what not in NOT_GLOBAL and not d.what.startswith("dataset ")
    ]
    out = {}
    for target in targets:
        own = [
            d.what
            for d in diffs
            if dict(d.scope).get("target") == target and {k for k, _ in d.scope} <= MACHINE_SCOPE
        ]
        out[target] = run_wide + own
    return out


def _reps_by_cell(run: StoredRun, gate: Gate) -> dict[tuple[str, ...], pd.DataFrame]:
    reps = shifts.steady(run.repetitions(), gate)
    return {cell_key(k): g for k, g in reps.groupby(IDENTITY, sort=False, observed=True)}


def _cell_state(
    cell: dict[str, str], b: dict[str, Any] | None, n: dict[str, Any] | None
) -> Result | None:
    """A whole-cell result when the cell cannot be compared metric by metric, else None.
    Verdict "skip" means: nothing to say (a pair no runtime can take)."""
    skip = Result(cell, "cell", "skip")
    if any(side is not None and side["status"] == "n/a" for side in (b, n)):
        return skip
    if n is None:
        assert b is not None
        gone = Result(cell, "cell", "missing", note="not in the new run")
        return gone if b["status"] == "ok" else skip
    if n["status"] in FAILED_STATUSES:
        return Result(cell, "cell", "error", note=f"{n['status']}: {n.get('error') or ''}")
    if n["status"] != "ok":
        if b is not None and b["status"] == "ok":
            why = f"{n['status']} in the new run: {n.get('error') or ''}"
            return Result(cell, "cell", "missing", note=why)
        return skip
    if b is None:
        return Result(cell, "cell", "new", note="no baseline cell")
    if b["status"] != "ok":
        why = f"baseline cell {b['status']}: {b.get('error') or ''}"
        return Result(cell, "cell", "new", note=why)
    return None
