"""What every target can do, and the JSON-lines channel to a worker process."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchy.tomltable import Table
from benchy.worker.protocol import CellRequest, CellResult, CooldownSpec

MAX_LINE = 256 * 1024 * 1024  # a reply carries samples; refuse anything absurd


@dataclass(frozen=True)
class Cooldown:
    """Wait before each cell until the SoC is below `below_c` °C, at most `max_wait_s`."""

    below_c: float
    max_wait_s: float

    @classmethod
    def parse(cls, table: Table) -> Cooldown | None:
        below = table.number("cooldown_below_c", None)
        wait = table.number("cooldown_max_wait_s", 300.0, minimum=0)
        return None if below is None else cls(below, wait)

    def spec(self) -> CooldownSpec:
        return {"below_c": self.below_c, "max_wait_s": self.max_wait_s}


COOLDOWN_KEYS = ("cooldown_below_c", "cooldown_max_wait_s")


@dataclass(frozen=True)
class Survey:
    """What a target that stands for shared devices (a board farm) has, and who holds them:
    `benchy targets check` shows it instead of taking a device."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    summary: str
    ok: bool


class Target(ABC):
    """A device benchy can measure on. Subclasses register with `benchy.targets.register`."""

    kind: ClassVar[str]
    option_keys: ClassVar[tuple[str, ...]] = ()
    emulated: ClassVar[bool] = False
    shares_host_clock: ClassVar[bool] = False
    """True when the device's perf_counter is benchy's own (the local target)."""

    def __init__(self, name: str, options: Any) -> None:
        self.name, self.options = name, options

    def pairs_in_process(self) -> bool:
        """Its worker can time two models in turn in one process (`benchy ab`, worker/pair.py)."""
        return False

    @classmethod
    @abstractmethod
    def parse_options(cls, table: Table) -> Any:
        """Validate this kind's keys of a target file."""

    @classmethod
    def refuses(cls, options: Any, model: str, variant: str, runtime: str) -> str | None:
        """Why this target cannot run (model, variant, runtime) at all, or None. Linux targets
        (the default) run everything but MCU firmware."""
        if runtime == "tflm":
            return "runtime tflm is MCU firmware: it runs on serial targets only"
        return None

    @classmethod
    def lanes(cls, options: Any) -> list[Any]:
        """One options object per device this target file stands for; the runner spreads the
        target's cells over them, one thread each. A board farm target with `count = N` is N
        boards (benchy/targets/labgrid.py); every other target is one device."""
        return [options]

    @classmethod
    def survey(cls, options: Any) -> Survey | None:
        """For shared devices: list them without taking one (see Survey). None: `targets check`
        opens the target instead."""
        return None

    @abstractmethod
    def open(self) -> None:
        """Connect / start the worker. Raises TargetError."""

    @abstractmethod
    def facts(self) -> dict[str, Any]:
        """Environment facts (CPU, RAM, OS, runtimes present)."""

    @abstractmethod
    def prepare(self, files: list[Path]) -> dict[Path, str]:
        """Make files available on the device; return local path → device path."""

    @abstractmethod
    def run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        """Run one repetition of one cell. Raises TargetError when the target itself fails.

        `cell` is the request built by `benchy.cellrequest` (paths as returned by `prepare`);
        the result is the worker protocol's CellResult (benchy/worker/protocol.py): an "ok"
        result has at least `samples_ns`, `window_s`, `runtime_module`, `runtime_version`,
        `delegate_applied`; anything not measured is absent or None — never estimated.
        Target-specific figures go in `extra`."""

    def power_check(self, spec: dict[str, Any]) -> str:
        """Can this device-side power source be read here? "<source> readable" or the reason."""
        return "unavailable: this target has no device-side power sources"

    def clean(self) -> str:
        """Remove benchy's files from the device; say what was done."""
        return f"{self.name}: benchy keeps no files on this target"

    @abstractmethod
    def close(self) -> None:
        """Stop the worker and release the device."""
