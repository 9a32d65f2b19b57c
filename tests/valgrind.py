"""Valgrind for the instruction-mode tests: found on PATH, or Debian's `valgrind` installed
when missing (as tests/sshd.py does for openssh-server), so the README's test command brings
what the tests need."""

from __future__ import annotations

import os
import shutil
import subprocess


def valgrind_binary() -> str:
    found = shutil.which("valgrind")
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", "valgrind"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("valgrind")
    if found is None:
        raise RuntimeError("valgrind installed but not on PATH")
    return found
