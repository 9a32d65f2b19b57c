"""Power and energy: real benchy runs whose power sources are recorded sysfs layouts kept live by a
thread, a stand-in vcgencmd printing a recorded Pi 5 capture, and a PPK2 emulator on a pty —
all read through benchy's real readers and decoders."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main
from benchy.power.config import EnergySettings
from benchy.power.energy import battery_life, energy_columns
from benchy.worker import power as worker_power

from .fake_power import Hwmon, Rapl, cpu_busy
from .ppk2_emulator import Ppk2Emulator, sample_word

HERE = Path(__file__).parent
SUITE = """
[matrix]
runtimes = ["tflite"]
[models.cnn]
dataset = "@DATA@"
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
"""
MEASURE = "[measure]\nwarmup_runs = 5\nwarmup_seconds = 0\nmin_runs = 10\nmin_seconds = 0.6\n"


def run_cell(
    make_suite, tmp_path: Path, power: str, suite: str = SUITE, python: str = ""
) -> pd.Series:  # type: ignore[no-untyped-def]
    target = tmp_path / "t.toml"
    target.write_text(f'kind = "local"\n{python}[power]\n{power}\n')
    out = tmp_path / "out"
    code = main(
        ["run", str(make_suite(suite, measure=MEASURE)), "--target", str(target), "--out", str(out)]
    )
    assert code in (0, 1), code
    cells = pd.read_parquet(out / "cells.parquet")
    return cells[cells.status == "ok"].iloc[0]


@pytest.fixture
def sysfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "sys"
    root.mkdir()
    monkeypatch.setenv("BENCHY_SYSFS", str(root))
    return root


def test_rapl_counter_wraps_and_is_read_right(sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # 4 W against a counter that wraps every 0.5 J: it wraps ~8 times a second.
    sensor = Rapl(sysfs, lambda: 4.0, max_range_uj=500_000)
    sensor.start()
    try:
        row = run_cell(make_suite, tmp_path, 'source = "rapl"\nidle_s = 0.4')
    finally:
        sensor.stop()
    assert row.power_source == "rapl:package-0"  # the core subzone is not counted twice
    assert row.idle_power_mw == pytest.approx(4000, rel=0.03)
    assert row.active_power_mw == pytest.approx(4000, rel=0.03)
    assert abs(row.energy_per_inference_mj) < 0.05 * 4000 * row.window_s / row.n_samples
    assert row.power_samples >= 60 and row.power_rate_hz > 20
    power = pd.read_parquet(tmp_path / "out" / "power.parquet")
    assert set(power.phase) >= {"idle", "active"}
    active = power[power.phase == "active"]
    weighted = np.average(active.watts, weights=active.interval_s)  # energy over time
    assert weighted * 1000 == pytest.approx(row.active_power_mw)


def test_rapl_power_follows_the_work(sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A meter whose reading rises with CPU load: active > idle, energy per inference > 0."""
    busy = cpu_busy()
    sensor = Rapl(sysfs, lambda: 2.0 + 10.0 * busy(), max_range_uj=2**32)
    sensor.start()
    try:
        row = run_cell(make_suite, tmp_path, 'source = "rapl"\nidle_s = 0.5')
    finally:
        sensor.stop()
    assert row.active_power_mw > row.idle_power_mw + 500
    assert row.energy_per_inference_mj > 0
    expected = (row.active_power_mw - row.idle_power_mw) * row.window_s / row.n_samples
    assert row.energy_per_inference_mj == pytest.approx(expected)


LAYOUTS = [
    ("ina219", "hwmon:ina219"),
    ("ina260", "hwmon:ina260"),
    ("ina226-nopower", "hwmon:ina226"),
    ("ina238-energy", "hwmon:ina238"),
]


