"""A `kind = "labgrid"` target file → LabgridOptions, with one-line errors like every target file.

The keys of the role's own target kind (ssh or serial) are parsed by that kind's parser, so a
farm board takes exactly the options a directly attached one does, less what the place tells
(the address and port of its NetworkService, the network port of its serial port).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.power.config import PowerConfig
from benchy.serial.ports import PortSpec
from benchy.targets.base import COOLDOWN_KEYS
from benchy.targets.serial import SerialOptions, parse_serial_options
from benchy.targets.ssh import SshOptions, parse_ssh_options
from benchy.tomltable import Table

DEFAULT_COORDINATOR = "127.0.0.1:20408"
"""labgrid's own default (`labgrid-client` without -x and $LG_COORDINATOR)."""

TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")
"""labgrid's rule for tag keys (labgrid.remote.common.TAG_KEY): the coordinator refuses others."""

HOST_KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)  # fmt: skip

COMMON_KEYS = (
    "coordinator", "place", "tags", "role", "count", "labgrid_python", "reserve_timeout_s",
    "priority", "power_cycle_before", "power_off_s", "boot_timeout_s",
)  # fmt: skip
SSH_KEYS = (
    "host_keys", "user", "identity_file", "python", "workdir", "connect_timeout_s",
    "known_hosts", "ssh_config", "power", *COOLDOWN_KEYS, "password", "passphrase",
)  # fmt: skip
SERIAL_KEYS = (
    "model", "variant", "timeout_s", "reconnect_s", "retries", "chunk_bytes",
    "upload_window", "verify", "results", "protocol",
)  # fmt: skip
ROLE_KEYS = {"ssh": SSH_KEYS, "serial": SERIAL_KEYS}
"""What each role takes besides the common keys; a key of the other role is an error."""

PENDING_PORT = PortSpec(path="(the place's serial port, known once it is acquired)")


@dataclass(frozen=True)
class LabgridOptions:
    coordinator: str
    place: str | None
    tags: dict[str, str]
    role: str
    count: int | None
    """Boards to spread the cells over; None = every place that matches (`count = "all"`)."""
    labgrid_python: str
    reserve_timeout_s: float
    priority: float
    power_cycle_before: bool
    power_off_s: float
    boot_timeout_s: float
    host_keys: dict[str, tuple[str, ...]]
    inner: SshOptions | SerialOptions
    file: str = ""
    slot: int = 1
    """Which of the target's boards this is (1-based), once the runner has split it."""
    slots: int = 1

    @property
    def filter(self) -> dict[str, str]:
        """The reservation filter: labgrid matches a place by its tags, and by `name`."""
        return dict(self.tags) if self.place is None else {"name": self.place}

    @property
    def wanted(self) -> str:
        if self.place is not None:
            return f"place {self.place}"
        return "a place with " + ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))

    @property
    def power(self) -> PowerConfig | None:
        """The board's own power sampling ([power] of an ssh role), as the runner reads it."""
        return getattr(self.inner, "power", None)

    @property
    def python(self) -> str:
        """The board's interpreter (for install hints), as on an ssh target."""
        return str(getattr(self.inner, "python", "python3"))


def _coordinator(table: Table) -> str:
    if "coordinator" in table:
        value: str = table.string("coordinator")
        where = None
    else:
        value, where = os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR, "$LG_COORDINATOR"
    if value.startswith(("ws://", "wss://")):
        message = (
            f'"{value}" is a crossbar URL (labgrid < 24); labgrid ≥ 24 coordinators speak gRPC: '
            'give "HOST:PORT", e.g. "farm:20408"'
        )
        raise table.error("coordinator", message + (f" (from {where})" if where else ""))
    return value


