"""A real labgrid farm on 127.0.0.1 for the farm tests.

- labgrid 26 in its own venv (cached like the tflite-runtime one): `labgrid-coordinator`,
  `labgrid-exporter`, `labgrid-client`, and the Python benchy's agent runs with. Kept out of the
  test environment on purpose: labgrid brings pyserial-labgrid, which the test extra's ppk2-api
  (plain pyserial) would overwrite, and labgrid's pytest plugin would load into every test run.
- Debian's ser2net (installed when missing, as sshd is), which the exporter starts per serial port.
- A coordinator listening on a free loopback port, its state files in a temp dir (places are
  written to its places.yaml before it starts: no client round trips to set up).
- An exporter (`--hostname 127.0.0.1`) with the resources the test gives it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .debian import binary
from .sshd import free_port

LABGRID_SPEC = "labgrid>=26.0.1,<27"
VENV = (
    Path.home()
    / ".cache"
    / "benchy-tests"
    / f"labgrid26-py{sys.version_info[0]}{sys.version_info[1]}"
)
START_S = 60.0
"""Generous: two Python processes import grpc and labgrid on a busy 2-core machine."""


def labgrid_bin() -> Path:
    """The bin/ of a venv with labgrid 26 (created once, then reused)."""
    bindir = VENV / "bin"
    if not (bindir / "labgrid-coordinator").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(bindir / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, LABGRID_SPEC], check=True)
    return bindir


def ser2net_binary() -> str:
    return binary(("/usr/sbin/ser2net", "/usr/bin/ser2net"), "ser2net")


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"not listening on {port}: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Place:
    name: str
    tags: dict[str, str]
    groups: list[str]
    """Exporter groups (exporter `farm`) whose every resource belongs to the place."""

    def yaml(self) -> str:
        tags = "".join(f"\n    {k}: {v}" for k, v in self.tags.items()) or " {}"
        matches = "".join(
            f"\n  - {{exporter: farm, group: {g}, cls: '*', name: null, rename: null}}"
            for g in self.groups
        )
        return (
            f"{self.name}:\n  aliases: []\n  comment: benchy test board\n  tags:{tags}\n"
            f"  matches:{matches}\n"
        )


@dataclass
class Farm:
    dir: Path
    bin: Path
    port: int = field(default_factory=free_port)
    coordinator: subprocess.Popen[bytes] | None = None
    exporter: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    def start(self, places: list[Place], resources: str) -> None:
        """A coordinator that knows `places`, and an exporter of `resources` (YAML)."""
        ser2net_binary()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "places.yaml").write_text("".join(p.yaml() for p in places))
        log = self.dir / "coordinator.log"
        self.coordinator = subprocess.Popen(
            [str(self.bin / "labgrid-coordinator"), "-l", self.address],
            cwd=self.dir, stdout=log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _wait_port(self.port, self.coordinator, log)
        (self.dir / "exporter.yaml").write_text(resources)
        self.exporter = subprocess.Popen(
            [str(self.bin / "labgrid-exporter"), "-c", self.address, "--hostname", "127.0.0.1",
             "-n", "farm", str(self.dir / "exporter.yaml")],
            cwd=self.dir, stdout=(self.dir / "exporter.log").open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.wait_for(
            lambda: "farm/" in self.client("resources").stdout, "the exporter's resources"
        )

    def client(
        self, *args: str, user: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`labgrid-client` as a colleague would run it (LG_USERNAME/LG_HOSTNAME to be another)."""
        env = dict(os.environ)
        if user is not None:
            env.update(LG_USERNAME=user, LG_HOSTNAME="lab-pc")
        return subprocess.run(
            [str(self.bin / "labgrid-client"), "-x", self.address, *args],
            capture_output=True, text=True, env=env, timeout=START_S, check=check,
        )  # fmt: skip

    def holder(self, place: str) -> str | None:
        """Who has `place` acquired now, as `labgrid-client show` says."""
        out = self.client("-p", place, "show", check=True).stdout
        found = re.search(r"^\s*acquired: (.*)$", out, re.M)
        assert found is not None, out
        return None if found.group(1) == "None" else found.group(1)

    def reservations(self) -> str:
        return self.client("reservations", check=True).stdout.strip()

    def wait_for(self, ok: object, what: str, timeout: float = START_S) -> None:
        assert callable(ok)
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; {self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n" + (self.dir / name).read_text()[-3000:]
            for name in ("coordinator.log", "exporter.log")
            if (self.dir / name).exists()
        )

    def stop(self) -> None:
        _stop(self.exporter)
        _stop(self.coordinator)


@contextlib.contextmanager
def farm(directory: Path, places: list[Place], resources: str) -> Iterator[Farm]:
    f = Farm(directory, labgrid_bin())
    try:
        f.start(places, resources)
        yield f
    finally:
        f.stop()


class PowerSwitch:
    """A network power switch on 127.0.0.1 for labgrid's `simplerest` backend
    (GET /relay/<index>/<0|1>): records every switching, nothing more - no board gets power."""

    def __init__(self) -> None:
        calls: list[str] = []
        self.calls = calls

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                calls.append(self.path)
                body = b"1" if self.path.endswith("/1") else b"0"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/relay/{{index}}/{{value}}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
