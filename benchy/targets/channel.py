"""The JSON-lines channel to a worker process, and what every target that runs benchy's worker
shares (local and SSH differ only in how the worker process is started and how its loss reads).

A channel can be closed from another thread at any moment (Ctrl-C, SIGTERM: the runner closes
every live target to kill the cells in flight). A request under way then fails with a
TargetError, never with an error about the closed pipe, and closing twice is harmless.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import threading
import time
from abc import abstractmethod
from typing import IO, Any

from benchy.errors import CellTimeout, TargetError
from benchy.targets.base import Cooldown, Target
from benchy.targets.callgrind import CallgrindWorker, ValgrindUnavailable, profile_elsewhere
from benchy.worker.protocol import CellRequest, CellResult, version_problem

MAX_LINE = 256 * 1024 * 1024  # a reply carries samples; refuse anything absurd
START_TIMEOUT_S = 60.0
SLACK_S = 30.0  # the worker enforces the cell timeout itself; this only catches a hung worker


class WorkerChannel:
    """A worker subprocess speaking JSON lines, with a timeout on every reply."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._lock = threading.Lock()
        self.closed = False
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                start_new_session=True,  # Ctrl-C reaches benchy, which then stops the worker
            )
        except OSError as exc:
            self._stderr.close()
            raise TargetError(f"cannot start worker {argv[0]}: {exc.strerror}") from None
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._buf = bytearray()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._fd, selectors.EVENT_READ)

    def stderr_tail(self, size: int = 2000) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            end = self._stderr.tell()
            self._stderr.seek(max(0, end - size))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except ValueError:  # closed meanwhile
            return ""

    def _died(self, what: str) -> TargetError:
        if self.closed:
            return TargetError("worker stopped: benchy is stopping")
        code = self.proc.poll()
        tail = self.stderr_tail()
        detail = f" (exit code {code})" if code is not None else ""
        return TargetError(
            f"worker {what}{detail}" + (f": {tail.splitlines()[-1]}" if tail else "")
        )

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):  # ValueError: closed by another thread
            raise self._died("is gone") from None
        deadline = time.monotonic() + timeout
        while True:
            newline = self._buf.find(b"\n")
            if newline >= 0:
                line = bytes(self._buf[:newline])
                del self._buf[: newline + 1]
                try:
                    reply: dict[str, Any] = json.loads(line)
                except ValueError:
                    raise TargetError(
                        f"worker sent a line that is not JSON: {line[:200]!r}"
                    ) from None
                return reply
            left = deadline - time.monotonic()
            if left <= 0:
                raise CellTimeout(f"no reply from worker within {timeout:.0f} s")
            try:
                if not self._sel.select(left):
                    continue
                chunk = os.read(self._fd, 1 << 20)
            except (OSError, ValueError, KeyError):  # the selector or fd closed meanwhile
                raise self._died("is gone") from None
            if not chunk:
                raise self._died("exited")
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                raise TargetError("worker reply exceeds the line limit")

    def close(self, wait_s: float = 2.0) -> None:
        """Stop the worker (asked first, killed if it does not go within `wait_s`). Safe to call
        twice, and from another thread while a request waits."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=wait_s)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._sel.close()
        self._stderr.close()


class WorkerTarget(Target):
    """A target whose cells run in benchy's worker (local CPU, SSH boards)."""

    cooldown: Cooldown | None = None

    def __init__(self, name: str, options: Any) -> None:
        super().__init__(name, options)
        self.channel: WorkerChannel | None = None
        self.callgrind = CallgrindWorker(self)  # issue 15: started on first use

    @property
    @abstractmethod
    def where(self) -> str:
        """How errors name this device."""

    def start_worker(self, argv: list[str], env: dict[str, str] | None = None) -> WorkerChannel:
        """Start the worker and check that it speaks this benchy's protocol."""
        self.close_channel()
        self.channel = WorkerChannel(argv, env)
        reply = self.channel.request({"op": "ping"}, START_TIMEOUT_S)
        if not reply.get("ok"):
            raise TargetError(f"{self.where}: worker failed to start: {reply.get('error')}")
        problem = version_problem(reply, self.where)
        if problem is not None:
            raise TargetError(problem)
        return self.channel

    def connected(self) -> WorkerChannel:
        if self.channel is None:
            self.open()
        assert self.channel is not None
        return self.channel

    def worker_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = self.connected().request({"op": "facts"}, START_TIMEOUT_S)["facts"]
        return facts

    def pairs_in_process(self) -> bool:
        return True

    def adapt(self, cell: CellRequest) -> CellRequest:
        """This target's own settings on a cell request (pinning, cool-down)."""
        if self.cooldown is not None:
            cell = {**cell, "cooldown": self.cooldown.spec()}
        return cell

    def run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        # issue 15: instruction mode runs in the callgrind worker; a TFLite per-op profile
        # comes from another source after the timed loop (targets/callgrind.py).
        if cell.get("instructions") is not None:
            result = self.callgrind.run_cell(cell, timeout)
        else:
            result = self._run_cell(cell, timeout)
        return profile_elsewhere(self, cell, result) if cell.get("profile_ops") else result

    def callgrind_setup(self) -> tuple[list[str], dict[str, str] | None, str]:
        """(argv, env, out_dir) of this device's worker under callgrind (issue 15)."""
        raise ValgrindUnavailable(f"{self.where}: this target cannot run Valgrind")

    def callgrind_cleanup(self, out_dir: str) -> None:
        """Remove the folder `callgrind_setup` made."""

    def run_tool(self, argv: list[str], timeout: float) -> str:
        """Run a program on the device; its stdout and stderr together (issue 15)."""
        raise TargetError(f"{self.where}: cannot run programs on this target")

    def _run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        channel = self.connected()
        try:
            reply = channel.request({"op": "cell", "cell": self.adapt(cell)}, timeout + SLACK_S)
        except CellTimeout:
            self.close_channel()  # the worker is wedged: a new one serves the next cell
            raise
        except TargetError as exc:
            self.close_channel()
            raise self.lost(exc) from None
        if not reply.get("ok"):
            raise TargetError(f"{self.where}: worker refused the cell: {reply.get('error')}")
        result: CellResult = reply["result"]
        return result

    def lost(self, exc: TargetError) -> TargetError:
        """The error a lost worker is reported as."""
        return exc

    def power_check(self, spec: dict[str, Any]) -> str:
        """Ask the running worker whether it can read a power source."""
        if self.channel is None:
            return "unavailable: not connected"
        reply = self.channel.request({"op": "power", "power": spec}, 30.0)
        if reply.get("reason"):
            return f"unavailable: {reply['reason']}"
        return f"{reply.get('source')} readable"

    def close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def close(self) -> None:
        self.close_channel()
        self.callgrind.close()