def _tags(table: Table) -> dict[str, str]:
    if "tags" not in table:
        return {}
    tags = table.table("tags")
    if not tags.data:
        raise table.error("tags", 'expected at least one tag, e.g. { board = "rpi5" }')
    for key in tags.data:
        if not TAG_KEY.fullmatch(key):
            raise tags.error(
                key, "labgrid tag keys are lower-case letters, digits and _, starting with a letter"
            )
    return {key: tags.string(key) for key in tags.data}


def _count(table: Table, place: str | None) -> int | None:
    raw = table.data.get("count", 1)
    if raw == "all":
        count = None
    elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        count = raw
    else:
        shown = f'"{raw}"' if isinstance(raw, str) else repr(raw)
        raise table.error("count", f'expected an integer ≥ 1 or "all", got {shown}')
    if place is not None and count != 1:
        raise table.error("count", "needs tags: a single place is one board")
    return count


def _python(table: Table) -> str:
    value: str | None = table.string("labgrid_python", None)
    if value is None:
        return sys.executable
    found = shutil.which(os.path.expanduser(value))
    if found is None:
        raise table.error(
            "labgrid_python", f'"{value}" is not an executable (the Python that has labgrid)'
        )
    return found


def _host_key(table: Table, place: str, line: Any) -> str:
    parts = line.split() if isinstance(line, str) else []
    ok = len(parts) >= 2 and parts[0] in HOST_KEY_TYPES
    if ok:
        try:
            base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            ok = False
    if not ok:
        shown = f'"{line}"' if isinstance(line, str) else repr(line)
        raise table.error(
            place,
            'expected a host key as ssh-keyscan prints it without the host, e.g. "ssh-ed25519 '
            f'AAAAC3Nza…" (types: {", ".join(HOST_KEY_TYPES)}), got {shown}',
        )
    return f"{parts[0]} {parts[1]}"


def _host_keys(table: Table) -> dict[str, tuple[str, ...]]:
    keys = table.table("host_keys")
    pinned = {}
    for place, value in keys.data.items():
        lines = value if isinstance(value, list) and value else [value]
        pinned[place] = tuple(_host_key(keys, place, line) for line in lines)
    return pinned


def parse_labgrid_options(table: Table) -> LabgridOptions:
    role = table.string("role", "ssh", choices=tuple(ROLE_KEYS))
    for other, keys in ROLE_KEYS.items():
        for key in keys:
            if other != role and key in table and key not in ROLE_KEYS[role]:
                raise table.error(key, f'belongs to role = "{other}", not "{role}"')
    place = table.string("place", None)
    tags = _tags(table)
    if place is not None and tags:
        raise table.error("place", 'give either place = "NAME" or tags, not both')
    if place is None and not tags:
        raise table.error(
            "tags", 'required: tags = { board = "rpi5" } (any free place with them), or place'
        )
    inner: SshOptions | SerialOptions
    if role == "ssh":
        inner = parse_ssh_options(table, host="")
    else:
        inner = parse_serial_options(table, PENDING_PORT)
    power_cycle = table.boolean("power_cycle_before", False)
    return LabgridOptions(
        coordinator=_coordinator(table),
        place=place,
        tags=tags,
        role=role,
        count=_count(table, place),
        labgrid_python=_python(table),
        reserve_timeout_s=table.number("reserve_timeout_s", 300.0, minimum=0, above=True),
        priority=table.number("priority", 0.0),
        power_cycle_before=power_cycle,
        power_off_s=table.number("power_off_s", 2.0, minimum=0),
        boot_timeout_s=table.number("boot_timeout_s", 120.0, minimum=0, above=True),
        host_keys=_host_keys(table) if role == "ssh" else {},
        inner=inner,
        file=table.file,
    )


def pinned_known_hosts(
    directory: Path, place: str, address: str, port: int, keys: tuple[str, ...]
) -> Path:
    """A known_hosts file holding this place's pinned keys for the address it has now."""
    host = address if port == 22 else f"[{address}]:{port}"
    path = directory / f"known_hosts-{place}"
    path.write_text("".join(f"{host} {key}\n" for key in keys))
    path.chmod(0o600)
    return path
