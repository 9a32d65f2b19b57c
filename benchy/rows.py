"""Worker results → one cell's record: its row (the cells.parquet columns), its long tables
(samples, power) and its budget checks, judged once, here, before the store gets it.

Per side of a job (one suite), a `RowBuilder` keeps what rows depend on across cells: the
reference variant's outputs and metric per target and model (for agreement and accuracy drop),
the dataset labels, the model hashes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchy import metrics
from benchy.config import Suite, TargetConfig
from benchy.errors import TflmError
from benchy.judge.budgets import Check, judge_budgets
from benchy.matrix import Cell
from benchy.modelinfo import model_bytes
from benchy.power import energy
from benchy.power.config import PowerConfig
from benchy.profiling.rows import instruction_columns, ops_columns, ops_table
from benchy.results.manifest import sha256_file
from benchy.results.read import QUANTILES
from benchy.results.schema import (
    ACCURACY,
    ACCURACY_DROP,
    ENERGY,
    METRIC,
    METRIC_VALUE,
    MODEL_MEMORY,
    PAIRED_FIGURES,
    PEAK_RSS,
    STATUS,
    VERDICT,
    CellKey,
)
from benchy.runtimes.tflm import tflm_arena_bytes
from benchy.stats import summarize
from benchy.worker.protocol import CellResult


@dataclass(frozen=True)
class CellRecord:
    """A finished cell as the store and the reports take it."""

    key: CellKey
    row: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


@dataclass
class Reference:
    """The reference variant's outputs and metric on one target, for agreement and drop."""

    outputs: np.ndarray | None = None
    metric_value: float | None = None


def base_row(cell: Cell) -> dict[str, Any]:
    return {
        **cell.key.columns(),
        "model_file": cell.model_file.name,
        # A derived variant that could not be made is an error, not "n/a".
        STATUS: "n/a" if cell.reason is not None else "error",
        "error": cell.failed or cell.reason,
    }


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def thermal_columns(results: list[CellResult]) -> dict[str, Any]:
    """SoC temperature around the cell and whether it was throttled (Pi: vcgencmd bits)."""
    th: list[dict[str, Any]] = [dict(r.get("thermal") or {}) for r in results]
    before = [t["temp_before_c"] for t in th if t.get("temp_before_c") is not None]
    after = [t["temp_after_c"] for t in th if t.get("temp_after_c") is not None]
    bits = [
        t[k] for t in th for k in ("throttled_before", "throttled_after") if t.get(k) is not None
    ]
    return {
        "soc_temp_before_c": before[0] if before else None,
        "soc_temp_after_c": max(after) if after else None,
        "cooldown_s": sum(t.get("cooldown_s") or 0.0 for t in th),
        # Bits 0-3 are "now": under-voltage, frequency capped, throttled, soft temp limit.
        "throttled": any(b & 0xF for b in bits) if bits else None,
    }


def power_table(results: list[CellResult]) -> pd.DataFrame:
    frames = []
    for i, r in enumerate(results):
        rows = energy.sample_rows(
            dict(r["power"]) if "power" in r else None, r.get("window_ns"), r.get("idle_ns"),
            int(r.get("clock_offset_ns") or 0),
        )  # fmt: skip
        if len(rows):
            frames.append(
                pd.DataFrame(
                    {"repetition": i, "t_s": rows[:, 0], "watts": rows[:, 1],
                     "phase": np.array(["other", "idle", "active"])[rows[:, 2].astype(int)],
                     "interval_s": rows[:, 3]}
                )
            )  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def energy_per_repetition(
    results: list[CellResult], power: PowerConfig | None
) -> list[dict[str, Any]] | None:
    """Each repetition's energy columns; None without a [power] source."""
    if power is None:
        return None
    return [
        energy.energy_columns(
            dict(r["power"]) if "power" in r else None, r.get("window_ns"), r.get("idle_ns"),
            len(r["samples_ns"]), int(r.get("clock_offset_ns") or 0),
        )
        for r in results
    ]  # fmt: skip


def energy_figures(reps: list[dict[str, Any]] | None) -> dict[str, Any]:
    if reps is None:
        return energy.unavailable("no [power] source in the target file")
    return energy.combine(reps)


