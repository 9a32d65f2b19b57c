"""Helpers for serial-target tests: an emulated DUT on a pty (real TFLite Micro), and direct
TFLite Micro runs to compare with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import DATA, MODELS

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed (Linux x86_64 only)")

from benchy.serial.emulator import DutEmulator


@contextlib.contextmanager
def emulated_dut(
    tmp_path: Path, model: str = "cnn_full_int8.tflite", **kwargs: Any
) -> Iterator[DutEmulator]:
    """A running emulator whose port is `tmp_path/dut` (a symlink that survives replugs)."""
    emu = DutEmulator(MODELS / model, link=tmp_path / "dut", **kwargs)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def target_file(tmp_path: Path, port: str, body: str = "", name: str = "nrf") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'kind = "serial"\nport = "{port}"\nmodel = "cnn"\nvariant = "full_int8"\n{body}'
    )
    return path


def direct_tflm(model: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(outputs dequantized as float32, labels): TFLite Micro run directly on the dataset."""
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_file(str(MODELS / model))
    inp, out = interp.get_input_details(0), interp.get_output_details(0)
    s_in, z_in = (
        inp["quantization_parameters"]["scales"][0],
        inp["quantization_parameters"]["zero_points"][0],
    )
    s_out, z_out = (
        out["quantization_parameters"]["scales"][0],
        out["quantization_parameters"]["zero_points"][0],
    )
    with np.load(DATA) as data:
        x, y = data["x"][:limit], data["y"][:limit]
    outputs = []
    for xi in x:
        q = np.clip(np.round(xi.astype(np.float64) / s_in) + z_in, -128, 127).astype(np.int8)
        interp.reset()
        interp.set_input(q.reshape(inp["shape"]), 0)
        interp.invoke()
        raw = np.asarray(interp.get_output(0)).ravel()
        outputs.append((raw.astype(np.float32) - z_out) * s_out)
    return np.asarray(outputs, dtype=np.float32), y
