"""Reconnecting to a vanished serial port lasts the whole `reconnect_s` (issue 9: `reconnect_s = 3`
gave up after ~1.5 s). The port is a real pty behind a link; the clock is virtual, so the port
reappears exactly when the test says, however busy the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchy.errors import PortUnavailable
from benchy.serial.link import SerialLink
from benchy.serial.ports import PortSpec


class VirtualClock:
    """Time that moves only when reconnect() sleeps; at `appear_at` the port is plugged in."""

    def __init__(self, plug: Path, tty: str, appear_at: float) -> None:
        self.now, self.sleeps = 0.0, list[float]()
        self.plug, self.tty, self.appear_at = plug, tty, appear_at

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float, /) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds
        if self.now >= self.appear_at and not self.plug.is_symlink():
            self.plug.symlink_to(self.tty)


@pytest.fixture
def pty() -> Iterator[str]:
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(slave)
    os.close(master)


def _link(tmp_path: Path, tty: str, appear_at: float) -> tuple[SerialLink, VirtualClock]:
    port = tmp_path / "dut"
    link = SerialLink(PortSpec(path=str(port)), 115200, reconnect_s=3.0)
    link.clock = VirtualClock(port, tty, appear_at)
    return link, link.clock


def test_a_port_back_at_the_deadline_is_reopened(tmp_path: Path, pty: str) -> None:
    link, clock = _link(tmp_path, pty, appear_at=3.0)
    link.reconnect()
    assert link.is_open and link.reconnects == 1
    # Backoff 0.1, 0.2, 0.4, 0.8, then the rest of the 3 s: the sixth try is at the deadline.
    assert clock.sleeps == [0.1, 0.2, 0.4, 0.8, 1.5]
    assert clock.now == pytest.approx(3.0)
    link.close()


def test_a_port_back_after_the_deadline_is_given_up_on_at_the_deadline(
    tmp_path: Path, pty: str
) -> None:
    link, clock = _link(tmp_path, pty, appear_at=3.01)
    with pytest.raises(PortUnavailable, match=r"did not come back within 3 s \(6 tries; "):
        link.reconnect()
    assert not link.is_open
    assert clock.now == pytest.approx(3.0)  # never waited past reconnect_s
