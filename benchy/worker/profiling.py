"""Where the time goes (issue 15), in the forked child: instructions counted around the timed
invokes when the worker runs under callgrind, and a per-op profiling pass after the timed loop.

Counting. The fork server runs under `valgrind --tool=callgrind --instr-atstart=no
--collect-atstart=no --toggle-collect=<the runtime's invoke function>`; a forked child stays
under Valgrind and writes its own `callgrind.<pid>` files. The child switches instrumentation on
before its first invoke, zeroes the counts right before the timed loop and dumps them right
after it (client requests, valgrind.py), so load, warmup and the accuracy pass never count. What
is counted inside the loop:
- the runtime's invoke function, exactly (`--toggle-collect`: collection is on only while
  `tflite::Subgraph::Invoke()` runs — Python, input copies and the loop itself never count);
- where the runtime has no symbols (ONNX Runtime's wheels are stripped, some tflite_runtime
  builds too), collection is toggled by client requests around each `invoke()` call from Python:
  the runtime's Python binding and a few hundred instructions of ctypes call are then included,
  the same in every run. `scope` in the result says which.
Only the invoking thread is counted (callgrind's collection state is per thread).

Profiling pass (profile_ops): ONNX Runtime's own profiler (SessionOptions.enable_profiling) on a
second session after the timed loop; LiteRT's Python API has no profiler, so TFLite rows come
from the counted loop when counting (callgrind-ir), else the host runs the pass elsewhere.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable, Dict, List, Optional

from benchy.worker import callgrind, opmap
from benchy.worker.protocol import CellRequest, CellResult, InstructionsResult, OpRow
from benchy.worker.valgrind import on_valgrind, requests

DUMP_LABEL = "benchy-timed-loop"
CALIBRATION_LABEL = "benchy-toggle-calibration"
CALIBRATION_CALLS = 20


class _Empty:
    def invoke(self) -> None:
        """The calibration's stand-in for a runner's invoke (the same call shape)."""


class Counter:
    """Instruction counting for one child; every method is a no-op cost outside the loop."""

    def __init__(self, cell: CellRequest, runner: Any) -> None:
        spec = cell["instructions"]
        if not on_valgrind():
            raise RuntimeError("instruction counting asked for; this worker is not under Valgrind")
        self.out_dir = spec["out_dir"]
        self.runner = runner
        self.requests = requests()
        function = getattr(runner, "callgrind_function", None)
        self.by_function = function is not None and function in spec["toggle_functions"]
        self.overhead = 0.0  # instructions of one toggled empty call, taken out per invoke
        self.gc_was_enabled = False
        self.scope = (
            "instructions inside %s (callgrind --toggle-collect)" % function
            if self.by_function
            else "instructions of each invoke() call from Python, less the toggling's own "
            "(callgrind client requests)"
        )
        threads = int(cell.get("threads", 1))
        if threads > 1:
            self.scope += "; invoking thread only, %d-thread pool not counted" % threads
        self.requests.start_instrumentation()

    def invoke_function(self) -> Callable[[], None]:
        """What the timed loop calls: the runtime's invoke, wrapped in toggles when needed
        (then the toggling's own instructions are measured on an empty call and taken out)."""
        invoke: Callable[[], None] = self.runner.invoke
        if self.by_function:
            return invoke
        # Python's cyclic garbage collector runs when allocations add up — inside a toggled
        # region now and then, depending on the heap the child inherited: it would be counted.
        self.gc_was_enabled = gc.isenabled()
        gc.disable()
        toggled = self._toggled(invoke)
        empty = self._toggled(_Empty().invoke)
        self.requests.zero()
        for _ in range(CALIBRATION_CALLS):
            empty()
        calibration = self._dump(CALIBRATION_LABEL)
        if calibration is not None:
            self.overhead = calibration.total / CALIBRATION_CALLS
        return toggled

    def _toggled(self, invoke: Callable[[], None]) -> Callable[[], None]:
        toggle = self.requests.toggle_function()

        def counted() -> None:
            toggle()
            invoke()
            toggle()

        return counted

    def zero(self) -> None:
        self.requests.zero()

    def _dump(self, label: str) -> Optional[callgrind.Profile]:
        self.requests.dump(label)
        return self._read(label)

    def _read(self, label: str) -> Optional[callgrind.Profile]:
        path = callgrind.find_dump(self.out_dir, os.getpid(), label)
        if path is None:
            return None
        with open(path, errors="replace") as fh:
            profile = callgrind.parse(fh.read())
        os.unlink(path)
        return profile

    def finish(self, invokes: int) -> tuple[InstructionsResult, Optional[callgrind.Profile]]:
        """Dump, read and delete the dump; the count and the profile (None when it failed).
        Instrumentation goes off first: nothing after the loop is counted, and the parsing
        runs several times faster uninstrumented."""
        self.requests.dump(DUMP_LABEL)
        self.requests.stop_instrumentation()
        if self.gc_was_enabled:
            gc.enable()
        profile = self._read(DUMP_LABEL)
        if profile is None:
            err = "callgrind wrote no dump in %s" % self.out_dir
            return {"error": err, "invokes": invokes, "scope": self.scope}, None
        profile.total -= round(self.overhead * invokes)
        if profile.total <= 0:
            err = "callgrind counted nothing (%s)" % self.scope
            return {"error": err, "invokes": invokes, "scope": self.scope}, None
        result: InstructionsResult = {
            "total": profile.total,
            "invokes": invokes,
            "scope": self.scope,
            "error": None,
        }
        return result, profile


def counter_for(cell: CellRequest, runner: Any) -> Optional[Counter]:
    return Counter(cell, runner) if cell.get("instructions") else None


def counted_ops(
    cell: CellRequest, profile: Optional[callgrind.Profile], invokes: int
) -> CellResult:
    """Per-op rows from the counted loop: callgrind names TFLite's kernels; other runtimes'
    profilers would time Valgrind here, so the host profiles them in the plain worker."""
    if cell["runtime"] != "tflite":
        return {"ops_source": "unavailable: under Valgrind a profiler times Valgrind"}
    if profile is None:
        return {"ops_source": "unavailable: the instruction count failed"}
    rows: Any = opmap.tflite_rows(profile, invokes)
    return {"ops": rows, "ops_source": opmap.SOURCE}


def warm_translations() -> None:
    """In the fork server under Valgrind, before serving: make numpy's random and casting
    paths run once. Valgrind translates code on its first execution and forked children
    inherit the server's translations, so each cell's child does not pay for them again
    (~0.5 s per cell otherwise). Nothing here is counted: collection is off."""
    import numpy as np

    from benchy.worker.runtimes.base import Tensor
    from benchy.worker.runtimes.tensors import to_tensor

    x = np.random.default_rng(0).uniform(0.0, 1.0, size=(1, 8, 4))
    for dtype in ("float32", "int8", "uint8"):
        to_tensor(x, Tensor("x", 0, [1, 8, 4], dtype, 0.5, 1))


# ---------------------------------------------------------------- ONNX Runtime's profiler

ORT_SOURCE = "ort-profiler"
PROFILE_RUNS = 100
PROFILE_SECONDS = 0.25
"""The profiling pass: at most this many invokes and about this long (plus one cold run)."""


def ort_rows(events: List[Dict[str, Any]]) -> List[OpRow]:
    """Node events of an ORT trace → one row per node, averaged over the runs after the first
    (the first is cold: allocations, first touches). Times are the trace's µs per kernel."""
    runs: List[List[Dict[str, Any]]] = [[]]
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            runs[-1].append(e)
        elif e.get("cat") == "Session" and e.get("name") == "model_run":
            runs.append([])
    done = [r for r in runs if r][1:] or [r for r in runs if r]
    if not done:
        return []
    nodes: Dict[str, OpRow] = {}
    order: Dict[str, int] = {}
    for run in done:
        for e in run:
            name = str(e["name"])[: -len("_kernel_time")]
            args = e.get("args") or {}
            row = nodes.setdefault(name, {
                "op_name": name, "op_type": str(args.get("op_name", "?")),
                "provider": args.get("provider"), "calls": 0.0, "mean_us": 0.0,
                "instructions": None, "source": ORT_SOURCE,
            })  # fmt: skip
            row["calls"] = float(row["calls"] or 0) + 1
            row["mean_us"] = float(row["mean_us"] or 0) + float(e.get("dur", 0))
            index = str(args.get("node_index"))
            order.setdefault(name, int(index) if index.isdigit() else len(order))
    for name, row in nodes.items():
        row["calls"] = float(row["calls"] or 0) / len(done)
        row["mean_us"] = float(row["mean_us"] or 0) / len(done)
        row["op_index"] = order[name]
    return sorted(nodes.values(), key=lambda r: r["op_index"])


def profile_pass(
    invoke: Callable[[], None], set_inputs: Callable[[Any], None], sets: List[Any]
) -> int:
    """One cold invoke, then up to PROFILE_RUNS more for about PROFILE_SECONDS; the count."""
    n, until = 0, time.perf_counter() + PROFILE_SECONDS
    while n < PROFILE_RUNS + 1 and (n < 3 or time.perf_counter() < until):
        set_inputs(sets[n % len(sets)])
        invoke()
        n += 1
    return n
