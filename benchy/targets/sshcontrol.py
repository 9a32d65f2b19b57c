"""The folders that hold benchy's ControlMaster sockets (`$TMPDIR/benchy-ssh-*`, 0700), and
reaping the ones a killed benchy left behind.

A benchy killed with SIGKILL cannot close its connections: the ControlMaster lingers (it
persists for ControlPersist) and its folder stays. Each folder records the benchy process that
made it (pid and start time); the next SSH target benchy opens — a run, `targets check` or
`benchy clean` — asks the masters in folders whose process is gone to exit, and removes those
folders. Folders of live benchy processes, of other users, or without the record are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

PREFIX = "benchy-ssh-"
OWNER = "owner"


def make_control_dir() -> tempfile.TemporaryDirectory[str]:
    """A private folder for this process's sockets, recording who made it."""
    folder = tempfile.TemporaryDirectory(prefix=PREFIX)
    me = psutil.Process()
    (Path(folder.name) / OWNER).write_text(f"{me.pid} {me.create_time():.3f}\n")
    return folder


def _alive(record: str) -> bool:
    try:
        pid_text, started = record.split()
        proc = psutil.Process(int(pid_text))
        return abs(proc.create_time() - float(started)) < 0.01  # not a reused pid
    except (ValueError, psutil.Error):
        return False


def reap_stale() -> list[Path]:
    """Close the masters and remove the folders of benchy processes that are gone."""
    reaped = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = folder / OWNER
        try:
            if folder.is_symlink() or folder.stat().st_uid != os.getuid() or not owner.is_file():
                continue
            record = owner.read_text()
        except OSError:
            continue
        if _alive(record):
            continue
        for socket in folder.iterdir():
            if socket.is_socket():
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    subprocess.run(
                        ["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "--", "stale"],
                        capture_output=True, timeout=10, check=False,
                    )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
        log.info("closed the SSH connections of a benchy that is gone (%s)", folder)
        reaped.append(folder)
    return reaped
