"""The local CPU: the worker runs as a subprocess of benchy and forks a child per cell."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.power.config import PowerConfig
from benchy.targets import register
from benchy.targets.base import COOLDOWN_KEYS, Cooldown
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


@register
class LocalTarget(WorkerTarget):
    kind = "local"
    shares_host_clock = True
    option_keys = ("python", "pin_cpus", "power", *COOLDOWN_KEYS)

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

    def facts(self) -> dict[str, Any]:
        return {**self.worker_facts(), "emulated": False}

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        return {f: str(f.resolve()) for f in files}

    def adapt(self, cell: CellRequest) -> CellRequest:
        cell = super().adapt(cell)
        if self.options.pin_cpus:
            cell = {**cell, "pin_cpus": list(self.options.pin_cpus)}
        return cell
