"""Thermal facts, throttling and cool-down through the real worker, on a recorded sysfs tree and a
stand-in `vcgencmd` (no Pi here): the readers and the flags in cell rows are the real ones."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main

BODY = '[matrix]\nruntimes = ["tflite"]\n[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n'


@pytest.fixture
def hot_pi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sysfs = tmp_path / "sys"
    for zone, milli in (("thermal_zone0", "84500"), ("thermal_zone1", "71000")):
        (sysfs / "class/thermal" / zone).mkdir(parents=True)
        (sysfs / "class/thermal" / zone / "temp").write_text(milli + "\n")
    cpufreq = sysfs / "devices/system/cpu/cpu0/cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "scaling_governor").write_text("ondemand\n")
    (cpufreq / "cpuinfo_max_freq").write_text("1800000\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vcgencmd = bin_dir / "vcgencmd"
    # Under-voltage now (bit 0) and soft temperature limit now (bit 3), and both since boot.
    vcgencmd.write_text("#!/bin/sh\necho throttled=0x50009\n")
    vcgencmd.chmod(vcgencmd.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("BENCHY_SYSFS", str(sysfs))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return sysfs


def test_throttled_hot_cell_is_flagged(
    hot_pi: Path, make_suite, local_target: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert (
        main(["run", str(make_suite(BODY)), "--target", str(local_target), "--out", str(out)]) == 0
    )
    row = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").iloc[0]
    assert row.soc_temp_before_c == 84.5
    assert row.soc_temp_after_c == 84.5
    assert bool(row.throttled) is True
    facts = pd.read_json(out / "run.json", typ="series")["targets"]["local"]
    assert facts["governor"] == "ondemand" and facts["cpu_max_mhz"] == 1800
    assert facts["thermal_zones"] == ["thermal_zone0", "thermal_zone1"]


def test_cooldown_waits_up_to_its_limit(hot_pi: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "t.toml"
    target.write_text('kind = "local"\ncooldown_below_c = 60\ncooldown_max_wait_s = 1\n')
    out = tmp_path / "out"
    assert main(["run", str(make_suite(BODY)), "--target", str(target), "--out", str(out)]) == 0
    row = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").iloc[0]
    assert row.cooldown_s >= 1.0  # still 84.5 °C: it waited the whole second, then measured


def test_cool_board_does_not_wait(hot_pi: Path, make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for zone in ("thermal_zone0", "thermal_zone1"):
        (hot_pi / "class/thermal" / zone / "temp").write_text("45000\n")
    target = tmp_path / "t.toml"
    target.write_text('kind = "local"\ncooldown_below_c = 60\ncooldown_max_wait_s = 30\n')
    out = tmp_path / "out"
    assert main(["run", str(make_suite(BODY)), "--target", str(target), "--out", str(out)]) == 0
    row = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").iloc[0]
    assert row.cooldown_s < 1.0 and row.soc_temp_before_c == 45.0
