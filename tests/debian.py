"""Debian packages the tests need, installed when missing (the README's test command must bring
what the tests use; CI and fresh machines run as root)."""

from __future__ import annotations

import os
import subprocess


def apt_install(package: str) -> None:
    """`apt-get install PACKAGE`, refreshing the package lists once if the first try fails."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)


def binary(candidates: tuple[str, ...], package: str) -> str:
    """The first executable of `candidates`, installing `package` first when there is none."""
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    apt_install(package)
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    raise RuntimeError(f"{package} installed but none of {', '.join(candidates)} found")
