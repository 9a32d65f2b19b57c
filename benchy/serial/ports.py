"""Which device node a serial target means: a path, or a USB vid:pid and/or serial number.

A board's node (/dev/ttyACM0) can change when it re-enumerates; USB ids cannot, so they are
looked up again on every (re)connect.
"""

from __future__ import annotations

from dataclasses import dataclass

from serial.tools import list_ports

from benchy.errors import PortUnavailable


@dataclass(frozen=True)
class PortSpec:
    path: str | None = None
    vid_pid: tuple[int, int] | None = None
    serial_number: str | None = None

    def describe(self) -> str:
        if self.path:
            return self.path
        parts = []
        if self.vid_pid:
            parts.append(f"USB {self.vid_pid[0]:04x}:{self.vid_pid[1]:04x}")
        if self.serial_number:
            parts.append(f"serial number {self.serial_number}")
        return " ".join(parts)


def parse_vid_pid(text: str) -> tuple[int, int] | None:
    """`"2fe3:0100"` → (0x2fe3, 0x0100); None if it is not two 4-digit hex numbers."""
    vid, sep, pid = text.partition(":")
    if not sep or len(vid) != 4 or len(pid) != 4:
        return None
    try:
        return int(vid, 16), int(pid, 16)
    except ValueError:
        return None


def resolve(spec: PortSpec) -> str:
    """The device node to open now. Raises PortUnavailable naming what was looked at."""
    if spec.path:
        return spec.path
    found = list(list_ports.comports())
    matches = [
        p
        for p in found
        if (spec.vid_pid is None or (p.vid, p.pid) == spec.vid_pid)
        and (spec.serial_number is None or p.serial_number == spec.serial_number)
    ]
    if len(matches) == 1:
        return str(matches[0].device)
    seen = ", ".join(
        f"{p.device} ({p.vid:04x}:{p.pid:04x} {p.serial_number or '-'})"
        if p.vid is not None and p.pid is not None
        else str(p.device)
        for p in found
    )
    if not matches:
        raise PortUnavailable(
            f"no serial port matches {spec.describe()}; ports present: {seen or 'none'}"
        )
    raise PortUnavailable(
        f"{len(matches)} serial ports match {spec.describe()}: "
        f"{', '.join(str(p.device) for p in matches)}; add serial_number to pick one"
    )
