"""What every target can do, and the JSON-lines channel to a worker process."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from benchy.errors import CellTimeout, TargetError
from benchy.tomltable import Table

WORKER_FILE = Path(__file__).resolve().parent.parent / "worker.py"
MAX_LINE = 256 * 1024 * 1024  # a reply carries samples; refuse anything absurd


@dataclass(frozen=True)
class Cooldown:
    """Wait before each cell until the SoC is below `below_c` °C, at most `max_wait_s`."""

    below_c: float
    max_wait_s: float

    @classmethod
    def parse(cls, table: Table) -> Cooldown | None:
        below = table.number("cooldown_below_c", None)
        wait = table.number("cooldown_max_wait_s", 300.0, minimum=0)
        return None if below is None else cls(below, wait)

    def apply(self, cell: dict[str, Any]) -> dict[str, Any]:
        return dict(cell, cooldown={"below_c": self.below_c, "max_wait_s": self.max_wait_s})


COOLDOWN_KEYS = ("cooldown_below_c", "cooldown_max_wait_s")


@dataclass(frozen=True)
class Survey:
    """What a target that stands for shared devices (a board farm) has, and who holds them:
    `benchy targets check` shows it instead of taking a device."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    summary: str
    ok: bool


class Target(ABC):
    """A device benchy can measure on. Subclasses register with `benchy.targets.register`."""

    kind: ClassVar[str]
    option_keys: ClassVar[tuple[str, ...]] = ()
    emulated: ClassVar[bool] = False
    shares_host_clock: ClassVar[bool] = False
    """True when the device's perf_counter is benchy's own (the local target)."""

    def __init__(self, name: str, options: Any) -> None:
        self.name, self.options = name, options

    @classmethod
    @abstractmethod
    def parse_options(cls, table: Table) -> Any:
        """Validate this kind's keys of a target file."""

    @classmethod
    def refuses(cls, options: Any, model: str, variant: str, runtime: str) -> str | None:
        """Why this target cannot run (model, variant, runtime) at all, or None. Linux targets
        (the default) run everything but MCU firmware."""
        if runtime == "tflm":
            return "runtime tflm is MCU firmware: it runs on serial targets only"
        return None

    @classmethod
    def lanes(cls, options: Any) -> list[Any]:
        """One options object per device this target file stands for; the runner spreads the
        target's cells over them, one thread each. A board farm target with `count = N` is N
        boards (benchy/targets/labgrid.py); every other target is one device."""
        return [options]

    @classmethod
    def survey(cls, options: Any) -> Survey | None:
        """For shared devices: list them without taking one (see Survey). None: `targets check`
        opens the target instead."""
        return None

    @abstractmethod
    def open(self) -> None:
        """Connect / start the worker. Raises TargetError."""

    @abstractmethod
    def facts(self) -> dict[str, Any]:
        """Environment facts (CPU, RAM, OS, runtimes present)."""

    @abstractmethod
    def prepare(self, files: list[Path]) -> dict[Path, str]:
        """Make files available on the device; return local path → device path."""

    @abstractmethod
    def run_cell(self, cell: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run one repetition of one cell. Raises TargetError when the target itself fails.

        `cell` is the payload built by the runner (runtime, model_path as returned by
        `prepare`, delegate, threads, inputs, measure, timeout_s, collect_outputs).
        The result is a dict with `status`: "ok", or "error" | "crashed" | "timeout" |
        "unavailable" with `error` (a reason). An "ok" result has at least `samples_ns`
        (per-inference latencies, ns), `window_s`, `runtime_module`, `runtime_version`,
        `delegate_applied`; optionally `load_ms`, `first_inference_ms`, `warmup_runs`,
        `warmup_s`, `outputs_s`, `rss_before_mb`, `rss_after_load_mb`, `peak_rss_mb`,
        `runtime_code_mb`, `cpus`, `outputs` (one list of floats per dataset sample, when
        `collect_outputs`), and `extra` (target-specific columns merged into the cell row).
        Anything not measured is absent or None — never estimated."""

    def power_check(self, spec: dict[str, Any]) -> str:
        """Can this device-side power source be read here? "<source> readable" or the reason."""
        return "unavailable: this target has no device-side power sources"

    def clean(self) -> str:
        """Remove benchy's files from the device; say what was done."""
        return f"{self.name}: benchy keeps no files on this target"

    @abstractmethod
    def close(self) -> None:
        """Stop the worker and release the device."""


def worker_power_check(channel: WorkerChannel | None, spec: dict[str, Any]) -> str:
    """Ask a running worker whether it can read a power source."""
    if channel is None:
        return "unavailable: not connected"
    reply = channel.request({"op": "power", "power": spec}, 30.0)
    if reply.get("reason"):
        return f"unavailable: {reply['reason']}"
    return f"{reply.get('source')} readable"


class WorkerChannel:
    """A worker subprocess speaking JSON lines, with a timeout on every reply."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
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
            raise TargetError(f"cannot start worker {argv[0]}: {exc.strerror}") from None
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._buf = bytearray()
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._fd, selectors.EVENT_READ)

    def stderr_tail(self, size: int = 2000) -> str:
        self._stderr.seek(0, os.SEEK_END)
        end = self._stderr.tell()
        self._stderr.seek(max(0, end - size))
        return self._stderr.read().decode("utf-8", "replace").strip()

    def _died(self, what: str) -> TargetError:
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
        except (BrokenPipeError, OSError):
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
            if not self._sel.select(left):
                continue
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                raise self._died("exited")
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                raise TargetError("worker reply exceeds the line limit")

    def close(self, wait_s: float = 2.0) -> None:
        """Ask the process to quit; kill it if it has not within `wait_s`."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=wait_s)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._sel.close()
        self._stderr.close()