def repetitions_table(
    results: list[CellResult], energies: list[dict[str, Any]] | None
) -> pd.DataFrame:
    """One row per repetition: its peak RSS, model memory and energy per inference (what a
    baseline comparison judges memory and energy on)."""
    rows = []
    for i, r in enumerate(results):
        peak = r.get("peak_rss_mb")
        rows.append(
            {
                "repetition": i,
                PEAK_RSS: peak,
                MODEL_MEMORY: model_memory(peak, r.get("rss_before_mb"), r.get("runtime_code_mb")),
                ENERGY: (energies[i].get(ENERGY) if energies is not None else None),
                **paired_figures(r),
            }
        )
    return pd.DataFrame(rows)


def paired_figures(result: CellResult) -> dict[str, float | None]:
    """A `benchy ab` round's two models timed in turn in one process (worker/pair.py): each one's
    percentiles (ms) and the samples per model; None where the round was not."""
    paired = result.get("paired") or {}
    own, theirs = paired.get("samples_ns"), paired.get("partner_ns")
    if not own or not theirs:
        return dict.fromkeys(PAIRED_FIGURES)
    qs = list(QUANTILES.values())
    base = np.quantile(np.asarray(theirs, np.float64), qs) / 1e6
    new = np.quantile(np.asarray(own, np.float64), qs) / 1e6
    out: dict[str, float | None] = {"paired_n": float(min(len(own), len(theirs)))}
    for name, b, n in zip(QUANTILES, base, new, strict=True):
        out[f"paired_base_{name}"], out[f"paired_{name}"] = float(b), float(n)
    return out


def paired_columns(results: list[CellResult]) -> dict[str, Any]:
    """The cell's `paired_rounds` and first `paired_error` (a candidate in `benchy ab`)."""
    rounds = [r["paired"] for r in results if "paired" in r]
    if not rounds:
        return {}
    errors = [p["error"] for p in rounds if "error" in p]
    first = errors[0] if errors else None
    return {"paired_rounds": len(rounds) - len(errors), "paired_error": first}


def tflm_arena(cell: Cell) -> dict[str, Any]:
    """The RAM an MCU would need for this model, from TFLite Micro on the host."""
    if cell.runtime != "tflite":
        return {}
    try:
        return {"tflm_arena_bytes": tflm_arena_bytes(cell.model_file), "memory_source": "host TFLM"}
    except TflmError as exc:
        return {"tflm_arena_note": str(exc)}


def model_memory(peak: float | None, before: float | None, code: float | None) -> float | None:
    """Peak RSS growth of the cell's process, less the runtime's shared-library pages it faulted
    back in after fork (those are code, shared with every process using the runtime)."""
    if peak is None or before is None:
        return None
    return peak - before - (code or 0.0)


def samples_table(results: list[CellResult]) -> pd.DataFrame:
    samples = np.concatenate([np.asarray(r["samples_ns"], dtype=np.int64) for r in results])
    reps = np.concatenate([np.full(len(r["samples_ns"]), i) for i, r in enumerate(results)])
    return pd.DataFrame(
        {"repetition": reps, "index": np.arange(len(samples)), "latency_ns": samples,
         "latency_ms": samples / 1e6}
    )  # fmt: skip


