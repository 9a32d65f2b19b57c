"""SoC temperature and throttling around each cell, and an optional cool-down before it."""

from __future__ import annotations

import os
import subprocess
import time

from benchy.worker.protocol import CooldownSpec
from benchy.worker.sysfs import read_text, sysfs


def soc_temperature_c() -> float | None:
    """Hottest thermal zone in °C, or None where the kernel exposes none."""
    temps = []
    base = sysfs("class", "thermal")
    try:
        zones = [z for z in os.listdir(base) if z.startswith("thermal_zone")]
    except OSError:
        return None
    for zone in zones:
        raw = read_text(os.path.join(base, zone, "temp"))
        if raw and raw.lstrip("-").isdigit():
            temps.append(int(raw) / 1000.0)
    return max(temps) if temps else None


def throttled_state() -> int | None:
    """`vcgencmd get_throttled` bits on a Raspberry Pi (0x0 = never throttled), else None."""
    try:
        out = subprocess.run(
            ["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    _, _, value = out.strip().partition("=")
    try:
        return int(value, 16)
    except ValueError:
        return None


def cool_down(spec: CooldownSpec | None) -> float:
    """Wait until the SoC is below spec["below_c"] (at most spec["max_wait_s"]); seconds waited."""
    if not spec:
        return 0.0
    start = time.monotonic()
    while time.monotonic() - start < float(spec.get("max_wait_s", 300)):
        temp = soc_temperature_c()
        if temp is None or temp < float(spec["below_c"]):
            break
        time.sleep(1.0)
    return time.monotonic() - start


def thermal_snapshot() -> dict[str, float | None]:
    return {"temp_c": soc_temperature_c(), "throttled": throttled_state()}
