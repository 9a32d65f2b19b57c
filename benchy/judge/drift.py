"""Run-wide drift: a shared machine drifts (this VM: ±6% within ten minutes), and every cell of a
target moves with it. Its size is the median change of the target's cells whose model did not
change (at least `drift_min_cells` of them); it is taken out of every cell's change and reported
on its own: `drift` when nothing else differs, `inconclusive` when something that touches every
cell (runtime version, machine, benchy, settings) changed too. Used for latency (log-shifts) and
memory (MiB).

`steady` does the same within one run: rounds of interleaved repetitions are a clock of the
machine's speed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.result import all_cells
from benchy.results.read import QUANTILES
from benchy.results.schema import IDENTITY, MODEL_MEMORY, PEAK_RSS, CellKey
from benchy.stats import fast_mode, slow_limit


@dataclass(frozen=True)
class Drift:
    target: str
    metric: str
    shift: float  # log-shift taken out of every cell (0 when not applied)
    cells: int  # cells it was estimated from
    applied: bool
    runtime: str = ""  # the drift of one runtime's cells only ("": the whole target)

    def text(self) -> str:
        if self.metric in QUANTILES:
            return f"{math.expm1(self.shift) * 100:+.1f}%".replace("-", "−")
        return f"{self.shift:+.2f} MiB".replace("-", "−")

    def name(self) -> str:
        return f"{self.target}/{self.runtime}" if self.runtime else self.target


DriftKey = tuple[str, str, str]  # target, metric, runtime ("" for the whole target)


def drift_of(drifts: dict[DriftKey, Drift], cell: CellKey, metric: str) -> Drift | None:
    """The drift taken out of this cell: its runtime's own where there is one, else its
    target's."""
    own = drifts.get((cell.target, metric, cell.runtime))
    return own if own is not None and own.applied else drifts.get((cell.target, metric, ""))


def steady(reps: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """Take a run's own drift out of its repetitions. The runner interleaves repetitions: round k
    measures repetition k of every cell of a target, one after the other. The median, over the
    cells, of each cell's deviation from its own median in round k is how fast the machine was
    during that round; every value of the round is divided by it. Only repetitions that ran at
    the machine's speed count (those a cell's `stats.slow_limit` sets aside were slowed by other
    load on their own and would make the round look slow; a cell with half or more slowed does
    not count at all), and only rounds with
    `drift_min_cells` such cells are corrected (an extra round of a few undecided cells is not:
    one cell's own deviation is not the machine's); a real change in a few cells does not move
    the median."""
    if not gate.drift_correction or reps.empty:
        return reps
    out = reps.copy()
    cells = reps.groupby(list(IDENTITY), sort=False, observed=True).indices.values()
    rounds = reps["repetition"].to_numpy()
    targets = reps.groupby("target", sort=False, observed=True).indices.values()
    for metric in QUANTILES:
        logv = np.log(reps[metric].to_numpy(np.float64))
        floor = math.log1p(getattr(gate, f"{metric}_pct") / 100)
        dev = np.full(len(logv), np.nan)
        for idx in cells:
            v = logv[idx]
            usual = _usual(v, floor)
            if usual is None:  # which ran at the machine's speed is unknown
                continue
            dev[idx[usual]] = v[usual] - np.median(v[usual])
        out[metric] = np.exp(logv - _round_offsets(dev, rounds, targets, gate.drift_min_cells))
    return out


MEMORY_FIGURES = (PEAK_RSS, MODEL_MEMORY)


def steady_memory(figures: pd.DataFrame, gate: Gate) -> pd.DataFrame:
    """Take a run's round trend out of its per-repetition memory: on this VM a run's first
    rounds peak 1–2 MiB lower than its later ones, every cell alike (the machine warming up,
    not the cells). As for latency, the median over the cells of each cell's deviation from its
    own median in round k is subtracted from round k (MiB), in rounds with `drift_min_cells`
    cells."""
    if not gate.drift_correction or figures.empty:
        return figures
    out = figures.copy()
    cells = figures.groupby(list(IDENTITY), sort=False, observed=True).indices.values()
    rounds = figures["repetition"].to_numpy()
    targets = figures.groupby("target", sort=False, observed=True).indices.values()
    for column in MEMORY_FIGURES:
        if column not in figures:
            continue
        v = figures[column].to_numpy(np.float64, na_value=np.nan)
        dev = np.full(len(v), np.nan)
        for idx in cells:
            if not np.isnan(v[idx]).all():
                dev[idx] = v[idx] - np.nanmedian(v[idx])
        out[column] = v - _round_offsets(dev, rounds, targets, gate.drift_min_cells)
    return out


def _round_offsets(
    dev: np.ndarray, rounds: np.ndarray, targets: Iterable[Any], min_cells: int
) -> np.ndarray:
    """Per row, its round's median deviation (`dev`, NaN for rows that do not count) over the
    target's cells, where the round has `min_cells` counted cells; 0 elsewhere."""
    offsets = np.zeros(len(dev))
    for tidx in targets:
        for r in np.unique(rounds[tidx]):
            ridx = tidx[rounds[tidx] == r]
            d = dev[ridx][~np.isnan(dev[ridx])]
            if len(d) >= min_cells:
                offsets[ridx] = np.median(d)
    return offsets


def _usual(v: np.ndarray, floor: float) -> np.ndarray | None:
    """The values that ran at the machine's speed: a fast speed mode if the cell shows one
    (`stats.fast_mode`), else those below its slowed fringe (`stats.slow_limit`)."""
    mode = fast_mode(v, floor)
    if mode is not None:
        return mode
    limit = slow_limit(v, floor)
    return None if limit is None else v < limit


def median_drift(
    changes: Iterable[tuple[str, str, str, float, bool]], gate: Gate
) -> dict[DriftKey, Drift]:
    """(target, metric, runtime or "", change, model changed?) → per target, metric (and
    runtime) the median change of the cells whose model did not change, applied when enough
    such cells exist."""
    groups: dict[DriftKey, list[float]] = {}
    for target, metric, runtime, change, model_changed in changes:
        group = groups.setdefault((target, metric, runtime), [])
        if not model_changed:
            group.append(change)
    out = {}
    for (target, metric, runtime), values in groups.items():
        applied = gate.drift_correction and len(values) >= gate.drift_min_cells
        shift = float(np.median(values)) if applied else 0.0
        out[(target, metric, runtime)] = Drift(target, metric, shift, len(values), applied, runtime)
    return out


def drift_verdict(beyond: bool, drift: Drift, changes: list[str]) -> tuple[str, str]:
    """The verdict on a run-wide drift: beyond δ or not, and what else changed."""
    which = f"{drift.runtime} cell" if drift.runtime else "cell"
    basis = f"median of {drift.cells} {which}s whose model did not change"
    if not beyond:
        return "unchanged", f"run-wide drift ({basis}), taken out of every {which}"
    if changes:
        return "inconclusive", (
            f"every {which} moved alike ({basis}) while {', '.join(changes)} changed too: "
            "machine drift cannot be told from that change; measure both sides in one job"
        )
    return "drift", (
        f"every {which} moved alike ({basis}) and nothing else differs: the machine; "
        f"taken out of every {which}, not gated"
    )


def applied_drifts(drifts: dict[DriftKey, Drift]) -> Iterator[tuple[Drift, CellKey]]:
    """(drift, the all-cells pseudo cell) for each drift taken out."""
    for drift in drifts.values():
        if drift.applied:
            yield drift, all_cells(drift.target, drift.runtime)
