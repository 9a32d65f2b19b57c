"""Stand-ins for power hardware that cannot exist on a CI machine: sysfs trees laid out as the
kernel lays them out (powercap RAPL, hwmon INA219/INA260), kept up to date by a thread as a real
sensor would, and read by benchy's real readers through BENCHY_SYSFS."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

_FORK = multiprocessing.get_context("fork")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def cpu_busy() -> Callable[[], float]:
    """CPUs kept busy by this process's children (benchy's worker and its measuring child) since
    the previous call: what a power meter on the device would see, whatever else the machine
    runs."""
    seen: dict[int, float] = {}
    last = [time.perf_counter()]

    def busy() -> float:
        used = 0.0
        me = os.getpid()
        for proc in psutil.Process(os.getppid()).children(recursive=True):
            if proc.pid == me:
                continue
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total = t.user + t.system
                used += max(total - seen.get(proc.pid, total), 0.0)
                seen[proc.pid] = total
        now = time.perf_counter()
        wall, last[0] = now - last[0], now
        return min(used / wall, 1.0) if wall > 0 else 0.0

    return busy


class Sensor(_FORK.Process):  # type: ignore[name-defined,misc]
    """Updates sensor files every `period_s` for a power that is `watts()` at each moment. A
    process of its own, as a sensor is: nothing in the test process can stall its updates."""

    def __init__(self, watts: Callable[[], float], period_s: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.watts, self.period_s = watts, period_s
        self.stop_event = _FORK.Event()
        self.energy_j = 0.0

    def update(self, watts: float, energy_j: float) -> None:
        raise NotImplementedError

    def run(self) -> None:
        last = time.perf_counter()
        while not self.stop_event.is_set():
            now = time.perf_counter()
            w = self.watts()
            self.energy_j += w * (now - last)
            last = now
            self.update(w, self.energy_j)
            time.sleep(self.period_s)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2)
        if self.is_alive():
            self.kill()


class Rapl(Sensor):
    """/sys/class/powercap/intel-rapl:0 (package) with a core subzone; the counter wraps at
    max_energy_range_uj like the real one."""

    def __init__(self, sysfs: Path, watts: Callable[[], float], max_range_uj: int) -> None:
        super().__init__(watts)
        self.max_range_uj = max_range_uj
        self.dir = sysfs / "class/powercap/intel-rapl:0"
        sub = sysfs / "class/powercap/intel-rapl:0:0"
        for d, name in ((self.dir, "package-0"), (sub, "core")):
            d.mkdir(parents=True)
            (d / "name").write_text(name + "\n")
            (d / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
            (d / "energy_uj").write_text("0\n")
        (sysfs / "class/powercap/intel-rapl").mkdir()  # the control type entry, not a zone

    def update(self, watts: float, energy_j: float) -> None:
        write_atomic(self.dir / "energy_uj", f"{int(energy_j * 1e6) % self.max_range_uj}\n")


HWMON_LAYOUTS = {
    # ina2xx driver: in0 = shunt voltage (mV), in1 = bus voltage (mV), curr1 (mA), power1 (µW).
    "ina219": ("in0_input", "in1_input", "curr1_input", "power1_input", "shunt_resistor"),
    # INA260 (integrated shunt): bus voltage, current, power; no shunt channel.
    "ina260": ("in1_input", "curr1_input", "power1_input"),
    # A driver without power1_input: benchy must use curr1 × in1.
    "ina226-nopower": ("in0_input", "in1_input", "curr1_input"),
    # Drivers with an accumulating energy counter (µJ).
    "ina238-energy": ("in1_input", "curr1_input", "power1_input", "energy1_input"),
}


class Hwmon(Sensor):
    def __init__(
        self, sysfs: Path, layout: str, watts: Callable[[], float], bus_mv: int = 5000
    ) -> None:
        super().__init__(watts)
        self.dir = sysfs / "class/hwmon/hwmon3"
        self.dir.mkdir(parents=True)
        other = sysfs / "class/hwmon/hwmon0"  # a temperature sensor first, as on real boards
        other.mkdir()
        (other / "name").write_text("cpu_thermal\n")
        (other / "temp1_input").write_text("45000\n")
        (self.dir / "name").write_text(layout.split("-")[0] + "\n")
        self.files, self.bus_mv = HWMON_LAYOUTS[layout], bus_mv
        for f in self.files:
            (self.dir / f).write_text("0\n")

    def update(self, watts: float, energy_j: float) -> None:
        values = {
            "in0_input": 80,
            "in1_input": self.bus_mv,
            "curr1_input": round(watts / (self.bus_mv / 1000) * 1000),  # mA
            "power1_input": round(watts * 1e6),  # µW
            "energy1_input": round(energy_j * 1e6),  # µJ
            "shunt_resistor": 100000,
        }
        for f in self.files:
            write_atomic(self.dir / f, f"{values[f]}\n")
