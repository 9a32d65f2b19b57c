"""Linux boards over SSH: the system OpenSSH client with the user's own config, agent, known_hosts
and ProxyJump; one multiplexed connection (ControlMaster) per target for the whole run.

The worker file and every model/dataset are pushed by content hash into a private (0700) work
directory that benchy creates (an existing one is used only if benchy made it), so a re-run
uploads nothing unchanged. Cells then run in the device's worker exactly as on the local target.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.errors import TargetError
from benchy.modelinfo import companions
from benchy.power.config import PowerConfig
from benchy.profiling.valgrind import INSTALL, callgrind_argv
from benchy.results.manifest import sha256_file
from benchy.targets import register, workdir
from benchy.targets.base import COOLDOWN_KEYS, Cooldown
from benchy.targets.callgrind import ValgrindUnavailable
from benchy.targets.channel import WorkerTarget
from benchy.targets.sshcontrol import make_control_dir, reap_stale
from benchy.tomltable import Table
from benchy.worker.bundle import worker_file

log = logging.getLogger(__name__)


class TargetUnreachable(TargetError):
    """The device did not answer within the connect timeout, or refused the connection."""


class HostKeyError(TargetError):
    """The device's host key is unknown or changed: benchy never trusts it on its own."""


@dataclass(frozen=True)
class SshOptions:
    host: str
    user: str | None = None
    port: int | None = None
    identity_file: str | None = None
    python: str = "python3"
    workdir: str = ".cache/benchy"
    connect_timeout_s: float = 10.0
    known_hosts: str | None = None
    ssh_config: str | None = None
    cooldown: Cooldown | None = None
    power: PowerConfig | None = None
    benchmark_bin: str | None = None  # issue 15: LiteRT's benchmark_model on the board

    @property
    def where(self) -> str:
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.host}" + (f":{self.port}" if self.port else "")


def _classify(opts: SshOptions, stderr: str) -> TargetError:
    """Turn ssh's stderr into an error that says what to do."""
    text = stderr.strip()
    lines = [ln for ln in text.splitlines() if not ln.startswith("Warning: Permanently added")]
    last = "; ".join(lines)[-400:] if lines else "no output"
    kh = f" -f {opts.known_hosts}" if opts.known_hosts else ""
    khfile = opts.known_hosts or "~/.ssh/known_hosts"
    host = f"[{opts.host}]:{opts.port}" if opts.port else opts.host
    scan = f"ssh-keyscan{' -p ' + str(opts.port) if opts.port else ''} {opts.host}"
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return HostKeyError(
            f"{opts.where}: the host key has CHANGED since it was trusted — refusing to connect. "
            f"If the device was re-imaged, verify the new key, then `ssh-keygen -R '{host}'{kh}` "
            f"and add it again (`{scan} >> {khfile}`)"
        )
    if "Host key verification failed" in text or "No ED25519 host key is known" in text:
        return HostKeyError(
            f"{opts.where}: the host key is not known — refusing to connect. Verify the device's "
            f"fingerprint, then trust it with `{scan} >> {khfile}` (or connect once with ssh)"
        )
    if "Permission denied" in text:
        return TargetError(
            f"{opts.where}: authentication failed ({last}); benchy uses SSH keys only "
            "(identity_file, the agent or ~/.ssh/config), never passwords"
        )
    return TargetUnreachable(f"{opts.where}: cannot connect: {last}")


