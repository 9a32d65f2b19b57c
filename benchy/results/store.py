"""The results directory, written as cells finish: cells.jsonl (one line per cell, appended as it
finishes: survives even a hard kill, and is what `--resume` reads back), cells.parquet/csv
(rewritten every few seconds and at the end), samples and power parts merged into
samples.parquet and power.parquet at the end, and run.json."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchy import exitcodes
from benchy.errors import BenchyError, UsageError
from benchy.results.manifest import read_manifest, utc_now
from benchy.results.read import records
from benchy.results.rundir import claim, claim_existing
from benchy.results.schema import (
    COLUMN_TYPES,
    COLUMNS,
    IDENTITY,
    OPS_COLUMNS,
    POWER_COLUMNS,
    PAIRED_FIGURES,
    REPETITION_FIGURES,
    REPETITIONS_COLUMNS,
    SAMPLES_COLUMNS,
    SCHEMA_VERSION,
)

PANDAS_TYPES: dict[str, Any] = {
    "str": pd.StringDtype(na_value=np.nan),  # pandas' own text type; missing is NaN, as for numbers
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
}

NUMERIC_SUFFIXES = ("_ms", "_mb", "_kb", "_mw", "_mj", "_hz", "_s", "_c", "_pct", "_bytes",
                    "_hours", "_cycle")  # fmt: skip
"""Units in an undocumented (target-specific) column's name: such a column is a number even
before any row has a value."""


CELLS_EVERY_S = 5.0
"""cells.parquet/csv are rewritten at most this often while a run measures (each rewrite of the
typed table costs ~50 ms on the measuring thread); cells.jsonl has every cell as it finishes."""


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


class ResultsUnwritable(BenchyError):
    """The results folder stopped taking writes (disk full, read-only): the run stops."""

    exit_code = exitcodes.ERROR


def _atomic_write(path: Path, write: Any) -> None:
    """Write beside, then rename: a reader sees the old file or the new one, never half. A write
    that fails (disk full) leaves the old file and no temporary one behind."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ResultsUnwritable(f"cannot write {path}: {exc.strerror or exc}") from None


class RunStore:
    """Owns one run directory, claimed (new or empty, locked) when the store is made. Every `add`
    leaves a readable, complete-so-far result on disk."""

    def __init__(self, directory: Path, manifest: dict[str, Any], option: str = "--out") -> None:
        self.dir = directory
        self.claim = claim(directory, option)
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.RLock()  # targets run in threads and finish cells concurrently
        self._cells_written = time.monotonic()
        self.manifest = {"schema_version": SCHEMA_VERSION, "status": "running", **manifest}
        self._write_manifest()

    @classmethod
    def reopen(cls, directory: Path) -> RunStore:
        """An interrupted run's store, to complete it (`--resume`): locked again, its finished
        cells read back, its merged long tables turned back into the first parts."""
        store = cls.__new__(cls)
        store.dir = directory
        store.claim = claim_existing(directory, "--resume")
        store._lock = threading.RLock()
        store._cells_written = time.monotonic()
        store.manifest = read_manifest(directory)
        store.rows = journal_rows(directory)
        for name in LONG_TABLES:
            merged = directory / f"{name}.parquet"
            if merged.is_file():
                parts = directory / f"{name}.parts"
                parts.mkdir(exist_ok=True)
                os.replace(merged, parts / "00000-earlier.parquet")  # sorts before 00001
            store._kept_parts(name)
        store.manifest["status"] = "running"
        store.manifest.setdefault("resumed", []).append(utc_now())
        store._write_manifest()
        return store

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest, indent=2, default=str) + "\n"
        _atomic_write(self.dir / "run.json", lambda p: p.write_text(text))

    def set_facts(self, target: str, facts: dict[str, Any]) -> None:
        with self._lock:
            self.manifest.setdefault("targets", {})[target] = facts
            self._write_manifest()

    def add(self, row: dict[str, Any], tables: dict[str, pd.DataFrame] | None = None) -> None:
        """Store a finished cell: its row, and its long-form data (`samples`, `power`)."""
        with self._lock:
            self._add(row, tables or {})

    def _add(self, row: dict[str, Any], tables: dict[str, pd.DataFrame]) -> None:
        # Long data first, the row last: a kill between them leaves a part with no row (dropped
        # on resume, the cell measured again), never a finished cell without its samples.
        index = len(self.rows) + 1
        for name, data in tables.items():
            if name in LONG_TABLES and len(data):
                self._write_part(name, index, row, data)
        self.rows.append(row)
        try:
            with (self.dir / "cells.jsonl").open("a") as fh:  # journal: survives a hard kill
                fh.write(json.dumps(row, default=str) + "\n")
        except OSError as exc:
            self.rows.pop()
            where = self.dir / "cells.jsonl"
            raise ResultsUnwritable(f"cannot write {where}: {exc.strerror}") from None
        if time.monotonic() - self._cells_written >= CELLS_EVERY_S:
            self._write_cells()

    def _write_part(self, name: str, index: int, row: dict[str, Any], data: pd.DataFrame) -> None:
        part = data.copy()
        for i, key in enumerate(IDENTITY):
            part.insert(i, key, row[key])
        parts = self.dir / f"{name}.parts"
        try:
            parts.mkdir(exist_ok=True)
        except OSError as exc:
            raise ResultsUnwritable(f"cannot write {parts}: {exc.strerror}") from None
        target = parts / f"{index:05d}.parquet"
        _atomic_write(target, partial(_parquet, typed_long(part, LONG_TABLES[name])))

    def _kept_parts(self, name: str) -> list[Path]:
        """The parts of cells that made it into the rows; a part whose row was never stored
        (killed between the two writes) is removed — benchy wrote it, and its cell is redone."""
        kept = []
        for path in sorted((self.dir / f"{name}.parts").glob("*.parquet")):
            if int(path.stem.split("-")[0]) <= len(self.rows):
                kept.append(path)
            else:
                path.unlink(missing_ok=True)
        return kept

    def _write_cells(self) -> None:
        df = cells_frame(self.rows)
        _atomic_write(self.dir / "cells.parquet", lambda p: df.to_parquet(p, index=False))
        _atomic_write(self.dir / "cells.csv", lambda p: df.to_csv(p, index=False))
        self._cells_written = time.monotonic()

    def annotate(self, **fields: Any) -> None:
        """Add fields to a finished run's manifest (e.g. the verdict after a comparison)."""
        with self._lock:
            self.manifest.update(fields)
            self._write_manifest()

    def finish(self, **fields: Any) -> None:
        """Merge sample parts into samples.parquet and close the manifest. The lock is released
        even when that cannot be written (disk full): `--resume` completes the run later."""
        with self._lock:
            try:
                self._finish(fields)
            finally:
                self.claim.release()

    def _finish(self, fields: dict[str, Any]) -> None:
        # An interrupt may have landed mid-write: make the cell files match the rows kept.
        self._write_cells()
        for name, columns in LONG_TABLES.items():
            parts = self.dir / f"{name}.parts"
            frames = [pd.read_parquet(p) for p in self._kept_parts(name)]
            table = pd.concat(frames, ignore_index=True) if frames else empty_long(columns)
            typed = typed_long(table, columns)
            _atomic_write(self.dir / f"{name}.parquet", partial(_parquet, typed))
            shutil.rmtree(parts, ignore_errors=True)
        self.manifest.update(fields)
        self.manifest["finished"] = utc_now()
        self._write_manifest()


