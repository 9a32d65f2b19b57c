"""The fork server: preloads numpy and the runtimes once, then forks a fresh child per cell, so
each cell gets a clean process (isolation, its own peak RSS) for a few milliseconds instead of
an interpreter start. Whatever happens to the child (crash, hang, exception) becomes a result.

stdout carries the protocol only: children's fds 1 and 2 go to a log file whose tail comes back
with the result; the server logs to stderr.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback
from typing import IO, Any

from benchy.worker.callgrind import remove_dumps
from benchy.worker.facts import facts
from benchy.worker.measure import measure
from benchy.worker.pair import measure_pair
from benchy.worker.power import PowerSampler
from benchy.worker.profiling import warm_translations
from benchy.worker.protocol import PROTOCOL_VERSION, CellRequest, CellResult, request_problem
from benchy.worker.runtimes import Failed, Unavailable, availability
from benchy.worker.thermal import cool_down, thermal_snapshot
from benchy.worker.valgrind import on_valgrind

LOG_TAIL_BYTES = 4000


def _tail(fh: IO[bytes]) -> str:
    fh.flush()
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - LOG_TAIL_BYTES))
    return fh.read().decode("utf-8", "replace")


def _child(cell: CellRequest, wfd: int, log_fd: int) -> None:
    """In the forked child: fds 1/2 to the log so native runtime chatter never hits the protocol."""
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    pin = cell.get("pin_cpus")
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(int(c) for c in pin))
    reply: CellResult
    try:
        reply = measure_pair(cell) if "partner" in cell else measure(cell)
    except Unavailable as exc:
        reply = {"status": "unavailable", "error": str(exc)}
    except Failed as exc:
        reply = {"status": "error", "error": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        reply = {"status": "error", "error": "%s: %s" % (type(exc).__name__, exc)}
    data = (json.dumps(reply) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view) :]
    os.close(wfd)


def run_isolated(cell: CellRequest) -> CellResult:
    """Cool down if asked, then run the cell in a child and attach the thermal state around it."""
    waited = cool_down(cell.get("cooldown"))
    before = thermal_snapshot()
    reply = _fork_and_measure(cell)
    after = thermal_snapshot()
    reply["thermal"] = {
        "cooldown_s": waited,
        "temp_before_c": before["temp_c"],
        "temp_after_c": after["temp_c"],
        "throttled_before": _int(before["throttled"]),
        "throttled_after": _int(after["throttled"]),
    }
    return reply


def _int(value: Any) -> Any:
    return None if value is None else int(value)


def _fork_and_measure(cell: CellRequest) -> CellResult:
    """Fork, measure in the child, and turn whatever happened to it into a result."""
    timeout = float(cell.get("timeout_s", 300))
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, after the fork)
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        code = 0
        try:
            _child(cell, wfd, log.fileno())
        except BaseException:
            traceback.print_exc()  # into the log, whose tail the parent reports
            code = 70
        os._exit(code)
    os.close(wfd)
    power = cell.get("power") or {}
    sampler = PowerSampler(power) if power.get("source") else None
    chunks: list[bytes] = []
    deadline, timed_out = time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        if sampler is not None:
            sampler.poll()
            left = min(left, sampler.period_s)
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    if cell.get("instructions"):  # what callgrind wrote for the child (its final file)
        remove_dumps(cell["instructions"]["out_dir"], pid)
    log_tail = _tail(log)
    log.close()
    raw = b"".join(chunks)
    reply: CellResult
    if timed_out:
        reply = {"status": "timeout", "error": "cell exceeded %.0f s and was killed" % timeout}
    elif os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        reply = {"status": "crashed", "error": "worker killed by signal %s" % name}
    elif not raw:
        code = os.WEXITSTATUS(status)
        reply = {"status": "crashed", "error": "worker exited with code %d and no result" % code}
    else:
        reply = json.loads(raw.decode())
    reply["log_tail"] = log_tail
    if sampler is not None:
        reply["power"] = sampler.result()
    return reply


def answer(request: dict[str, Any], runtimes: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request (never raises for a bad request: that is an error reply)."""
    problem = request_problem(request)
    if problem is not None:
        return {"ok": False, "error": problem}
    op = request["op"]
    if op == "facts":
        return {"ok": True, "facts": facts()}
    if op == "ping":
        return {"ok": True, "protocol": PROTOCOL_VERSION, "runtimes": runtimes}
    if op == "cell":
        return {"ok": True, "result": run_isolated(request["cell"])}
    sampler = PowerSampler(request["power"])  # op == "power"
    label = sampler.source.label if sampler.source is not None else None
    return {"ok": True, "source": label, "reason": sampler.available()}


def serve(stdin: IO[str], stdout: IO[str]) -> None:
    """Answer requests until EOF or quit. Runtimes are imported first so children inherit them."""
    runtimes = availability()
    if on_valgrind():  # issue 15: the callgrind worker
        warm_translations()
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            if request.get("op") == "quit":
                break
            reply = answer(request, dict(runtimes))
        except Exception as exc:  # a bad request must not take the server down
            reply = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        serve(sys.stdin, sys.stdout)
        return 0
    if argv[:1] == ["facts"]:
        print(json.dumps(facts(), indent=2))
        return 0
    sys.stderr.write("usage: worker serve | facts\n")
    return 2
