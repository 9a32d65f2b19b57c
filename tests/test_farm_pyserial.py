"""pyserial and labgrid's fork pyserial-labgrid own the same files (`serial/`).

- How `benchy[farm]` resolves: benchy depends on the fork, so labgrid's requirement is the same
  distribution and plain pyserial is not installed at all (pip's own resolver, dry run).
- What happens when both are installed (another package wants plain pyserial): pip installs
  both, the one installed last owns serial/rfc2217.py, and `pip check` is silent. benchy tells
  which one runs (benchy/farm/serialdist.py), checked here against a real overwrite.
- benchy's own serial code works with either: a serial target through ser2net's RFC2217 port,
  once with each distribution providing `serial`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from .conftest import MODELS, ROOT
from .farm import ser2net_binary
from .sshd import free_port

CACHE = Path.home() / ".cache" / "benchy-tests"
TAG = f"py{sys.version_info[0]}{sys.version_info[1]}"
DISTS = {"pyserial": "pyserial==3.5", "pyserial-labgrid": "pyserial-labgrid==3.5.0.2"}
SUITE = (
    '[matrix]\nruntimes = ["tflm"]\n[models.cnn]\ndataset = "@DATA@"\ndataset_limit = 8\n'
    '[models.cnn.variants]\nfull_int8 = "@MODELS@/cnn_full_int8.tflite"\n'
)


def _venv(path: Path, *packages: str, system: bool = False) -> Path:
    python = path / "bin" / "python"
    if not python.exists():
        flags = ["--system-site-packages"] if system else []
        subprocess.run([sys.executable, "-m", "venv", *flags, str(path)], check=True)
        for package in packages:
            # --ignore-installed: the venv gets its own copy even when the environment it sees
            # (system site packages) already has a `serial` package of either kind.
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", "--ignore-installed", package],
                check=True,
            )
    return python


def _serial_files(python: Path) -> dict[str, object]:
    script = ROOT / "benchy" / "farm" / "serialdist.py"  # stdlib only: runs in any venv
    out = subprocess.run([str(python), str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_farm_extra_installs_the_fork_alone(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), f"{ROOT}[farm]"],
        check=True, capture_output=True,
    )  # fmt: skip
    names = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
    assert {"labgrid", "pyserial-labgrid"} <= names
    assert "pyserial" not in names  # nothing left to overwrite the fork's files


def test_plain_pyserial_installed_after_the_fork_is_detected(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv", DISTS["pyserial-labgrid"])
    fork = _serial_files(python)
    assert fork == {"serial": "pyserial-labgrid 3.5.0.2", "fork_intact": True}
    subprocess.run([str(python), "-m", "pip", "install", "-q", DISTS["pyserial"]], check=True)
    bare = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    check = subprocess.run(
        [str(python), "-m", "pip", "check"], capture_output=True, text=True, env=bare
    )
    assert check.returncode == 0, check.stdout  # pip sees no problem ...
    both = _serial_files(python)  # ... but the fork's RFC2217 fixes are gone
    assert both["fork_intact"] is False
    assert str(both["serial"]).startswith("pyserial 3.5 (over pyserial-labgrid 3.5.0.2)")
    assert "pip install --force-reinstall --no-deps pyserial-labgrid" in str(both["serial"])
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps",
         DISTS["pyserial-labgrid"]],
        check=True,
    )  # fmt: skip
    assert _serial_files(python)["fork_intact"] is True


@pytest.fixture(scope="module")
def rfc2217_dut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The DUT emulator behind ser2net's RFC2217 port, set up as labgrid's exporter does it."""
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed (Linux x86_64)")
    from benchy.serial.emulator import DutEmulator

    emu = DutEmulator(MODELS / "cnn_full_int8.tflite")
    emu.start()
    port = free_port()
    proc = subprocess.Popen(
        [ser2net_binary(), "-d", "-n", "-Y",
         f"connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,127.0.0.1,{port}",
         "-Y", f"  connector: serialdev(nouucplock=true),{emu.port},115200n81,local"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path_factory.mktemp("ser2net") / "log").open("wb"),
    )  # fmt: skip
    try:
        yield f"rfc2217://127.0.0.1:{port}?ign_set_control"
    finally:
        proc.terminate()
        proc.wait(10)
        emu.stop()


@pytest.mark.parametrize("dist", sorted(DISTS))
def test_benchy_serial_code_runs_on_either(
    dist: str,
    rfc2217_dut: str,
    tmp_path: Path,
    make_suite,  # type: ignore[no-untyped-def]
) -> None:
    python = _venv(CACHE / f"serial-{dist}-{TAG}-own", DISTS[dist], system=True)
    version = {"pyserial": "3.5", "pyserial-labgrid": "3.5.0.2"}[dist]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    active = subprocess.run(
        [str(python), "-c", "import serial; print(serial.__version__)"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert active.stdout.strip() == version
    target = tmp_path / "nrf.toml"
    target.write_text(
        f'kind = "serial"\nport = "{rfc2217_dut}"\nmodel = "cnn"\nvariant = "full_int8"\n'
    )
    out = tmp_path / "out"
    run = subprocess.run(
        [str(python), "-m", "benchy", "run", str(make_suite(SUITE)), "--target", str(target),
         "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_parquet(out / "cells.parquet").iloc[0]
    assert row.status == "ok" and row.link_retries == 0 and row.accuracy is not None
