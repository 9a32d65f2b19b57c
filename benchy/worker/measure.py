"""One cell, measured in the forked child: load the model, one cold invoke, warm up, then time
`invoke()` alone (inputs are set, and a streaming model's state fed back, outside the timed
region) until `stopping.enough`; memory from /proc around it; outputs over the dataset for
accuracy when asked."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable

from benchy.worker.inputs import feedback_pairs, input_sets
from benchy.worker.profiling import counted_ops, counter_for
from benchy.worker.protocol import CellRequest, CellResult, MeasureSpec
from benchy.worker.runtimes import RUNNERS, Runner
from benchy.worker.runtimes.base import index_of
from benchy.worker.stopping import enough


def _proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _mb(kb: int | None) -> float | None:
    return None if kb is None else kb / 1024.0


def _shared_object_rss_kb() -> int | None:
    """Resident KiB of mapped shared libraries (.so). After fork the child faults the runtime's
    code back in as it runs; that is not the model's memory, so it is subtracted."""
    total, counting = 0, False
    try:
        with open("/proc/self/smaps") as fh:
            for line in fh:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):  # a mapping header line
                    path = line.split()[-1] if len(line.split()) >= 6 else ""
                    counting = ".so" in path.rsplit("/", 1)[-1]
                elif counting and first == "Rss:":
                    total += int(line.split()[1])
    except OSError:
        return None
    return total


def _reset_peak_rss() -> bool:
    """Make VmHWM start from now: a forked child inherits its parent's high-water mark."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def injected_fault(cell: CellRequest, scope: str = "") -> None:
    """Test hook: BENCHY_INJECT_FAULT="segfault:PATTERN" or "hang:PATTERN" hits cells whose
    model path contains PATTERN, so tests can crash or hang a real worker child on purpose;
    "pair-segfault:PATTERN" hits only pair requests (scope "pair", worker/pair.py)."""
    spec = os.environ.get("BENCHY_INJECT_FAULT", "")
    kind, _, pattern = spec.partition(":")
    where, _, kind = kind.rpartition("-")
    if where != scope or not pattern or pattern not in cell["model_path"]:
        return
    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "hang":
        while True:
            time.sleep(1)


@dataclass
class Loaded:
    """A model loaded for timing: its input sets on the device, and for a streaming model the
    state feedback."""

    runner: Runner
    arrays: list[list[Any]]
    sets: list[Any]
    feed: Callable[[], None] | None
    output: int

    @classmethod
    def of(cls, runner: Runner, cell: CellRequest) -> Loaded:
        spec = cell["inputs"]
        arrays = input_sets(runner.inputs, spec)
        output = index_of(runner.outputs, spec.get("output"), "output")
        pairs = feedback_pairs(runner, spec)
        feed = None
        if pairs:  # streaming: each invoke takes the previous one's state, the first its own
            runner.stream(pairs)
            feed = runner.feed
        sets = runner.load(arrays)
        if feed is not None:
            runner.restart(arrays[0])
        return cls(runner, arrays, sets, feed, output)

    def invoke(self, i: int) -> None:
        """Untimed: the i-th input set, invoke, feed the state back."""
        self.runner.set_inputs(self.sets[i % len(self.sets)])
        self.runner.invoke()
        if self.feed is not None:
            self.feed()

    def first_invoke(self) -> int:
        """The cold first invoke, in ns."""
        self.runner.set_inputs(self.sets[0])
        t0 = time.perf_counter_ns()
        self.runner.invoke()
        first_ns = time.perf_counter_ns() - t0
        if self.feed is not None:
            self.feed()
        return first_ns

    def warm_up(self, m: MeasureSpec) -> int:
        """Warmup: count and time, both honoured. Returns the invokes it took."""
        clock = time.perf_counter_ns
        n, until = 0, clock() + int(float(m["warmup_seconds"]) * 1e9)
        while n < int(m["warmup_runs"]) or clock() < until:
            self.invoke(n)
            n += 1
        return n


def timed_loop(
    runner: Runner,
    sets: list[Any],
    feed: Callable[[], None] | None,
    m: MeasureSpec,
    invoke: Callable[[], None] | None = None,
) -> tuple[list[int], int, int]:
    """Time `invoke()` alone until `stopping.enough`: inputs are set before the clock starts and
    fed-back outputs copied after it stops. Returns (samples, start, window) in ns. `invoke`
    replaces the runner's (instruction mode: collection toggled around each call)."""
    min_runs, max_runs = int(m["min_runs"]), int(m["max_runs"])
    clock = time.perf_counter_ns
    start = clock()
    min_end = start + int(float(m["min_seconds"]) * 1e9)
    max_end = start + int(float(m["max_seconds"]) * 1e9)
    samples: list[int] = []
    append, set_inputs, n_sets = samples.append, runner.set_inputs, len(sets)
    invoke = invoke or runner.invoke
    i = 0
    while True:
        set_inputs(sets[i % n_sets])  # outside the timed region
        a = clock()
        invoke()
        b = clock()
        append(b - a)
        if feed is not None:
            feed()  # outside the timed region too
        i += 1
        if enough(i, b, min_runs, max_runs, min_end, max_end):
            break
    return samples, start, clock() - start


