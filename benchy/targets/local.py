"""The local CPU: the worker runs as a subprocess of benchy and forks a child per cell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.errors import TargetError
from benchy.power.config import PowerConfig
from benchy.profiling.valgrind import INSTALL, callgrind_argv, local_valgrind
from benchy.targets import register
from benchy.targets.base import COOLDOWN_KEYS, Cooldown
from benchy.targets.callgrind import ValgrindUnavailable
from benchy.targets.channel import WorkerTarget
from benchy.tomltable import Table
from benchy.worker.bundle import worker_file
from benchy.worker.protocol import CellRequest


@dataclass(frozen=True)
class LocalOptions:
    python: str
    pin_cpus: tuple[int, ...]
    cooldown: Cooldown | None = None
    power: PowerConfig | None = None
    benchmark_bin: str | None = None  # issue 15: LiteRT's benchmark_model, for per-op times


@register
class LocalTarget(WorkerTarget):
    kind = "local"
    shares_host_clock = True
    option_keys = ("python", "pin_cpus", "power", "benchmark_bin", *COOLDOWN_KEYS)

    @classmethod
    def parse_options(cls, table: Table) -> LocalOptions:
        cpus = os.cpu_count() or 1
        pin = table.int_list("pin_cpus", (), minimum=0)
        for cpu in pin:
            if cpu >= cpus:
                raise table.error("pin_cpus", f"CPU {cpu} does not exist; valid: 0..{cpus - 1}")
        return LocalOptions(
            python=table.string("python", sys.executable),
            pin_cpus=pin,
            cooldown=Cooldown.parse(table),
            power=PowerConfig.parse(table),
            benchmark_bin=table.string("benchmark_bin", None),
        )

    def __init__(self, name: str, options: LocalOptions) -> None:
        super().__init__(name, options)
        self.cooldown = options.cooldown

    @property
    def where(self) -> str:
        return self.name

    def open(self) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.start_worker([self.options.python, str(worker_file()), "serve"], env)

    def callgrind_setup(self) -> tuple[list[str], dict[str, str] | None, str]:
        valgrind = local_valgrind()
        if valgrind is None:
            raise ValgrindUnavailable(f"{self.name}: Valgrind is not installed: {INSTALL}")
        # The real interpreter, not a shim script (pyenv): Valgrind would run the shell.
        python = subprocess.run(
            [self.options.python, "-c", "import sys; print(sys.executable)"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        out_dir = tempfile.mkdtemp(prefix="benchy-callgrind-")
        argv = callgrind_argv(valgrind, out_dir, [python, str(worker_file()), "serve"])
        return argv, dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1"), out_dir

    def callgrind_cleanup(self, out_dir: str) -> None:
        shutil.rmtree(out_dir, ignore_errors=True)  # the folder callgrind_setup made

    def run_tool(self, argv: list[str], timeout: float) -> str:
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TargetError(f"{self.name}: {argv[0]}: {exc}") from None
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        if proc.returncode != 0:
            raise TargetError(f"{self.name}: {argv[0]} exited {proc.returncode}: {out[-300:]}")
        return out

    def facts(self) -> dict[str, Any]:
        return {**self.worker_facts(), "emulated": False}

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        return {f: str(f.resolve()) for f in files}

    def adapt(self, cell: CellRequest) -> CellRequest:
        cell = super().adapt(cell)
        if self.options.pin_cpus:
            cell = {**cell, "pin_cpus": list(self.options.pin_cpus)}
        return cell
