"""`benchy run` of a suite with derived variants: they are ordinary cells (accuracy drop and
agreement against the reference), a recipe the quantizer refuses is one error row with its
reason while the others run, run.json has their provenance, a re-run quantizes nothing; and a
full-int8 variant with integer I/O from `benchy derive` runs on the emulated MCU."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.config import load_suite
from benchy.results.manifest import sha256_file

from .conftest import MODELS, ROOT
from .test_derive import Calls, accuracy

SUITE = """
[matrix]
runtimes = ["tflite", "onnxruntime"]
threads = [1]

[budgets]
accuracy_drop_max = 2

[models.cnn]
dataset = "@DATA@"
reference = "fp32"

[[models.cnn.derive]]
recipe = "dynamic_int8"
[[models.cnn.derive]]
recipe = "int8"
[[models.cnn.derive]]
name = "onnx_int8"
recipe = "int8"
from = "onnx"
[[models.cnn.derive]]
name = "softmax_int8"   # ai-edge-quantizer refuses: its policy has no such config for SOFTMAX
[[models.cnn.derive.ai_edge_quantizer]]
regex = ".*"
operation = "SOFTMAX"
algorithm_key = "min_max_uniform_quantize"
[models.cnn.derive.ai_edge_quantizer.op_config]
compute_precision = "INTEGER"
explicit_dequantize = false
[models.cnn.derive.ai_edge_quantizer.op_config.weight_tensor_config]
num_bits = 8
symmetric = true
granularity = "CHANNELWISE"
dtype = "INT"

