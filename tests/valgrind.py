"""Valgrind for the instruction-mode tests: found on PATH, or Debian's `valgrind` installed
when missing (as tests/sshd.py does for openssh-server), so the README's test command brings
what the tests need."""

from __future__ import annotations

import shutil

from .debian import apt_install


def valgrind_binary() -> str:
    found = shutil.which("valgrind")
    if found is None:
        apt_install("valgrind")
        found = shutil.which("valgrind")
    if found is None:
        raise RuntimeError("valgrind installed but not on PATH")
    return found
