"""The MLPerf Tiny DUT protocol's commands over a SerialLink, made robust.

Every command is `TOKENS%`; its answer is every line up to `m-ready`. What can go wrong, and what
happens then:

- no `m-ready` in time, garbage, a missing or implausible field, `e-[...]` (a command the DUT got
  corrupted): resync — drain until the line is quiet, `name%` until a clean name answer — then
  the command again, up to `retries` times;
- `m-init-done` / `m-timestamp-mode-...` mid-command: the DUT rebooted and lost its input buffer —
  the input is uploaded again before the command is repeated;
- the port fails: it is reopened with backoff (looked up again by USB ids), then as above; if it
  does not come back, PortUnavailable.
An `infer` after any recovery re-uploads the input first: a reset whose boot lines were lost on
the link would otherwise run on an empty buffer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from benchy.errors import DutError, DutReset, DutTimeout, ProtocolError
from benchy.serial.link import PortLost, SerialLink
from benchy.serial.messages import Kind, Message, bracketed, parse

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_REPLY_LINES = 4096
QUIET_S = 0.05
CLOCK_SLACK = 1.10  # a DUT's timer may run this much faster than the host's clock ...
CLOCK_SLACK_US = 2000  # ... plus this much
U32 = 1 << 32


@dataclass
class LinkStats:
    retries: int = 0  # commands repeated after an error
    resyncs: int = 0
    resets: int = 0  # DUT reboots seen mid-command
    hex_rejects: int = 0  # `db` chunks the DUT rejected as bad hex (the load restarts)


@dataclass(frozen=True)
class InferReply:
    runs: int
    elapsed_us: int
    """T1 − T0 from the DUT's own microsecond timer (32-bit wrap handled)."""
    results: tuple[float, ...]


@dataclass(frozen=True)
class ClientSettings:
    timeout_s: float = 5.0
    retries: int = 3
    chunk_bytes: int = 31
    window: int = 1
    verify: bool = False


def lap_elapsed(t0: int, t1: int) -> int:
    return t1 - t0 if t1 >= t0 else t1 + U32 - t0


