"""Valgrind on the host: where it is, how benchy starts a worker under callgrind, and the config
error when instruction mode is asked for where it is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchy.config import Measure, TargetConfig
from benchy.errors import ConfigError

PACKAGE = "valgrind"
INSTALL = "apt-get install valgrind (the Debian/Ubuntu package `valgrind`)"
TOGGLE_FUNCTIONS = ("tflite::Subgraph::Invoke()",)
"""Functions whose inside is counted. Exact names: callgrind's patterns match nested functions
too (`*Subgraph::Invoke*` also matches InvokeImpl and toggles collection off again inside)."""


def callgrind_argv(valgrind: str, out_dir: str, worker: list[str]) -> list[str]:
    """`worker` (interpreter, worker file, "serve") under callgrind: instrumentation off until
    the cell's child switches it on, collection only inside TOGGLE_FUNCTIONS (or where the
    child toggles it), one output file per process (the fork server's children included)."""
    return [
        valgrind,
        "--tool=callgrind",
        "-q",
        "--instr-atstart=no",
        "--collect-atstart=no",
        *(f"--toggle-collect={name}" for name in TOGGLE_FUNCTIONS),
        f"--callgrind-out-file={out_dir}/callgrind.%p",
        *worker,
    ]


def local_valgrind() -> str | None:
    return shutil.which("valgrind")


def check_local(suite_file: Path, measure: Measure, targets: list[TargetConfig]) -> None:
    """Instruction mode on this machine needs Valgrind: a config error (exit 2) naming the
    package when it is missing. SSH boards are checked when they connect."""
    if measure.mode != "instructions" or local_valgrind() is not None:
        return
    if any(t.kind == "local" for t in targets):
        raise ConfigError(
            str(suite_file),
            "[measure].mode",
            f'"instructions" counts with Valgrind (callgrind), which is not installed here: '
            f"{INSTALL}",
        )
