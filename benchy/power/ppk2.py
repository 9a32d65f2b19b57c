"""Nordic Power Profiler Kit II on the host (for MCUs and wearables), through `ppk2-api`.

The PPK2 samples current at 100 kHz. A reader thread decodes with ppk2-api's own decoder
(`PPK2_API.get_samples`, calibration from the device's metadata), stamps each chunk with the host
clock (samples spaced 10 µs back from the moment they were read), and keeps 1 kHz means (exact
for energy, 100× fewer rows). The runner aligns them with the cell's timed window.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchy.errors import TargetError
from benchy.power.config import PowerConfig

log = logging.getLogger(__name__)

NATIVE_HZ = 100_000
BIN = 100  # native samples per stored sample: 1 kHz
READ_PERIOD_S = 0.01


class MeterUnavailable(TargetError):
    """The power meter cannot be used; the message says why."""


@dataclass
class MeterRun:
    """What one cell's measurement collected."""

    label: str
    times: list[int] = field(default_factory=list)
    watts: list[float] = field(default_factory=list)
    error: str | None = None
    received_ns: int = 0  # host clock when the cell's result arrived

    def result(self) -> dict[str, Any]:
        return {
            "source": self.label,
            "error": self.error,
            "period_s": BIN / NATIVE_HZ,
            "samples": [[t, w] for t, w in zip(self.times, self.watts, strict=True)],
        }


class Ppk2Meter:
    def __init__(self, config: PowerConfig) -> None:
        try:
            from ppk2_api.ppk2_api import PPK2_API
        except ImportError:
            raise MeterUnavailable("ppk2-api is not installed: pip install ppk2-api") from None
        options = config.options
        port = options.get("port") or self._find(PPK2_API, options.get("serial_number"))
        self.mode = options.get("mode", "source")
        self.volts = float(options.get("voltage_mv", 3300)) / 1000
        if self.mode == "ampere" and "voltage_mv" not in options:
            raise MeterUnavailable("ampere mode needs voltage_mv: the supply voltage of the DUT")
        try:
            self.ppk = PPK2_API(port, timeout=1, write_timeout=1, exclusive=True)
        except (OSError, ValueError) as exc:
            raise MeterUnavailable(f"cannot open PPK2 at {port}: {exc}") from None
        if not self.ppk.get_modifiers():
            raise MeterUnavailable(f"{port} did not send PPK2 calibration metadata")
        if self.mode == "ampere":
            self.ppk.use_ampere_meter()
        else:
            self.ppk.use_source_meter()
        self.ppk.set_source_voltage(int(self.volts * 1000))
        if self.mode == "source":
            self.ppk.toggle_DUT_power("ON")
        self.label = f"ppk2:{port}"

    @staticmethod
    def _find(api: Any, serial_number: str | None) -> str:
        ports = api.list_devices()
        if serial_number:
            import serial.tools.list_ports

            ports = [
                p.device
                for p in serial.tools.list_ports.comports()
                if p.serial_number == serial_number
            ]
        if not ports:
            raise MeterUnavailable('no PPK2 found on any serial port (give port = "...")')
        return str(ports[0])

    @contextlib.contextmanager
    def measuring(self) -> Iterator[MeterRun]:
        run = MeterRun(self.label)
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(run, stop), daemon=True)
        self.ppk.ser.reset_input_buffer()  # nothing from before this cell
        self.ppk.start_measuring()
        reader.start()
        try:
            yield run
        finally:
            run.received_ns = time.perf_counter_ns()
            stop.set()
            reader.join(5)
            self.ppk.stop_measuring()

    def _read(self, run: MeterRun, stop: threading.Event) -> None:
        carry = np.empty(0)
        try:
            while not stop.is_set():
                time.sleep(READ_PERIOD_S)
                data = self.ppk.get_data()
                now = time.perf_counter_ns()
                if not data:
                    continue
                micro_amps, _ = self.ppk.get_samples(data)
                values = np.concatenate([carry, np.asarray(micro_amps, dtype=np.float64)])
                whole = len(values) // BIN * BIN
                carry = values[whole:]
                if not whole:
                    continue
                means = values[:whole].reshape(-1, BIN).mean(axis=1) / 1e6 * self.volts
                # The last native sample was read just now; each one before it 10 µs earlier.
                end = now - len(carry) * (10**9 // NATIVE_HZ)
                step = BIN * (10**9 // NATIVE_HZ)
                starts = end - step * np.arange(len(means), 0, -1)
                run.times.extend(int(t + step // 2) for t in starts)
                run.watts.extend(float(w) for w in means)
        except (OSError, ValueError) as exc:  # the meter vanished mid-cell
            run.error = f"PPK2 reading stopped: {exc}"

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.ppk.ser.close()


HostMeter = Ppk2Meter
HOST_METERS: dict[str, type[Ppk2Meter]] = {"ppk2": Ppk2Meter}
