"""Claiming a run directory before anything is measured: benchy writes only into a folder it
creates or finds empty, never over another run, and holds a lock on it while the run is written
(two runs with the same `--out` cannot interleave their files).

Every refusal is a UsageError (exit 2, one line) raised before the first cell runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import IO

from benchy.errors import UsageError

LOCK = "run.lock"
"""Held (flock) by the benchy writing the run; removed when the run is finished."""


class RunDirLock:
    """The claim on one run directory, released by `release()` or at process exit."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path, self._handle = path, handle

    def release(self) -> None:
        if self._handle.closed:
            return
        with contextlib.suppress(OSError):
            (self.path / LOCK).unlink()
        self._handle.close()  # closing the file drops the flock


def _why_not_writable(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc)


def claim(path: Path, option: str = "--out") -> RunDirLock:
    """Create (or take an empty) `path` for a new run and lock it."""
    shown = f"{option}: {path}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"{shown} exists and is not a directory")
    if path.is_dir():
        _refuse_locked(path, shown)
        _refuse_used(path, shown)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write results there: {_why_not_writable(exc)}") from None
    handle = _lock(path, shown)
    try:
        _refuse_used(path, shown)  # another run may have finished there meanwhile
        probe = path / ".benchy-write-probe"
        probe.write_bytes(b"x" * 4096)  # room for at least a run.json
        probe.unlink()
    except OSError as exc:
        handle.close()
        with contextlib.suppress(OSError):
            (path / ".benchy-write-probe").unlink()
        raise UsageError(f"{shown}: cannot write results there: {_why_not_writable(exc)}") from None
    except UsageError:
        handle.close()
        raise
    return RunDirLock(path, handle)


def claim_existing(path: Path, option: str) -> RunDirLock:
    """Lock a run directory that already holds a run (to complete it)."""
    shown = f"{option}: {path}"
    if not (path / "run.json").is_file():
        raise UsageError(f"{shown}: not a benchy run (no run.json)")
    return RunDirLock(path, _lock(path, shown))


def _lock(path: Path, shown: str) -> IO[str]:
    """The run directory's lock file, locked by this process (which it names), or a refusal."""
    try:
        handle = open(path / LOCK, "a+")  # noqa: SIM115 (held for the whole run)
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write results there: {_why_not_writable(exc)}") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
    except OSError:
        handle.close()
        raise UsageError(f"{shown} is being written by another benchy run") from None
    return handle


def check_unused(path: Path, option: str = "--out") -> None:
    """What `claim` refuses of an existing folder, checked without creating anything."""
    if path.is_dir():
        _refuse_locked(path, f"{option}: {path}")
        _refuse_used(path, f"{option}: {path}")


def _refuse_locked(path: Path, shown: str) -> None:
    """A run being written holds the lock: say so rather than "already holds a run"."""
    try:
        with open(path / LOCK) as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except FileNotFoundError:
        return
    except OSError:
        raise UsageError(f"{shown} is being written by another benchy run") from None


def _derived_here(entry: Path) -> bool:
    """The folder of derived variants benchy makes in a run directory before the run starts."""
    return entry.name == "derived" and (entry / "derived.json").is_file()


def _refuse_used(path: Path, shown: str) -> None:
    if (path / "run.json").exists():
        raise UsageError(
            f"{shown} already holds a run; benchy never writes over one: choose a new folder "
            "(or leave out --out for a fresh one under --results)"
        )
    left = [p.name for p in path.iterdir() if p.name != LOCK and not _derived_here(p)]
    if left:
        raise UsageError(
            f"{shown} is not empty ({', '.join(sorted(left)[:3])}{', …' if len(left) > 3 else ''})"
            " and holds no benchy run: benchy writes runs only into new or empty folders"
        )
