"""`benchy emulate-dut` as a user runs it: a subprocess whose port a client opens."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchy.serial.client import ClientSettings, DutClient
from benchy.serial.link import SerialLink
from benchy.serial.ports import PortSpec

from .conftest import MODELS, ROOT

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed (Linux x86_64 only)")


def test_emulate_dut_command(tmp_path: Path) -> None:
    link = tmp_path / "dut"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchy",
            "emulate-dut",
            str(MODELS / "cnn_full_int8.tflite"),
            "--link",
            str(link),
            "--baud",
            "921600",
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first == f"port {link}"
        serial_link = SerialLink(PortSpec(path=str(link)), 921600, 1.0)
        serial_link.open()
        client = DutClient(serial_link, ClientSettings(timeout_s=5.0))
        client.sync()
        assert client.name() == "benchy-emulator"
        client.load(bytes(600))
        assert len(client.infer(1, 0).results) == 4
        serial_link.close()
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the emulator stops cleanly
        rest, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "commands; faults injected: FaultCounts(" in rest


def test_missing_model_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from benchy.cli import main

    assert main(["emulate-dut", "no/such/model.tflite"]) == 2
    assert capsys.readouterr().err.strip() == "error: no/such/model.tflite: file not found"
