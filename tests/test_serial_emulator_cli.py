"""`benchy emulate-dut` as a user runs it: a subprocess whose port a client opens."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _stale_pty() -> str:
    """A pty name that no open pty has (what a killed emulator's link points to)."""
    return next(f"/dev/pts/{n}" for n in range(4000, 9000) if not Path(f"/dev/pts/{n}").exists())


@pytest.mark.parametrize("kind", ["file", "directory", "other link", "open pty", "no directory"])
def test_link_refuses_anything_but_a_stale_link_of_its_own(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--link PATH` never replaces (and, on exit, deletes) what it did not make."""
    import os

    from benchy.cli import main

    link = tmp_path / "dut"
    master = slave = -1
    if kind == "file":
        link.write_text("my notes")
        why = f"{link} is a file, not a link benchy made; refusing to replace it"
    elif kind == "directory":
        link.mkdir()
        (link / "inside").write_text("x")
        why = f"{link} is a directory, not a link benchy made; refusing to replace it"
    elif kind == "other link":
        (tmp_path / "real").write_text("x")
        link.symlink_to(tmp_path / "real")
        why = (
            f"{link} is a link to {tmp_path / 'real'}, not one benchy made; refusing to replace it"
        )
    elif kind == "open pty":
        master, slave = os.openpty()
        link.symlink_to(os.ttyname(slave))
        why = (
            f"{link} is a link to {os.ttyname(slave)}, a pty that is open (another emulator?); "
            "remove the link if it is stale"
        )
    else:
        link = tmp_path / "missing" / "dut"
        why = f"{link}: directory {link.parent} does not exist"
    before = sorted(
        (str(p), p.is_symlink(), p.is_file() and p.read_text()) for p in tmp_path.rglob("*")
    )
    model = str(MODELS / "cnn_full_int8.tflite")
    try:
        assert main(["emulate-dut", model, "--link", str(link), "--duration", "0.2"]) == 2
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    assert capsys.readouterr().err.strip() == f"error: --link {why}"
    after = sorted(
        (str(p), p.is_symlink(), p.is_file() and p.read_text()) for p in tmp_path.rglob("*")
    )
    assert after == before


def test_link_replaces_a_stale_link_and_removes_it_on_exit(tmp_path: Path) -> None:
    from benchy.cli import main

    link = tmp_path / "dut"
    link.symlink_to(_stale_pty())
    model = str(MODELS / "cnn_full_int8.tflite")
    assert main(["emulate-dut", model, "--link", str(link), "--duration", "0.2"]) == 0
    assert not link.exists() and not link.is_symlink()
    assert list(tmp_path.iterdir()) == []


def _noise(tmp_path: Path) -> Path:
    path = tmp_path / "noise.tflite"
    path.write_bytes(bytes(range(256)) * 8)
    return path


def _truncated(tmp_path: Path) -> Path:
    """A .tflite cut short: its TFL3 identifier is intact, its flatbuffer is not."""
    data = (MODELS / "cnn_full_int8.tflite").read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda d: MODELS / "cnn_fp32.onnx", "not a TFLite model (no TFL3 identifier); "
         "ONNX models run on Linux targets, not on MCUs"),
        (_noise, "not a TFLite model (no TFL3 identifier)"),
        (_truncated, "TFLite Micro crashed on cut.tflite: struct.error: unpack_from requires"),
        (lambda d: MODELS / "cnn_fp16.tflite",
         "TFLite Micro cannot run cnn_fp16.tflite: float16 tensors"),
    ],
    ids=["onnx", "noise", "truncated", "fp16"],
)  # fmt: skip
def test_a_model_the_firmware_cannot_hold_is_a_usage_error(
    make: Any, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchy.cli import main

    model = make(tmp_path)
    assert main(["emulate-dut", str(model), "--duration", "0.2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {model}: {why}")
    assert "\n" not in err


@pytest.mark.parametrize("flag", ["--duration", "--stall-s", "--reopen-after"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_seconds_must_be_finite(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from benchy.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["emulate-dut", str(MODELS / "cnn_full_int8.tflite"), flag, value])
    assert stop.value.code == 2
    assert f"argument {flag}: expected seconds ≥ 0, got {value}" in capsys.readouterr().err
