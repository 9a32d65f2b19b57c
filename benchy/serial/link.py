"""The serial port: pyserial underneath, a deadline on every read, reconnect with backoff.

Reads poll in short slices (pyserial's timeout is a port setting; changing it per read means a
tcsetattr each time), so every wait ends at its deadline whatever the device does.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Protocol

import serial

from benchy.errors import DutTimeout, PortUnavailable, TargetError
from benchy.serial.lines import LineReader
from benchy.serial.ports import PortSpec, resolve

log = logging.getLogger(__name__)

POLL_S = 0.02
READ_CHUNK = 4096
WRITE_TIMEOUT_S = 10.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.1, 2.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, /) -> None: ...


class PortLost(PortUnavailable):
    """The open port failed under a read or write (unplugged, the device reset its USB)."""


class SerialLink:
    def __init__(self, spec: PortSpec, baud: int, reconnect_s: float) -> None:
        self.spec, self.baud, self.reconnect_s = spec, baud, reconnect_s
        self.reader = LineReader()
        self.device: str | None = None
        self.reconnects = 0
        self.bytes_out = 0
        self._port: serial.Serial | None = None
        self._closing = False
        self.clock: Clock = time  # what reconnect() waits on (a test injects its own)

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        self._closing = False
        device = resolve(self.spec)
        try:
            # A device path, or a pyserial URL (rfc2217://host:port, socket://host:port) for a
            # port served over the network, e.g. by a labgrid exporter's ser2net. The timeout is
            # set once here, never per read: with plain pyserial every change of an RFC2217
            # port's timeout renegotiates the port (labgrid's fork skips that; see the farm notes).
            # A local port is opened exclusively with a write deadline; pyserial's network
            # ports take neither (the TCP connection is the write bound).
            local = {} if "://" in device else {"write_timeout": WRITE_TIMEOUT_S, "exclusive": True}
            self._port = serial.serial_for_url(device, self.baud, timeout=POLL_S, **local)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailable(f"cannot open serial port {device}: {exc}") from None
        self.device = device
        self.reader.clear()
        log.debug("opened %s at %d baud", device, self.baud)

    def close(self) -> None:
        self._closing = True
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    def _lost(self, exc: BaseException) -> TargetError:
        if self._closing:
            return TargetError("the serial link was closed")
        self.close()
        self._closing = False
        return PortLost(f"serial port {self.device} failed: {exc}")

    def write(self, data: bytes) -> None:
        if self._port is None:
            raise self._lost(OSError("not open"))
        try:
            self._port.write(data)
        except serial.SerialTimeoutException:
            raise DutTimeout(
                f"the DUT on {self.device} took no input for {WRITE_TIMEOUT_S:.0f} s"
            ) from None
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise self._lost(exc) from None
        self.bytes_out += len(data)

    def _fill(self) -> bool:
        """Read what arrives within one poll slice into the line reader; False if nothing."""
        port = self._port
        if port is None:
            raise self._lost(OSError("not open"))
        try:
            waiting = port.in_waiting
            chunk = port.read(min(waiting, READ_CHUNK) if waiting else 1)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise self._lost(exc) from None
        if chunk:
            self.reader.feed(chunk)
            return True
        return False

    def read_line(self, deadline: float) -> str | None:
        """The next line, or None once `deadline` (time.monotonic) has passed."""
        while True:
            line = self.reader.pop()
            if line is not None:
                return line
            if time.monotonic() >= deadline:
                return None
            self._fill()

    def drain(self, quiet_s: float, max_s: float) -> int:
        """Discard input until the line has been quiet for `quiet_s` (at most `max_s`)."""
        end = time.monotonic() + max_s
        quiet_until = time.monotonic() + quiet_s
        dropped = 0
        while time.monotonic() < min(end, quiet_until):
            if self._fill():
                quiet_until = time.monotonic() + quiet_s
        while self.reader.pop() is not None:
            dropped += 1
        self.reader.clear()
        return dropped

    def reconnect(self) -> None:
        """Reopen the port (looked up again), backing off, for up to `reconnect_s`: the last
        try falls on the deadline itself, so a port back just in time is not given up on."""
        self.close()
        clock = self.clock
        deadline = clock.monotonic() + self.reconnect_s
        wait, tries = BACKOFF_FIRST_S, 0
        last: BaseException | None = None
        while True:
            tries += 1
            try:
                self.open()
            except PortUnavailable as exc:
                last = exc
            else:
                self.reconnects += 1
                log.info("serial port %s is back after %d tries", self.device, tries)
                return
            left = deadline - clock.monotonic()
            if left <= 0:
                break
            clock.sleep(min(wait, left))
            wait = min(wait * 2, BACKOFF_MAX_S)
        raise PortUnavailable(
            f"serial port {self.spec.describe()} vanished and did not come back within "
            f"{self.reconnect_s:g} s ({tries} tries; last: {last})"
        )
