"""What the device is: OS, CPU, RAM, governor, thermal zones, and which runtimes it has."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

from benchy.worker.protocol import PROTOCOL_VERSION, Facts
from benchy.worker.runtimes import availability
from benchy.worker.sysfs import read_text, sysfs
from benchy.worker.thermal import soc_temperature_c, throttled_state


def facts() -> Facts:
    import numpy

    info: Facts = {
        "hostname": platform.node(),
        "os": platform.system(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": getattr(numpy, "__version__", None),
        "cores": os.cpu_count(),
        "board": read_text("/proc/device-tree/model"),
        "cpu_model": None,
        "ram_mb": None,
        "cpu_max_mhz": None,
        "governor": read_text(sysfs("devices/system/cpu/cpu0/cpufreq/scaling_governor")),
        "worker_protocol": PROTOCOL_VERSION,
    }
    for line in (read_text("/proc/cpuinfo", "") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and not info["cpu_model"]:
            info["cpu_model"] = value.strip()
    for line in (read_text("/proc/meminfo", "") or "").splitlines():
        if line.startswith("MemTotal:"):
            info["ram_mb"] = int(line.split()[1]) // 1024
    khz = read_text(sysfs("devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))
    if khz and khz.isdigit():
        info["cpu_max_mhz"] = int(khz) // 1000
    info["runtimes"] = availability()
    info["temp_c"] = soc_temperature_c()
    info["throttled"] = throttled_state()
    thermal = sysfs("class", "thermal")
    zones = os.listdir(thermal) if os.path.isdir(thermal) else []
    info["thermal_zones"] = sorted(z for z in zones if z.startswith("thermal_zone"))
    info["valgrind"] = valgrind_version()
    return info


def valgrind_version() -> "str | None":
    """`valgrind-3.19.0` when Valgrind is on PATH here (instruction mode can run), else None."""
    path = shutil.which("valgrind")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace").strip() or None
