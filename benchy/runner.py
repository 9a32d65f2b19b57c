"""Schedules cells on targets, turns worker results into cell rows, hands them to the store.

No formatting here: progress goes out through the `Events` callbacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from benchy import gate, metrics
from benchy import power as energy
from benchy.config import Measure, Suite, TargetConfig
from benchy.errors import BenchyError, TargetError, TflmError
from benchy.farm import lanes as farm  # [farm] one target file, several boards
from benchy.matrix import Cell
from benchy.power import PowerConfig
from benchy.ppk2 import HOST_METERS, HostMeter
from benchy.runtimes.tflm import tflm_arena_bytes
from benchy.stats import summarize
from benchy.store import RunStore, sha256_file
from benchy.targets import TARGET_KINDS
from benchy.targets.base import Target

log = logging.getLogger(__name__)


class Events(Protocol):
    def cell_started(self, cell: Cell) -> None: ...
    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None: ...


class NoEvents:
    def cell_started(self, cell: Cell) -> None:
        pass

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        pass


@dataclass
class Reference:
    """The reference variant's outputs and metric on one target, for agreement and accuracy drop."""

    outputs: np.ndarray | None = None
    metric_value: float | None = None


@dataclass
class Plan:
    suite: Suite
    measure: Measure
    targets: list[TargetConfig]
    cells: list[Cell]
    target_failed: bool = False
    references: dict[tuple[str, str], Reference] = field(default_factory=dict)


def base_row(cell: Cell) -> dict[str, Any]:
    return {
        **cell.labels(),
        "threads": cell.threads,
        "model_file": cell.model_file.name,
        "status": "n/a" if not cell.applicable else "error",
        "error": cell.reason,
    }


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def _thermal(results: list[dict[str, Any]]) -> dict[str, Any]:
    """SoC temperature around the cell and whether it was throttled (Pi: vcgencmd bits)."""
    th = [r.get("thermal") or {} for r in results]
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


def _power_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    frames = []
    for i, r in enumerate(results):
        rows = energy.sample_rows(
            r.get("power"), r.get("window_ns"), r.get("idle_ns"), int(r.get("clock_offset_ns") or 0)
        )
        if len(rows):
            frames.append(
                pd.DataFrame(
                    {"repetition": i, "t_s": rows[:, 0], "watts": rows[:, 1],
                     "phase": np.array(["other", "idle", "active"])[rows[:, 2].astype(int)],
                     "interval_s": rows[:, 3]}
                )
            )  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _tflm_arena(cell: Cell) -> dict[str, Any]:
    """The RAM an MCU would need for this model, from TFLite Micro on the host."""
    if cell.runtime != "tflite":
        return {}
    try:
        return {"tflm_arena_bytes": tflm_arena_bytes(cell.model_file), "memory_source": "host TFLM"}
    except TflmError as exc:
        return {"tflm_arena_note": str(exc)}


def _failure_row(cell: Cell, result: dict[str, Any]) -> dict[str, Any]:
    row = {**base_row(cell), "status": result.get("status", "error"), "error": result.get("error")}
    row.update(result.get("extra") or {})  # [farm] where it failed: place, board
    tail = (result.get("log_tail") or "").strip()
    last = tail.splitlines()[-1][:300] if tail else ""
    if last and row["status"] == "crashed" and last not in (row["error"] or ""):
        row["error"] = f"{row['error']}; last log line: {last}"
    return row


def _model_memory(peak: float | None, before: float | None, code: float | None) -> float | None:
    """Peak RSS growth of the cell's process, less the runtime's shared-library pages it faulted
    back in after fork (those are code, shared with every process using the runtime)."""
    if peak is None or before is None:
        return None
    return peak - before - (code or 0.0)


Job = tuple["Runner", Cell]
"""One cell of one side: a run has one side; `benchy ab` has a baseline and a candidate."""


