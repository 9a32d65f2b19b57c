"""An emulated MLPerf Tiny DUT on a pty pair: a real serial link, pyserial on the other end.

The emulator holds the master side; the host opens the slave (`port`, or a stable symlink
`link` that follows the pty across an emulated unplug/replug, like /dev/serial/by-id/...).
One thread reads commands (the firmware runs them as they arrive, like a UART ring buffer
feeding a parser), one writes answers. A pty has no baud rate: with `baud` set, both directions
are paced to baud/10 bytes/s (8N1 framing), so upload figures mean what they would on a UART.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import threading
import time
import tty
from pathlib import Path
from types import TracebackType

from benchy.errors import UsageError
from benchy.serial import EMULATOR_NAME, ptylink
from benchy.serial.faults import FaultCounts, Faults, Injector
from benchy.serial.firmware import MAX_DB_INPUT_SIZE, Firmware

log = logging.getLogger(__name__)

CMD_BUFFER = 80  # the reference's EE_CMD_SIZE: longer commands lose their tail
TERMINATOR = ord("%")
TICK_S = 0.02


class Pacer:
    """Holds a byte stream to baud/10 bytes per second (start bit, 8 data bits, stop bit).

    Bytes that were already waiting (`backlog`) follow the previous ones back to back, as a UART
    sends a FIFO's contents: sleep overshoot is made up. Bytes after an idle line (`backlog`
    False) start now: idle time is lost, as on a real link."""

    def __init__(self, baud: int | None) -> None:
        self.byte_s = 10.0 / baud if baud else 0.0
        self._t = 0.0

    def wait(self, nbytes: int, backlog: bool) -> None:
        if not self.byte_s:
            return
        now = time.monotonic()
        self._t = (self._t if backlog else now) + nbytes * self.byte_s
        if self._t > now:
            time.sleep(self._t - now)


class DutEmulator:
    def __init__(
        self,
        model: Path,
        faults: Faults | None = None,
        baud: int | None = None,
        link: Path | None = None,
        results: str = "float",
        name: str = EMULATOR_NAME,
        max_input: int = MAX_DB_INPUT_SIZE,
    ) -> None:
        self.firmware = Firmware(model, name=name, results=results, max_input=max_input)
        self.injector = Injector(faults or Faults())
        self.baud, self.link = baud, link
        self.chunk = 16 if baud else 4096
        self._in, self._out = Pacer(baud), Pacer(baud)
        self._master = self._slave = -1
        self._tty = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._threads: list[threading.Thread] = []

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    @property
    def counts(self) -> FaultCounts:
        return self.injector.counts

    @property
    def port(self) -> str:
        """What the host opens: the link path if there is one, else the pty's slave."""
        return str(self.link) if self.link else self._tty

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Open the pty (and the link; UsageError if something else is at its path)."""
        problem = ptylink.link_problem(self.link) if self.link is not None else None
        if problem is not None:
            raise UsageError(problem)
        self._plug()
        for target, name in ((self._serve, "dut-rx"), (self._write, "dut-tx")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self.port

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)
        for t in self._threads:
            t.join(5)
        self._unplug()
        if self.link is not None:
            ptylink.remove(self.link, self._tty)

    def __enter__(self) -> DutEmulator:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _plug(self, replug: bool = False) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        with self._lock:
            self._master, self._slave = master, slave
            self._tty = os.ttyname(slave)
        if self.link is not None:
            try:
                ptylink.point(self.link, self._tty)
            except (UsageError, OSError) as exc:
                if replug:  # the path was taken while unplugged: serve the pty without it
                    log.error("DUT emulator: no link after the replug: %s", exc)
                else:
                    self._unplug()
                    why = exc.strerror if isinstance(exc, OSError) else str(exc)
                    raise UsageError(f"{self.link}: cannot make the link: {why}") from None
        log.info("DUT emulator on %s", self.port)
        self._emit(self.firmware.boot_lines())

    def _unplug(self) -> None:
        with self._lock:
            fds, self._master, self._slave = (self._master, self._slave), -1, -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # ------------------------------------------------------------ receive and run

    def _serve(self) -> None:
        command = bytearray()
        while not self._stop.is_set():
            master = self._master
            if master < 0:
                time.sleep(TICK_S)
                continue
            try:
                backlog = bool(select.select([master], [], [], 0)[0])
                ready = backlog or bool(select.select([master], [], [], TICK_S)[0])
                data = os.read(master, self.chunk) if ready else b""
            except (OSError, ValueError):  # closed under us (unplug) or no host yet
                time.sleep(TICK_S)
                continue
            if not data:
                continue
            self._in.wait(len(data), backlog)
            for byte in self.injector.wire(data):
                if byte == TERMINATOR:
                    self._command(command.decode("ascii", "replace"))
                    command.clear()
                elif len(command) < CMD_BUFFER:
                    command.append(byte)

    def _command(self, text: str) -> None:
        number, text = self.injector.next_command(text)
        faults = self.faults
        if number in faults.close_at:
            self.counts.closes += 1
            self._pull_plug()
            return
        if number in faults.stall_at:
            self.counts.stalls += 1
            self._stop.wait(faults.stall_s)
        try:
            lines = self.firmware.handle(text)
        except Exception as exc:  # a kernel failing must not kill the board silently
            log.exception("DUT emulator: %r failed", text)
            lines = [f"e-[{f'{type(exc).__name__}: {exc}'[:180]}]", "m-ready"]
        if number in faults.reset_at:
            self.counts.resets += 1
            lines = lines[: len(lines) // 2]
            self.firmware.reset()
            lines += self.firmware.boot_lines()
        self._emit(lines)

    def _pull_plug(self) -> None:
        log.info("DUT emulator: port closed (fault injection)")
        self._unplug()
        if self.link is not None:  # the device node goes, as udev's by-id link does on unplug
            ptylink.remove(self.link, self._tty)
        if self.faults.reopen_after_s is None:
            return
        if self._stop.wait(self.faults.reopen_after_s):
            return
        self.firmware.reset()  # a board that re-enumerates has rebooted
        self._plug(replug=True)

    # ------------------------------------------------------------ send

    def _emit(self, lines: list[str]) -> None:
        data = "".join(line + "\r\n" for line in lines).encode("ascii", "replace")
        self._queue.put(self.injector.wire(data))

    def _write(self) -> None:
        while True:
            backlog = not self._queue.empty()
            data = self._queue.get()
            if data is None:
                return
            step = 16 if self.baud else len(data)
            for i in range(0, len(data), max(step, 1)):
                piece = data[i : i + step]
                self._out.wait(len(piece), backlog or i > 0)
                if not self._send(piece):
                    break

    def _send(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            master = self._master
            if master < 0 or self._stop.is_set():
                return False
            try:
                _, ready, _ = select.select([], [master], [], TICK_S)
                if ready:
                    view = view[os.write(master, view) :]
            except (OSError, ValueError):
                return False
        return True
