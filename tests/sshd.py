"""A real OpenSSH server on 127.0.0.1 for the SSH target tests.

Keys are generated per server in a temp directory; the client side gets a known_hosts file that
holds the server's real host key. `openssh-server` is installed when missing (as CI needs).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .debian import apt_install

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/bin/sshd")


def sshd_binary() -> str:
    for path in SSHD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    apt_install("openssh-server")
    for path in SSHD_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError("openssh-server installed but no sshd binary found")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "benchy-test", "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SshServer:
    dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, directory: Path) -> SshServer:
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory, free_port())
        host_pub = keygen(directory / "host_key")
        client_pub = keygen(directory / "client_key")
        (directory / "authorized_keys").write_text(client_pub + "\n")
        key_type, key = host_pub.split()[:2]
        (directory / "known_hosts").write_text(f"[127.0.0.1]:{server.port} {key_type} {key}\n")
        (directory / "sshd_config").write_text(
            f"Port {server.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {directory}/host_key\nPidFile {directory}/sshd.pid\n"
            f"AuthorizedKeysFile {directory}/authorized_keys\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
            "StrictModes no\nUsePAM no\nLogLevel VERBOSE\n"
        )
        server.start()
        return server

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        log = (self.dir / "sshd.log").open("ab")
        config = str(self.dir / "sshd_config")
        self.proc = subprocess.Popen(
            [sshd_binary(), "-D", "-e", "-f", config], stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {(self.dir / 'sshd.log').read_text()[-2000:]}")

    def kill(self) -> None:
        """Kill the listener and every session process it forked (as a crash or reboot would)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        listener = psutil.Process(self.proc.pid)
        for proc in [*listener.children(recursive=True), listener]:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self.proc.wait()

    def target_toml(
        self, python: str | None = None, workdir: str | None = None, **extra: object
    ) -> str:
        lines = {
            "kind": "ssh",
            "host": "127.0.0.1",
            "port": self.port,
            "user": getpass.getuser(),
            "identity_file": str(self.dir / "client_key"),
            "known_hosts": str(self.dir / "known_hosts"),
            "ssh_config": "/dev/null",
            "python": python or sys.executable,
            "workdir": workdir or str(self.dir / "remote benchy 'dir'"),
            "connect_timeout_s": 5,
            **extra,
        }
        return "".join(
            f"{k} = {v}\n" if isinstance(v, int | float) else f'{k} = "{v}"\n'
            for k, v in lines.items()
        )


def ssh_available() -> bool:
    return shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None
