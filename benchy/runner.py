"""Schedules cells on targets and hands each finished cell to its side's store.

A job has one side (`benchy run`) or two (`benchy ab`: baseline and candidate, each cell of the
candidate right after the matching cell of the baseline). Targets run at the same time, one
thread each; on one target cells run one after another, each cell's repetitions interleaved
with the other cells' (round k measures repetition k of every cell), so drift hits all alike.

No formatting and no figures here: rows are assembled in rows.py, progress goes out through the
`Events` callbacks.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from benchy.adaptive import NoLooks, Stopping
from benchy.cellrequest import cell_request
from benchy.config import Measure, Suite, TargetConfig
from benchy.errors import BenchyError, TargetError
from benchy.farm import lanes as farm
from benchy.judge.budgets import Check
from benchy.matrix import Cell
from benchy.power.config import PowerConfig
from benchy.power.ppk2 import HOST_METERS, HostMeter
from benchy.results.resume import Carried, Partial
from benchy.results.schema import CellKey
from benchy.results.store import ResultsUnwritable, RunStore
from benchy.rows import CellRecord, RowBuilder
from benchy.targets import TARGET_KINDS
from benchy.targets.base import Target
from benchy.worker.protocol import CellResult, PairedResult

log = logging.getLogger(__name__)


class Events(Protocol):
    def cell_started(self, cell: Cell) -> None:
        """A repetition of the cell is about to run."""

    def repetition_finished(self, cell: Cell) -> None:
        """A repetition of the cell ran (the cell is not finished until all have)."""

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        """The cell's row is stored."""


class NoEvents:
    def cell_started(self, cell: Cell) -> None:
        pass

    def repetition_finished(self, cell: Cell) -> None:
        pass

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        pass


@dataclass(frozen=True)
class Plan:
    """What one side measures: a suite's cells on its targets, with these settings."""

    suite: Suite
    measure: Measure
    targets: tuple[TargetConfig, ...]
    cells: tuple[Cell, ...]


@dataclass(eq=False)  # a side is itself: hashed by identity
class Side:
    """One suite measured in a job: its plan, its store, and what became of it."""

    plan: Plan
    store: RunStore
    carried: Carried | None = None
    """What an interrupted run already had, when this one completes it (`--resume`)."""
    rows: RowBuilder = field(init=False)
    target_failed: bool = False
    checks: dict[CellKey, list[Check]] = field(default_factory=dict)
    partial: dict[CellKey, Partial] = field(default_factory=dict)
    """Unfinished cells' repetitions so far: saved on interrupt, for `--resume`."""

    def __post_init__(self) -> None:
        self.rows = RowBuilder(self.plan.suite, self.plan.targets)
        if self.carried is not None:
            self.partial = dict(self.carried.partial)
            self.rows.references_from(self.carried.references)

    def done(self, cell: Cell) -> bool:
        """Recorded by the interrupted run this one completes."""
        return self.carried is not None and cell.key in self.carried.done

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.store.rows


Job = tuple[Side, Cell]
"""One cell of one side."""


def _ref_group(side: Side, cell: Cell) -> tuple[int, str, str]:
    """Whose reference a cell compares with: this side's, on its target, for its model."""
    return (id(side), cell.target, cell.model)


@dataclass
class _Target:
    """One target's state for the run, shared by every side measured on it."""

    config: TargetConfig
    device: Target
    facts: dict[str, Any]
    paths: dict[Path, str]
    meter: HostMeter | None = None
    meter_error: str | None = None

    @property
    def emulated(self) -> bool:
        return bool(self.facts.get("emulated"))


