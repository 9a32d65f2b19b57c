"""benchy's labgrid agent: one labgrid coordinator session, driven by benchy over JSON lines.

benchy never imports labgrid itself. It runs this file with a Python that has labgrid (the
target's `labgrid_python`: benchy's own interpreter after `pip install 'benchy[farm]'`, or a
separate venv), so labgrid, gRPC and their pyserial fork live in that process only.

Protocol: one request per line on stdin (`{"op": "reserve", ...}`), one reply per line on stdout
(`{"ok": true, ...}` or `{"ok": false, "error": "..."}`), logs on stderr. Every request is
answered within its own timeout; long waits (a reservation, a resource coming up) are loops on
benchy's side, so no request holds the agent for long.

Leases end with the agent: on `quit` or end of input - benchy exited, whatever the cause (Ctrl-C,
SIGTERM, kill -9) - it releases every place it acquired and cancels every reservation it made,
unless someone else holds the place by then (that is theirs).

Runs on Python ≥ 3.10 (labgrid's minimum), stdlib + labgrid only. It is a script, not a
module: benchy's package is not on its path (the script's own directory is removed from
sys.path, so `import labgrid` cannot find benchy's `targets/labgrid.py`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

log = logging.getLogger("benchy-labgrid-agent")

POWER_DRIVERS = {
    # resource class → labgrid driver (the mapping `labgrid-client power` uses)
    "NetworkPowerPort": "NetworkPowerDriver",
    "NetworkUSBPowerPort": "USBPowerDriver",
    "NetworkSiSPMPowerPort": "SiSPMPowerDriver",
    "PDUDaemonPort": "PDUDaemonDriver",
    "TasmotaPowerPort": "TasmotaPowerDriver",
    "NetworkYKUSHPowerPort": "YKUSHPowerDriver",
}
RELEASE_TIMEOUT_S = 20.0


def serial_files() -> dict[str, Any]:
    """serialdist.serial_files of this environment (the file beside this one, loaded by path:
    benchy's package is not importable here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "benchy_serialdist", os.path.join(HERE, "serialdist.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: dict[str, Any] = module.serial_files()
    return result


class AgentError(Exception):
    """A request that cannot be done; its message goes back to benchy as the reply's error."""


def _grpc_details(exc: BaseException) -> str:
    """A gRPC error's details, or the words of a labgrid error (without its "Error: ")."""
    details = getattr(exc, "details", None)
    if callable(details):
        return str(details())
    return " ".join(str(a) for a in exc.args) or type(exc).__name__


class Agent:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.session: Any = None
        self.address = ""
        self.held: dict[str, str] = {}  # place → reservation token it was acquired with
        self.tokens: set[str] = set()

    # -- plumbing -----------------------------------------------------------------------------

    def run(self, coro: Any, timeout: float) -> Any:
        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except (asyncio.TimeoutError, TimeoutError):
            raise AgentError(
                f"no answer from the labgrid coordinator at {self.address} within {timeout:g} s"
            ) from None

    @property
    def owner(self) -> str:
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    async def _sync(self) -> None:
        if self.session is None:
            raise AgentError("not connected to a coordinator")
        if self.session.stopping.is_set() or not await self.session.sync_with_coordinator():
            raise AgentError(f"lost the connection to the labgrid coordinator at {self.address}")

    async def _call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return await getattr(self.session.stub, method)(request)
        except grpc.aio.AioRpcError as exc:
            raise AgentError(_grpc_details(exc)) from None

    def _place(self, name: str) -> Any:
        place = self.session.places.get(name)
        if place is None:
            raise AgentError(f"place {name} does not exist (any more)")
        return place

    # -- requests -----------------------------------------------------------------------------

    def op_connect(self, address: str, timeout_s: float) -> dict[str, Any]:
        from labgrid.remote.client import ClientSession
        from labgrid.util import labgrid_version
        from labgrid.util.proxy import proxymanager

        self.address = address
        grpc_address = proxymanager.get_grpc_address(address, default_port=20408)
        session = ClientSession(grpc_address, self.loop)
        try:
            self.run(session.start(), timeout_s)
        except Exception as exc:
            try:
                self.run(session.stop(), 5)
            except Exception as stop_exc:  # the session never came up; nothing to keep
                log.info("stopping the failed session: %s", stop_exc)
            if isinstance(exc, AgentError):
                raise
            raise AgentError(
                f"cannot reach the labgrid coordinator at {address}: {_grpc_details(exc)}"
            ) from None
        self.session = session
        return {"owner": self.owner, "labgrid": labgrid_version(), **serial_files()}

    async def _places(self) -> list[dict[str, Any]]:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        await self._sync()
        reply = await self._call("GetReservations", pb.GetReservationsRequest())
        owners = {r.token: r.owner for r in reply.reservations}
        out = []
        for name, place in sorted(self.session.places.items()):
            resources = []
            for exporter, groups in sorted(self.session.resources.items()):
                for group, entries in sorted(groups.items()):
                    for rname, entry in sorted(entries.items()):
                        path = (exporter, group, entry.cls, rname)
                        if place.hasmatch(path):
                            resources.append(
                                {"path": "/".join(path), "cls": entry.cls, "avail": entry.avail}
                            )
            out.append(
                {
                    "name": name,
                    "tags": dict(place.tags),
                    "comment": place.comment,
                    "acquired": place.acquired,
                    "reservation": place.reservation,
                    "reserved_for": owners.get(place.reservation),
                    "changed": place.changed,
                    "resources": resources,
                }
            )
        return out

    def op_places(self, timeout_s: float) -> dict[str, Any]:
        return {"places": self.run(self._places(), timeout_s), "owner": self.owner}

    async def _reserve(self, tags: dict[str, str], prio: float) -> str:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        request = pb.CreateReservationRequest(
            filters={"main": pb.Reservation.Filter(filter=tags)}, prio=prio
        )
        reply = await self._call("CreateReservation", request)
        token: str = reply.reservation.token
        self.tokens.add(token)
        return token

    def op_reserve(self, tags: dict[str, str], prio: float, timeout_s: float) -> dict[str, Any]:
        return {"token": self.run(self._reserve(tags, prio), timeout_s)}

    async def _poll(self, token: str) -> dict[str, Any]:
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        reply = await self._call("PollReservation", pb.PollReservationRequest(token=token))
        res = Reservation.from_pb2(reply.reservation)
        places = res.allocations.get("main") or [None]
        return {"state": res.state.name, "place": places[0]}

    def op_poll(self, token: str, timeout_s: float) -> dict[str, Any]:
        return dict(self.run(self._poll(token), timeout_s))

    async def _acquire(self, name: str, token: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        await self._sync()
        place = self._place(name)
        if place.reservation != token:
            raise AgentError(f"place {name} is not allocated to reservation {token}")
        await self._call("AcquirePlace", pb.AcquirePlaceRequest(placename=name))
        self.held[name] = token
        await self._sync()

    def op_acquire(self, place: str, token: str, timeout_s: float) -> dict[str, Any]:
        self.run(self._acquire(place, token), timeout_s)
        return {}

    async def _lease(self, name: str, token: str) -> dict[str, Any]:
        await self._sync()
        place = self.session.places.get(name)
        if place is None:
            return {"held": False, "reason": f"place {name} was deleted"}
        if place.acquired != self.owner:
            if place.acquired:
                reason = f"place {name} is now acquired by {place.acquired}"
            else:
                reason = f"place {name} was released by someone else"
            return {"held": False, "reason": reason}
        if place.reservation != token:
            return {"held": False, "reason": f"place {name} is no longer under reservation {token}"}
        return {"held": True, "reason": None}

    def op_lease(self, place: str, token: str, timeout_s: float) -> dict[str, Any]:
        return dict(self.run(self._lease(place, token), timeout_s))

    def op_adopt(self, place: str, token: str, timeout_s: float) -> dict[str, Any]:
        """Take over a lease an earlier agent of this user and host made (it died): released on
        exit like one of this agent's own."""
        reply = dict(self.run(self._lease(place, token), timeout_s))
        if reply["held"]:
            self.held[place] = token
            self.tokens.add(token)
        return reply

    async def _resources(self, name: str) -> list[dict[str, Any]]:
        await self._sync()
        place = self._place(name)
        if place.acquired != self.owner:
            raise AgentError(f"place {name} is not acquired by {self.owner}")
        out = []
        for path in place.acquired_resources:
            exporter, group, cls, rname = path
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(rname)
            if entry is None:
                raise AgentError(f"resource {'/'.join(path)} vanished (exporter gone?)")
            match = place.getmatch(path)
            out.append(
                {
                    "name": (match.rename if match is not None else None) or rname,
                    "path": "/".join(path),
                    "cls": cls,
                    "avail": entry.avail,
                    "params": entry.args,
                    "extra": entry.extra,
                }
            )
        return out

    def op_resources(self, place: str, timeout_s: float) -> dict[str, Any]:
        return {"resources": self.run(self._resources(place), timeout_s)}

    def op_power(self, place: str, action: str, off_s: float, timeout_s: float) -> dict[str, Any]:
        """Switch the place's power through labgrid's own driver for its power resource."""
        from labgrid import Target, target_factory
        from labgrid.resource.remote import RemotePlace, RemotePlaceManager

        resources = self.op_resources(place, timeout_s)["resources"]
        power = [r for r in resources if r["cls"] in POWER_DRIVERS]
        if not power:
            classes = ", ".join(sorted(POWER_DRIVERS))
            raise AgentError(f"place {place} has no power resource ({classes})")
        manager = RemotePlaceManager.get()
        manager.session, manager.loop = self.session, self.loop
        target = Target(place)
        RemotePlace(target, name=place)
        driver_cls = target_factory.class_from_string(POWER_DRIVERS[power[0]["cls"]])
        if len(power) > 1:  # the first one, by name (labgrid cannot choose among several)
            target.set_binding_map({next(iter(driver_cls.bindings)): power[0]["name"]})
        driver = driver_cls(target, name=None)
        if hasattr(driver, "delay"):
            driver.delay = float(off_s)
        try:
            target.activate(driver)
            getattr(driver, action)()
        except Exception as exc:
            raise AgentError(
                f"power {action} of {place} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            target.cleanup()
        return {"resource": power[0]["path"], "driver": POWER_DRIVERS[power[0]["cls"]]}

    async def _release(self, name: str, token: str | None) -> str:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        await self._sync()
        note = "not acquired"
        place = self.session.places.get(name)
        ours = place is not None and place.acquired == self.owner
        if ours and (token is None or place.reservation in (token, None)):
            await self._call("ReleasePlace", pb.ReleasePlaceRequest(placename=name))
            note = "released"
        elif place is not None and place.acquired:
            note = f"left alone: acquired by {place.acquired}"
        self.held.pop(name, None)
        if token is not None:
            await self._cancel(token)
        return note

    async def _cancel(self, token: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb

        if token in self.tokens:
            self.tokens.discard(token)
            try:
                await self._call("CancelReservation", pb.CancelReservationRequest(token=token))
            except AgentError as exc:  # already expired or cancelled: nothing to give back
                log.info("reservation %s: %s", token, exc)

    def op_release(self, place: str, token: str | None, timeout_s: float) -> dict[str, Any]:
        return {"note": self.run(self._release(place, token), timeout_s)}

    def op_cancel(self, token: str, timeout_s: float) -> dict[str, Any]:
        self.run(self._cancel(token), timeout_s)
        return {}

    def release_all(self) -> None:
        """Give back everything this agent still holds (quit, end of input)."""
        if self.session is None:
            return
        for name, token in list(self.held.items()):
            try:
                note = self.run(self._release(name, token), RELEASE_TIMEOUT_S)
                log.warning("released %s on exit (%s)", name, note)
            except AgentError as exc:
                log.error("could not release %s: %s", name, exc)
        for token in list(self.tokens):
            try:
                self.run(self._cancel(token), RELEASE_TIMEOUT_S)
            except AgentError as exc:
                log.error("could not cancel reservation %s: %s", token, exc)
        try:
            self.run(self.session.stop(), 5)
            self.run(self.session.close(), 5)
        except Exception as exc:  # the process is ending anyway
            log.info("closing the session: %s", exc)


def handle(agent: Agent, request: dict[str, Any]) -> dict[str, Any]:
    op = request.pop("op", None)
    method = getattr(agent, f"op_{op}", None)
    if method is None:
        return {"ok": False, "error": f"unknown op {op!r}"}
    try:
        return {"ok": True, **method(**request)}
    except AgentError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a labgrid bug or an API change: report it, keep serving
        log.exception("op %s failed", op)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def main() -> int:
    # benchy's package is not this script's: `import labgrid` must not find targets/labgrid.py.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="agent: %(message)s")
    try:
        import labgrid.remote.client  # noqa: F401
    except ImportError as exc:
        print(json.dumps({"ok": False, "error": f"labgrid is not importable: {exc}"}), flush=True)
        return 2
    # stdout carries the protocol only: whatever labgrid prints goes to stderr with the logs.
    protocol, sys.stdout = sys.stdout, sys.stderr
    agent = Agent()
    started = time.monotonic()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                reply: dict[str, Any] = {"ok": False, "error": "request is not JSON"}
            else:
                if request.get("op") == "quit":
                    break
                reply = handle(agent, request)
            protocol.write(json.dumps(reply) + "\n")
            protocol.flush()
    finally:
        agent.release_all()
        log.info("exiting after %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
