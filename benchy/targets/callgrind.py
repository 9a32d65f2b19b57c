"""A target's second worker, run under `valgrind --tool=callgrind` (issue 15): it serves the
cells of instruction mode, and the per-op profiling pass of TFLite cells in time mode (LiteRT's
Python API has no profiler; the native benchmark binary is used instead where the target file
names one).

It is started on first use, beside the ordinary worker, so a time-mode run never pays for
Valgrind. Callgrind writes into a private folder benchy creates on the device (mkdtemp) and
removes when the target closes. A device without Valgrind makes these cells `unavailable` with
the reason (the local target is checked before anything runs: a config error).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from benchy.errors import CellTimeout, TargetError
from benchy.profiling import benchmark_tool
from benchy.profiling.valgrind import TOGGLE_FUNCTIONS
from benchy.worker.protocol import CellRequest, CellResult, MeasureSpec, version_problem

if TYPE_CHECKING:
    from benchy.targets.channel import WorkerChannel, WorkerTarget

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # Valgrind reads the runtimes' symbol tables when they load
PROFILE_MEASURE: MeasureSpec = {
    "warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0,
    "max_seconds": 600.0, "max_runs": 5, "repetitions": 1, "timeout_s": 600.0,
}  # fmt: skip
"""The callgrind profiling pass: 1 warmup, 5 counted invokes (the counts are deterministic:
more invokes give the same figures). Most of its ~1 s is Valgrind loading the model and
translating the runtime's code."""
PLAIN_MEASURE: MeasureSpec = {**PROFILE_MEASURE, "warmup_runs": 1, "min_runs": 1,
                              "max_runs": 1, "max_seconds": 1.0}  # fmt: skip
"""A plain worker run for the profiler pass alone (its own loop is what is profiled)."""


class ValgrindUnavailable(TargetError):
    """The device has no Valgrind: its instruction cells are unavailable, not errors."""


class CallgrindWorker:
    """The target's worker under callgrind, started on first use."""

    def __init__(self, target: WorkerTarget) -> None:
        self.target = target
        self.channel: WorkerChannel | None = None
        self.out_dir: str | None = None
        self.missing: str | None = None
        self.profiles: dict[str, dict[str, Any]] = {}
        """Callgrind profiling passes by model and delegate: on one thread, instructions do
        not depend on the cell's `threads`, so cells that differ only in it share one pass."""

    def connected(self) -> WorkerChannel:
        from benchy.targets.channel import WorkerChannel

        if self.missing is not None:
            raise ValgrindUnavailable(self.missing)
        if self.channel is None:
            try:
                argv, env, self.out_dir = self.target.callgrind_setup()
            except ValgrindUnavailable as exc:
                self.missing = str(exc)
                raise
            self.channel = WorkerChannel(argv, env)
            reply = self.channel.request({"op": "ping"}, START_TIMEOUT_S)
            problem = version_problem(reply, self.target.where) if reply.get("ok") else (
                f"{self.target.where}: the worker under Valgrind failed: {reply.get('error')}"
            )  # fmt: skip
            if problem is not None:
                self.close()
                raise TargetError(problem)
        return self.channel

    def run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        """One repetition, counted; `unavailable` where the device has no Valgrind."""
        try:
            channel = self.connected()
        except ValgrindUnavailable as exc:
            return {"status": "unavailable", "error": str(exc)}
        assert self.out_dir is not None
        request = dict(self.target.adapt(cell))
        request["instructions"] = {"out_dir": self.out_dir,
                                   "toggle_functions": list(TOGGLE_FUNCTIONS)}  # fmt: skip
        request.pop("power", None)  # power under Valgrind would measure Valgrind
        try:
            reply = channel.request({"op": "cell", "cell": request}, timeout + START_TIMEOUT_S)
        except CellTimeout:
            self.close()
            raise
        except TargetError as exc:
            self.close()
            raise self.target.lost(exc) from None
        if not reply.get("ok"):
            raise TargetError(f"{self.target.where}: worker refused the cell: {reply.get('error')}")
        result: CellResult = reply["result"]
        return result

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.out_dir is not None:
            try:
                self.target.callgrind_cleanup(self.out_dir)
            except TargetError as exc:  # a board gone: nothing more to do there
                log.debug("%s: callgrind folder not removed: %s", self.target.where, exc)
            self.out_dir = None


def profile_elsewhere(target: WorkerTarget, cell: CellRequest, result: CellResult) -> CellResult:
    """A cell's per-op profile when its own worker could not give one, after its timed loop:
    TFLite from the native benchmark binary (microseconds) where the target file names one,
    else from callgrind (instructions); a runtime whose loop was counted under Valgrind (ONNX
    Runtime in instruction mode) from its own profiler in the plain worker."""
    if result.get("status") != "ok" or not str(result.get("ops_source", "")).startswith(
        "unavailable"
    ):
        return result
    t0 = time.perf_counter()
    binary: str | None = getattr(target.options, "benchmark_bin", None)
    if cell["runtime"] != "tflite":
        found = _plain_pass(target, cell, cell["timeout_s"])
    elif binary and cell["delegate"]["name"] in ("xnnpack", "none"):
        found = _tool_pass(target, cell, binary)
    else:
        found = _callgrind_pass(target, cell, result)
    result.update(found)  # type: ignore[typeddict-item]
    result["profile_s"] = time.perf_counter() - t0
    return result


def _tool_pass(target: WorkerTarget, cell: CellRequest, binary: str) -> dict[str, Any]:
    delegate = cell["delegate"]["name"]
    argv = benchmark_tool.argv(binary, cell["model_path"], cell["threads"], delegate)
    try:
        rows = benchmark_tool.parse(target.run_tool(argv, cell["timeout_s"]))
    except TargetError as exc:
        return {"ops_source": f"unavailable: {binary} failed: {exc}"}
    if not rows:
        return {"ops_source": f"unavailable: {binary} printed no op profile"}
    return {"ops": rows, "ops_source": benchmark_tool.SOURCE}


def _plain_pass(target: WorkerTarget, cell: CellRequest, timeout: float) -> dict[str, Any]:
    request: CellRequest = {**cell, "measure": PLAIN_MEASURE, "collect_outputs": False,
                            "profile_ops": True}  # fmt: skip
    request.pop("instructions", None)
    result = target._run_cell(request, timeout)
    if result.get("status") != "ok":
        return {"ops_source": f"unavailable: the profiling pass failed: {result.get('error')}"}
    return {k: v for k, v in result.items() if k in ("ops", "ops_source")}


def _callgrind_pass(target: WorkerTarget, cell: CellRequest, result: CellResult) -> dict[str, Any]:
    """Instructions per kernel on one thread (callgrind counts the invoking thread only)."""
    key = json.dumps([cell["model_path"], cell["delegate"]], sort_keys=True)
    done = target.callgrind.profiles.get(key)
    if done is not None:
        return done
    request: CellRequest = {**cell, "measure": PROFILE_MEASURE, "collect_outputs": False,
                            "profile_ops": True, "threads": 1}  # fmt: skip
    counted = target.callgrind.run_cell(request, PROFILE_MEASURE["timeout_s"])
    if counted.get("status") != "ok":
        return {"ops_source": f"{result.get('ops_source')}; callgrind: {counted.get('error')}"}
    found = {k: v for k, v in counted.items() if k in ("ops", "ops_source")}
    target.callgrind.profiles[key] = found
    return found