def journal_rows(directory: Path) -> list[dict[str, Any]]:
    """An unfinished run's cells, read back from cells.jsonl (typed as cells.parquet would have
    them). A last line cut short by a hard kill is dropped from the journal: its cell is measured
    again (its part, written before the line, is removed with it)."""
    journal, cells = directory / "cells.jsonl", directory / "cells.parquet"
    if not journal.is_file():
        return records(pd.read_parquet(cells)) if cells.is_file() else []
    lines = journal.read_text().splitlines(keepends=True)
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise UsageError(f"{journal}: line {i + 1} is not a cell benchy wrote") from None
    if len(rows) < len(lines) or (lines and not lines[-1].endswith("\n")):
        kept = "".join(line.rstrip("\n") + "\n" for line in lines[: len(rows)])
        _atomic_write(journal, lambda p: p.write_text(kept))
    return records(cells_frame(rows)) if rows else []


LONG_TYPES: dict[str, Any] = {
    "repetition": "int64",
    "index": "int64",
    "latency_ns": "int64",
    "latency_ms": "float64",
    "t_s": "float64",
    "watts": "float64",
    "phase": pd.StringDtype(na_value=np.nan),
    "interval_s": "float64",
    # ops (issue 15)
    "op_index": "int64",
    "op_name": "string",
    "op_type": "string",
    "provider": "string",
    "calls": "float64",
    "mean_us": "float64",
    "instructions": "float64",
    "share_pct": "float64",
    "source": "string",
    **dict.fromkeys(REPETITION_FIGURES, "float64"),
    **dict.fromkeys(PAIRED_FIGURES, "float64"),
}


def empty_long(columns: tuple[str, ...]) -> pd.DataFrame:
    return typed_long(pd.DataFrame({c: [] for c in columns}), columns)


def typed_long(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """A long table in its column order and types; identity columns categorical (a cell's
    identity repeats on every one of its samples)."""
    out = frame[list(columns)].copy()
    for col in columns:
        if col == "threads":
            out[col] = out[col].astype("int64")
        elif col in IDENTITY:
            out[col] = out[col].astype("string").astype("category")
        else:
            out[col] = out[col].astype(LONG_TYPES[col])
    return out


LONG_TABLES: dict[str, tuple[str, ...]] = {
    "samples": SAMPLES_COLUMNS,
    "power": POWER_COLUMNS,
    "repetitions": REPETITIONS_COLUMNS,
    "ops": OPS_COLUMNS,  # issue 15
}
"""Long-form files next to cells.parquet: one row per latency sample, per power sample, per
repetition (its peak memory and energy), per op of a per-op profile."""


def cells_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The cells table: every documented column, in schema order and type, null where not
    measured; columns a target adds come after them."""
    df = pd.DataFrame(rows)
    for col in COLUMN_TYPES:
        if col not in df.columns:
            df[col] = None
    extra = [c for c in df.columns if c not in COLUMN_TYPES]
    df = df[[c.name for c in COLUMNS] + extra]
    for col in df.columns:
        kind = COLUMN_TYPES.get(col)
        if kind is None:
            if not df[col].isna().all():
                continue
            kind = "float" if col.endswith(NUMERIC_SUFFIXES) else "str"
        df[col] = _typed(df[col], kind)
    return df


def _typed(column: pd.Series, kind: str) -> pd.Series:
    if kind in ("int", "bool"):
        # Through float: None → NaN → <NA>; exact for counts below 2**53.
        values: pd.Series = pd.to_numeric(column, errors="coerce") if kind == "int" else column
        through: Any = "float64" if kind == "int" else "object"
        return values.astype(through).astype(PANDAS_TYPES[kind])
    return column.astype(PANDAS_TYPES[kind])
