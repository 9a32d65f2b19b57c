"""A run's cell figures for dashboards: OpenMetrics text (what Prometheus' node-exporter
textfile collector and Pushgateway read) or JSON records.

OpenMetrics: one gauge family per figure, in base units (seconds, bytes, joules, watts), each
sample labelled with the cell's identity; `benchy_cell_info` carries the status and verdict
as labels (value 1). Label values are escaped as the format requires (\\, ", newline)."""

from __future__ import annotations

import json
from typing import Any

from benchy.report.figures import is_number
from benchy.results.read import StoredRun, records
from benchy.results.schema import IDENTITY

FAMILIES: tuple[tuple[str, str, str, float, str], ...] = (
    # (metric name, cells column, unit, factor to the base unit, help)
    ("benchy_latency_p50_seconds", "latency_p50_ms", "seconds", 1e-3, "median invoke latency"),
    ("benchy_latency_p90_seconds", "latency_p90_ms", "seconds", 1e-3, "90th percentile latency"),
    ("benchy_latency_p99_seconds", "latency_p99_ms", "seconds", 1e-3, "99th percentile latency"),
    ("benchy_peak_rss_bytes", "peak_rss_mb", "bytes", 1024**2, "peak RSS of the cell's process"),
    ("benchy_model_memory_bytes", "model_memory_mb", "bytes", 1024**2, "memory for the model"),
    ("benchy_model_size_bytes", "model_size_bytes", "bytes", 1.0, "model file size"),
    ("benchy_tflm_arena_bytes", "tflm_arena_bytes", "bytes", 1.0, "TFLite Micro tensor arena"),
    ("benchy_metric_value", "metric_value", "", 1.0, "the suite's metric over the dataset"),
    ("benchy_energy_per_inference_joules", "energy_per_inference_mj", "joules", 1e-3,
     "energy per inference"),
    ("benchy_active_power_watts", "active_power_mw", "watts", 1e-3, "power during the loop"),
    ("benchy_battery_life_seconds", "battery_life_hours", "seconds", 3600.0,
     "battery life at the suite's duty cycle"),
)  # fmt: skip


def _label(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _labels(row: dict[str, Any], suite: str, extra: dict[str, Any] | None = None) -> str:
    pairs = {"suite": suite, **{k: row[k] for k in IDENTITY}, **(extra or {})}
    return "{" + ",".join(f"{k}={_label(v)}" for k, v in pairs.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value))


def openmetrics(run: StoredRun) -> str:
    suite = str(run.manifest.get("suite") or run.dir.parent.name)
    rows = records(run.cells)
    lines = [
        "# TYPE benchy_cell info",
        "# HELP benchy_cell A cell of the run: its status and budget verdict.",
    ]
    for row in rows:
        info = {"status": row["status"], "verdict": row["verdict"]}
        lines.append(f"benchy_cell_info{_labels(row, suite, info)} 1")
    for name, column, unit, factor, text in FAMILIES:
        samples = []
        for row in rows:
            value = row.get(column)
            if is_number(value):
                samples.append(f"{name}{_labels(row, suite)} {_number(float(value) * factor)}")
        if not samples:
            continue
        lines.append(f"# TYPE {name} gauge")
        if unit:
            lines.append(f"# UNIT {name} {unit}")
        lines.append(f"# HELP {name} {text}.")
        lines += samples
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def as_json(run: StoredRun) -> str:
    """{"run": ..., "suite": ..., "verdict": ..., "cells": [row, ...]} with nulls for gaps."""
    body = {
        "run": run.dir.name,
        "suite": run.manifest.get("suite"),
        "started": run.manifest.get("started"),
        "verdict": run.manifest.get("verdict"),
        "exit_code": run.manifest.get("exit_code"),
        "cells": records(run.cells),
    }
    return json.dumps(body, indent=2, default=str) + "\n"


FORMATS = {"openmetrics": openmetrics, "json": as_json}
