"""Completing an interrupted run (`benchy run SUITE --resume RUN_DIR`).

What an interrupted run leaves: its finished cells (cells.parquet, samples, power) and, when it
was stopped by Ctrl-C, SIGTERM or SIGHUP, the repetitions of its unfinished cells (`partial/`:
one .npz per cell, no pickle) and the reference variants' outputs (accuracy drop and agreement
of the cells still to come need them). A run killed with SIGKILL keeps its finished cells only.

A run is resumed only with what measured it: the same suite file, models, datasets and
measurement settings; anything else would make one run of two different things.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchy.errors import UsageError
from benchy.results.schema import CellKey
from benchy.worker.protocol import CellResult

PARTIAL = "partial"
RESUMABLE = ("interrupted", "stopped", "running")
"""Statuses of a run that did not finish ("running": killed before it could say so)."""
MUST_MATCH = ("suite", "suite_sha256", "models_sha256", "datasets_sha256", "quick", "measure")


@dataclass
class Partial:
    """An unfinished cell: the repetitions it had, and the wall time they took."""

    results: list[CellResult] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class Carried:
    """What a resumed run takes over from the interrupted one."""

    done: set[CellKey]
    partial: dict[CellKey, Partial]
    references: dict[tuple[str, str], tuple[np.ndarray, float | None]]


def resumable_problem(stored: dict[str, Any], now: dict[str, Any]) -> str | None:
    """Why this run cannot be completed with the current suite and settings, or None."""
    status = stored.get("status")
    if status not in RESUMABLE:
        return f"the run is {status}, not interrupted: there is nothing to complete"
    changed = [key for key in MUST_MATCH if stored.get(key) != now.get(key)]
    if changed:
        return (
            f"{', '.join(changed)} changed since the run started; resuming would mix two "
            "different runs (start a new run instead)"
        )
    return None


def _key_name(key: CellKey) -> str:
    return "__".join(str(v).replace("/", "_") for v in key.columns().values())


def save(run_dir: Path, partial: dict[CellKey, Partial], references: dict[Any, Any]) -> None:
    """Write the unfinished cells' repetitions and the references' outputs (on interrupt)."""
    folder = run_dir / PARTIAL
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for key, cell in partial.items():
        if not cell.results:
            continue
        samples = [np.asarray(r.get("samples_ns", []), dtype=np.int64) for r in cell.results]
        meta = [{k: v for k, v in r.items() if k != "samples_ns"} for r in cell.results]
        np.savez(
            folder / f"{_key_name(key)}.npz",
            key=np.array(json.dumps(key.columns())),
            meta=np.array(json.dumps({"results": meta, "wall_s": cell.wall_s})),
            lengths=np.array([len(s) for s in samples], dtype=np.int64),
            samples=np.concatenate(samples) if samples else np.empty(0, dtype=np.int64),
        )
    refs = {
        f"{target}\x00{model}": (outputs, metric)
        for (target, model), (outputs, metric) in references.items()
    }
    np.savez(
        folder / "references.npz",
        names=np.array(json.dumps({n: m for n, (_, m) in refs.items()})),
        **{f"r{i}": outputs for i, (_, (outputs, _)) in enumerate(refs.items())},
        order=np.array(json.dumps(list(refs))),
    )


def load(run_dir: Path, rows: list[dict[str, Any]]) -> Carried:
    """What the interrupted run had: finished cells (from its rows) and partial repetitions."""
    done = {CellKey.of(r) for r in rows}
    partial: dict[CellKey, Partial] = {}
    references: dict[tuple[str, str], tuple[np.ndarray, float | None]] = {}
    folder = run_dir / PARTIAL
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            with np.load(path, allow_pickle=False) as data:
                if path.name == "references.npz":
                    metrics = json.loads(str(data["names"]))
                    for i, name in enumerate(json.loads(str(data["order"]))):
                        target, model = name.split("\x00")
                        references[(target, model)] = (np.asarray(data[f"r{i}"]), metrics[name])
                    continue
                key = CellKey.of(json.loads(str(data["key"])))
                meta = json.loads(str(data["meta"]))
                ends = np.cumsum(data["lengths"])
                chunks = np.split(np.asarray(data["samples"]), ends[:-1]) if len(ends) else []
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{path}: unreadable: {exc}") from None
        results: list[CellResult] = []
        for result, chunk in zip(meta["results"], chunks, strict=True):
            results.append({**result, "samples_ns": chunk.tolist()})  # type: ignore[typeddict-item]
        if key not in done:
            partial[key] = Partial(results, float(meta.get("wall_s", 0.0)))
    return Carried(done, partial, references)


def discard(run_dir: Path) -> None:
    """The partial repetitions are in the finished run now: remove what benchy wrote."""
    shutil.rmtree(run_dir / PARTIAL, ignore_errors=True)
