"""Stored runs, read back: the manifest, the cells, per-repetition latency percentiles; finding
the newest run of a suite (`--baseline latest`). Reads only what `benchy run` wrote."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from benchy.errors import UsageError
from benchy.store import IDENTITY, SCHEMA_VERSION, read_cells

log = logging.getLogger(__name__)

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def cell_key(values: Any) -> tuple[str, ...]:
    """A cell's identity as strings (threads is an int in Parquet, a str elsewhere)."""
    return tuple(str(v) for v in values)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a benchy run (no run.json)")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable: {exc}") from None
    return manifest


def schema_problem(manifest: dict[str, Any]) -> str | None:
    """Why this benchy cannot read a run's results, with advice; None when it can."""
    version = manifest.get("schema_version")
    if version == SCHEMA_VERSION:
        return None
    wrote = manifest.get("benchy_version", "an unknown version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        return (
            f"result schema {version} is newer than this benchy reads ({SCHEMA_VERSION}); "
            f"upgrade benchy (the run was written by benchy {wrote})"
        )
    return (
        f"result schema {version} is not {SCHEMA_VERSION}; re-run the suite with this benchy "
        f"or read it with benchy {wrote}, which wrote it"
    )


@dataclass
class StoredRun:
    dir: Path
    manifest: dict[str, Any]
    cells: pd.DataFrame
    _reps: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def load(cls, run_dir: Path) -> StoredRun:
        manifest = read_manifest(run_dir)
        problem = schema_problem(manifest)
        if problem is not None:
            raise UsageError(f"{run_dir}: {problem}")
        if manifest.get("status") == "running" or not (run_dir / "cells.parquet").is_file():
            raise UsageError(f"{run_dir}: the run did not finish; nothing to compare")
        try:
            cells = read_cells(run_dir)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{run_dir}: {exc}") from None
        return cls(run_dir, manifest, cells)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def targets(self) -> list[str]:
        return sorted(self.manifest.get("targets", {}) or set(self.cells["target"]))

    def records(self) -> dict[tuple[str, ...], dict[str, Any]]:
        """Cells by identity, missing values as None."""
        out = {}
        for row in self.cells.to_dict("records"):
            clean = {str(k): (None if _missing(v) else v) for k, v in row.items()}
            out[cell_key(clean[k] for k in IDENTITY)] = clean
        return out

    def repetitions(self) -> pd.DataFrame:
        """One row per cell and repetition: n samples and the p50/p90/p99 in ms."""
        if self._reps is None:
            self._reps = per_repetition(self.dir / "samples.parquet")
        return self._reps

    def samples_by_cell(self) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]:
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
        spans: dict[tuple[str, ...], list[slice]] = {}
        for start, end in zip(starts, [*starts[1:], len(s)], strict=True):
            key = cell_key(s[k].iat[int(start)] for k in IDENTITY)
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


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


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
    return out.astype({k: str for k in IDENTITY if k != "threads"})  # as before: not categorical


def finished_runs(folder: Path) -> list[Path]:
    """Run directories under a folder, newest first (names start with the UTC start time)."""
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def newest_run(
    folder: Path, suite: str, targets: list[str], skip: Path | None = None
) -> Path | None:
    """The newest finished run of `suite` covering `targets` under `folder` (a results base
    folder, or the suite's own folder in it), other than `skip`."""
    place = folder / suite if (folder / suite).is_dir() else folder
    for run_dir in finished_runs(place):
        if skip is not None and run_dir.resolve() == skip.resolve():
            continue
        try:
            manifest = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            log.warning("%s: unreadable run.json, skipped", run_dir)
            continue
        if manifest.get("suite") != suite or manifest.get("status") != "finished":
            continue
        if not set(targets) <= set(manifest.get("targets") or {}):
            continue
        if schema_problem(manifest) is not None:
            log.warning("%s: %s; skipped", run_dir, schema_problem(manifest))
            continue
        return run_dir
    return None


def resolve_baseline(
    spec: str, results: Path, suite: str, targets: list[str], skip: Path | None
) -> Path | None:
    """`--baseline PATH|latest`. PATH is a run directory, or a folder searched like `latest`.
    Returns None when `latest` finds nothing yet (the first run of a suite)."""
    if spec == "latest":
        return newest_run(results, suite, targets, skip)
    path = Path(spec)
    if (path / "run.json").is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"--baseline: {spec}: no such run directory")
    found = newest_run(path, suite, targets, skip)
    if found is None:
        raise UsageError(
            f"--baseline: {spec}: no finished run of suite {suite} on {', '.join(targets)} in it"
        )
    return found
