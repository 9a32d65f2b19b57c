"""The protocol client against the emulated DUT on a real pty: every command, and every fault the
emulator can inject survived (or reported with a clear reason)."""

from __future__ import annotations

import os
import tty
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchy.errors import DutTimeout, PortUnavailable, ProtocolError
from benchy.serial.client import ClientSettings, DutClient, lap_elapsed
from benchy.serial.faults import Faults
from benchy.serial.link import SerialLink
from benchy.serial.ports import PortSpec, resolve
from benchy.serial.tensors import ModelIO
from benchy.worker.protocol import FeedSpec

from .conftest import DATA, MODELS
from .serial_dut import direct_tflm, emulated_dut

CNN = MODELS / "cnn_full_int8.tflite"


def connect(port: str, reconnect_s: float = 3.0, **settings: object) -> DutClient:
    link = SerialLink(PortSpec(path=port), 115200, reconnect_s)
    link.open()
    options = {"timeout_s": 1.0, "retries": 4, **settings}
    client = DutClient(link, ClientSettings(**options))  # type: ignore[arg-type]
    client.sync()
    return client


def inputs(limit: int = 40) -> list[bytes]:
    io = ModelIO.from_tflite(CNN)
    feed: FeedSpec = {"source": "dataset", "key": "x"}
    return io.inputs({"default": feed, "path": str(DATA), "limit": limit})


def test_commands(tmp_path: Path) -> None:
    with emulated_dut(tmp_path) as emu:
        client = connect(emu.port)
        assert client.name() == "benchy-emulator"
        profile, model = client.profile()
        assert profile.startswith("benchy DUT emulator, tflite-micro ")
        assert model == "cnn_full_int8"
        assert client.timestamp() >= 0
        client.load(inputs(1)[0])
        one = client.infer(1, 0, outputs=4)
        assert one.runs == 1 and one.elapsed_us > 0
        window = client.infer(20, 2, outputs=4)
        assert window.runs == 20 and window.elapsed_us > one.elapsed_us
        assert client.results() == window.results
        client.link.close()


@pytest.mark.parametrize(("window", "verify"), [(1, False), (8, True)])
def test_outputs_equal_tflite_micro_run_directly(tmp_path: Path, window: int, verify: bool) -> None:
    expected, _ = direct_tflm("cnn_full_int8.tflite", limit=10)
    with emulated_dut(tmp_path) as emu:
        client = connect(emu.port, window=window, verify=verify)
        got = []
        for x in inputs(10):
            client.load(x)
            got.append(client.infer(1, 0, outputs=4).results)
        client.link.close()
    assert np.array_equal(np.asarray(got, dtype=np.float32), expected)


def test_quantized_results_are_dequantized_on_the_host(tmp_path: Path) -> None:
    expected, _ = direct_tflm("cnn_full_int8.tflite", limit=3)
    io = ModelIO.from_tflite(CNN)
    with emulated_dut(tmp_path, results="quantized") as emu:
        client = connect(emu.port)
        got = []
        for x in inputs(3):
            client.load(x)
            raw = client.infer(1, 0).results
            assert all(v == int(v) for v in raw)
            got.append(io.decode(raw, quantized=True))
        client.link.close()
    assert np.allclose(got, expected)


def test_oversized_load_is_reported_with_the_dut_words(tmp_path: Path) -> None:
    with emulated_dut(tmp_path, max_input=600) as emu:
        client = connect(emu.port, retries=0)
        with pytest.raises(ProtocolError, match="Supplied buffer size 700 exceeds maximum of 600"):
            client.load(bytes(700))
        client.link.close()


def test_bad_hex_chunk_restarts_the_load(tmp_path: Path) -> None:
    expected, _ = direct_tflm("cnn_full_int8.tflite", limit=1)
    with emulated_dut(tmp_path, faults=Faults(bad_hex_at=(3, 25))) as emu:
        client = connect(emu.port, window=4)
        client.load(inputs(1)[0])
        result = client.infer(1, 0, outputs=4).results
        assert emu.counts.bad_hex == 2
        assert client.stats.hex_rejects == 2
        client.link.close()
    assert np.array_equal(np.asarray([result], dtype=np.float32), expected)


