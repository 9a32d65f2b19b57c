"""Serial targets end to end: target files, the matrix an MCU allows, and `benchy run` of a suite
whose target is the emulated DUT on a pty (real TFLite Micro kernels), with and without faults."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main
from benchy.config import load_suite, load_target
from benchy.matrix import expand
from benchy.metrics import score
from benchy.runtimes.tflm import tflm_arena_bytes
from benchy.serial.faults import Faults
from benchy.targets import TARGET_KINDS
from benchy.targets.serial import SerialTarget

from .conftest import MODELS, ROOT
from .serial_dut import direct_tflm, emulated_dut, target_file

SUITE = """
[matrix]
runtimes = ["tflite", "tflm"]
threads = [1, 2]

[models.cnn]
dataset = "@DATA@"
reference = "full_int8"
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
full_int8 = "@MODELS@/cnn_full_int8.tflite"

[models.lstm]
dataset = "@DATA@"
[models.lstm.variants]
full_int8 = "@MODELS@/lstm_full_int8.tflite"
"""

LATENCY = [
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_min_ms",
    "latency_max_ms",
    "latency_ci_low_ms",
    "latency_ci_high_ms",
    "throughput_ips",
    "first_inference_ms",
    "dut_window_mean_ms",
]


def direct_accuracy(model: str) -> float:
    outputs, y = direct_tflm(model)
    return score("accuracy", outputs.astype(np.float64), y).value


def run(suite: Path, target: Path, out: Path) -> int:
    return main(["run", str(suite), "--target", str(target), "--out", str(out)])


def ok_row(out: Path) -> pd.Series:
    cells = pd.read_parquet(out / "cells.parquet")
    ok = cells[cells.status == "ok"]
    assert len(ok) == 1, cells[["model", "variant", "runtime", "status", "error"]]
    return ok.iloc[0]


def test_run_on_the_emulated_dut(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with emulated_dut(tmp_path) as emu:
        target = target_file(tmp_path, emu.port)
        assert run(make_suite(SUITE), target, out) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    row = ok_row(out)
    assert (row.model, row.variant, row.runtime, row.delegate) == (
        "cnn",
        "full_int8",
        "tflm",
        "firmware",
    )
    for column in LATENCY:
        assert row[column] > 0, column
    assert row.n_samples >= 20
    assert row.latency_ci_low_ms <= row.latency_p50_ms <= row.latency_ci_high_ms
    assert bool(row.emulated) is True
    assert row.runtime_module == "tflm-firmware"
    assert row.runtime_version.startswith("benchy DUT emulator, tflite-micro ")
    assert row.delegate_applied == "firmware"
    assert pd.isna(row.peak_rss_mb)  # an MCU has no process RSS: absent, not invented
    model = MODELS / "cnn_full_int8.tflite"
    assert row.flash_bytes == model.stat().st_size
    assert row.tflm_arena_bytes == tflm_arena_bytes(model)
    assert row.memory_source == "host TFLM"
    assert row.accuracy == direct_accuracy("cnn_full_int8.tflite")
    assert row.agreement == 100.0  # it is its own reference on this target
    na = cells[cells.status == "n/a"].set_index(["model", "variant", "runtime"]).error
    assert na["cnn", "fp32", "tflm"] == "the firmware on nrf holds cnn/full_int8"
    assert na["lstm", "full_int8", "tflm"] == "the firmware on nrf holds cnn/full_int8"
    assert na["cnn", "full_int8", "tflite"].startswith("the firmware on nrf holds cnn/full_int8,")
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == row.n_samples and (samples.latency_ns > 0).all()
    facts = json.loads((out / "run.json").read_text())["targets"]["nrf"]
    assert facts["dut_name"] == "benchy-emulator"
    assert facts["dut_profile"] == row.runtime_version
    assert facts["emulated"] is True


def test_lstm_accuracy_equals_tflite_micro(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with emulated_dut(tmp_path, model="lstm_full_int8.tflite") as emu:
        target = target_file(tmp_path, emu.port)
        target.write_text(target.read_text().replace('"cnn"', '"lstm"'))
        assert run(make_suite(SUITE), target, out) == 0
    row = ok_row(out)
    assert row.model == "lstm"
    assert row.accuracy == direct_accuracy("lstm_full_int8.tflite")
    assert row.tflm_arena_bytes == tflm_arena_bytes(MODELS / "lstm_full_int8.tflite")


def test_faults_are_survived(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    faults = Faults(
        drop=0.0001,
        corrupt=0.0001,
        bad_hex_at=(30, 200),
        reset_at=(40, 300),
        stall_at=(50,),
        stall_s=1.0,
        seed=3,
    )
    out = tmp_path / "out"
    with emulated_dut(tmp_path, faults=faults) as emu:
        target = target_file(tmp_path, emu.port, "timeout_s = 0.5\nretries = 8\nverify = true\n")
        assert run(make_suite(SUITE), target, out) == 0
        counts = emu.counts
    assert counts.bad_hex == 2 and counts.resets == 2 and counts.stalls == 1
    row = ok_row(out)
    assert row.dut_resets >= 1 and row.link_retries >= 3
    assert row.latency_p50_ms > 0
    assert row.accuracy == direct_accuracy("cnn_full_int8.tflite")


def test_port_gone_for_good_is_recorded_with_its_reason(tmp_path: Path, make_suite) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    with emulated_dut(tmp_path, faults=Faults(close_at=(30,))) as emu:
        target = target_file(tmp_path, emu.port, "reconnect_s = 0.5\n")
        assert run(make_suite(SUITE), target, out) == 3
    cells = pd.read_parquet(out / "cells.parquet")
    row = cells[cells.runtime == "tflm"].set_index(["model", "variant"]).loc["cnn", "full_int8"]
    assert row.status == "error"
    assert "vanished and did not come back within 0.5 s" in row.error


def test_a_real_dut_is_not_labelled_emulated(tmp_path: Path) -> None:
    with emulated_dut(tmp_path, name="acme-nrf52840") as emu:
        options = load_target(str(target_file(tmp_path, emu.port))).options
        target = SerialTarget("nrf", options)
        facts = target.facts()
        target.close()
    assert facts["emulated"] is False
    assert facts["dut_name"] == "acme-nrf52840"
    assert facts["dut_model"] == "cnn_full_int8"


def test_matrix_of_a_serial_target(tmp_path: Path, make_suite, local_target: Path) -> None:  # type: ignore[no-untyped-def]
    suite = load_suite(make_suite(SUITE))
    targets = {
        "nrf": load_target(str(target_file(tmp_path, "/dev/ttyACM0"))),
        "local": load_target(str(local_target)),
    }

    def refuses(target: str, model: str, variant: str, runtime: str) -> str | None:
        cfg = targets[target]
        return TARGET_KINDS[cfg.kind].refuses(cfg.options, model, variant, runtime)

    cells = expand(suite, list(targets), refuses)
    runnable = {(c.target, c.model, c.variant, c.runtime, c.threads) for c in cells if c.applicable}
    assert {c for c in runnable if c[0] == "nrf"} == {("nrf", "cnn", "full_int8", "tflm", 1)}
    assert not any(c[3] == "tflm" for c in runnable if c[0] == "local")
    local_tflm = [c for c in cells if c.target == "local" and c.runtime == "tflm"]
    assert local_tflm and all(
        c.reason == "runtime tflm is MCU firmware: it runs on serial targets only"
        for c in local_tflm
    )


def test_example_target_file_is_valid() -> None:
    config = load_target(str(ROOT / "targets" / "nrf52840.toml.example"))
    assert config.kind == "serial"
    assert (config.options.model, config.options.variant) == ("cnn", "full_int8")
    assert config.options.baud == 115200


BODY = 'kind = "serial"\nmodel = "cnn"\nvariant = "full_int8"\n'
TARGET_ERRORS = {
    "no_port": (
        BODY,
        'port: required: a device path (e.g. "/dev/ttyACM0"), or vid_pid / serial_number',
    ),
    "port_and_ids": (
        BODY + 'port = "/dev/ttyACM0"\nvid_pid = "1366:1015"\n',
        "port: give either port or vid_pid/serial_number, not both",
    ),
    "bad_vid_pid": (
        BODY + 'vid_pid = "1366-1015"\n',
        'vid_pid: expected "VVVV:PPPP" in hex, e.g. "1366:1015", got "1366-1015"',
    ),
    "no_model": (
        'kind = "serial"\nport = "/dev/ttyACM0"\nvariant = "full_int8"\n',
        "model: required key is missing",
    ),
    "protocol": (
        BODY + 'port = "/dev/ttyACM0"\nprotocol = "edge-impulse"\n',
        'protocol: unknown value "edge-impulse"; valid choices: mlperf-tiny',
    ),
    "chunk": (
        BODY + 'port = "/dev/ttyACM0"\nchunk_bytes = 64\n',
        "chunk_bytes: expected at most 38 (the DUT's command buffer is 80 characters), got 64",
    ),
    "baud": (
        BODY + 'port = "/dev/ttyACM0"\nbaud = "fast"\n',
        'baud: expected an integer, got "fast"',
    ),
    "results": (
        BODY + 'port = "/dev/ttyACM0"\nresults = "int8"\n',
        'results: unknown value "int8"; valid choices: float, quantized',
    ),
}


@pytest.mark.parametrize("case", sorted(TARGET_ERRORS))
def test_target_file_errors(
    case: str, tmp_path: Path, make_suite, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    text, message = TARGET_ERRORS[case]
    target = tmp_path / "nrf.toml"
    target.write_text(text)
    assert main(["run", str(make_suite(SUITE)), "--target", str(target)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {target}: {message}"