class DutClient:
    def __init__(self, link: SerialLink, settings: ClientSettings | None = None) -> None:
        self.link = link
        self.settings = settings or ClientSettings()
        self.stats = LinkStats()
        self.loaded: bytes | None = None

    # ------------------------------------------------------------ one exchange

    def send(self, command: str) -> None:
        self.link.write(command.encode("ascii") + b"%")

    def reply(self, timeout: float, command: str) -> list[Message]:
        """Lines up to `m-ready`. DutReset if the DUT rebooted on the way; DutTimeout if no
        `m-ready` came within `timeout`."""
        deadline = time.monotonic() + timeout
        msgs: list[Message] = []
        reset = False
        while True:
            line = self.link.read_line(deadline)
            if line is None:
                if reset:
                    raise DutReset(f"the DUT reset during {command}%")
                last = f"; last line: {msgs[-1].text[:80]!r}" if msgs else ""
                raise DutTimeout(f"no m-ready after {command}% within {timeout:g} s{last}")
            msg = parse(line)
            if msg.kind in (Kind.INIT_DONE, Kind.TIMESTAMP_MODE):
                reset = True
            elif msg.kind is Kind.READY:
                if reset:
                    raise DutReset(f"the DUT reset during {command}%")
                return msgs
            msgs.append(msg)
            if len(msgs) > MAX_REPLY_LINES:
                raise ProtocolError(f"{command}%: over {MAX_REPLY_LINES} lines without m-ready")

    def exchange(self, command: str, timeout: float | None = None) -> list[Message]:
        self.send(command)
        msgs = self.reply(self.settings.timeout_s if timeout is None else timeout, command)
        for m in msgs:
            if m.kind is Kind.ERROR:
                raise DutError(f"{command}%: e-[{m.text}]")
        return msgs

    # ------------------------------------------------------------ recovery

    def sync(self) -> None:
        """Get back in step: drain, then `name%` until a clean answer to it."""
        self.stats.resyncs += 1
        timeout = self.settings.timeout_s
        for _ in range(self.settings.retries + 2):
            try:
                self.link.drain(QUIET_S, timeout)
                self.send("name")
                msgs = self.reply(timeout, "name")
            except (DutTimeout, DutReset):
                continue
            except PortLost:
                self.link.reconnect()
                continue
            if any(m.kind is Kind.NAME for m in msgs):
                return
        raise DutTimeout(
            f"the DUT on {self.link.device} does not answer name% in step "
            f"({self.settings.retries + 2} tries of {timeout:g} s): check the baud rate "
            f"({self.link.baud}) and that the firmware speaks the MLPerf Tiny protocol"
        )

    def robust(self, what: str, op: Callable[[], T], reload: bool = False) -> T:
        """Run `op`, recovering and repeating it on link and protocol errors."""
        last: Exception | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self.stats.retries += 1
                log.debug("%s: retry %d after: %s", what, attempt, last)
                self.sync()
                if reload and self.loaded is not None:
                    self.load(self.loaded)
            try:
                return op()
            except PortLost as exc:
                last = exc
                self.link.reconnect()  # PortUnavailable if it does not come back
            except DutReset as exc:
                last = exc
                self.stats.resets += 1
            except (ProtocolError, DutTimeout) as exc:
                last = exc
                if isinstance(exc, DutError) and "hex" in str(exc).lower():
                    self.stats.hex_rejects += 1
        assert last is not None
        kind = DutTimeout if isinstance(last, DutTimeout) else ProtocolError
        raise kind(f"{what} failed {self.settings.retries + 1} times; last: {last}")

    # ------------------------------------------------------------ commands

    def _one(self, command: str, kind: Kind) -> Message:
        for m in self.exchange(command):
            if m.kind is kind:
                return m
        raise ProtocolError(f"{command}% answered without its {kind} line")

    def name(self) -> str:
        return self.robust("name", lambda: bracketed(self._one("name", Kind.NAME).text))

    def profile(self) -> tuple[str, str | None]:
        """(`m-profile-[...]` text, `m-model-[...]` text if the firmware says it)."""

        def op() -> tuple[str, str | None]:
            msgs = self.exchange("profile")
            prof = [m.text for m in msgs if m.kind is Kind.PROFILE]
            model = [m.text for m in msgs if m.kind is Kind.MODEL]
            if not prof:
                raise ProtocolError("profile% answered without m-profile-[...]")
            return prof[0], (model[0] if model else None)

        return self.robust("profile", op)

    def timestamp(self) -> int:
        lap = self.robust("timestamp", lambda: self._one("timestamp", Kind.LAP))
        assert lap.number is not None
        return lap.number

    def results(self) -> tuple[float, ...]:
        msg = self.robust("results", lambda: self._one("results", Kind.RESULTS))
        assert msg.values is not None
        return msg.values

    def load(self, data: bytes) -> None:
        """`db load N` + the bytes as hex chunks (see upload.py)."""
        from benchy.serial.upload import upload

        self.robust(f"upload of {len(data)} bytes", lambda: upload(self, data))
        self.loaded = data

    def infer(
        self, runs: int, warmups: int, timeout: float | None = None, outputs: int | None = None
    ) -> InferReply:
        """`infer N W%`, W always explicit. `outputs`: how many results to expect."""

        def op() -> InferReply:
            return self._infer_once(runs, warmups, timeout, outputs)

        return self.robust(f"infer {runs} {warmups}", op, reload=True)

    def _infer_once(
        self, runs: int, warmups: int, timeout: float | None, outputs: int | None
    ) -> InferReply:
        command = f"infer {runs} {warmups}"
        start = time.monotonic()
        msgs = self.exchange(command, timeout)
        host_us = (time.monotonic() - start) * 1e6
        kinds = [m.kind for m in msgs]
        if Kind.INFER_START not in kinds or Kind.INFER_DONE not in kinds:
            raise ProtocolError(f"{command}%: no m-infer-start/m-infer-done")
        begin, end = kinds.index(Kind.INFER_START), kinds.index(Kind.INFER_DONE)
        laps = [m.number for m in msgs[begin:end] if m.kind is Kind.LAP]
        if len(laps) != 2 or laps[0] is None or laps[1] is None:
            raise ProtocolError(f"{command}%: {len(laps)} timestamps instead of 2")
        elapsed = lap_elapsed(laps[0], laps[1])
        if elapsed > host_us * CLOCK_SLACK + CLOCK_SLACK_US:
            raise ProtocolError(
                f"{command}%: the DUT timed {elapsed} µs within {host_us:.0f} µs of host time"
            )
        found = [m.values for m in msgs[end:] if m.kind is Kind.RESULTS and m.values is not None]
        if not found:
            raise ProtocolError(f"{command}%: no m-results-[...]")
        results = found[0]
        if outputs is not None and len(results) != outputs:
            raise ProtocolError(f"{command}%: {len(results)} results, expected {outputs}")
        if self.settings.verify:
            again = [m.values for m in self.exchange("results") if m.kind is Kind.RESULTS]
            if again[:1] != [results]:
                raise ProtocolError(f"{command}%: results% read back differently")
        return InferReply(runs, elapsed, results)
