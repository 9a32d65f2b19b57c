"""Faults the DUT emulator injects on demand, to prove the host survives them or says why not.

Rates apply to every byte on the wire, both ways, from a seeded generator (reproducible).
Event lists name commands by their 1-based number in the order the DUT received them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Faults:
    drop: float = 0.0
    """Probability that a byte is lost on the wire."""
    corrupt: float = 0.0
    """Probability that a byte has one bit flipped on the wire."""
    bad_hex_at: tuple[int, ...] = ()
    """`db HEX` data commands (counted among themselves) that arrive with a digit garbled."""
    stall_at: tuple[int, ...] = ()
    """Commands answered only after `stall_s` of silence."""
    stall_s: float = 0.0
    reset_at: tuple[int, ...] = ()
    """Commands during which the DUT reboots (half its answer, then the boot lines)."""
    close_at: tuple[int, ...] = ()
    """Commands on whose arrival the port closes (the board is unplugged)."""
    reopen_after_s: float | None = None
    """Plug it back in after this long (a new pty; the link path follows it). None: never."""
    seed: int = 0

    @property
    def any(self) -> bool:
        return bool(
            self.drop
            or self.corrupt
            or self.bad_hex_at
            or self.stall_at
            or self.reset_at
            or self.close_at
        )


@dataclass
class FaultCounts:
    dropped: int = 0
    corrupted: int = 0
    bad_hex: int = 0
    stalls: int = 0
    resets: int = 0
    closes: int = 0


@dataclass
class Injector:
    faults: Faults
    counts: FaultCounts = field(default_factory=FaultCounts)
    commands: int = 0
    data_commands: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)

    def wire(self, data: bytes) -> bytes:
        """The bytes as they come out of a noisy wire."""
        drop, corrupt = self.faults.drop, self.faults.corrupt
        if not drop and not corrupt:
            return data
        out = bytearray()
        rand = self._rng.random
        for byte in data:
            if drop and rand() < drop:
                self.counts.dropped += 1
                continue
            if corrupt and rand() < corrupt:
                byte ^= 1 << self._rng.randrange(8)
                self.counts.corrupted += 1
            out.append(byte)
        return bytes(out)

    def next_command(self, command: str) -> tuple[int, str]:
        """Count a command; garble it if it is a `db HEX` chunk marked bad."""
        self.commands += 1
        tokens = command.split()
        if len(tokens) == 2 and tokens[0] == "db" and tokens[1] not in ("load", "print"):
            self.data_commands += 1
            if self.data_commands in self.faults.bad_hex_at and tokens[1]:
                self.counts.bad_hex += 1
                command = "db z" + tokens[1][1:]
        return self.commands, command