class Runner:
    """Runs a plan: targets at the same time (one thread each), cells on one target one after
    another, each cell's repetitions interleaved with the other cells' so drift hits all alike.

    `partners` are other sides measured in the same job (`benchy ab`): each has its own plan and
    store, and every cell of theirs runs right after the matching cell of this one."""

    def __init__(
        self,
        plan: Plan,
        store: RunStore,
        events: Events | None = None,
        partners: list[Runner] | None = None,
    ) -> None:
        self.plan, self.store = plan, store
        self.events = events or NoEvents()
        self._labels: dict[str, np.ndarray] = {}
        self._hashes: dict[Path, str] = {}
        self._stop = threading.Event()
        self._meters: dict[str, HostMeter] = {}
        self._meter_errors: dict[str, str] = {}
        self._emulated: dict[str, bool] = {}
        self._live: list[Target] = []
        self._lock = threading.Lock()
        self._refs = farm.References()  # [farm] reference cells other boards still owe
        self._lane = threading.local()  # [farm] .id: which lane (board) this thread runs
        self._facts: dict[str, dict[str, Any]] = {}  # [farm] per target, every board's
        self.sides = [self, *(partners or [])]
        for side in self.sides[1:]:  # targets, meters and Ctrl-C are shared by all sides
            side.events, side._stop, side._meters = self.events, self._stop, self._meters
            side._meter_errors, side._emulated = self._meter_errors, self._emulated
            side._live, side._lock = self._live, self._lock
            side._refs, side._lane, side._facts = self._refs, self._lane, self._facts

    def run(self) -> list[dict[str, Any]]:
        # [farm] A lane is one device: a target, or one board of a farm target (count = N).
        lanes = [lane for t in self.plan.targets for lane in farm.split(t, self._jobs(t.name))]
        for i, (_, jobs) in enumerate(lanes):
            for side, cell in jobs:
                if cell.applicable and cell.variant == side.plan.suite.models[cell.model].reference:
                    self._refs.expect(side._ref_group(cell), cell, i)
        threads = [
            threading.Thread(
                target=self._guarded, args=(i, t, jobs), name=f"target-{t.name}-{i}", daemon=True
            )
            for i, (t, jobs) in enumerate(lanes)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # short joins keep Ctrl-C deliverable to this thread
        except KeyboardInterrupt:
            self.stop()
            for t in threads:
                t.join(10)
            raise
        return self.store.rows

    def stop(self) -> None:
        """Abandon the cells in flight (their workers are killed) and start no new ones."""
        self._stop.set()
        with self._lock:
            live = list(self._live)
        for target in live:
            target.close()

    def _jobs(self, target: str) -> list[Job]:
        """This target's cells, each partner's matching cell right after this side's."""
        partners = [
            {c.key: c for c in side.plan.cells if c.target == target} for side in self.sides[1:]
        ]
        jobs: list[Job] = []
        for cell in (c for c in self.plan.cells if c.target == target):
            jobs.append((self, cell))
            for side, cells in zip(self.sides[1:], partners, strict=True):
                if cell.key in cells:
                    jobs.append((side, cells.pop(cell.key)))
        for side, cells in zip(self.sides[1:], partners, strict=True):
            jobs += [(side, c) for c in cells.values()]  # cells only a partner has
        return jobs

    def _guarded(self, lane: int, config: TargetConfig, jobs: list[Job]) -> None:
        self._lane.id = lane
        try:
            self._run_target(config, jobs)
        except Exception:  # a bug must not hang the run: log it and let other targets go on
            log.exception("target %s: unexpected failure", config.name)
            self._target_failed()
        finally:
            self._refs.lane_over(lane)  # [farm] no cell waits for what this lane will not run

    def _ref_group(self, cell: Cell) -> tuple[int, str, str]:
        """[farm] Whose reference a cell compares with: this side's, on its target, its model."""
        return (id(self), cell.target, cell.model)

    def _target_failed(self) -> None:
        for side in self.sides:
            side.plan.target_failed = True

    def _open(
        self, config: TargetConfig, jobs: list[Job]
    ) -> tuple[Target, dict[str, Any], dict[Path, str]]:
        target: Target = TARGET_KINDS[config.kind](config.name, config.options)
        with self._lock:
            self._live.append(target)
        try:
            target.open()
            facts = target.facts()
            with self._lock:  # [farm] the boards of one target add up to its facts
                facts = farm.merge_facts(self._facts.get(config.name), facts)
                self._facts[config.name] = facts
                for side in self.sides:
                    side.store.set_facts(config.name, facts)
            files = {c.model_file for _, c in jobs}
            for side in self.sides:
                files |= side._datasets()
            paths = target.prepare(sorted(files))
            self._open_meter(target)
        except BaseException:
            target.close()
            raise
        return target, facts, paths

    def _open_meter(self, target: Target) -> None:
        """A host-side power meter (PPK2) for this target, if its [power] names one."""
        power: PowerConfig | None = getattr(target.options, "power", None)
        if power is None or power.on_device:
            return
        try:
            self._meters[target.name] = HOST_METERS[power.source](power)
        except TargetError as exc:
            log.warning("%s: power meter unavailable: %s", target.name, exc)
            self._meter_errors[target.name] = str(exc)

    def _run_target(self, config: TargetConfig, jobs: list[Job]) -> None:
        try:
            target, facts, paths = self._open(config, jobs)
        except BenchyError as exc:
            if self._stop.is_set():
                return
            self._target_failed()
            log.error("target %s failed: %s", config.name, exc)
            for side, cell in jobs:
                failed = {**base_row(cell), "error": f"target failed: {exc}"}
                side._record(cell, failed if cell.applicable else base_row(cell), config)
            return
        # Every row of an emulated device says so, whatever became of the cell.
        self._emulated[config.name] = bool(facts.get("emulated"))
        for side, cell in jobs:
            if not cell.applicable:
                side._record(cell, base_row(cell), config)
        try:
            runnable = [(side, cell) for side, cell in jobs if cell.applicable]
            self._rounds(target, config, runnable, paths, facts)
        finally:
            target.close()
            meter = self._meters.pop(config.name, None)
            if meter is not None:
                meter.close()

    def _rounds(
        self,
        target: Target,
        config: TargetConfig,
        jobs: list[Job],
        paths: dict[Path, str],
        facts: dict[str, Any],
    ) -> None:
        reps = self.plan.measure.repetitions
        results: dict[Job, list[dict[str, Any]]] = {j: [] for j in jobs}
        wall: dict[Job, float] = dict.fromkeys(jobs, 0.0)
        open_jobs = list(jobs)
        for rep in range(reps):
            for job in list(open_jobs):
                side, cell = job
                if self._stop.is_set():
                    return
                self.events.cell_started(cell)
                t0 = time.perf_counter()
                result, lost = side._run_once(target, cell, paths, rep)
                wall[job] += time.perf_counter() - t0
                if self._stop.is_set():
                    return  # the worker was killed under this cell: it did not finish
                if result.get("status") != "ok":
                    open_jobs.remove(job)
                    side._record(cell, _failure_row(cell, result), config)
                if lost is not None and not self._reconnect(target, config, open_jobs):
                    return
                if result.get("status") != "ok":
                    continue
                results[job].append(result)
                if rep == reps - 1:
                    open_jobs.remove(job)
                    row = side._fill(base_row(cell), cell, results.pop(job), wall[job], facts)
                    side._record(cell, row, config)

    def _run_once(
        self, target: Target, cell: Cell, paths: dict[Path, str], rep: int
    ) -> tuple[dict[str, Any], TargetError | None]:
        """The cell's result, and the error if the target itself failed under it."""
        power: PowerConfig | None = getattr(target.options, "power", None)
        payload = self._payload(cell, paths, rep, power)
        meter = self._meters.get(target.name)
        try:
            if meter is None:
                result = target.run_cell(payload, self.plan.measure.timeout_s)
                if target.name in self._meter_errors:
                    result["power"] = {"error": self._meter_errors[target.name]}
                return result, None
            with meter.measuring() as samples:
                result = target.run_cell(payload, self.plan.measure.timeout_s)
            result["power"] = samples.result()
            # Map the device's clock onto the meter's (the same clock on the local target).
            if not target.shares_host_clock and result.get("clock_ns") is not None:
                result["clock_offset_ns"] = samples.received_ns - int(result["clock_ns"])
            return result, None
        except TargetError as exc:
            return {"status": "error", "error": str(exc)}, exc

    def _reconnect(self, target: Target, config: TargetConfig, remaining: list[Job]) -> bool:
        """After a lost worker or connection, try once to get the target back. If that fails,
        the remaining cells are recorded with the reason and the target is given up."""
        try:
            target.open()
            return True
        except BenchyError as exc:
            if self._stop.is_set():
                return False
            self._target_failed()
            log.error("target %s lost: %s", config.name, exc)
            for side, cell in remaining:
                side._record(cell, {**base_row(cell), "error": f"target lost: {exc}"}, config)
            return False

    def _datasets(self) -> set[Path]:
        return {m.dataset for m in self.plan.suite.models.values() if m.dataset is not None}

    def _payload(
        self, cell: Cell, paths: dict[Path, str], repetition: int, power: PowerConfig | None
    ) -> dict[str, Any]:
        model = self.plan.suite.models[cell.model]
        spec = model.input
        if spec.kind == "dataset" and model.dataset is not None:
            inputs: dict[str, Any] = {"kind": "dataset", "path": paths[model.dataset], "key": "x"}
            if model.dataset_limit:
                inputs["limit"] = model.dataset_limit
        else:
            inputs = {"kind": "random", "low": spec.low, "high": spec.high, "seed": spec.seed}
            if spec.shape:
                inputs["shape"] = list(spec.shape)
        return {
            "runtime": cell.runtime,
            "model_path": paths[cell.model_file],
            "delegate": cell.delegate.payload,
            "threads": cell.threads,
            "inputs": inputs,
            "measure": self.plan.measure.payload(),
            "timeout_s": self.plan.measure.timeout_s,
            # Outputs are collected once (first repetition): they do not change between processes.
            "collect_outputs": model.dataset is not None and repetition == 0,
            **({"power": power.payload()} if power is not None else {}),
        }

    def _fill(
        self,
        row: dict[str, Any],
        cell: Cell,
        results: list[dict[str, Any]],
        wall: float,
        facts: dict[str, Any],
    ) -> dict[str, Any]:
        first = results[0]
        samples = np.concatenate([np.asarray(r["samples_ns"], dtype=np.int64) for r in results])
        reps = np.concatenate([np.full(len(r["samples_ns"]), i) for i, r in enumerate(results)])
        s = summarize(samples / 1e6)
        window = sum(r["window_s"] for r in results)
        # What the harness costs beyond the work the suite asked for (warmup, timed loop, outputs).
        asked = window + sum(r.get("warmup_s", 0.0) + r.get("outputs_s", 0.0) for r in results)
        peaks = [r["peak_rss_mb"] for r in results if r.get("peak_rss_mb") is not None]
        peak = max(peaks) if peaks else None
        before = first.get("rss_before_mb")
        size = cell.model_file.stat().st_size
        row.update(
            status="ok",
            error=None,
            runtime_module=first["runtime_module"],
            runtime_version=first["runtime_version"],
            delegate_applied=first["delegate_applied"],
            latency_p50_ms=s.p50,
            latency_p90_ms=s.p90,
            latency_p99_ms=s.p99,
            latency_mean_ms=s.mean,
            latency_std_ms=s.std,
            latency_min_ms=s.min,
            latency_max_ms=s.max,
            latency_ci_low_ms=s.ci_low,
            latency_ci_high_ms=s.ci_high,
            throughput_ips=s.n / (samples.sum() / 1e9),
            n_samples=s.n,
            repetitions=len(results),
            warmup_runs=first.get("warmup_runs"),
            load_ms=_median(r.get("load_ms") for r in results),
            first_inference_ms=_median(r.get("first_inference_ms") for r in results),
            rss_before_mb=before,
            rss_after_load_mb=first.get("rss_after_load_mb"),
            peak_rss_mb=peak,
            runtime_code_mb=first.get("runtime_code_mb"),
            model_memory_mb=_model_memory(peak, before, first.get("runtime_code_mb")),
            model_size_bytes=size,
            model_size_kb=size / 1024,
            model_sha256=self._sha(cell.model_file),
            window_s=window,
            warmup_s=sum(r.get("warmup_s", 0.0) for r in results),
            overhead_s=max(wall - asked, 0.0),
            emulated=bool(facts.get("emulated")),
            cpus=",".join(str(c) for c in first["cpus"]) if first.get("cpus") else None,
        )
        row.update(_thermal(results))
        row.update(self._energy(results, getattr(self._config(cell).options, "power", None)))
        # Target-specific figures (e.g. an MCU's arena size) arrive as "extra" columns.
        row.update(first.get("extra") or {})
        if self.plan.suite.tflm_arena and "tflm_arena_bytes" not in row:
            row.update(_tflm_arena(cell))
        if row.get("tflm_arena_bytes") is not None:
            row["tflm_arena_kb"] = row["tflm_arena_bytes"] / 1024
        self._quality(row, cell, first.get("outputs"))
        row["_tables"] = {
            "samples": pd.DataFrame(
                {"repetition": reps, "index": np.arange(len(samples)), "latency_ns": samples,
                 "latency_ms": samples / 1e6}
            ),
            "power": _power_table(results),
        }  # fmt: skip
        return row

    def _config(self, cell: Cell) -> TargetConfig:
        return next(t for t in self.plan.targets if t.name == cell.target)

    def _energy(self, results: list[dict[str, Any]], power: PowerConfig | None) -> dict[str, Any]:
        if power is None:
            return energy.unavailable("no [power] source in the target file")
        reps = [
            energy.energy_columns(
                r.get("power"), r.get("window_ns"), r.get("idle_ns"), len(r["samples_ns"]),
                int(r.get("clock_offset_ns") or 0),
            )
            for r in results
        ]  # fmt: skip
        return energy.combine(reps)

    def _sha(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = sha256_file(path)
        return self._hashes[path]

    def _quality(self, row: dict[str, Any], cell: Cell, outputs: list[list[float]] | None) -> None:
        model = self.plan.suite.models[cell.model]
        row.update(
            metric=None,
            metric_value=None,
            accuracy=None,
            accuracy_drop=None,
            agreement=None,
            max_abs_error=None,
        )
        if outputs is None or model.dataset is None:
            return
        out = np.asarray(outputs, dtype=np.float64)
        y = self._labels_for(model.dataset)[: len(out)]
        q = metrics.score(model.metric, out, y, model.top_k)
        classification = model.metric in metrics.CLASSIFICATION
        row.update(metric=q.metric, metric_value=q.value)
        if classification:
            row["accuracy"] = q.value
        ref_key = (cell.target, cell.model)
        ref = self.plan.references.setdefault(ref_key, Reference())
        if cell.variant != model.reference:  # [farm] its reference may run on another board
            ready = lambda: ref.outputs is not None  # noqa: E731
            self._refs.wait(self._ref_group(cell), self._lane.id, ready, self._stop)
        if cell.variant == model.reference and ref.outputs is None:
            ref.outputs, ref.metric_value = out, q.value
        if ref.outputs is not None and ref.outputs.shape == out.shape:
            agree, max_abs = metrics.agreement(out, ref.outputs, classification)
            row.update(agreement=agree, max_abs_error=max_abs)
            if classification and ref.metric_value is not None:
                row["accuracy_drop"] = ref.metric_value - q.value

    def _labels_for(self, dataset: Path) -> np.ndarray:
        key = str(dataset)
        if key not in self._labels:
            with np.load(dataset, allow_pickle=False) as data:
                self._labels[key] = np.asarray(data["y"])
        return self._labels[key]

    def _record(self, cell: Cell, row: dict[str, Any], config: TargetConfig) -> None:
        row.setdefault("emulated", self._emulated.get(cell.target))
        settings = self.plan.suite.energy
        if settings is not None and row.get("status") == "ok":
            row.update(energy.battery_life(settings, row))
        budgets = self.plan.suite.budgets_for(cell.model, cell.target, config.budgets)
        v = gate.judge(row, budgets, self.plan.suite.gate.confidence)
        row.update(
            verdict=v.verdict,
            failed_budgets="; ".join(v.failed),
            unchecked_budgets=", ".join(v.unchecked),
            tightest_budget=v.tightest,
            headroom_pct=v.headroom_pct,
        )
        tables = row.pop("_tables", {})
        self.store.add(row, tables)
        self._refs.done(self._ref_group(cell), cell)  # [farm]
        self.events.cell_finished(cell, row)