class Runner:
    """Runs the sides of one job on their targets (the first side's target list decides)."""

    def __init__(self, sides: list[Side], events: Events | None = None) -> None:
        self.sides = sides
        self.events = events or NoEvents()
        self._stop = threading.Event()
        self._live: list[Target] = []
        self._lock = threading.Lock()
        self._recorded: set[tuple[int, CellKey]] = set()
        self._refs = farm.References()  # reference cells other boards (lanes) still owe
        self._lane = threading.local()  # .id: the lane (board) this thread runs
        self._facts: dict[str, dict[str, Any]] = {}  # per target, every board's facts
        self.target_failed = False
        self.store_error: ResultsUnwritable | None = None
        """Set when the results folder stopped taking writes; the run was stopped."""
        self.paired_latency = False
        """`benchy ab`: time each round's two models in turn in one process too (_run_paired)."""
        self.stopping: Stopping = NoLooks()
        """When cells are settled: after the planned rounds, or later (benchy/adaptive.py)."""

    def run(self) -> None:
        # A lane is one device: a target, or one board of a farm target (labgrid, count = N).
        lanes = [
            lane for t in self.sides[0].plan.targets for lane in farm.split(t, self._jobs(t.name))
        ]
        for i, (_, jobs) in enumerate(lanes):
            for side, cell in jobs:
                if cell.applicable and cell.variant == side.plan.suite.models[cell.model].reference:
                    self._refs.expect(_ref_group(side, cell), cell, i)
        for side in self.sides:
            side.rows.wait_reference = partial(self._wait_reference, side)
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

    def stop(self) -> None:
        """Abandon the cells in flight (their workers are killed) and start no new ones."""
        self._stop.set()
        with self._lock:
            live = list(self._live)
        for target in live:
            target.close()

    def _jobs(self, target: str) -> list[Job]:
        """This target's cells still to record, each partner's matching cell right after the
        first side's."""
        first, *others = self.sides
        partners = [
            {c.key: c for c in s.plan.cells if c.target == target and not s.done(c)} for s in others
        ]
        jobs: list[Job] = []
        for cell in (c for c in first.plan.cells if c.target == target and not first.done(c)):
            jobs.append((first, cell))
            for side, cells in zip(others, partners, strict=True):
                if cell.key in cells:
                    jobs.append((side, cells.pop(cell.key)))
        for side, cells in zip(others, partners, strict=True):
            jobs += [(side, c) for c in cells.values()]  # cells only a partner has
        return jobs

    def _wait_reference(self, side: Side, cell: Cell) -> None:
        """A cell's reference variant may run on another board: wait until it is in (or no
        other board will run it)."""
        ready = partial(side.rows.has_reference, cell.target, cell.model)
        self._refs.wait(_ref_group(side, cell), self._lane.id, ready, self._stop)

    def _guarded(self, lane: int, config: TargetConfig, jobs: list[Job]) -> None:
        self._lane.id = lane
        try:
            self._run_target(config, jobs)
        except Exception as exc:  # a bug must not hang the run or lose its cells
            log.error("target %s: unexpected failure: %s: %s", config.name, type(exc).__name__,
                      exc, exc_info=log.isEnabledFor(logging.DEBUG))  # fmt: skip
            self._failed()
            why = f"internal error on this target: {type(exc).__name__}: {exc}"
            for side, cell in jobs:
                if (id(side), cell.key) not in self._recorded and not self._stop.is_set():
                    self._record(side, cell, side.rows.not_run(cell, why))
        finally:
            self._refs.lane_over(lane)  # no cell waits for what this lane will not run

    def _failed(self) -> None:
        self.target_failed = True
        for side in self.sides:
            side.target_failed = True

    def _record(self, side: Side, cell: Cell, record: CellRecord) -> None:
        self._recorded.add((id(side), record.key))
        self._refs.done(_ref_group(side, cell), cell)
        side.checks[record.key] = record.checks
        try:
            side.store.add(record.row, record.tables)
        except ResultsUnwritable as exc:
            with self._lock:
                first = self.store_error is None
                self.store_error = self.store_error or exc
            if first:
                log.error("results folder: %s; stopping the run", exc)
                self.stop()
            return
        self.events.cell_finished(cell, record.row)

    def _open(self, config: TargetConfig, jobs: list[Job]) -> _Target:
        device: Target = TARGET_KINDS[config.kind](config.name, config.options)
        with self._lock:
            self._live.append(device)
        try:
            device.open()
            facts = device.facts()
            with self._lock:  # the boards of one target add up to its facts
                facts = farm.merge_facts(self._facts.get(config.name), facts)
                self._facts[config.name] = facts
                for side in self.sides:
                    side.store.set_facts(config.name, facts)
            files = {c.model_file for _, c in jobs}
            for side in self.sides:
                files |= {m.dataset for m in side.plan.suite.models.values() if m.dataset}
            target = _Target(config, device, facts, device.prepare(sorted(files)))
            self._open_meter(target)
        except BaseException:
            device.close()
            raise
        return target

    def _open_meter(self, target: _Target) -> None:
        """A host-side power meter (PPK2) for this target, if its [power] names one."""
        power: PowerConfig | None = getattr(target.config.options, "power", None)
        if power is None or power.on_device:
            return
        try:
            target.meter = HOST_METERS[power.source](power)
        except TargetError as exc:
            log.warning("%s: power meter unavailable: %s", target.config.name, exc)
            target.meter_error = str(exc)

    def _run_target(self, config: TargetConfig, jobs: list[Job]) -> None:
        try:
            target = self._open(config, jobs)
        except BenchyError as exc:
            if self._stop.is_set():
                return
            self._failed()
            log.error("target %s failed: %s", config.name, exc)
            for side, cell in jobs:
                self._record(side, cell, side.rows.not_run(cell, f"target failed: {exc}"))
            return
        # Every row of an emulated device says so, whatever became of the cell.
        for side, cell in jobs:
            if not cell.applicable:
                self._record(side, cell, side.rows.not_run(cell, emulated=target.emulated))
        try:
            self._rounds(target, [(side, cell) for side, cell in jobs if cell.applicable])
        finally:
            target.device.close()
            if target.meter is not None:
                target.meter.close()

    def _rounds(self, target: _Target, jobs: list[Job]) -> None:
        reps = self.sides[0].plan.measure.repetitions
        open_jobs = list(jobs)
        wall: dict[Job, float] = {}  # per job, settled ones too: the adaptive time budget
        for rep in itertools.count():  # adaptive repetitions: undecided cells go on (adaptive.py)
            if not open_jobs:
                return
            for job in list(open_jobs):
                side, cell = job
                part = side.partial.setdefault(cell.key, Partial())
                if len(part.results) > rep:
                    continue  # measured before the interrupt this run resumes from
                if self._stop.is_set():
                    return
                self.events.cell_started(cell)
                t0 = time.perf_counter()
                result, lost = self._run_once(target, side, cell, rep)
                if lost is None and result.get("status") == "ok" and self._pairs(target, side):
                    result["paired"], lost = self._run_paired(target, side, cell, rep)
                if self._stop.is_set():
                    return  # the worker was killed under this cell: it did not finish
                part.wall_s += time.perf_counter() - t0
                if result.get("status") != "ok":
                    open_jobs.remove(job)
                    side.partial.pop(cell.key, None)
                    self._record(side, cell, side.rows.failed(cell, result, target.emulated))
                if lost is not None and not self._reconnect(target, open_jobs):
                    return
                if result.get("status") != "ok":
                    continue
                part.results.append(result)
                wall[job] = part.wall_s
                self.events.repetition_finished(cell)
                if len(part.results) == reps and not self.stopping.active:
                    open_jobs.remove(job)
                    del side.partial[cell.key]
                    self._record(side, cell, self._assemble(side, cell, part.results,
                                                            part.wall_s, target))  # fmt: skip
            so_far = {j: j[0].partial[j[1].key].results for j in open_jobs}
            for job in self.stopping.settled(target.config.name, rep, so_far, wall, open_jobs):
                open_jobs.remove(job)
                side, cell = job
                part = side.partial.pop(cell.key)
                self._record(side, cell, self._assemble(side, cell, part.results,
                                                        part.wall_s, target))  # fmt: skip

    def _assemble(
        self, side: Side, cell: Cell, results: list[CellResult], wall: float, target: _Target
    ) -> CellRecord:
        """The measured cell's record; a fault in assembling it (say, outputs the metric cannot
        score) costs that cell alone, recorded as an error with the reason."""
        try:
            return side.rows.measured(cell, results, wall, target.facts)
        except Exception as exc:
            log.debug("%s: assembling the row failed", cell.key.title(), exc_info=True)
            why = f"results could not be assembled: {type(exc).__name__}: {exc}"
            return side.rows.failed(cell, {"status": "error", "error": why}, target.emulated)

    def _run_once(
        self, target: _Target, side: Side, cell: Cell, rep: int
    ) -> tuple[CellResult, TargetError | None]:
        """The cell's result, and the error if the target itself failed under it."""
        device, plan = target.device, side.plan
        power: PowerConfig | None = getattr(device.options, "power", None)
        model = plan.suite.models[cell.model]
        request = cell_request(cell, model, plan.measure, target.paths, rep, power)
        timeout = plan.measure.timeout_s
        try:
            if target.meter is None:
                result = device.run_cell(request, timeout)
                if target.meter_error is not None:
                    result["power"] = {"error": target.meter_error}  # type: ignore[typeddict-item]
                return result, None
            with target.meter.measuring() as samples:
                result = device.run_cell(request, timeout)
            result["power"] = samples.result()  # type: ignore[typeddict-item]
            # Map the device's clock onto the meter's (the same clock on the local target).
            if not device.shares_host_clock and result.get("clock_ns") is not None:
                result["clock_offset_ns"] = samples.received_ns - int(result["clock_ns"])
            return result, None
        except TargetError as exc:
            return {"status": "error", "error": str(exc)}, exc

    def _pairs(self, target: _Target, side: Side) -> bool:
        """`benchy ab` (`paired_latency`): the candidate's rounds are also timed in one process
        with the baseline's, on targets whose worker can (worker/pair.py)."""
        return (
            self.paired_latency
            and side is self.sides[-1]
            and len(self.sides) == 2
            and target.device.pairs_in_process()
            and side.plan.measure.mode == "time"
        )

    def _run_paired(
        self, target: _Target, side: Side, cell: Cell, rep: int
    ) -> tuple[PairedResult, TargetError | None]:
        """Round `rep` of the cell's two models timed in turn in one worker process, right after
        each ran in its own; why not, when it could not be."""
        base = self.sides[0]
        partner = next((c for c in base.plan.cells if c.key == cell.key), None)
        done = base.partial.get(cell.key)
        if partner is None or done is None or len(done.results) <= rep:
            return {"error": "the baseline's repetition did not run"}, None
        paths, requests = target.paths, []
        for s, c in ((side, cell), (base, partner)):
            model = s.plan.suite.models[c.model]
            request = cell_request(c, model, s.plan.measure, paths, rep, None)
            request["collect_outputs"] = False
            request.pop("profile_ops", None)
            requests.append(request)
        own, theirs = requests
        own["partner"], own["partner_first"] = theirs, rep % 2 == 0
        try:
            got = target.device.run_cell(own, 2 * side.plan.measure.timeout_s)
        except TargetError as exc:
            return {"error": str(exc)}, exc
        if got.get("status") != "ok":
            return {"error": f"{got.get('status')}: {got.get('error') or ''}"}, None
        return {"samples_ns": got["samples_ns"], "partner_ns": got["partner_ns"]}, None

    def _reconnect(self, target: _Target, remaining: list[Job]) -> bool:
        """After a lost worker or connection, try once to get the target back. If that fails,
        the remaining cells are recorded with the reason and the target is given up."""
        try:
            target.device.open()
            return True
        except BenchyError as exc:
            if self._stop.is_set():
                return False
            self._failed()
            log.error("target %s lost: %s", target.config.name, exc)
            for side, cell in remaining:
                record = side.rows.not_run(cell, f"target lost: {exc}", target.emulated)
                self._record(side, cell, record)
            return False
