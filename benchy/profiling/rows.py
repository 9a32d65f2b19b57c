"""Worker results → a cell's instruction columns and its per-op table (issue 15).

In instruction mode the timed invokes ran under Valgrind: their wall-clock times and the
process's memory are Valgrind's, not the device's, so no latency or memory figure is reported
and no samples are stored (those budgets are then unchecked, never judged on Valgrind's
figures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from benchy.results.schema import IDENTITY, INSTRUCTIONS, OPS_COLUMNS
from benchy.worker.protocol import CellResult

LATENCY_COLUMNS = (
    "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms", "latency_std_ms",
    "latency_min_ms", "latency_max_ms", "latency_ci_low_ms", "latency_ci_high_ms",
    "throughput_ips",
)  # fmt: skip
MEMORY_COLUMNS = ("rss_before_mb", "rss_after_load_mb", "peak_rss_mb", "runtime_code_mb",
                  "model_memory_mb")  # fmt: skip
"""Under Valgrind the process's memory is mostly Valgrind's own: not reported either."""


def instruction_columns(results: list[CellResult]) -> dict[str, Any]:
    """Instructions per timed invoke: median, lowest and highest over the repetitions."""
    counts = [r.get("instructions") or {} for r in results]
    per = [c["total"] / c["invokes"] for c in counts if c.get("total") and c.get("invokes")]
    errors = [str(c["error"]) for c in counts if c.get("error")]
    scope = next((str(c["scope"]) for c in counts if c.get("scope")), None)
    if errors and len(per) < len(counts):
        scope = f"unavailable: {errors[0]}"
    return {
        "measure_mode": "instructions",
        INSTRUCTIONS: float(np.median(per)) if per and len(per) == len(counts) else None,
        "instructions_min": min(per) if per else None,
        "instructions_max": max(per) if per else None,
        "instructions_scope": scope,
        **dict.fromkeys(LATENCY_COLUMNS),
        **dict.fromkeys(MEMORY_COLUMNS),
    }


def ops_columns(results: list[CellResult]) -> dict[str, Any]:
    first = results[0]
    return {"ops_source": first.get("ops_source"), "profile_s": first.get("profile_s")}


def ops_table(results: list[CellResult]) -> pd.DataFrame:
    """The per-op rows of the cell's profiling pass, with each row's share of the whole."""
    rows = results[0].get("ops") or []
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    for column in (*OPS_COLUMNS, "share_pct"):
        if column not in frame.columns:
            frame[column] = None
    if frame["share_pct"].notna().all():  # the source's own shares (the benchmark tool)
        return frame[[c for c in OPS_COLUMNS if c not in IDENTITY]]
    timed = frame["mean_us"].notna().all()
    basis = frame["mean_us" if timed else "instructions"].astype("float64")
    total = float(basis.sum())
    frame["share_pct"] = basis / total * 100 if total > 0 else np.nan
    return frame[[c for c in OPS_COLUMNS if c not in IDENTITY]]  # the store adds the identity
