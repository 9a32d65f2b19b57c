"""Interrupting real runs, locally and over a real sshd: Ctrl-C leaves no traceback, and what a
benchy killed with SIGKILL left behind (a ControlMaster, its socket folder) is reaped by the
next benchy that opens an SSH target."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from .conftest import CNN_MODELS, ROOT
from .sshd import SshServer

SUITE = '[matrix]\nruntimes = ["tflite"]\n' + CNN_MODELS
SLOW = "[measure]\nmin_runs = 5\nmin_seconds = 1.0\nmax_seconds = 1.0\nrepetitions = 3\n"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    server = SshServer.create(tmp_path / "sshd")
    yield server
    server.kill()


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchy", *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_running(out: Path, timeout: float = 120) -> None:
    """Until the first repetition of a cell is under way (the worker has started cells)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "run.json").exists() and '"targets"' in (out / "run.json").read_text():
            time.sleep(1.5)  # into the timed loop of some cell
            return
        time.sleep(0.05)
    raise AssertionError("the run did not start")


def masters(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "ssh" and "ControlMaster=yes" in cmd and str(folder) in cmd:
            found.append(proc)
    return found


@pytest.mark.parametrize("remote", [False, True], ids=["local", "ssh"])
def test_ctrl_c_mid_cell_exits_130_without_a_traceback(  # type: ignore[no-untyped-def]
    make_suite, local_target: Path, tmp_path: Path, remote: bool, request
) -> None:
    target = local_target
    if remote:
        server: SshServer = request.getfixturevalue("sshd")
        target = tmp_path / "pi.toml"
        target.write_text(server.target_toml())
    out = tmp_path / "out"
    proc = start("run", str(make_suite(SUITE, measure=SLOW)), "--target", str(target),
                 "--out", str(out))  # fmt: skip
    wait_running(out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"closed file" not in err


def test_a_benchy_killed_hard_leaves_nothing_the_next_one_does_not_reap(  # type: ignore[no-untyped-def]
    sshd: SshServer, make_suite, tmp_path: Path
) -> None:
    target = tmp_path / "pi.toml"
    target.write_text(sshd.target_toml())
    out = tmp_path / "out"
    proc = start("run", str(make_suite(SUITE, measure=SLOW)), "--target", str(target),
                 "--out", str(out))  # fmt: skip
    wait_running(out)
    # The folder this benchy made (other benchy processes may be running on this machine).
    (folder,) = [
        d for d in Path(tempfile.gettempdir()).glob("benchy-ssh-*")
        if (d / "owner").is_file() and (d / "owner").read_text().split()[0] == str(proc.pid)
    ]  # fmt: skip
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert masters(folder), "the ControlMaster outlives a SIGKILLed benchy (ControlPersist)"
    clean = subprocess.run(
        [sys.executable, "-m", "benchy", "clean", "--target", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    deadline = time.monotonic() + 10
    while masters(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not masters(folder)
    assert not folder.exists()
