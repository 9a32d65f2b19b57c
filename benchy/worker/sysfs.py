"""Small reads from the kernel's files; BENCHY_SYSFS points `sysfs()` at a recorded tree."""

from __future__ import annotations

import os


def sysfs(*parts: str) -> str:
    """A path under /sys."""
    return os.path.join(os.environ.get("BENCHY_SYSFS", "/sys"), *parts)


def read_text(path: str, default: str | None = None) -> str | None:
    try:
        with open(path) as fh:
            return fh.read().strip().strip("\x00")
    except OSError:
        return default


def read_int(path: str) -> int:
    with open(path) as fh:
        return int(fh.read().strip())