@pytest.mark.parametrize(("layout", "label"), LAYOUTS)
def test_hwmon_layouts(layout: str, label: str, sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sensor = Hwmon(sysfs, layout, lambda: 2.5)
    sensor.start()
    try:
        row = run_cell(make_suite, tmp_path, 'source = "hwmon"\nidle_s = 0.3')
    finally:
        sensor.stop()
    assert row.power_source == label
    if "energy" not in layout:  # instantaneous readings of a constant power: exact
        assert row.active_power_mw == pytest.approx(2500, rel=1e-3)
        assert row.idle_power_mw == pytest.approx(2500, rel=1e-3)
        return
    # An energy counter's interval means are off by how stale each reading was (the fake sensor
    # rewrites its file every ~2 ms, but a busy machine can deschedule it for far longer), so
    # check the arithmetic on what the worker really read: the window mean is the time-weighted
    # mean of its intervals, and the intervals average to the sensor's power.
    power = pd.read_parquet(tmp_path / "out" / "power.parquet")
    active = power[power.phase == "active"]
    weighted = np.average(active.watts, weights=active.interval_s) * 1000
    assert row.active_power_mw == pytest.approx(weighted, rel=1e-9)
    assert row.active_power_mw == pytest.approx(2500, rel=0.5)


def test_unreadable_rapl_says_why(sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """energy_uj is root-only on current kernels; the worker runs without the right to read it
    (root minus CAP_DAC_OVERRIDE, so the file's mode 0400-for-nobody really applies)."""
    Rapl(sysfs, lambda: 1.0, max_range_uj=2**32)
    (sysfs / "class/powercap/intel-rapl:0/energy_uj").chmod(0)
    wrapper = tmp_path / "python-without-dac-override"
    wrapper.write_text(
        "#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search -- "
        f'"{sys.executable}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    row = run_cell(make_suite, tmp_path, 'source = "rapl"', python=f'python = "{wrapper}"\n')
    assert row.power_source.startswith("unavailable: ")
    assert "energy_uj is readable by root only" in row.power_source
    assert pd.isna(row.get("active_power_mw", np.nan))
    assert pd.isna(row.get("energy_per_inference_mj", np.nan))


def test_no_source_is_unavailable_not_invented(
    make_suite, local_target: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                str(make_suite(SUITE, measure=MEASURE)),
                "--target",
                str(local_target),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").iloc[0]
    assert row.power_source == "unavailable: no [power] source in the target file"
    assert "active_power_mw" not in row or pd.isna(row.active_power_mw)


def test_missing_powercap_tree(sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    row = run_cell(make_suite, tmp_path, 'source = "rapl"')
    assert row.power_source.startswith("unavailable: no powercap interface")


# ---------------------------------------------------------------- Raspberry Pi 5 PMIC

PMIC_CAPTURE = HERE / "data" / "pi5_pmic_read_adc.txt"


def test_pmic_capture_parses_to_the_hand_sum() -> None:
    rails = worker_power.parse_pmic_adc(PMIC_CAPTURE.read_text())
    assert len(rails) == 12  # EXT5V_V and BATT_V have no current: not counted
    assert "EXT5V" not in rails and "BATT" not in rails
    assert rails["VDD_CORE"] == pytest.approx(6.22421000 * 0.86173300)
    assert sum(rails.values()) == pytest.approx(7.239819, abs=1e-6)


def test_pmic_source_in_a_real_run(
    make_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    vcgencmd = tmp_path / "bin" / "vcgencmd"
    vcgencmd.parent.mkdir()
    vcgencmd.write_text(f'#!/bin/sh\n[ "$1" = pmic_read_adc ] && cat "{PMIC_CAPTURE}"\n')
    vcgencmd.chmod(vcgencmd.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{vcgencmd.parent}{os.pathsep}{os.environ['PATH']}")
    row = run_cell(make_suite, tmp_path, 'source = "pi5-pmic"\nidle_s = 0.5')
    assert row.power_source == "pi5-pmic:12 rails"
    assert row.active_power_mw == pytest.approx(7239.819, abs=0.01)
    # At most one vcgencmd per 0.1 s: ≤ window/0.1 + 1 samples in the timed window.
    assert row.power_rate_hz * row.window_s <= row.window_s / 0.1 + 1


# ---------------------------------------------------------------- PPK2


@pytest.fixture
def ppk2() -> Iterator[Ppk2Emulator]:
    pytest.importorskip("ppk2_api")
    emulator = Ppk2Emulator(sample_word(adc=5000, current_range=2))
    emulator.start()
    yield emulator
    emulator.close()


def test_ppk2_raw_words_decode_to_the_hand_computed_power(
    ppk2: Ppk2Emulator, make_suite, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    row = run_cell(
        make_suite,
        tmp_path,
        f'source = "ppk2"\nport = "{ppk2.port}"\nvoltage_mv = 3300\nidle_s = 0.3',
    )
    # ADC 5000 in range 2: (5000·4 − O2) · (1.8 / 163840) / R2 · GI2 = 0.0216485 A; × 3.3 V.
    amps = (5000 * 4 - 0) * (1.8 / 163840) / 10.15 * 1
    assert row.power_source == f"ppk2:{ppk2.port}"
    assert row.active_power_mw == pytest.approx(amps * 3.3 * 1000, rel=1e-6)
    assert row.idle_power_mw == pytest.approx(amps * 3.3 * 1000, rel=1e-6)
    # 1 kHz means of 100 kHz samples; how many arrive depends on how fast this machine reads
    # the pty (the emulator drops what the buffer cannot take, as a real link would).
    assert 0 < row.power_rate_hz <= 1000 * 1.2
    assert 0x06 in ppk2.commands and 0x07 in ppk2.commands and 0x19 in ppk2.commands


def test_ppk2_missing_port_is_unavailable(make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ppk2_api")
    row = run_cell(make_suite, tmp_path, 'source = "ppk2"\nport = "/dev/no-such-ppk2"')
    assert row.power_source.startswith("unavailable: cannot open PPK2 at /dev/no-such-ppk2")


# ---------------------------------------------------------------- arithmetic


def test_energy_arithmetic_by_hand() -> None:
    ms = 1_000_000
    samples = [[t * ms, 1.0] for t in range(0, 500, 10)] + [
        [t * ms, 3.0] for t in range(1000, 3000, 10)
    ]
    power = {"source": "x", "samples": samples}
    cols = energy_columns(power, [1000 * ms, 3000 * ms], [0, 500 * ms], inferences=1000)
    assert cols["idle_power_mw"] == pytest.approx(1000)
    assert cols["active_power_mw"] == pytest.approx(3000)
    # (3 W − 1 W) × 2 s / 1000 inferences = 4 mJ
    assert cols["energy_per_inference_mj"] == pytest.approx(4.0)
    assert cols["active_power_ci_low_mw"] == pytest.approx(3000)  # constant samples: no spread


def test_clock_offset_maps_device_windows() -> None:
    samples = np.array([[t, 2.0 if t >= 5000 else 1.0] for t in range(0, 10000, 100)])
    power = {"source": "x", "samples": samples.tolist()}
    cols = energy_columns(power, [1000, 4000], [-5000, -1100], inferences=10, offset_ns=6000)
    assert cols["idle_power_mw"] == pytest.approx(1000)
    assert cols["active_power_mw"] == pytest.approx(2000)


def test_battery_life_by_hand() -> None:
    settings = EnergySettings(battery_mah=2000, battery_voltage=3.7, inferences_per_second=1.0,
                              sleep_power_mw=1.0)  # fmt: skip
    life = battery_life(settings, {"energy_per_inference_mj": 4.0, "latency_p50_ms": 20.0})
    # 2000 mAh × 3.7 V = 7400 mWh over 1 mW + 1/s × 4 mJ = 5 mW → 1480 h
    assert life["battery_life_hours"] == pytest.approx(1480)
    assert life["duty_cycle"] == pytest.approx(0.02)
    idle_based = battery_life(
        EnergySettings(2000, 3.7, 0.5), {"energy_per_inference_mj": 4.0, "idle_power_mw": 100.0}
    )
    assert idle_based["battery_life_hours"] == pytest.approx(7400 / 102)


def test_battery_life_and_energy_budgets_in_a_run(sysfs: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    busy = cpu_busy()
    sensor = Rapl(sysfs, lambda: 1.0 + 5.0 * busy(), max_range_uj=2**32)
    sensor.start()
    suite = SUITE + (
        "[energy]\nbattery_mah = 300\nbattery_voltage = 3.7\ninferences_per_minute = 60\n"
        "sleep_power_mw = 2\n[budgets]\nbattery_life_hours_min = 1000000\nactive_power_mw = 1\n"
        '[suite]\nrank_by = "battery_life_hours"\n'
    )
    try:
        row = run_cell(make_suite, tmp_path, 'source = "rapl"\nidle_s = 0.4', suite=suite)
    finally:
        sensor.stop()
    expected = 300 * 3.7 / (2 + 1.0 * row.energy_per_inference_mj)
    assert row.battery_life_hours == pytest.approx(expected)
    assert row.verdict == "fail"
    assert (
        "battery_life_hours_min" in row.failed_budgets and "active_power_mw" in row.failed_budgets
    )
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    assert manifest["exit_code"] == 1


def test_targets_check_says_whether_the_power_source_can_be_read(  # type: ignore[no-untyped-def]
    sysfs: Path, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "t.toml"
    target.write_text('kind = "local"\n[power]\nsource = "rapl"\n')
    assert main(["targets", "check", str(target)]) == 0
    assert "unavailable: no powercap interface" in capsys.readouterr().out
    Rapl(sysfs, lambda: 1.0, max_range_uj=2**32)
    assert main(["targets", "check", str(target)]) == 0
    assert "rapl:package-0 readable" in capsys.readouterr().out
