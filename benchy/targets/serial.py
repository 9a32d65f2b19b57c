"""A microcontroller on a serial port, running MLPerf Tiny DUT firmware with TFLite Micro.

The firmware holds one model variant (`model`/`variant` in the target file): that pair on runtime
`tflm` is the only cell it can run; every other pair is listed not applicable. Latency comes
from the DUT's own timer, accuracy from `m-results` over the dataset, memory from the host:
flash = the model file, RAM = the TFLite Micro arena (see benchy/runtimes/tflm.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.errors import CellTimeout, DutTimeout, ProtocolError, TflmError
from benchy.runtimes.tflm import FIRMWARE, MEMORY_SOURCE, tflm_arena_bytes
from benchy.serial import EMULATOR_NAME
from benchy.serial.client import ClientSettings, DutClient, LinkStats
from benchy.serial.link import SerialLink
from benchy.serial.measure import measure
from benchy.serial.ports import PortSpec, parse_vid_pid
from benchy.serial.tensors import ModelIO
from benchy.serial.upload import MAX_CHUNK_BYTES
from benchy.targets import register
from benchy.targets.base import Target
from benchy.tomltable import Table
from benchy.worker.protocol import CellRequest, CellResult

log = logging.getLogger(__name__)

PROTOCOLS = ("mlperf-tiny",)
BAUD_MIN, BAUD_MAX = 50, 12_000_000
"""B50 is the slowest POSIX rate; 12 Mbaud the fastest common USB-UART (FTDI FT232H). Beyond
the range pyserial fails inside termios (a 99999999999 baud overflows its int)."""
RUNTIME_MODULE = "tflm-firmware"


@dataclass(frozen=True)
class SerialOptions:
    target: str
    port: PortSpec
    baud: int
    protocol: str
    model: str
    variant: str
    client: ClientSettings
    reconnect_s: float
    results: str

    @property
    def holds(self) -> str:
        return f"{self.model}/{self.variant}"


def _port(table: Table) -> PortSpec:
    path = table.string("port", None)
    raw = table.string("vid_pid", None)
    serial_number = table.string("serial_number", None)
    vid_pid = None
    if raw is not None:
        vid_pid = parse_vid_pid(raw)
        if vid_pid is None:
            raise table.error(
                "vid_pid", f'expected "VVVV:PPPP" in hex, e.g. "1366:1015", got "{raw}"'
            )
    if path is not None and (vid_pid or serial_number):
        raise table.error("port", "give either port or vid_pid/serial_number, not both")
    if path is None and not (vid_pid or serial_number):
        raise table.error(
            "port", 'required: a device path (e.g. "/dev/ttyACM0"), or vid_pid / serial_number'
        )
    return PortSpec(path, vid_pid, serial_number)


def _baud(table: Table) -> int:
    baud: int = table.number("baud", 115200, integer=True, minimum=1)
    if not BAUD_MIN <= baud <= BAUD_MAX:
        raise table.error("baud", f"expected {BAUD_MIN}..{BAUD_MAX}, got {baud}")
    return baud


def parse_serial_options(table: Table, port: PortSpec) -> SerialOptions:
    """The serial keys of a target file but the port: from the file (`_port`), or from a farm's
    NetworkSerialPort (benchy/targets/labgrid.py)."""
    name = table.data.get("name")
    target = name if isinstance(name, str) and name else Path(table.file).stem
    client = ClientSettings(
        timeout_s=table.number("timeout_s", 5.0, minimum=0, above=True),
        retries=table.number("retries", 3, integer=True, minimum=0),
        chunk_bytes=table.number("chunk_bytes", 31, integer=True, minimum=1),
        window=table.number("upload_window", 1, integer=True, minimum=1),
        verify=table.boolean("verify", False),
    )
    if client.chunk_bytes > MAX_CHUNK_BYTES:
        raise table.error(
            "chunk_bytes",
            f"expected at most {MAX_CHUNK_BYTES} (the DUT's command buffer is 80 characters)"
            f", got {client.chunk_bytes}",
        )
    return SerialOptions(
        target=target,
        port=port,
        baud=_baud(table),
        protocol=table.string("protocol", "mlperf-tiny", choices=PROTOCOLS),
        model=table.string("model"),
        variant=table.string("variant"),
        client=client,
        reconnect_s=table.number("reconnect_s", 10.0, minimum=0),
        results=table.string("results", "float", choices=("float", "quantized")),
    )


TFLM_NO_PROFILE = (
    "unavailable: the MLPerf Tiny protocol has no per-op command, and the tflite_micro Python "
    "interpreter exposes no profiler hook"
)
"""Per-op ticks (issue 15): neither a DUT speaking the protocol nor the emulator's TFLite Micro
(its InterpreterWrapper offers Invoke, tensors and PrintAllocations only) gives them."""


@register
class SerialTarget(Target):
    kind = "serial"
    option_keys = (
        "port",
        "vid_pid",
        "serial_number",
        "baud",
        "protocol",
        "model",
        "variant",
        "timeout_s",
        "reconnect_s",
        "retries",
        "chunk_bytes",
        "upload_window",
        "verify",
        "results",
    )

    @classmethod
    def parse_options(cls, table: Table) -> SerialOptions:
        return parse_serial_options(table, _port(table))

    @classmethod
    def refuses(cls, options: Any, model: str, variant: str, runtime: str) -> str | None:
        held = f"the firmware on {options.target} holds {options.holds}"
        if (model, variant) != (options.model, options.variant):
            return held
        if runtime != "tflm":
            # (no brackets: the dry-run table renders reasons as rich markup)
            return f"{held}, run by TFLite Micro: runtime tflm (add it to the matrix runtimes)"
        return None

    def __init__(self, name: str, options: SerialOptions) -> None:
        super().__init__(name, options)
        self.opts = options
        self.link = SerialLink(options.port, options.baud, options.reconnect_s)
        self.client = DutClient(self.link, options.client)
        self.dut: dict[str, Any] = {}

    def open(self) -> None:
        """Open the port and ask the DUT who it is (also after a lost link: reopens)."""
        self.link.close()
        self.link.open()
        try:
            self.client.sync()
            profile, model = self.client.profile()
            self.dut = {"dut_name": self.client.name(), "dut_profile": profile, "dut_model": model}
        except BaseException:
            self.link.close()
            raise
        log.info("%s: %s on %s", self.name, self.dut["dut_name"], self.link.device)

    def facts(self) -> dict[str, Any]:
        if not self.link.is_open:
            self.open()
        name = str(self.dut.get("dut_name") or "")
        return {
            "kind": self.kind,
            "port": self.link.device,
            "baud": self.opts.baud,
            "protocol": self.opts.protocol,
            **self.dut,
            "firmware_holds": self.opts.holds,
            "emulated": name.startswith(EMULATOR_NAME),
            "runtimes": {
                "tflm": {
                    "available": True,
                    "module": RUNTIME_MODULE,
                    "version": self.dut.get("dut_profile"),
                }
            },
        }

    def prepare(self, files: list[Path]) -> dict[Path, str]:
        """Nothing goes to the board (the model is in its firmware): host paths, for the host-side
        tensor parameters, arena size and dataset."""
        return {f: str(f.resolve()) for f in files}

    def run_cell(self, cell: CellRequest, timeout: float) -> CellResult:
        if cell["runtime"] != "tflm":
            return {"status": "unavailable", "error": f"{self.name} runs only runtime tflm"}
        if not self.link.is_open:
            self.open()
        self.client.stats = LinkStats()
        reconnects = self.link.reconnects
        try:
            io = ModelIO.from_tflite(cell["model_path"])
            inputs = io.inputs(cell["inputs"])
            result = measure(
                self.client,
                io,
                inputs,
                cell["measure"],
                bool(cell.get("collect_outputs")),
                timeout,
                self.opts.results == "quantized",
            )
        except CellTimeout as exc:
            status = "timeout" if not isinstance(exc, DutTimeout) else "error"
            return {"status": status, "error": str(exc)}
        except ProtocolError as exc:
            return {"status": "error", "error": str(exc)}
        except (OSError, ValueError, KeyError) as exc:  # the inputs: dataset, shape, dtype
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        stats = self.client.stats
        result["runtime_module"] = RUNTIME_MODULE
        result["runtime_version"] = self.dut.get("dut_profile") or "unknown"
        result["delegate_applied"] = FIRMWARE
        result["extra"].update(
            self._memory(Path(cell["model_path"])),
            link_retries=stats.retries,
            dut_resets=stats.resets,
            link_reconnects=self.link.reconnects - reconnects,
        )
        if cell.get("profile_ops"):  # issue 15
            result["ops_source"] = TFLM_NO_PROFILE
        return result

    def _memory(self, model: Path) -> dict[str, Any]:
        try:
            arena: int | None = tflm_arena_bytes(model)
            note = None
        except TflmError as exc:
            arena, note = None, str(exc)
        return {
            "flash_bytes": model.stat().st_size,
            "tflm_arena_bytes": arena,
            "memory_source": MEMORY_SOURCE,
            "memory_note": note,
        }

    def close(self) -> None:
        self.link.close()
