"""The local CPU: the worker runs as a subprocess of benchy and forks a child per cell."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.errors import CellTimeout, TargetError
from benchy.power import PowerConfig
from benchy.targets import register
from benchy.targets.base import (
    COOLDOWN_KEYS,
    WORKER_FILE,
    Cooldown,
    Target,
    WorkerChannel,
    worker_power_check,
)
from benchy.tomltable import Table

START_TIMEOUT_S = 60.0
SLACK_S = 30.0  # the worker enforces the cell timeout itself; this only catches a hung worker


@dataclass(frozen=True)
class LocalOptions:
    python: str
    pin_cpus: tuple[int, ...]
    cooldown: Cooldown | None = None
    power: PowerConfig | None = None


@register
class LocalTarget(Target):
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
        self.channel: WorkerChannel | None = None

    def open(self) -> None:
        self._start()

    def _start(self) -> WorkerChannel:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self.channel = WorkerChannel([self.options.python, str(WORKER_FILE), "serve"], env)
        reply = self.channel.request({"op": "ping"}, START_TIMEOUT_S)
        if not reply.get("ok"):
            raise TargetError(f"worker failed to start: {reply.get('error')}")
        return self.channel

    def facts(self) -> dict[str, Any]:
        channel = self.channel or self._start()
        reply = channel.request({"op": "facts"}, START_TIMEOUT_S)
        facts: dict[str, Any] = reply["facts"]
        facts["emulated"] = False
        return facts

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        return {f: str(f.resolve()) for f in files}

    def power_check(self, spec: dict[str, Any]) -> str:
        return worker_power_check(self.channel, spec)

    def run_cell(self, cell: dict[str, Any], timeout: float) -> dict[str, Any]:
        channel = self.channel or self._start()
        if self.options.pin_cpus:
            cell = dict(cell, pin_cpus=list(self.options.pin_cpus))
        if self.options.cooldown:
            cell = self.options.cooldown.apply(cell)
        try:
            reply = channel.request({"op": "cell", "cell": cell}, timeout + SLACK_S)
        except (CellTimeout, TargetError):
            # The server itself is wedged or gone: restart it for the next cell.
            self.close()
            raise
        if not reply.get("ok"):
            raise TargetError(f"worker refused the cell: {reply.get('error')}")
        result: dict[str, Any] = reply["result"]
        return result

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
