"""Baseline vs candidate: cells matched by identity (CellKey), one result per cell × metric, and
verdicts that do not cry wolf.

Latency percentiles (latency.py), memory (memory.py) and energy (energy.py) are judged on one
value per repetition by the shift test of shift.py (speed modes, run-wide drift taken out,
Hodges–Lehmann shift with its Mann–Whitney CI, robust scatter, Holm across every such test, the
share of α of the look the cell was judged at, minimum detectable effect). Accuracy
(accuracy.py) is deterministic: compared exactly within a tolerance. Runs stored without
per-repetition memory or energy fall back to point values. Everything that differs between the
runs (differences.py) is listed beside the results, and next to each result it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from benchy.config import Gate
from benchy.judge import latency, memory
from benchy.judge.accuracy import compare_accuracy
from benchy.judge.differences import MOVES_EVERY_CELL, Difference, differences, model_changed
from benchy.judge.drift import Drift, DriftKey, drift_of, steady, steady_memory
from benchy.judge.energy import compare_energy
from benchy.judge.instructions import METRIC as INSTRUCTIONS_METRIC
from benchy.judge.instructions import compare_instructions
from benchy.judge.result import GATED, Result, with_
from benchy.judge.sequential import Looks
from benchy.judge.shift import Pair, judge_pairs, with_offset
from benchy.results.read import QUANTILES, StoredRun
from benchy.results.schema import FAILED_STATUSES, IDENTITY, CellKey

Item = Result | Pair | memory.MemoryPair


@dataclass
class Comparison:
    base: StoredRun
    new: StoredRun
    gate: Gate
    results: list[Result]
    differences: list[Difference]
    family: int = 0  # tests in the Holm family (latency, and memory/energy per repetition)
    drifts: dict[DriftKey, Drift] | None = None
    looks: Looks = field(default_factory=Looks.single)

    def verdicts(self) -> list[str]:
        return [r.verdict for r in self.results]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.verdicts():
            out[v] = out.get(v, 0) + 1
        return out

    def unstable_between_runs(self) -> int:
        """Latency results `unstable` between two separate runs (`benchy ab` judges them)."""
        if one_job(self.base, self.new):
            return 0
        return sum(r.verdict == "unstable" and r.metric in QUANTILES for r in self.results)

    def drift_text(self) -> str:
        applied = [d for d in (self.drifts or {}).values() if d.applied]
        return ", ".join(f"{d.name()} {d.metric} {d.text()}" for d in applied)

    def summary(self) -> dict[str, Any]:
        """What run.json keeps of the comparison."""
        return {
            "baseline": str(self.base.dir),
            "counts": self.counts(),
            "holm_family": self.family,
            "confidence": self.gate.confidence,
            "looks": self.looks.payload(),
            "drift": {
                f"{d.name()}/{d.metric}": d.text()
                for d in (self.drifts or {}).values()
                if d.applied
            },
            "regressed": [f"{r.title}: {r.message()}" for r in self.results if r.verdict in GATED],
            "differences": [d.text() for d in self.differences],
        }


def one_job(base: StoredRun, new: StoredRun) -> bool:
    """The two sides of one `benchy ab`: round r of each cell ran back to back on both sides."""
    a, b = base.manifest.get("ab"), new.manifest.get("ab")
    return isinstance(a, dict) and isinstance(b, dict) and a.get("id") == b.get("id") is not None


def compare_runs(
    base: StoredRun, new: StoredRun, gate: Gate, interleaved: bool | None = None
) -> Comparison:
    """`interleaved`: the runs were measured in one job, round by round (None: as their
    manifests say); latencies are then compared by round where speeds call for it (shift.py),
    at `benchy ab`'s δ p50 unless the gate was given one (Gate.for_ab)."""
    interleaved = one_job(base, new) if interleaved is None else interleaved
    if interleaved:
        gate = gate.for_ab()
    diffs = differences(base.manifest, new.manifest, base.cells, new.cells)
    targets = set(new.cells["target"].astype(str))
    base_rows = {k: r for k, r in base.records().items() if k.target in targets}
    new_rows = new.records()
    reps_base, reps_new = _reps_by_cell(base, gate), _reps_by_cell(new, gate)
    within = _paired_by_cell(new) if interleaved else {}
    figures_base, figures_new = (_by_cell(steady_memory(r.figures(), gate)) for r in (base, new))
    items: list[Item] = []
    for key in [*new_rows, *(k for k in base_rows if k not in new_rows)]:
        b, n = base_rows.get(key), new_rows.get(key)
        own = [d for d in diffs if d.applies(key)]
        context = tuple(d.text() for d in own)
        whole = _cell_state(key, b, n)
        if whole is not None:
            if whole.verdict != "skip":
                items.append(with_(whole, context=context))
            continue
        assert b is not None and n is not None
        changed = model_changed(own)
        for metric in gate.metrics:
            got: Item | None
            if metric in QUANTILES:
                column = f"latency_{metric}_ms"
                points = (b.get(column), n.get(column))
                reps = within.get(key) or (reps_base.get(key), reps_new.get(key))
                got = latency.collect(
                    key, metric, *reps, points, gate, context, changed, interleaved=interleaved,
                    within=key in within,
                )  # fmt: skip
            elif metric in memory.MEMORY_COLUMNS:
                figures = (figures_base.get(key), figures_new.get(key))
                got = memory.collect(key, metric, b, n, figures, gate, context, changed)
            elif metric == "accuracy":
                got = compare_accuracy(key, b, n, gate, context)
            elif metric == INSTRUCTIONS_METRIC:  # issue 15: judge/instructions.py
                got = compare_instructions(key, b, n, gate, context)
            else:
                figures = (figures_base.get(key), figures_new.get(key))
                got = compare_energy(key, b, n, figures, gate, context)
            if got is not None:
                items.append(got)
    return _judge(base, new, gate, items, diffs, targets)


