"""Reserve → wait (saying why) → acquire → the place's resources; and checking the lease later.

labgrid's reservations are fair (priority, then age) and cover both ways of naming a board: a
filter of tags, or `name=<place>`. benchy makes one reservation per board it needs, polls it
(a poll also keeps it from expiring) and acquires the place the coordinator allocates.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from benchy.farm.coordinator import Coordinator, FarmError, LeaseLost, PlaceState
from benchy.farm.options import LabgridOptions

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Between polls of a waiting reservation (labgrid-client waits 1 s too)."""
REMIND_S = 30.0
"""A waiting reason that did not change is logged again after this long."""
RESOURCES_S = 60.0
"""How long an acquired place's resources may take to come up (the exporter starts ser2net)."""


@dataclass(frozen=True)
class Lease:
    place: str
    token: str
    waited_s: float
    """From the reservation to its allocation (0 when a place was free)."""
    took_s: float
    """From the reservation to the acquired place, waiting included."""


def waiting_reason(places: list[PlaceState], wanted: dict[str, str], owner: str) -> str:
    """Why no place is allocated yet: every matching place and who holds it."""
    matching = [p for p in places if p.matches(wanted)]
    if not matching:
        return "no place matches"
    return "; ".join(f"{p.name} {p.state(owner)}" for p in matching)


def check_matches(coordinator: Coordinator, opts: LabgridOptions) -> list[PlaceState]:
    """The places this target can use; fails now when there are none (or fewer than asked)."""
    places = coordinator.places()
    matching = [p for p in places if p.matches(opts.filter)]
    if not matching:
        known = ", ".join(
            p.name + (" (" + ", ".join(f"{k}={v}" for k, v in sorted(p.tags.items())) + ")")
            for p in places
        )
        raise FarmError(
            f"no place on {coordinator.address} matches {opts.wanted}; places: {known or 'none'}"
        )
    if opts.slot > len(matching):
        names = ", ".join(p.name for p in matching)
        raise FarmError(
            f"count = {opts.slots}, but only {len(matching)} places match {opts.wanted}: {names}"
        )
    return matching


def take(
    coordinator: Coordinator, opts: LabgridOptions, label: str, stop: threading.Event
) -> Lease:
    """Reserve a matching place, wait for it (at most reserve_timeout_s), acquire it."""
    check_matches(coordinator, opts)
    start = time.monotonic()
    token = coordinator.request("reserve", tags=opts.filter, prio=opts.priority)["token"]
    try:
        place = _wait(coordinator, opts, token, label, stop, start)
        waited = time.monotonic() - start
        coordinator.request("acquire", place=place, token=token)
    except BaseException:
        try:
            coordinator.request("cancel", token=token)
        except FarmError as exc:  # the agent gives it back on exit anyway
            log.debug("%s: cancelling reservation %s: %s", label, token, exc)
        raise
    lease = Lease(place, token, waited, time.monotonic() - start)
    log.info(
        "%s: acquired place %s (reservation %s) after %.1f s", label, place, token, lease.took_s
    )
    return lease


def _wait(
    coordinator: Coordinator,
    opts: LabgridOptions,
    token: str,
    label: str,
    stop: threading.Event,
    start: float,
) -> str:
    said, said_at = "", 0.0
    while True:
        poll = coordinator.request("poll", token=token)
        if poll["state"] in ("allocated", "acquired") and poll.get("place"):
            return str(poll["place"])
        if poll["state"] != "waiting":
            raise FarmError(f"reservation {token} for {opts.wanted} is {poll['state']}")
        reason = waiting_reason(coordinator.places(), opts.filter, coordinator.owner)
        waited = time.monotonic() - start
        if waited >= opts.reserve_timeout_s:
            raise FarmError(
                f"no {opts.wanted} became free within {opts.reserve_timeout_s:g} s: {reason}"
            )
        if reason != said or time.monotonic() - said_at >= REMIND_S:
            log.info(
                "%s: waiting for %s (reservation %s, %.0f s of %g): %s",
                label, opts.wanted, token, waited, opts.reserve_timeout_s, reason,
            )  # fmt: skip
            said, said_at = reason, time.monotonic()
        if stop.wait(min(POLL_S, max(opts.reserve_timeout_s - waited, 0.01))):
            raise FarmError(f"stopped while waiting for {opts.wanted}")


def resources(
    coordinator: Coordinator, lease: Lease, stop: threading.Event
) -> list[dict[str, Any]]:
    """The acquired place's resources, once every one is available (and has its port)."""
    deadline = time.monotonic() + RESOURCES_S
    while True:
        found: list[dict[str, Any]] = coordinator.request("resources", place=lease.place)[
            "resources"
        ]
        waiting = [
            r["path"]
            for r in found
            if not r["avail"] or (r["cls"] == "NetworkSerialPort" and not r["params"].get("port"))
        ]
        if not waiting:
            return found
        if time.monotonic() > deadline:
            raise FarmError(
                f"place {lease.place}: resources not available within {RESOURCES_S:g} s: "
                + ", ".join(waiting)
            )
        if stop.wait(0.2):
            raise FarmError(f"stopped while waiting for the resources of {lease.place}")


def check(coordinator: Coordinator, lease: Lease) -> None:
    """Raise LeaseLost unless the place is still acquired by this user under this reservation."""
    reply = coordinator.request("lease", place=lease.place, token=lease.token)
    if not reply["held"]:
        raise LeaseLost(f"lease lost: {reply['reason']}")
