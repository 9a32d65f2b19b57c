"""The host side of benchy/farm/agent.py: one agent process per board, one request at a time.

Requests are short (each bounded by its own timeout); waiting for a place is a loop here, so a
Ctrl-C or `close()` from another thread gets the agent within one request.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.errors import CellTimeout, TargetError
from benchy.targets.channel import WorkerChannel

log = logging.getLogger(__name__)

AGENT_FILE = Path(__file__).resolve().parent / "agent.py"
REQUEST_S = 15.0
"""A single coordinator request: generous, for a busy coordinator across the network."""
QUIT_S = 30.0
"""How long the agent may take to release what it holds when benchy closes it."""
SLACK_S = 5.0


class FarmError(TargetError):
    """The farm cannot give benchy a board: no such place, none free in time, coordinator gone."""


class LeaseLost(TargetError):
    """The place benchy acquired is no longer benchy's (released by someone else, deleted)."""


@dataclass(frozen=True)
class PlaceState:
    """A place as the coordinator sees it, at one moment."""

    name: str
    tags: dict[str, str]
    comment: str
    acquired: str | None
    reservation: str | None
    reserved_for: str | None
    resources: tuple[dict[str, Any], ...]

    @classmethod
    def from_reply(cls, data: dict[str, Any]) -> PlaceState:
        return cls(
            name=data["name"],
            tags=dict(data.get("tags") or {}),
            comment=data.get("comment") or "",
            acquired=data.get("acquired"),
            reservation=data.get("reservation"),
            reserved_for=data.get("reserved_for"),
            resources=tuple(data.get("resources") or ()),
        )

    def matches(self, wanted: dict[str, str]) -> bool:
        """labgrid's scheduler rule: the filter's tags ⊆ the place's tags plus name=<place>."""
        have = {**self.tags, "name": self.name}
        return all(have.get(k) == v for k, v in wanted.items())

    def state(self, owner: str | None = None) -> str:
        """Free, or who holds it: what a waiting user needs to know."""
        if self.acquired:
            mine = " (this user and host)" if self.acquired == owner else ""
            return f"acquired by {self.acquired}{mine}"
        if self.reservation:
            return f"reserved for {self.reserved_for or 'another client'}"
        offline = [r["path"] for r in self.resources if not r.get("avail")]
        if offline:
            return "resources offline: " + ", ".join(offline)
        if not self.resources:
            return "no resources matched"
        return "free"


class Coordinator:
    """One labgrid session, in an agent process run by `python` (a Python that has labgrid)."""

    def __init__(self, python: str, address: str) -> None:
        self.python, self.address = python, address
        self._lock = threading.Lock()
        self._channel: WorkerChannel | None = None
        self._closed = False
        self.owner = ""
        self.labgrid_version = ""
        self.serial = ""
        """Whose serial package labgrid's environment runs (see agent.serial_files)."""

    def connect(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self._lock:
            if self._closed:  # closed (Ctrl-C) before it started: start nothing
                raise FarmError("the labgrid agent is closed")
            self._channel = WorkerChannel([self.python, str(AGENT_FILE)], env)
        reply = self.request("connect", address=self.address)
        self.owner, self.labgrid_version = reply["owner"], reply["labgrid"]
        self.serial = reply.get("serial", "")
        if not reply.get("fork_intact", True):
            log.warning("labgrid's environment (%s): serial is %s", self.python, self.serial)

    def request(self, op: str, timeout: float = REQUEST_S, **args: Any) -> dict[str, Any]:
        with self._lock:
            if self._channel is None:
                raise FarmError("the labgrid agent is closed")
            message = {"op": op, **args, "timeout_s": timeout}
            try:
                reply = self._channel.request(message, timeout + SLACK_S)
            except CellTimeout:
                raise FarmError(f"the labgrid agent did not answer {op} in {timeout:g} s") from None
            except TargetError as exc:
                raise FarmError(f"the labgrid agent ({self.python}) failed: {exc}") from None
        if not reply.get("ok"):
            error = str(reply.get("error"))
            if "labgrid is not importable" in error:
                error += (
                    f" (with {self.python}; pip install 'benchy[farm]', or set labgrid_python "
                    "to the python of a venv that has labgrid)"
                )
            raise FarmError(error)
        return reply

    def places(self) -> list[PlaceState]:
        return [PlaceState.from_reply(p) for p in self.request("places")["places"]]

    def alive(self) -> bool:
        with self._lock:
            return self._channel is not None and self._channel.proc.poll() is None

    def close(self) -> None:
        """Quit the agent: it releases whatever it still holds before it exits."""
        with self._lock:
            channel, self._channel, self._closed = self._channel, None, True
        if channel is not None:
            channel.close(wait_s=QUIT_S)
