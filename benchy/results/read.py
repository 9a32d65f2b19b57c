"""Stored runs, read back: the manifest, the cells, per-repetition latency percentiles. Reads
only what `benchy run` wrote, and refuses what it cannot read with advice."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchy.errors import UsageError
from benchy.results.manifest import read_manifest, schema_problem
from benchy.results.schema import IDENTITY, REPETITIONS_COLUMNS, CellKey

log = logging.getLogger(__name__)

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
PLAIN_IDENTITY = {k: str for k in IDENTITY if k != "threads"}
"""Long tables store the identity as categoricals; readers that join on it get strings."""
REQUIRED_CELLS = (*IDENTITY, "status", "error", "verdict")
"""The cells columns every reader relies on (the others may be absent in a run of an older
benchy and read as not measured)."""


def read_cells(run_dir: Path) -> pd.DataFrame:
    """A stored run's cells, refusing result schemas this version does not know."""
    problem = schema_problem(read_manifest(run_dir))
    if problem is not None:
        raise UsageError(f"{run_dir}: {problem}")
    return pd.read_parquet(run_dir / "cells.parquet")


def records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as None (pandas gives NaN or <NA>)."""
    known = cells.astype(object).where(cells.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in known.to_dict("records")]


@dataclass
class StoredRun:
    dir: Path
    manifest: dict[str, Any]
    cells: pd.DataFrame
    _reps: pd.DataFrame | None = field(default=None, repr=False)
    _figures: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: Path, full: bool = False) -> StoredRun:
        """A stored run, checked before anything reads it: run.json (shape, types, schema
        version), cells.parquet (readable, the columns benchy reads), and with `full` the
        samples too. A run that is not usable is a UsageError (one line, exit 2)."""
        manifest = read_manifest(run_dir)
        problem = schema_problem(manifest)
        if problem is not None:
            raise UsageError(f"{run_dir}: {problem}")
        if manifest.get("status") == "running" or not (run_dir / "cells.parquet").is_file():
            raise UsageError(f"{run_dir}: the run did not finish; nothing to compare")
        try:
            cells = pd.read_parquet(run_dir / "cells.parquet")
        except (OSError, ValueError) as exc:
            raise UsageError(f"{run_dir}/cells.parquet: unreadable: {exc}") from None
        missing = [c for c in REQUIRED_CELLS if c not in cells.columns]
        if missing:
            raise UsageError(
                f"{run_dir}/cells.parquet lacks {', '.join(missing)}: not cells benchy wrote"
            )
        run = cls(run_dir, manifest, cells)
        if full:
            run.check_samples()
        return run

    def check_samples(self) -> None:
        """samples.parquet (when there is one) is readable and has the columns compare reads."""
        path = self.dir / "samples.parquet"
        if not path.is_file():
            return
        try:
            names = set(pq.read_schema(path).names)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise UsageError(f"{path}: unreadable: {exc}") from None
        missing = [c for c in (*IDENTITY, "repetition", "latency_ns") if c not in names]
        if missing:
            raise UsageError(f"{path} lacks {', '.join(missing)}: not samples benchy wrote")

    @property
    def complete(self) -> bool:
        """False for a run that was interrupted or stopped: it has only some of its cells."""
        return self.manifest.get("status") == "finished"

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def targets(self) -> list[str]:
        return sorted(self.manifest.get("targets", {}) or set(self.cells["target"]))

    def records(self) -> dict[CellKey, dict[str, Any]]:
        """Cells by identity, missing values as None."""
        return {CellKey.of(row): row for row in records(self.cells)}

    def repetitions(self) -> pd.DataFrame:
        """One row per cell and repetition: n samples and the p50/p90/p99 in ms."""
        if self._reps is None:
            self._reps = per_repetition(self.dir / "samples.parquet")
        return self._reps

    def figures(self) -> pd.DataFrame:
        """One row per cell and repetition: peak RSS, model memory, energy (repetitions.parquet;
        empty for runs stored before it existed)."""
        if self._figures is None:
            path = self.dir / "repetitions.parquet"
            if path.is_file():
                self._figures = pd.read_parquet(path).astype(PLAIN_IDENTITY)
            else:
                self._figures = pd.DataFrame(columns=list(REPETITIONS_COLUMNS))
        return self._figures

    def samples_by_cell(self) -> dict[CellKey, tuple[np.ndarray, np.ndarray]]:
        """(latency_ns, repetition) per cell, as the runner handed them to the gate."""
        path = self.dir / "samples.parquet"
        if not path.is_file():
            return {}
        s = read_samples(path)
        if s.empty:
            return {}
        # The store writes each cell's samples in one block: find the blocks where any identity
        # column changes (a cell split over several blocks is joined again, in file order).
        # A pandas groupby over the six columns takes ~10× longer on a million samples.
        change = np.zeros(len(s), dtype=bool)
        change[0] = True
        for k in IDENTITY:
            column = s[k]
            codes = column.cat.codes if isinstance(column.dtype, pd.CategoricalDtype) else column
            values = codes.to_numpy()
            change[1:] |= values[1:] != values[:-1]
        starts = np.flatnonzero(change)
        spans: dict[CellKey, list[slice]] = {}
        for start, end in zip(starts, [*starts[1:], len(s)], strict=True):
            key = CellKey.from_values([s[k].iat[int(start)] for k in IDENTITY])
            spans.setdefault(key, []).append(slice(start, end))
        latency = s["latency_ns"].to_numpy(np.int64)
        repetition = s["repetition"].to_numpy(np.int64)
        return {
            key: (
                np.concatenate([latency[p] for p in parts]),
                np.concatenate([repetition[p] for p in parts]),
            )
            for key, parts in spans.items()
        }


def read_samples(path: Path) -> pd.DataFrame:
    """The identity, repetition and latency_ns columns of samples.parquet. The identity strings
    are read as categoricals (Parquet stores them dictionary-encoded): a million-sample file
    reads and groups in a third of the time it takes as Python strings."""
    columns = [*IDENTITY, "repetition", "latency_ns"]
    strings = [k for k in IDENTITY if k != "threads"]
    frame: pd.DataFrame = pq.read_table(path, columns=columns, read_dictionary=strings).to_pandas()
    return frame


def per_repetition(samples_path: Path) -> pd.DataFrame:
    columns = [*IDENTITY, "repetition", "n", *QUANTILES]
    if not samples_path.is_file():
        return pd.DataFrame(columns=columns)
    s = read_samples(samples_path)
    if s.empty:
        return pd.DataFrame(columns=columns)
    grouped = s.groupby([*IDENTITY, "repetition"], sort=False, observed=True)["latency_ns"]
    q = grouped.quantile(np.asarray(list(QUANTILES.values()))).unstack() / 1e6
    q.columns = list(QUANTILES)
    q["n"] = grouped.size()
    out = q.reset_index()[columns]
    return out.astype(PLAIN_IDENTITY)
