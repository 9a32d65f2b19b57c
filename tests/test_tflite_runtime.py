"""The fallback a Raspberry Pi usually has: tflite_runtime (2.14, numpy 1.x), no onnxruntime.

A real venv with the real wheel is built once and cached; the local target's `python` points at it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.worker.bundle import worker_file

from .conftest import CNN_MODELS, QUICK_MEASURE, one_repetition_unless_asked


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
    facts = json.loads((out / "run.json").read_text())["targets"]["pi-like"]
    assert facts["python"] == python_version(tflite_runtime_python)


def python_version(python: Path) -> str:
    code = "import platform; print(platform.python_version())"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()


def test_the_worker_runs_on_the_oldest_python_boards_have(tflite_runtime_python: Path) -> None:
    """Raspberry Pi OS Bullseye ships Python 3.9: the bundled worker must run there for real."""
    if not python_version(tflite_runtime_python).startswith("3.9"):
        pytest.skip("no Python 3.9 on this machine")
    requests = '{"op": "ping"}\n{"op": "facts"}\n'
    proc = subprocess.run(
        [str(tflite_runtime_python), str(worker_file()), "serve"],
        input=requests, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    ping, facts = (json.loads(line) for line in proc.stdout.splitlines())
    assert ping["ok"] and ping["runtimes"]["tflite"]["module"] == "tflite_runtime"
    assert facts["facts"]["python"].startswith("3.9")


def test_named_inputs_resizing_signatures_and_feedback_on_tflite_runtime(  # type: ignore[no-untyped-def]
    tflite_runtime_python: Path, tiny: dict[str, Path], tmp_path: Path
) -> None:
    """What tflite_runtime 2.14 on Python 3.9 must do for issue 11's models: resize a dynamic
    batch, run a signature's own subgraph (2.14's SignatureRunner resizes and allocates on
    every call, so the worker drives the wrapper as it does), quantize two inputs with their
    own scales, and feed a state output back."""
    from .tiny_models import TFLITE_LIMITS, tflite_suite

    suite = tmp_path / "s.toml"
    suite.write_text(tflite_suite(tmp_path, tiny) + one_repetition_unless_asked(QUICK_MEASURE))
    target = tmp_path / "pi-like.toml"
    target.write_text(f'kind = "local"\npython = "{tflite_runtime_python}"\n')
    out = tmp_path / "out"
    assert main(["run", str(suite), "--target", str(target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert set(cells.runtime_module) == {"tflite_runtime"}
    for model, limit in TFLITE_LIMITS.items():
        assert cells[cells.model == model].metric_value.iloc[0] < limit, model
