"""The emulator's stable port path (`--link PATH`): a symlink to its pty, like
/dev/serial/by-id/... for a USB board.

benchy replaces or removes a path only when it is its own kind of link: a symlink to a pty
(/dev/pts/N) that no longer exists — what an emulator leaves behind when it is killed. A file, a
directory, a symlink to anything else, or a link to a pty that is open (another emulator may be
serving it) is refused, and left exactly as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from benchy.errors import UsageError

PTY = re.compile(r"/dev/pts/\d+|/dev/ttys\d+")
"""Pty slave names: Linux devpts, macOS."""


def link_problem(path: Path) -> str | None:
    """Why the emulator may not put its link at `path`, or None."""
    if not path.parent.is_dir():
        return f"{path}: directory {path.parent} does not exist"
    if not os.path.lexists(path):
        return None
    if not path.is_symlink():
        kind = "a directory" if path.is_dir() else "a file"
        return f"{path} is {kind}, not a link benchy made; refusing to replace it"
    target = os.readlink(path)
    if PTY.fullmatch(target) is None:
        return f"{path} is a link to {target}, not one benchy made; refusing to replace it"
    if os.path.exists(target):
        return (
            f"{path} is a link to {target}, a pty that is open (another emulator?); "
            "remove the link if it is stale"
        )
    return None


def point(path: Path, tty: str) -> None:
    """Make `path` a symlink to `tty`, atomically (a temp name of our own, then rename)."""
    problem = link_problem(path)
    if problem is not None:
        raise UsageError(problem)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    tmp.symlink_to(tty)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink()
        raise


def remove(path: Path, tty: str) -> None:
    """Remove `path` if it is still our link to `tty` (someone may have replaced it)."""
    with contextlib.suppress(OSError):
        if path.is_symlink() and os.readlink(path) == tty:
            path.unlink()
