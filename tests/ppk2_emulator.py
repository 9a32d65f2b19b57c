"""A Power Profiler Kit II on a pty: answers the metadata request with calibration text in the
device's format and, between AVERAGE_START and AVERAGE_STOP, streams raw 4-byte sample words at
the native 100 kHz. benchy's live path (ppk2-api over pyserial) talks to it unchanged."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty

METADATA = (
    "Calibrated: 0\nR0: 1031.64\nR1: 101.65\nR2: 10.15\nR3: 0.94\nR4: 0.043\n"
    + "".join(f"GS{i}: 0\n" for i in range(5))
    + "".join(f"GI{i}: 1\n" for i in range(5))
    + "".join(f"O{i}: 0\n" for i in range(5))
    + "".join(f"S{i}: 0\n" for i in range(5))
    + "".join(f"I{i}: 0\n" for i in range(5))
    + "".join(f"UG{i}: 1\n" for i in range(5))
    + "HW: 9173\nIA: 56\nEND\n"
)
# Bytes per command (opcode included), as ppk2-api sends them.
COMMAND_LENGTH = {0x06: 1, 0x07: 1, 0x0C: 2, 0x0D: 3, 0x11: 2, 0x19: 1, 0x08: 2, 0x15: 1, 0x16: 1}


def sample_word(adc: int, current_range: int, counter: int = 0, logic: int = 0) -> bytes:
    """One raw sample: ADC (bits 0-13), range (14-16), counter (18-23), logic (24-31)."""
    word = (adc & 0x3FFF) | (current_range & 0x7) << 14 | (counter & 0x3F) << 18 | logic << 24
    return word.to_bytes(4, "little")


class Ppk2Emulator(threading.Thread):
    def __init__(self, word: bytes) -> None:
        super().__init__(daemon=True)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self._slave = slave
        os.set_blocking(self.master, False)  # a full buffer drops samples, never stalls commands
        self.word = word
        self.streaming = False
        self.stop_event = threading.Event()
        self.commands: list[int] = []

    def run(self) -> None:
        pending = b""
        chunk = self.word * 1000  # 10 ms of samples at 100 kHz
        next_chunk = time.monotonic()
        while not self.stop_event.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.002)
            if ready:
                try:
                    pending += os.read(self.master, 1024)
                except BlockingIOError:
                    pass
                except OSError:
                    return
                while pending and len(pending) >= COMMAND_LENGTH.get(pending[0], 1):
                    op = pending[0]
                    pending = pending[COMMAND_LENGTH.get(op, 1) :]
                    self.commands.append(op)
                    if op == 0x19:
                        os.write(self.master, METADATA.encode())
                    elif op == 0x06:
                        self.streaming, next_chunk = True, time.monotonic()
                    elif op == 0x07:
                        self.streaming = False
            if self.streaming and time.monotonic() >= next_chunk:
                with contextlib.suppress(BlockingIOError):
                    os.write(self.master, chunk)
                next_chunk += 0.01

    def close(self) -> None:
        self.stop_event.set()
        self.join(2)
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
