"""Device-side power sources, polled by the fork server while the child measures.

Each source reads a real interface (sysfs under BENCHY_SYSFS, or vcgencmd) and yields
(t_ns, watts) samples on perf_counter_ns's clock (CLOCK_MONOTONIC: shared with the child that
measures). Energy counters yield (t_mid_ns, mean watts, interval_ns) per interval between reads,
so a window's mean power can be weighted by time: energy over time, exactly.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from benchy.worker.protocol import PowerResult, PowerSpec
from benchy.worker.sysfs import read_int, read_text, sysfs

Sample = tuple[float, ...]
"""(t_ns, watts) for a reading, (t_mid_ns, mean watts, interval_ns) for a counter interval."""


class PowerUnavailable(Exception):
    """This source cannot run here; the message says why."""


class RaplSource:
    """Linux powercap RAPL: energy_uj counters (µJ) that wrap at max_energy_range_uj."""

    name = "rapl"
    min_period_s = 0.005

    def __init__(self, options: dict[str, Any]) -> None:
        base = sysfs("class", "powercap")
        wanted = options.get("zones")
        try:
            names = sorted(os.listdir(base))
        except OSError:
            raise PowerUnavailable(
                "no powercap interface (%s): not an Intel/AMD RAPL machine" % base
            )
        # Top-level zones (intel-rapl:0, :1 — one per package); subzones would count twice.
        zones = [n for n in names if n.startswith("intel-rapl:") and n.count(":") == 1]
        if wanted:
            zones = [z for z in zones if z in wanted]
        if not zones:
            raise PowerUnavailable("no RAPL package zones under %s" % base)
        self.paths: list[str] = []
        self.ranges: list[int] = []
        self.labels: list[str] = []
        for z in zones:
            path = os.path.join(base, z, "energy_uj")
            try:
                read_int(path)
            except PermissionError:
                raise PowerUnavailable(
                    "%s is readable by root only on this kernel (since the PLATYPUS fix, "
                    "CVE-2020-8694): run the worker as root or make energy_uj readable" % path
                )
            except (OSError, ValueError) as exc:
                raise PowerUnavailable("cannot read %s: %s" % (path, exc))
            self.paths.append(path)
            self.ranges.append(read_int(os.path.join(base, z, "max_energy_range_uj")))
            self.labels.append(read_text(os.path.join(base, z, "name")) or z)
        self.label = "rapl:" + "+".join(self.labels)
        self.last: tuple[int, list[int]] | None = None

    def read(self, t_ns: int) -> list[Sample]:
        values = [read_int(p) for p in self.paths]
        out: list[Sample] = []
        if self.last is not None:
            t0, before = self.last
            joules = 0.0
            for old, new, top in zip(before, values, self.ranges):
                delta = new - old if new >= old else new + top - old  # the counter wrapped
                joules += delta / 1e6
            if t_ns > t0:
                out.append(((t0 + t_ns) // 2, joules / ((t_ns - t0) / 1e9), t_ns - t0))
        self.last = (t_ns, values)
        return out


class HwmonSource:
    """Linux hwmon power monitors (INA219/226/260 hats): energyN_input (µJ counter), else
    powerN_input (µW), else currN_input (mA) × inN_input (mV)."""

    name = "hwmon"
    min_period_s = 0.002

    def __init__(self, options: dict[str, Any]) -> None:
        base = sysfs("class", "hwmon")
        device = options.get("device")
        channel = str(options.get("channel", 1))
        voltage = options.get("voltage", "in%s" % channel)
        try:
            dirs = sorted(os.listdir(base))
        except OSError:
            raise PowerUnavailable("no hwmon devices (%s)" % base)
        found = None
        names = []
        for d in dirs:
            name = read_text(os.path.join(base, d, "name")) or ""
            names.append(name)
            if (device and (name == device or d == device)) or (
                not device and name.startswith("ina")
            ):
                found = os.path.join(base, d)
                break
        if found is None:
            what = "named %s" % device if device else "from the INA2xx family"
            raise PowerUnavailable(
                "no hwmon power monitor %s (present: %s)" % (what, ", ".join(names) or "none")
            )
        self.label = "hwmon:%s" % (
            read_text(os.path.join(found, "name")) or os.path.basename(found)
        )
        where = found

        def p(name: str) -> str:
            return os.path.join(where, name)

        self.mode: str | None = None
        self.files: tuple[str, ...] = ()
        modes: tuple[tuple[str, tuple[str, ...]], ...] = (
            ("energy", (p("energy%s_input" % channel),)),
            ("power", (p("power%s_input" % channel),)),
            ("curr*volt", (p("curr%s_input" % channel), p("%s_input" % voltage))),
        )
        for mode, files in modes:
            if all(os.path.exists(f) for f in files):
                self.mode, self.files = mode, files
                break
        if self.mode is None:
            raise PowerUnavailable(
                "%s has no energy%s_input, power%s_input or curr%s_input + %s_input"
                % (found, channel, channel, channel, voltage)
            )
        try:
            [read_int(f) for f in self.files]
        except PermissionError as exc:
            raise PowerUnavailable("cannot read %s: permission denied" % exc.filename)
        except (OSError, ValueError) as exc:
            raise PowerUnavailable("cannot read %s: %s" % (self.files, exc))
        self.last: tuple[int, int] | None = None

    def read(self, t_ns: int) -> list[Sample]:
        values = [read_int(f) for f in self.files]
        if self.mode == "power":
            return [(t_ns, values[0] / 1e6)]  # µW
        if self.mode == "curr*volt":
            return [(t_ns, values[0] / 1e3 * values[1] / 1e3)]  # mA × mV
        out: list[Sample] = []
        if self.last is not None and t_ns > self.last[0] and values[0] >= self.last[1]:
            t0, e0 = self.last
            dt = t_ns - t0
            out.append(((t0 + t_ns) // 2, (values[0] - e0) / 1e6 / (dt / 1e9), dt))
        self.last = (t_ns, values[0])
        return out


def parse_pmic_adc(text: str) -> dict[str, float]:
    """`vcgencmd pmic_read_adc` → {rail: watts} for rails with both a current and a voltage."""
    amps, volts = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2 or "=" not in parts[1]:
            continue
        label, reading = parts[0], parts[1].split("=", 1)[1]
        try:
            value = float(reading[:-1])
        except ValueError:
            continue
        if value != value:  # NaN
            continue
        if label.endswith("_A") and reading.endswith("A"):
            amps[label[:-2]] = value
        elif label.endswith("_V") and reading.endswith("V"):
            volts[label[:-2]] = value
    return {rail: amps[rail] * volts[rail] for rail in amps if rail in volts}


class Pi5PmicSource:
    """Raspberry Pi 5 PMIC ADC: per-rail current × voltage, summed. The rails are after the
    PMIC's regulators, so the sum misses conversion losses and the 5 V USB/HAT loads."""

    name = "pi5-pmic"
    min_period_s = 0.1  # one vcgencmd process per sample

    def __init__(self, options: dict[str, Any]) -> None:
        self.command = list(options.get("command") or ["vcgencmd", "pmic_read_adc"])
        try:
            rails = parse_pmic_adc(self._run())
        except OSError as exc:
            raise PowerUnavailable("vcgencmd not found (%s): not a Raspberry Pi" % exc)
        if not rails:
            raise PowerUnavailable("pmic_read_adc printed no rails: not a Raspberry Pi 5")
        self.label = "pi5-pmic:%d rails" % len(rails)

    def _run(self) -> str:
        return subprocess.run(self.command, capture_output=True, text=True, timeout=5).stdout

    def read(self, t_ns: int) -> list[Sample]:
        rails = parse_pmic_adc(self._run())
        return [(t_ns, sum(rails.values()))] if rails else []


POWER_SOURCES = {s.name: s for s in (RaplSource, HwmonSource, Pi5PmicSource)}


class PowerSampler:
    """Polls one source in the fork server while the child measures."""

    def __init__(self, spec: PowerSpec) -> None:
        self.samples: list[Sample] = []
        self.error: str | None = None
        self.period_s = float(spec.get("period_s", 0.01))
        kind = POWER_SOURCES.get(spec["source"])
        if kind is None:
            self.source, self.error = None, "no device-side source %r" % spec["source"]
            return
        self.period_s = max(self.period_s, kind.min_period_s)
        try:
            self.source = kind(spec.get("options") or {})
        except PowerUnavailable as exc:
            self.source, self.error = None, str(exc)

    def poll(self) -> None:
        if self.source is None:
            return
        try:
            self.samples.extend(self.source.read(time.perf_counter_ns()))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self.error = "reading stopped: %s" % exc
            self.source = None

    def available(self) -> str | None:
        """None when the source can be read here, else why not."""
        return self.error

    def result(self) -> PowerResult:
        label = self.source.label if self.source is not None else None
        return {
            "source": label,
            "error": self.error,
            "period_s": self.period_s,
            "samples": [list(s) for s in self.samples],
        }
