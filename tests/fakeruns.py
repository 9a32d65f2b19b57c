"""Stored runs with chosen per-repetition latencies, written through the real RunStore, so the
comparison, JUnit, markdown and history code read exactly what `benchy run` writes."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchy.results.schema import PAIRED_FIGURES, REPETITION_FIGURES
from benchy.results.store import RunStore

FACTS = {
    "hostname": "vm",
    "os": "Linux",
    "kernel": "6.1",
    "cpu_model": "AMD EPYC",
    "cores": 2,
    "runtimes": {"tflite": {"available": True, "module": "ai_edge_litert", "version": "2.3.0"}},
}
SPREAD = np.linspace(0.99, 1.01, 1001)  # within a repetition: median = the chosen value; 1000+
# samples so that p99 is compared (10 samples beyond it, benchy/judge/latency.py)


def cell_row(variant: str, status: str = "ok", **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "target": "local",
        "model": "cnn",
        "variant": variant,
        "runtime": "tflite",
        "delegate": "xnnpack",
        "threads": 1,
        "status": status,
        "error": None if status == "ok" else "SIGSEGV in invoke",
        "runtime_version": "2.3.0",
        "delegate_applied": "xnnpack (1 partition)",
        "peak_rss_mb": 40.0,
        "model_memory_mb": 1.0,
        "metric": "accuracy",
        "metric_value": 95.0,
        "accuracy": 95.0,
        "verdict": "pass" if status == "ok" else "error",
        "failed_budgets": "",
        "window_s": 0.5,
        "warmup_s": 0.1,
        "overhead_s": 0.02,
    }
    row.update(values)
    return row


def write_run(
    directory: Path,
    cells: dict[str, tuple[dict[str, Any], Sequence[float] | None]],
    facts: dict[str, Any] | None = None,
    figures: dict[str, dict[str, Sequence[float]]] | None = None,
    **manifest: Any,
) -> Path:
    """`cells`: variant → (row, per-repetition medians in ms, or None for no samples);
    `figures`: variant → {peak_rss_mb / model_memory_mb / energy_per_inference_mj: one value
    per repetition} for repetitions.parquet (runs without it compare memory as points)."""
    head = {
        "benchy_version": "0.1.0",
        "git_commit": "a" * 40,
        "suite": "fake",
        "suite_sha256": "b" * 64,
        "models_sha256": {f"cnn/{v}": "c" * 64 for v in cells},
        "quick": False,
        "measure": {"repetitions": 10},
        "started": "2026-11-26T19:45:00Z",
    }
    head.update(manifest)
    store = RunStore(directory, head)
    store.set_facts("local", facts or FACTS)
    for variant, (row, medians) in cells.items():
        samples = reps = None
        if medians is not None:
            samples = np.concatenate([(m * 1e6 * SPREAD).astype(np.int64) for m in medians])
            reps = np.repeat(np.arange(len(medians)), len(SPREAD))
            row = {"latency_p50_ms": float(np.median(medians)), **row}
        per_rep = (figures or {}).get(variant)
        if per_rep:
            row = {**row, **{k: float(np.max(v)) for k, v in per_rep.items()
                             if k in REPETITION_FIGURES}}  # fmt: skip
        _add(store, row, samples, reps, per_rep)
    store.finish(status="finished", exit_code=0, verdict="pass")
    return directory


def _add(
    store: RunStore, row: dict[str, Any], samples: Any, reps: Any,
    per_rep: dict[str, Sequence[float]] | None = None,
) -> None:  # fmt: skip
    """RunStore.add takes long-form tables; before the power work it took (samples, reps)."""
    if "tables" not in inspect.signature(store.add).parameters:
        store.add(row, samples, reps)  # type: ignore[call-arg]
        return
    tables = {}
    if samples is not None:
        tables["samples"] = pd.DataFrame(
            {"repetition": reps, "index": np.arange(len(samples)), "latency_ns": samples}
        ).assign(latency_ms=lambda f: f["latency_ns"] / 1e6)
    if per_rep:
        n = len(next(iter(per_rep.values())))
        columns = {c: per_rep.get(c, [None] * n) for c in (*REPETITION_FIGURES, *PAIRED_FIGURES)}
        tables["repetitions"] = pd.DataFrame({"repetition": np.arange(n), **columns})
    store.add(row, tables)


def medians(center: float, n: int = 10, spread: float = 0.004) -> list[float]:
    """n per-repetition medians around `center`, evenly spread by ±spread/2 (relative)."""
    return [center * (1 + spread * (i / (n - 1) - 0.5)) for i in range(n)]