def _judge(
    base: StoredRun,
    new: StoredRun,
    gate: Gate,
    items: list[Item],
    diffs: list[Difference],
    targets: set[str],
) -> Comparison:
    """Drifts first (they need every cell), then every per-repetition test in one Holm family,
    then the results in the order collected."""
    timed = [i for i in items if isinstance(i, Pair) and i.metric in QUANTILES]
    sized = [i for i in items if isinstance(i, memory.MemoryPair | Pair) and _is_memory(i)]
    drifts = latency.estimate_drift(timed, gate)
    offsets = memory.memory_drift(sized, gate)
    pairs = [_drift_out(i, drifts | offsets) for i in items if isinstance(i, Pair)]
    looks = Looks.of(new.manifest)
    judged = iter(judge_pairs(pairs, gate, looks))
    points = [i for i in items if isinstance(i, memory.MemoryPair)]
    pointed = iter(memory.judge_memory(points, offsets, gate))
    results = [
        next(judged)
        if isinstance(i, Pair)
        else next(pointed)
        if isinstance(i, memory.MemoryPair)
        else i
        for i in items
    ]
    changes = _global_changes(diffs, targets)
    overall = latency.drift_results(drifts, gate, changes)
    overall += memory.memory_drift_results(offsets, gate, changes)
    family = sum(r.p is not None for r in results)
    return Comparison(base, new, gate, overall + results, diffs, family, drifts | offsets, looks)


def _is_memory(item: memory.MemoryPair | Pair) -> bool:
    return item.metric in memory.MEMORY_COLUMNS


def _drift_out(pair: Pair, drifts: dict[DriftKey, Drift]) -> Pair:
    drift = drift_of(drifts, pair.cell, pair.metric)
    return with_offset(pair, drift.shift) if drift is not None and drift.shift else pair


def _global_changes(diffs: list[Difference], targets: set[str]) -> dict[str, list[str]]:
    """Per target, the differences that could move every one of its cells alike."""
    out: dict[str, list[str]] = {}
    for target in targets:
        out[target] = [
            d.what
            for d in diffs
            if d.kind in MOVES_EVERY_CELL and dict(d.scope).get("target", target) == target
        ]
    return out


def _reps_by_cell(run: StoredRun, gate: Gate) -> dict[CellKey, pd.DataFrame]:
    return _by_cell(steady(run.repetitions(), gate))


def _paired_by_cell(new: StoredRun) -> dict[CellKey, tuple[pd.DataFrame, pd.DataFrame]]:
    """`benchy ab`: per cell, each round's two models timed in turn in one process (the
    candidate's repetitions.parquet, PAIRED_FIGURES) as (base, new) percentiles per round — for
    cells with such rounds in at least half of theirs. These share the machine's speed of the
    same moments, so no run drift is taken out of them (`steady`)."""
    figures = new.figures()
    if "paired_n" not in figures.columns:
        return {}
    out = {}
    for key, group in _by_cell(figures).items():
        timed = group[group["paired_n"].notna()]
        if len(timed) and 2 * len(timed) >= len(group):
            out[key] = (_paired_side(timed, "paired_base"), _paired_side(timed, "paired"))
    return out


def _paired_side(timed: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """One side's per-round percentiles, in the columns StoredRun.repetitions() gives."""
    values = {q: timed[f"{prefix}_{q}"] for q in QUANTILES}
    n = timed["paired_n"].astype("int64")
    return pd.DataFrame({"repetition": timed["repetition"], "n": n, **values})


def _by_cell(reps: pd.DataFrame) -> dict[CellKey, pd.DataFrame]:
    if reps.empty:
        return {}
    groups = reps.groupby(list(IDENTITY), sort=False, observed=True)
    return {CellKey.from_values(k): g for k, g in groups}


def _cell_state(cell: CellKey, b: dict[str, Any] | None, n: dict[str, Any] | None) -> Result | None:
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
        return Result(cell, "cell", "new", note="no baseline cell")  # e.g. it was interrupted
    if b["status"] != "ok":
        why = f"baseline cell {b['status']}: {b.get('error') or ''}"
        return Result(cell, "cell", "new", note=why)
    return None
