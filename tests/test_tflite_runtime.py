"""The fallback a Raspberry Pi usually has: tflite_runtime (2.14, numpy 1.x), no onnxruntime.

A real venv with the real wheel is built once and cached; the local target's `python` points at it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchy.cli import main

from .conftest import CNN_MODELS


def test_cells_run_on_tflite_runtime_and_say_so(  # type: ignore[no-untyped-def]
    tflite_runtime_python: Path, make_suite, tmp_path: Path
) -> None:
    target = tmp_path / "pi-like.toml"
    target.write_text(f'kind = "local"\npython = "{tflite_runtime_python}"\n')
    body = CNN_MODELS
    out = tmp_path / "out"
    assert main(["run", str(make_suite(body)), "--target", str(target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    tfl = cells[(cells.runtime == "tflite") & (cells.status != "n/a")]
    assert set(tfl.status) == {"ok"}
    assert set(tfl.runtime_module) == {"tflite_runtime"}
    assert set(tfl.runtime_version) == {"2.14.0"}
    assert (tfl.accuracy == 100.0).all()
    onnx = cells[(cells.runtime == "onnxruntime") & (cells.status != "n/a")]
    assert set(onnx.status) == {"unavailable"}
    assert onnx.error.iloc[0].startswith("onnxruntime is not installed")