class Ssh:
    """ssh/scp argv for one target, sharing a ControlMaster socket."""

    def __init__(self, opts: SshOptions, control_dir: Path) -> None:
        self.opts = opts
        self.control_dir = control_dir

    def argv(self, *extra: str) -> list[str]:
        o = self.opts
        args = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        args += ["-o", f"ConnectTimeout={max(1, round(o.connect_timeout_s))}"]
        # Commands ride the master connection when it is up (ControlMaster=no never starts a
        # lingering master of its own: that would hold our pipes open).
        args += ["-o", "ControlMaster=no", "-o", f"ControlPath={self.control_dir}/%C"]
        # Notice a dead link within ~15 s instead of waiting for TCP to give up.
        args += ["-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"]
        if o.ssh_config:
            args += ["-F", o.ssh_config]
        if o.port:
            args += ["-p", str(o.port)]
        if o.user:
            args += ["-l", o.user]
        if o.identity_file:
            args += ["-i", str(Path(o.identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        if o.known_hosts:
            args += ["-o", f"UserKnownHostsFile={Path(o.known_hosts).expanduser()}"]
        # "--": whatever the host is called, ssh never reads it (or what follows) as an option.
        return [*args, *extra, "--", o.host]

    def run(
        self, command: list[str], data: bytes | None = None, timeout: float | None = None
    ) -> str:
        """Run a remote command (each argument shell-quoted); return stdout or raise."""
        remote = shlex.join(command)
        limit = timeout if timeout is not None else self.opts.connect_timeout_s + 60
        try:
            proc = subprocess.run(
                [*self.argv(), remote], input=data, capture_output=True, timeout=limit
            )
        except subprocess.TimeoutExpired:
            raise TargetUnreachable(f"{self.opts.where}: no answer within {limit:.0f} s") from None
        if proc.returncode == 255:  # ssh's own failure, not the remote command's
            raise _classify(self.opts, proc.stderr.decode("utf-8", "replace"))
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            shown = remote if len(remote) < 200 else remote[:200] + "…"
            raise TargetError(f"{self.opts.where}: `{shown}` failed ({proc.returncode}): {err}")
        return proc.stdout.decode("utf-8", "replace")

    def start_master(self) -> None:
        """Open the shared connection: ssh authenticates, then backgrounds itself (-f)."""
        argv = self.argv("-M", "-N", "-f", "-o", "ControlMaster=yes", "-o", "ControlPersist=600")
        with tempfile.TemporaryFile() as err:  # a file, not a pipe: the master keeps it open
            try:
                proc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    timeout=self.opts.connect_timeout_s + 30,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise TargetUnreachable(
                    f"{self.opts.where}: no answer within {self.opts.connect_timeout_s:.0f} s"
                ) from None
            if proc.returncode != 0:
                err.seek(0)
                raise _classify(self.opts, err.read().decode("utf-8", "replace"))

    def exit_master(self) -> None:
        subprocess.run([*self.argv("-O", "exit")], capture_output=True, timeout=10, check=False)


def bundle_digest(model: Path, data: list[Path]) -> str:
    """One sha256 for a model and its external data files (their names and contents): the
    name of the folder they share on the device. Data a model names in a subfolder, or outside
    its own folder, cannot go beside it there: refused, so nothing else is ever uploaded."""
    h = hashlib.sha256(sha256_file(model).encode())
    for d in data:
        if d.parent != model.parent:
            raise TargetError(
                f"{model.name}: external data {os.path.relpath(d, model.parent)} is not beside "
                "the model; benchy pushes the data files that sit in the model's own folder"
            )
        if not d.is_file():
            raise TargetError(f"{model.name}: external data file {d.name} is missing")
        h.update(f"\0{d.name}\0{sha256_file(d)}".encode())
    return h.hexdigest()


def _host(table: Table) -> str:
    host: str = table.string("host")
    if host.startswith("-"):
        raise table.error("host", f'refusing "{host}": ssh would read a leading "-" as an option')
    if any(c.isspace() or not c.isprintable() for c in host):
        shown = json.dumps(host, ensure_ascii=False)  # control characters escaped, not printed
        raise table.error("host", f"expected a host name, address or ssh_config alias, got {shown}")
    return host


def parse_ssh_options(table: Table, host: str | None = None) -> SshOptions:
    """The ssh keys of a target file. `host` is the file's own key, unless given: a farm target
    (benchy/targets/labgrid.py) learns it from the place's NetworkService."""
    for secret in ("password", "passphrase"):
        if secret in table:
            raise table.error(secret, "passwords do not belong in TOML; use an SSH key")
    d = SshOptions(host="")
    workdir = table.string("workdir", d.workdir)
    if workdir.strip("/") in ("", ".", "~") or ".." in workdir.split("/"):
        raise table.error("workdir", f'refusing "{workdir}": benchy deletes it on clean')
    return SshOptions(
        host=_host(table) if host is None else host,
        user=table.string("user", None),
        port=table.number("port", None, integer=True, minimum=1),
        identity_file=table.string("identity_file", None),
        python=table.string("python", d.python),
        workdir=workdir,
        connect_timeout_s=table.number("connect_timeout_s", d.connect_timeout_s, above=True,
                                       minimum=0),
        known_hosts=table.string("known_hosts", None),
        ssh_config=table.string("ssh_config", None),
        cooldown=Cooldown.parse(table),
        power=PowerConfig.parse(table),
        benchmark_bin=table.string("benchmark_bin", None),
    )  # fmt: skip


@register
class SshTarget(WorkerTarget):
    kind = "ssh"
    option_keys = (
        "host", "user", "port", "identity_file", "python", "workdir", "connect_timeout_s",
        "known_hosts", "ssh_config", "power", "benchmark_bin", *COOLDOWN_KEYS,
        "password", "passphrase",  # accepted only to be refused with a better message
    )  # fmt: skip

    @classmethod
    def parse_options(cls, table: Table) -> SshOptions:
        return parse_ssh_options(table)

    def __init__(self, name: str, options: SshOptions) -> None:
        super().__init__(name, options)
        self.opts = options
        reap_stale()  # what a benchy killed with SIGKILL left behind
        self._control = make_control_dir()
        self.ssh = Ssh(options, Path(self._control.name))
        self.cooldown = options.cooldown
        self.workdir: str | None = None

    @property
    def where(self) -> str:
        return self.opts.where

    def open(self) -> None:
        self.close_channel()
        self.ssh.exit_master()
        self.ssh.start_master()
        # One short command establishes the shared connection and the private work directory,
        # which benchy creates itself or finds marked as its own (benchy/targets/workdir.py).
        w = self.opts.workdir
        answer = self.ssh.run(["sh", "-c", workdir.OPEN, "benchy-workdir", w])
        self.workdir = workdir.opened(answer, w, self.opts.where)
        bundle = worker_file()
        worker = f"{self.workdir}/{bundle.name}"  # named by its sha256
        self._push({bundle: worker})
        self.start_worker([*self.ssh.argv(), shlex.join([self.opts.python, worker, "serve"])])

    def callgrind_setup(self) -> tuple[list[str], dict[str, str] | None, str]:
        """The board's Valgrind (or why not), a private folder for callgrind (mktemp -d), and
        the worker under callgrind with the board's real interpreter (not a shim)."""
        assert self.workdir is not None
        found = self.ssh.run(["sh", "-c", "command -v valgrind || true"]).strip()
        if not found:
            raise ValgrindUnavailable(
                f"{self.where}: Valgrind is not installed on the board: sudo {INSTALL}"
            )
        python = self.ssh.run([self.opts.python, "-c", "import sys; print(sys.executable)"])
        out_dir = self.ssh.run(["mktemp", "-d", "-t", "benchy-callgrind.XXXXXX"]).strip()
        worker = f"{self.workdir}/{worker_file().name}"
        remote = callgrind_argv(found, out_dir, [python.strip(), worker, "serve"])
        return [*self.ssh.argv(), shlex.join(remote)], None, out_dir

    def callgrind_cleanup(self, out_dir: str) -> None:
        if "/benchy-callgrind." in out_dir:  # only the folder callgrind_setup made
            self.ssh.run(["rm", "-rf", "--", out_dir])

    def run_tool(self, argv: list[str], timeout: float) -> str:
        return self.ssh.run(["sh", "-c", '"$0" "$@" 2>&1', *argv], timeout=timeout)

    def _missing(self, remote: list[str]) -> set[str]:
        check = "; ".join(f"[ -e {shlex.quote(p)} ] || echo {shlex.quote(p)}" for p in remote)
        return set(self.ssh.run(["sh", "-c", check or "true"]).split("\n")) - {""}

    def _push(self, files: dict[Path, str]) -> None:
        """Upload what the device lacks; each file lands atomically (temp name, then mv)."""
        for local, remote in files.items():
            if remote not in self._missing([remote]):
                continue
            log.info("%s: uploading %s (%d bytes)", self.name, local.name, local.stat().st_size)
            # A unique temporary name: two boards of a farm may share a disk.
            tmp, folder = f"{remote}.part-{secrets.token_hex(4)}", remote.rsplit("/", 1)[0]
            script = (
                f"mkdir -p {shlex.quote(folder)} && cat > {shlex.quote(tmp)} && "
                f"mv {shlex.quote(tmp)} {shlex.quote(remote)}"
            )
            self.ssh.run(["sh", "-c", script], data=local.read_bytes(), timeout=600)

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        """Each file as files/<sha256>-<name>; a model with external data (ONNX) goes with its
        data files into a folder of its own, files/<sha256>.d/, under the names the model gives
        them (the sha256 covers the model, the names and the data)."""
        assert self.workdir is not None
        remote: dict[Path, str] = {}
        uploads: dict[Path, str] = {}
        for f in files:
            data = companions(f)
            if not data:
                remote[f] = uploads[f] = f"{self.workdir}/files/{sha256_file(f)}-{f.name}"
                continue
            folder = f"{self.workdir}/files/{bundle_digest(f, data)}.d"
            remote[f] = uploads[f] = f"{folder}/{f.name}"
            for d in data:
                uploads[d] = f"{folder}/{d.name}"
        missing = self._missing(list(uploads.values()))
        self._push({f: r for f, r in uploads.items() if r in missing})
        return remote

    def facts(self) -> dict[str, Any]:
        return {**self.worker_facts(), "emulated": False, "ssh": self.where,
                "workdir": self.workdir}  # fmt: skip

    def lost(self, exc: TargetError) -> TargetError:
        return TargetError(f"{self.where}: connection lost: {exc}")

    def clean(self) -> str:
        w = self.opts.workdir
        answer = self.ssh.run(["sh", "-c", workdir.CLEAN, "benchy-workdir", w])
        return workdir.cleaned(answer, w, self.opts.where)

    def close(self) -> None:
        self.close_channel()
        self.callgrind.close()
        self.ssh.exit_master()
        self._control.cleanup()