def test_reset_mid_infer_reloads_the_input(tmp_path: Path) -> None:
    expected, _ = direct_tflm("cnn_full_int8.tflite", limit=1)
    with emulated_dut(tmp_path, faults=Faults(reset_at=(25,))) as emu:
        client = connect(emu.port)  # command 1: name
        client.load(inputs(1)[0])  # 2..22: db load + 20 chunks
        client.infer(1, 0)  # 23
        client.infer(1, 0)  # 24
        result = client.infer(1, 0, outputs=4).results  # 25: resets
        assert emu.counts.resets == 1 and client.stats.resets == 1
        client.link.close()
    assert np.array_equal(np.asarray([result], dtype=np.float32), expected)


def test_stall_longer_than_the_timeout_resyncs(tmp_path: Path) -> None:
    with emulated_dut(tmp_path, faults=Faults(stall_at=(23,), stall_s=1.5)) as emu:
        client = connect(emu.port, timeout_s=0.5)
        client.load(inputs(1)[0])
        reply = client.infer(1, 0, outputs=4)
        assert reply.elapsed_us > 0
        assert emu.counts.stalls == 1 and client.stats.retries >= 1
        client.link.close()


def test_port_closed_then_back_reconnects(tmp_path: Path) -> None:
    faults = Faults(close_at=(23,), reopen_after_s=0.3)
    with emulated_dut(tmp_path, faults=faults) as emu:
        client = connect(emu.port)
        client.load(inputs(1)[0])
        reply = client.infer(1, 0, outputs=4)
        assert reply.elapsed_us > 0
        assert emu.counts.closes == 1 and client.link.reconnects == 1
        client.link.close()


def test_port_closed_for_good_is_a_clear_error(tmp_path: Path) -> None:
    with emulated_dut(tmp_path, faults=Faults(close_at=(23,))) as emu:
        client = connect(emu.port, reconnect_s=0.5)
        client.load(inputs(1)[0])
        with pytest.raises(PortUnavailable, match=r"vanished and did not come back within 0\.5 s"):
            client.infer(1, 0)
        client.link.close()


def test_noisy_link_with_verify_gives_exact_results(tmp_path: Path) -> None:
    expected, _ = direct_tflm("cnn_full_int8.tflite", limit=8)
    faults = Faults(drop=0.0001, corrupt=0.0001, seed=7)
    with emulated_dut(tmp_path, faults=faults) as emu:
        client = connect(emu.port, verify=True, retries=10, window=4)
        got = []
        for x in inputs(8):
            client.load(x)
            got.append(client.infer(1, 0, outputs=4).results)
        assert emu.counts.dropped + emu.counts.corrupted > 0
        client.link.close()
    assert np.array_equal(np.asarray(got, dtype=np.float32), expected)


def test_silent_port_says_what_to_check(tmp_path: Path) -> None:
    master, slave = os.openpty()  # a port where nothing answers (wrong baud, wrong firmware)
    tty.setraw(slave)
    try:
        link = SerialLink(PortSpec(path=os.ttyname(slave)), 115200, 0.1)
        link.open()
        client = DutClient(link, ClientSettings(timeout_s=0.2, retries=0))
        with pytest.raises(DutTimeout, match=r"check the baud rate \(115200\)"):
            client.sync()
        link.close()
    finally:
        os.close(master)
        os.close(slave)


def test_lap_wraps_at_32_bits() -> None:
    assert lap_elapsed(100, 350) == 250
    assert lap_elapsed(2**32 - 100, 150) == 250


def test_port_found_by_usb_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    ports = [
        SimpleNamespace(device="/dev/ttyACM0", vid=0x1366, pid=0x1015, serial_number="A1"),
        SimpleNamespace(device="/dev/ttyACM1", vid=0x1366, pid=0x1015, serial_number="B2"),
        SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None, serial_number=None),
    ]
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: ports)
    assert resolve(PortSpec(vid_pid=(0x1366, 0x1015), serial_number="B2")) == "/dev/ttyACM1"
    assert resolve(PortSpec(serial_number="A1")) == "/dev/ttyACM0"
    with pytest.raises(PortUnavailable, match="2 serial ports match USB 1366:1015"):
        resolve(PortSpec(vid_pid=(0x1366, 0x1015)))
    with pytest.raises(PortUnavailable, match="no serial port matches USB 2fe3:0100"):
        resolve(PortSpec(vid_pid=(0x2FE3, 0x0100)))
