"""The results directory: cells.parquet/csv, samples.parquet, run.json. Written as cells finish."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 1
IDENTITY = ["target", "model", "variant", "runtime", "delegate", "threads"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def new_run_dir(base: Path, suite: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return base / suite / f"{stamp}-{secrets.token_hex(3)}"


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


class RunStore:
    """Owns one run directory. Every `add` leaves a readable, complete-so-far result on disk."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.RLock()  # targets run in threads and finish cells concurrently
        self.manifest = {"schema_version": SCHEMA_VERSION, "status": "running", **manifest}
        self._write_manifest()

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
        self.rows.append(row)
        with (self.dir / "cells.jsonl").open("a") as fh:  # journal: survives even a hard kill
            fh.write(json.dumps(row, default=str) + "\n")
        self._write_cells()
        for name, data in tables.items():
            if name not in LONG_TABLES or not len(data):
                continue
            part = data.copy()
            for i, key in enumerate(IDENTITY):
                part.insert(i, key, row[key])
            parts = self.dir / f"{name}.parts"
            parts.mkdir(exist_ok=True)
            target = parts / f"{len(self.rows):05d}.parquet"
            _atomic_write(target, partial(_parquet, part))

    def _write_cells(self) -> None:
        df = cells_frame(self.rows)
        _atomic_write(self.dir / "cells.parquet", lambda p: df.to_parquet(p, index=False))
        _atomic_write(self.dir / "cells.csv", lambda p: df.to_csv(p, index=False))

    def annotate(self, **fields: Any) -> None:
        """Add fields to a finished run's manifest (e.g. the verdict after a comparison)."""
        with self._lock:
            self.manifest.update(fields)
            self._write_manifest()

    def finish(self, **fields: Any) -> None:
        """Merge sample parts into samples.parquet and close the manifest."""
        with self._lock:
            self._finish(fields)

    def _finish(self, fields: dict[str, Any]) -> None:
        # An interrupt may have landed mid-write: make the cell files match the rows kept.
        self._write_cells()
        for name, empty in LONG_TABLES.items():
            parts = self.dir / f"{name}.parts"
            frames = [pd.read_parquet(p) for p in sorted(parts.glob("*.parquet"))]
            table = pd.concat(frames, ignore_index=True) if frames else empty()
            _atomic_write(self.dir / f"{name}.parquet", partial(_parquet, table))
            shutil.rmtree(parts, ignore_errors=True)
        self.manifest.update(fields)
        self.manifest["finished"] = utc_now()
        self._write_manifest()


def _empty(**columns: str) -> pd.DataFrame:
    cols = {k: pd.Series(dtype="string") for k in IDENTITY}
    cols["threads"] = pd.Series(dtype="int64")
    cols.update({k: pd.Series(dtype=dtype) for k, dtype in columns.items()})
    return pd.DataFrame(cols)


def empty_samples() -> pd.DataFrame:
    return _empty(repetition="int64", index="int64", latency_ns="int64", latency_ms="float64")


def empty_power() -> pd.DataFrame:
    return _empty(
        repetition="int64", t_s="float64", watts="float64", phase="string", interval_s="float64"
    )


LONG_TABLES: dict[str, Callable[[], pd.DataFrame]] = {
    "samples": empty_samples,
    "power": empty_power,
}
"""Long-form files next to cells.parquet: one row per latency sample / per power sample."""


def cells_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    # Columns that are None in every row so far must still have a stable type for Parquet.
    for col in df.columns:
        if df[col].isna().all():
            numeric = col in NUMERIC or col.endswith(NUMERIC_SUFFIXES)
            df[col] = df[col].astype("float64" if numeric else "string")
    return df


NUMERIC_SUFFIXES = ("_ms", "_mb", "_kb", "_mw", "_mj", "_hz", "_s", "_c", "_pct", "_bytes",
                    "_hours", "_cycle")  # fmt: skip
"""Units in a column's name: such a column is a number even before any row has a value."""

NUMERIC = {
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_std_ms",
    "latency_min_ms",
    "latency_max_ms",
    "latency_ci_low_ms",
    "latency_ci_high_ms",
    "throughput_ips",
    "load_ms",
    "first_inference_ms",
    "rss_before_mb",
    "rss_after_load_mb",
    "peak_rss_mb",
    "model_memory_mb",
    "model_size_kb",
    "metric_value",
    "accuracy",
    "accuracy_drop",
    "agreement",
    "max_abs_error",
    "headroom_pct",
    "overhead_s",
    "runtime_code_mb",
    "warmup_s",
    "window_s",
}


def read_cells(run_dir: Path) -> pd.DataFrame:
    """Read a stored run's cells, refusing result schemas this version does not know."""
    manifest = json.loads((run_dir / "run.json").read_text())
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"{run_dir}: result schema {version} is not {SCHEMA_VERSION}; "
            "re-run the suite with this benchy or read it with the benchy that wrote it"
        )
    return pd.read_parquet(run_dir / "cells.parquet")