[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
onnx = "@MODELS@/cnn_fp32.onnx"
"""


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "benchy" / "variants"


def run(suite: Path, target: Path, out: Path) -> int:
    return main(["run", str(suite), "--target", str(target), "--out", str(out)])


def test_derived_variants_are_cells_and_a_refusal_is_one_error_row(  # type: ignore[no-untyped-def]
    make_suite: Callable[..., Path], local_target: Path, tmp_path: Path, monkeypatch
) -> None:
    suite = make_suite(SUITE)
    calls = Calls(monkeypatch)
    assert run(suite, local_target, tmp_path / "a") == 3  # the refused recipe is an error
    assert calls.count == 4
    cells = pd.read_parquet(tmp_path / "a" / "cells.parquet")
    ran = cells[cells.status != "n/a"].set_index("variant")
    assert sorted(ran.index) == [
        "dynamic_int8",
        "fp32",
        "int8",
        "onnx",
        "onnx_int8",
        "softmax_int8",
    ]
    refused = ran.loc["softmax_int8"]
    assert (refused.status, refused.verdict, refused.runtime) == ("error", "error", "tflite")
    assert refused.error.startswith(
        "ai-edge-quantizer: ValueError: Unsupported op for INTEGER: SOFTMAX."
    )
    for variant in ("dynamic_int8", "int8", "onnx_int8"):
        row = ran.loc[variant]
        assert row.status == "ok", row.error
        assert row.accuracy_drop <= 2 and row.agreement >= 90
        assert row.verdict == "pass"
        assert row.model_file == f"cnn-{variant}.{'onnx' if 'onnx' in variant else 'tflite'}"
    manifest = json.loads((tmp_path / "a" / "run.json").read_text())
    derived = manifest["derived"]
    assert sorted(derived) == ["cnn/dynamic_int8", "cnn/int8", "cnn/onnx_int8", "cnn/softmax_int8"]
    int8 = derived["cnn/int8"]
    assert int8["source_sha256"] == manifest["models_sha256"]["cnn/fp32"]
    assert int8["sha256"] == manifest["models_sha256"]["cnn/int8"]
    assert int8["sha256"] == sha256_file(tmp_path / "a" / "derived" / "cnn-int8.tflite")
    assert int8["recipe"] == {"recipe": "int8", "int8_io": False}
    assert int8["calibration"]["samples"] == 40 and int8["calibration"]["key"] == "x_calib"
    assert derived["cnn/softmax_int8"]["error"] == refused.error
    assert "cnn/softmax_int8" not in manifest["models_sha256"]  # no file was made

    # A re-run quantizes nothing (not even the refused recipe) and measures the same files.
    assert run(suite, local_target, tmp_path / "b") == 3
    assert calls.count == 4
    again = json.loads((tmp_path / "b" / "run.json").read_text())["derived"]
    assert all(v["cached"] for v in again.values())
    assert {k: v["sha256"] for k, v in again.items()} == {
        k: v["sha256"] for k, v in derived.items()
    }


def test_dry_run_lists_derived_variants_without_deriving(  # type: ignore[no-untyped-def]
    make_suite: Callable[..., Path], local_target: Path, own_cache: Path, capsys, monkeypatch
) -> None:
    calls = Calls(monkeypatch)
    suite = make_suite(SUITE)
    assert main(["run", str(suite), "--target", str(local_target), "--dry-run"]) == 0
    table = capsys.readouterr().out
    for variant in ("dynamic_int8", "onnx_int8", "softmax_int8"):
        assert f" {variant} " in table
    assert calls.count == 0 and not own_cache.exists()


INT8_IO_MODEL = """
[models.cnn]
dataset = "@DATA@"
reference = "fp32"
derive = [{ name = "mcu", recipe = "int8", int8_io = true }]

[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
"""
MCU_SUITE = '[matrix]\nruntimes = ["tflm"]\n' + INT8_IO_MODEL


def test_derived_full_int8_runs_on_the_emulated_mcu(  # type: ignore[no-untyped-def]
    make_suite: Callable[..., Path], tmp_path: Path, monkeypatch
) -> None:
    from .serial_dut import emulated_dut

    suite = make_suite(MCU_SUITE)
    flash = tmp_path / "flash"
    assert main(["derive", str(suite), "-o", str(flash)]) == 0
    firmware_model = flash / "cnn-mcu.tflite"
    calls = Calls(monkeypatch)
    out = tmp_path / "out"
    with emulated_dut(tmp_path, model=str(firmware_model)) as emu:
        target = tmp_path / "nrf.toml"
        target.write_text(f'kind = "serial"\nport = "{emu.port}"\nmodel = "cnn"\nvariant = "mcu"\n')
        assert run(suite, target, out) == 0
    assert calls.count == 0  # the run took the flashed file from the cache
    cells = pd.read_parquet(out / "cells.parquet")
    row = cells[cells.status == "ok"].iloc[0]
    assert (row.variant, row.runtime, bool(row.emulated)) == ("mcu", "tflm", True)
    assert sha256_file(out / "derived" / "cnn-mcu.tflite") == sha256_file(firmware_model)
    assert row.tflm_arena_bytes > 0 and row.flash_bytes == firmware_model.stat().st_size
    # Within the example suite's budget of the fp32 model (which the MCU cannot hold).
    budget = load_suite(ROOT / "suites" / "wearable.toml").budgets["accuracy_drop_max"]
    assert row.accuracy >= accuracy(MODELS / "cnn_fp32.tflite") - budget


def test_example_suite_derives_from_fp32_only() -> None:
    suite = load_suite(ROOT / "suites" / "derived.toml")
    for model in suite.models.values():
        assert set(model.variants) == {"fp32", "onnx_fp32"}
        assert {s.source for s in model.derive} == {"fp32", "onnx_fp32"}
    assert [s.variant for s in suite.models["cnn"].derive][:4] == [
        "fp16",
        "dynamic_int8",
        "int8",
        "int4_weights",
    ]


def test_derived_variant_is_pushed_to_a_board_like_any_model(  # type: ignore[no-untyped-def]
    make_suite: Callable[..., Path], tmp_path: Path
) -> None:
    from .sshd import SshServer

    suite = make_suite('[matrix]\nruntimes = ["tflite"]\n' + INT8_IO_MODEL)
    server = SshServer.create(tmp_path / "sshd")
    try:
        board = tmp_path / "pi.toml"
        board.write_text(server.target_toml())
        assert run(suite, board, tmp_path / "out") == 0
        pushed = [p.name for p in server.dir.rglob("*-cnn-mcu.tflite")]
    finally:
        server.kill()
    cells = pd.read_parquet(tmp_path / "out" / "cells.parquet").set_index("variant")
    mcu = cells.loc["mcu"]
    assert (mcu.target, mcu.status, mcu.agreement >= 90) == ("pi", "ok", True)
    digest = sha256_file(tmp_path / "out" / "derived" / "cnn-mcu.tflite")
    assert pushed == [f"{digest}-cnn-mcu.tflite"]  # by content, into the board's workdir
