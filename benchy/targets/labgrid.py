"""Boards in a labgrid farm: reserve and acquire a place, measure through benchy's own SSH or
serial target on the place's resources, always release.

    kind = "labgrid"
    tags = { board = "rpi5" }     # or place = "pi5-1"
    count = 2                     # or "all": the target's cells are spread over that many boards
    role = "ssh"                  # NetworkService → SshTarget
                                  # ("serial": NetworkSerialPort → SerialTarget)

labgrid itself runs in an agent process (benchy/farm/agent.py); this module composes the existing
targets and never imports labgrid. Security stays benchy's: host keys are checked
(StrictHostKeyChecking=yes) against keys pinned per place ([host_keys]) or the user's known_hosts,
never labgrid's SSHDriver defaults, which turn checking off.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchy.errors import TargetError
from benchy.farm.coordinator import REQUEST_S, Coordinator, FarmError, LeaseLost
from benchy.farm.lease import Lease, check, check_matches, resources, take
from benchy.farm.options import (
    COMMON_KEYS,
    ROLE_KEYS,
    LabgridOptions,
    parse_labgrid_options,
    pinned_known_hosts,
)
from benchy.farm.survey import survey
from benchy.results.manifest import utc_now
from benchy.serial.ports import PortSpec
from benchy.targets import register
from benchy.targets.base import Survey, Target
from benchy.targets.serial import SerialOptions, SerialTarget
from benchy.targets.ssh import HostKeyError, SshTarget
from benchy.tomltable import Table
from benchy.worker.protocol import CellRequest, CellResult

log = logging.getLogger(__name__)

ROLES: dict[str, type[Target]] = {"ssh": SshTarget, "serial": SerialTarget}
BOARD_FACTS = ("board", "hostname", "kernel", "os", "python", "cpu_model", "cores", "ram_mb",
               "ssh", "dut_name", "dut_profile", "port")  # fmt: skip
"""A board's own facts kept per place in run.json (`boards`), beside the target's facts."""


NAME = re.compile(r"[A-Za-z0-9_\[][A-Za-z0-9._:@%\[\]-]*")
"""A host name, address or user name as the exporter publishes it; nothing ssh could take for
an option (a leading "-") or a shell for syntax. The coordinator is trusted with less than that."""


def _checked(value: Any, what: str, place: str) -> str:
    text = str(value)
    if not NAME.fullmatch(text):
        raise FarmError(f"place {place}: refusing {what} {text!r} from the coordinator")
    return text


def _one(found: list[dict[str, Any]], cls: str, place: str) -> dict[str, Any]:
    mine = [r for r in found if r["cls"] == cls]
    if len(mine) != 1:
        have = ", ".join(r["path"] for r in found) or "none"
        raise FarmError(f"place {place} needs exactly one {cls} resource; it has: {have}")
    if mine[0]["extra"].get("proxy_required"):
        raise FarmError(
            f"{mine[0]['path']} is exported in isolated mode (reachable only through an SSH "
            "proxy to the exporter); benchy connects directly: export it without --isolated"
        )
    return mine[0]


@register
class LabgridTarget(Target):
    kind = "labgrid"
    option_keys = tuple(dict.fromkeys((*COMMON_KEYS, *ROLE_KEYS["ssh"], *ROLE_KEYS["serial"])))

    @classmethod
    def parse_options(cls, table: Table) -> LabgridOptions:
        return parse_labgrid_options(table)

    @classmethod
    def refuses(cls, options: Any, model: str, variant: str, runtime: str) -> str | None:
        return ROLES[options.role].refuses(options.inner, model, variant, runtime)

    @classmethod
    def lanes(cls, options: Any) -> list[Any]:
        """`count` boards, one lane each; `count = "all"` asks the coordinator how many match."""
        count = options.count
        if count is None:
            coordinator = Coordinator(options.labgrid_python, options.coordinator)
            try:
                coordinator.connect()
                count = len(check_matches(coordinator, options))
            except TargetError as exc:  # the one lane fails with the reason when it opens
                log.error("%s: cannot count the places: %s", options.file, exc)
                count = 1
            finally:
                coordinator.close()
        return [replace(options, slot=i, slots=count) for i in range(1, count + 1)]

    @classmethod
    def survey(cls, options: Any) -> Survey | None:
        return survey(options)

    def __init__(self, name: str, options: LabgridOptions) -> None:
        super().__init__(name, options)
        self.opts = options
        self.label = name if options.slots == 1 else f"{name}[{options.slot}/{options.slots}]"
        self._closing = threading.Event()
        self._close_lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="benchy-farm-")
        self.coordinator: Coordinator | None = None
        self.lease: Lease | None = None
        self.inner: Target | None = None
        self.power_cycle: dict[str, Any] | None = None
        self.labels: dict[str, Any] = {}

    # -- taking a board -------------------------------------------------------------------------

    def pairs_in_process(self) -> bool:
        return self.inner is not None and self.inner.pairs_in_process()

    def _coordinator(self) -> Coordinator:
        coordinator = self.coordinator
        if coordinator is None:
            raise FarmError(f"{self.label}: closed")
        return coordinator

    def open(self) -> None:
        """The first time: reserve, acquire, (power-cycle,) connect. Later (the runner reconnects
        after a lost connection): only while the place is still benchy's."""
        if self.lease is None:
            self._acquire()
            self._open_inner()
            return
        self._check()
        assert self.inner is not None
        self.inner.open()

    def _acquire(self) -> None:
        # A local name: close() (Ctrl-C, from another thread) may drop the attribute meanwhile;
        # this agent then answers every request with FarmError, and quits releasing all.
        coordinator = Coordinator(self.opts.labgrid_python, self.opts.coordinator)
        self.coordinator = coordinator
        coordinator.connect()
        self.lease = lease = take(coordinator, self.opts, self.label, self._closing)
        if self.opts.power_cycle_before:
            self._power_cycle(coordinator, lease.place)
        found = resources(coordinator, lease, self._closing)
        self.inner = self._inner(found, lease.place)

    def _power_cycle(self, coordinator: Coordinator, place: str) -> None:
        reply = coordinator.request(
            "power", REQUEST_S + self.opts.power_off_s, place=place, action="cycle",
            off_s=self.opts.power_off_s,
        )  # fmt: skip
        self.power_cycle = {"at": utc_now(), "resource": reply["resource"]}
        self.power_cycle["driver"] = reply["driver"]
        log.info("%s: power-cycled %s through %s", self.label, place, reply["resource"])

    def _inner(self, found: list[dict[str, Any]], place: str) -> Target:
        inner = self.opts.inner
        if isinstance(inner, SerialOptions):
            port = _one(found, "NetworkSerialPort", place)["params"]
            scheme = "socket" if port.get("protocol") == "raw" else "rfc2217"
            url = f"{scheme}://{_checked(port['host'], 'host', place)}:{int(port['port'])}"
            if scheme == "rfc2217":
                url += "?ign_set_control"  # ser2net may refuse SET_CONTROL; benchy sets no lines
            baud = int(port.get("speed") or 115200)
            return SerialTarget(self.name, replace(inner, port=PortSpec(path=url), baud=baud))
        service = _one(found, "NetworkService", place)["params"]
        if service.get("password"):
            log.info("%s: the place's NetworkService has a password; benchy uses keys only", place)
        address = _checked(service["address"], "address", place)
        port_no = int(service.get("port") or 22)
        known_hosts = inner.known_hosts
        if place in self.opts.host_keys:
            keys = self.opts.host_keys[place]
            pinned = pinned_known_hosts(Path(self._dir.name), place, address, port_no, keys)
            known_hosts = str(pinned)
        user = inner.user or service.get("username") or None
        if user is not None:
            user = _checked(user, "user name", place)
        options = replace(inner, host=address, port=port_no, user=user, known_hosts=known_hosts)
        return SshTarget(self.name, options)

    def _open_inner(self) -> None:
        assert self.inner is not None and self.lease is not None
        deadline = time.monotonic() + self.opts.boot_timeout_s
        while True:
            try:
                self.inner.open()
                return
            except HostKeyError as exc:
                raise HostKeyError(
                    f"place {self.lease.place}: {exc}; or pin its key in {self.opts.file}: "
                    f'[host_keys] "{self.lease.place}" = "<type> <key>"'
                ) from None
            except TargetError as exc:
                # After a power cycle the board is booting: keep knocking until boot_timeout_s.
                if self.power_cycle is None or time.monotonic() > deadline:
                    raise
                if self._closing.wait(1.0):
                    raise FarmError(f"stopped while {self.lease.place} was booting") from None
                log.debug("%s: not up yet: %s", self.label, exc)

    def _check(self) -> None:
        """The lease must still be benchy's. If the agent died, one new agent looks again (the
        lease belongs to this user and host, not to the agent process)."""
        assert self.lease is not None
        coordinator = self._coordinator()
        try:
            check(coordinator, self.lease)
            return
        except LeaseLost:
            raise
        except FarmError as exc:
            if coordinator.alive():
                raise LeaseLost(f"lease unknown: {exc}") from None
            log.warning("%s: labgrid agent gone (%s); starting another", self.label, exc)
        coordinator.close()
        fresh = Coordinator(self.opts.labgrid_python, self.opts.coordinator)
        self.coordinator = fresh
        try:
            fresh.connect()
            reply = fresh.request("adopt", place=self.lease.place, token=self.lease.token)
        except FarmError as exc:
            raise LeaseLost(f"lease unknown: {exc}") from None
        if not reply["held"]:
            raise LeaseLost(f"lease lost: {reply['reason']}")

    # -- measuring ------------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        assert self.inner is not None and self.lease is not None
        facts = self.inner.facts()
        place = self.lease.place
        board = facts.get("board") or facts.get("dut_name") or facts.get("hostname")
        self.labels = {"place": place, "board": board, "power_cycled": self.power_cycle is not None}
        facts["labgrid"] = {
            "coordinator": self.opts.coordinator,
            "wanted": self.opts.wanted,
            "boards": self.opts.slots,
            "labgrid_version": self._coordinator().labgrid_version,
            "labgrid_serial": self._coordinator().serial,
            "power_cycle_before": self.opts.power_cycle_before,
        }
        own = {k: facts[k] for k in BOARD_FACTS if facts.get(k) is not None}
        facts["boards"] = {place: {**own, "power_cycle": self.power_cycle}}
        return facts

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        assert self.inner is not None
        return self.inner.prepare(files)

    def run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        if self.inner is None or self.lease is None:
            raise FarmError(f"{self.label}: no board")
        self._check()
        result = self.inner.run_cell(cell, timeout)
        self._check()  # a place taken away during the cell: its figures are not benchy's
        result["extra"] = {**(result.get("extra") or {}), **self.labels}
        return result

    def power_check(self, spec: dict[str, Any]) -> str:
        if self.inner is None:
            return "unavailable: not connected"
        return self.inner.power_check(spec)

    def clean(self) -> str:
        """Every matching place in turn (by name, so none is cleaned twice)."""
        coordinator = Coordinator(self.opts.labgrid_python, self.opts.coordinator)
        try:
            coordinator.connect()
            matching = check_matches(coordinator, replace(self.opts, slot=1))
        finally:
            coordinator.close()
        notes = []
        for name in [p.name for p in matching]:
            one = replace(self.opts, place=name, tags={}, count=1, slot=1, slots=1)
            board = LabgridTarget(self.name, one)
            try:
                board._acquire()
                assert board.inner is not None
                notes.append(f"{name}: {board.inner.clean()}")
            finally:
                board.close()
        return "\n".join(notes)

    def close(self) -> None:
        """Always release: the inner target first, then the place and its reservation; the agent
        quits last and gives back anything still held."""
        with self._close_lock:
            self._closing.set()
            inner, self.inner = self.inner, None
            if inner is not None:
                try:
                    inner.close()
                except Exception:
                    log.exception("%s: closing the board", self.label)
            coordinator, lease = self.coordinator, self.lease
            self.coordinator = None
            if coordinator is not None and lease is not None:
                try:
                    note = coordinator.request("release", place=lease.place, token=lease.token)
                    log.info("%s: %s %s", self.label, lease.place, note["note"])
                except FarmError as exc:
                    log.error(
                        "%s: could not release %s: %s (by hand: labgrid-client -x %s -p %s "
                        "release)",
                        self.label, lease.place, exc, self.opts.coordinator, lease.place,
                    )  # fmt: skip
            if coordinator is not None:
                coordinator.close()
            self._dir.cleanup()