class RowBuilder:
    """Cell records for one side of a job (one suite on its targets)."""

    def __init__(self, suite: Suite, targets: Iterable[TargetConfig]) -> None:
        self.suite = suite
        self.targets = {t.name: t for t in targets}
        self._references: dict[tuple[str, str], Reference] = {}
        self._labels: dict[Path, np.ndarray] = {}
        self._hashes: dict[Path, str] = {}
        self.wait_reference: Callable[[Cell], None] = lambda cell: None
        """Set by the runner when a cell's reference may run on another board (a farm)."""

    def has_reference(self, target: str, model: str) -> bool:
        ref = self._references.get((target, model))
        return ref is not None and ref.outputs is not None

    @property
    def references(self) -> dict[tuple[str, str], tuple[np.ndarray, float | None]]:
        """The reference variants' outputs and metric so far, per (target, model)."""
        return {
            k: (r.outputs, r.metric_value)
            for k, r in self._references.items()
            if r.outputs is not None
        }

    def references_from(
        self, references: dict[tuple[str, str], tuple[np.ndarray, float | None]]
    ) -> None:
        """Take over references measured before an interrupt (`--resume`)."""
        for key, (outputs, metric) in references.items():
            self._references[key] = Reference(outputs, metric)

    # ------------------------------------------------------------ the three kinds of cell

    def not_run(
        self, cell: Cell, why: str | None = None, emulated: bool | None = None
    ) -> CellRecord:
        """A cell that did not run: not applicable (its own reason), or `why` (target failed)."""
        row = base_row(cell)
        if why is not None and cell.applicable:
            row["error"] = why
        return self._finish(cell, row, {}, emulated)

    def failed(self, cell: Cell, result: CellResult, emulated: bool | None) -> CellRecord:
        """A repetition that did not give figures: the cell is recorded with the reason."""
        row = {
            **base_row(cell),
            STATUS: result.get("status", "error"),
            "error": result.get("error"),
            **(result.get("extra") or {}),  # where it failed (a farm: place, board)
        }
        tail = (result.get("log_tail") or "").strip()
        last = tail.splitlines()[-1][:300] if tail else ""
        if last and row[STATUS] == "crashed" and last not in (row["error"] or ""):
            row["error"] = f"{row['error']}; last log line: {last}"
        return self._finish(cell, row, {}, emulated)

    def measured(
        self, cell: Cell, results: list[CellResult], wall: float, facts: dict[str, Any]
    ) -> CellRecord:
        """Every repetition ran: the figures, quality, energy, thermal state, MCU memory."""
        row = {**base_row(cell), **self._figures(cell, results, wall, facts)}
        first = results[0]
        row.update(thermal_columns(results))
        power = getattr(self.targets[cell.target].options, "power", None)
        energies = energy_per_repetition(results, power)
        row.update(energy_figures(energies))
        # Target-specific figures (e.g. an MCU's arena size) arrive as "extra" columns.
        row.update(first.get("extra") or {})
        if self.suite.tflm_arena and "tflm_arena_bytes" not in row:
            row.update(tflm_arena(cell))
        if row.get("tflm_arena_bytes") is not None:
            row["tflm_arena_kb"] = row["tflm_arena_bytes"] / 1024
        row.update(self._quality(cell, first.get("outputs")))
        tables = {
            "samples": samples_table(results),
            "power": power_table(results),
            "repetitions": repetitions_table(results, energies),
        }
        # issue 15: instruction mode has no wall-clock figures; per-op rows when profiled
        if self.suite.measure.mode == "instructions":
            row.update(instruction_columns(results))
            del tables["samples"]
        else:
            row["measure_mode"] = "time"
        row.update(ops_columns(results))
        row.update(paired_columns(results))
        tables["ops"] = ops_table(results)
        return self._finish(cell, row, tables, bool(facts.get("emulated")))

    # ------------------------------------------------------------ parts of a measured row

    def _figures(
        self, cell: Cell, results: list[CellResult], wall: float, facts: dict[str, Any]
    ) -> dict[str, Any]:
        first = results[0]
        samples = np.concatenate([np.asarray(r["samples_ns"], dtype=np.int64) for r in results])
        s = summarize(samples / 1e6)
        window = sum(r["window_s"] for r in results)
        # What the harness costs beyond the work the suite asked for (warmup, timed loop, outputs).
        asked = window + sum(r.get("warmup_s", 0.0) + r.get("outputs_s", 0.0)
                             + r.get("profile_s", 0.0) for r in results)  # fmt: skip
        peaks = [float(p) for r in results if (p := r.get("peak_rss_mb")) is not None]
        peak = max(peaks) if peaks else None
        before = first.get("rss_before_mb")
        size = model_bytes(cell.model_file)  # external data (ONNX) included
        return {
            STATUS: "ok",
            "error": None,
            "runtime_module": first["runtime_module"],
            "runtime_version": first["runtime_version"],
            "delegate_applied": first["delegate_applied"],
            "latency_p50_ms": s.p50,
            "latency_p90_ms": s.p90,
            "latency_p99_ms": s.p99,
            "latency_mean_ms": s.mean,
            "latency_std_ms": s.std,
            "latency_min_ms": s.min,
            "latency_max_ms": s.max,
            "latency_ci_low_ms": s.ci_low,
            "latency_ci_high_ms": s.ci_high,
            "throughput_ips": s.n / (samples.sum() / 1e9),
            "n_samples": s.n,
            "repetitions": len(results),
            "warmup_runs": first.get("warmup_runs"),
            "load_ms": _median(r.get("load_ms") for r in results),
            "first_inference_ms": _median(r.get("first_inference_ms") for r in results),
            "rss_before_mb": before,
            "rss_after_load_mb": first.get("rss_after_load_mb"),
            PEAK_RSS: peak,
            "runtime_code_mb": first.get("runtime_code_mb"),
            "model_memory_mb": model_memory(peak, before, first.get("runtime_code_mb")),
            "model_size_bytes": size,
            "model_size_kb": size / 1024,
            "model_sha256": self._sha(cell.model_file),
            "window_s": window,
            "warmup_s": sum(r.get("warmup_s", 0.0) for r in results),
            "overhead_s": max(wall - asked, 0.0),
            "emulated": bool(facts.get("emulated")),
            "cpus": ",".join(str(c) for c in first.get("cpus") or []) or None,
        }

    def _quality(self, cell: Cell, outputs: list[list[float]] | None) -> dict[str, Any]:
        model = self.suite.models[cell.model]
        out: dict[str, Any] = dict.fromkeys(
            (METRIC, METRIC_VALUE, ACCURACY, ACCURACY_DROP, "agreement", "max_abs_error")
        )
        if outputs is None or model.dataset is None:
            return out
        scores = np.asarray(outputs, dtype=np.float64)
        y = self._labels_for(model.dataset)[: len(scores)]
        q = metrics.score(model.metric, scores, y, model.top_k)
        classification = model.metric in metrics.CLASSIFICATION
        out.update({METRIC: q.metric, METRIC_VALUE: q.value})
        if classification:
            out[ACCURACY] = q.value
        if cell.variant != model.reference:
            self.wait_reference(cell)
        ref = self._references.setdefault((cell.target, cell.model), Reference())
        if cell.variant == model.reference and ref.outputs is None:
            ref.outputs, ref.metric_value = scores, q.value
        if ref.outputs is not None and ref.outputs.shape == scores.shape:
            agree, max_abs = metrics.agreement(scores, ref.outputs, classification)
            out.update(agreement=agree, max_abs_error=max_abs)
            if classification and ref.metric_value is not None:
                out[ACCURACY_DROP] = ref.metric_value - q.value
        return out

    def _labels_for(self, dataset: Path) -> np.ndarray:
        if dataset not in self._labels:
            with np.load(dataset, allow_pickle=False) as data:
                self._labels[dataset] = np.asarray(data["y"])
        return self._labels[dataset]

    def _sha(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = sha256_file(path)
        return self._hashes[path]

    # ------------------------------------------------------------ verdict, once

    def _finish(
        self,
        cell: Cell,
        row: dict[str, Any],
        tables: dict[str, pd.DataFrame],
        emulated: bool | None,
    ) -> CellRecord:
        """Battery life and the budgets: judged here, once, with the samples in hand."""
        row.setdefault("emulated", emulated)
        settings = self.suite.energy
        if settings is not None and row.get(STATUS) == "ok":
            row.update(energy.battery_life(settings, row))
        config = self.targets[cell.target]
        limits = self.suite.budgets_for(cell.model, cell.target, config.budgets)
        samples = tables.get("samples")
        pairs = None
        if samples is not None and len(samples):
            pairs = (samples["latency_ns"].to_numpy(), samples["repetition"].to_numpy())
        v = judge_budgets(row, limits, self.suite.gate.confidence, pairs)
        row.update(
            {
                VERDICT: v.verdict,
                "failed_budgets": "; ".join(v.failed),
                "unchecked_budgets": ", ".join(v.unchecked),
                "tightest_budget": v.tightest,
                "headroom_pct": v.headroom_pct,
            }
        )
        return CellRecord(cell.key, row, tables, v.checks)