def collect_outputs(
    runner: Runner,
    arrays: list[list[Any]],
    sets: list[Any],
    feed: Callable[[], None] | None,
    output: int,
) -> list[list[float]]:
    """The scored output for each set in order; a streaming model runs them as one stream from
    its first state (the first set's own arrays)."""
    if feed is not None:
        runner.restart(arrays[0])
    outputs = []
    for handle in sets:
        runner.set_inputs(handle)
        runner.invoke()
        outputs.append([float(v) for v in runner.output(output).ravel()])
        if feed is not None:
            feed()
    return outputs


def measure(cell: CellRequest) -> CellResult:
    """Run one cell in this process and return its record (errors raise)."""
    injected_fault(cell)
    reset_ok = _reset_peak_rss()
    rss_before = _proc_status_kb("VmRSS")
    # Under Valgrind (instruction mode) the process's memory is Valgrind's: not read at all.
    counting = bool(cell.get("instructions"))
    code_before = None if counting else _shared_object_rss_kb()
    t0 = time.perf_counter_ns()
    runner = RUNNERS[cell["runtime"]](cell)
    load_ns = time.perf_counter_ns() - t0
    rss_after_load = _proc_status_kb("VmRSS")
    loaded = Loaded.of(runner, cell)
    arrays, sets, feed = loaded.arrays, loaded.sets, loaded.feed

    counter = counter_for(cell, runner)  # instruction mode (issue 15): under callgrind
    first_ns = loaded.first_invoke()

    m = cell["measure"]
    clock = time.perf_counter_ns
    warm_start = clock()
    warm_n = loaded.warm_up(m)

    idle_ns: list[int] | None = None
    power = cell.get("power")
    if power:
        # Idle power: the model loaded and warm, nothing running, while the server samples.
        a = clock()
        time.sleep(float(power.get("idle_s", 0.5)))
        idle_ns = [a, clock()]

    counted = None
    if counter is not None:
        counted = counter.invoke_function()
        counter.zero()
    samples, start, window_ns = timed_loop(runner, sets, feed, m, counted)
    warmup_ns = (idle_ns[0] if idle_ns else start) - warm_start
    extra: CellResult = {}
    if counter is not None:
        extra["instructions"], profile = counter.finish(len(samples))
        if cell.get("profile_ops"):
            extra.update(counted_ops(cell, profile, len(samples)))

    outputs = None
    outputs_start = clock()
    if cell.get("collect_outputs"):
        outputs = collect_outputs(runner, arrays, sets, feed, loaded.output)
    outputs_end = clock()

    code_after = None if counting else _shared_object_rss_kb()
    code_growth = None if code_before is None or code_after is None else code_after - code_before
    result: CellResult = {
        "status": "ok",
        "runtime_code_mb": _mb(code_growth),
        "runtime_module": runner.module,
        "runtime_version": runner.version,
        "delegate_applied": runner.applied(),
        "load_ms": load_ns / 1e6,
        "first_inference_ms": first_ns / 1e6,
        "warmup_runs": warm_n,
        "samples_ns": samples,
        "window_s": window_ns / 1e9,
        "window_ns": [start, start + window_ns],
        "idle_ns": idle_ns,
        "warmup_s": warmup_ns / 1e9,
        "outputs_s": (outputs_end - outputs_start) / 1e9,
        "rss_before_mb": _mb(rss_before),
        "rss_after_load_mb": _mb(rss_after_load),
        "peak_rss_mb": _mb(_proc_status_kb("VmHWM")) if reset_ok else None,
        "peak_rss_note": None if reset_ok else "cannot reset VmHWM (/proc/self/clear_refs)",
        "input_specs": runner.input_specs(),
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "clock_ns": clock(),  # lets a host-side power meter map this clock onto its own
        "outputs": outputs,
    }
    result.update(extra)
    if cell.get("profile_ops") and "ops_source" not in extra:
        # After the timed loop and the memory readings, never inside them.
        t0 = clock()
        result.update(runner.profile_ops(arrays))
        result["profile_s"] = (clock() - t0) / 1e9
    return result
