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
    import numpy as np

    from .tiny_models import BIAS

    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(6, 3, 4)).astype(np.float32)
    np.savez(tmp_path / "batch3.npz", x=x, y=(x + BIAS).reshape(6, 12))
    a, b = (rng.uniform(-1, 1, size=(6, 1, 4)).astype(np.float32) for _ in range(2))
    np.savez(tmp_path / "mul.npz", a=a, b=b, y=(a * b).reshape(6, 4))
    np.savez(tmp_path / "add.npz", a=a, b=b, y=(a + b).reshape(6, 4))
    x1 = rng.uniform(-1, 1, size=(6, 1, 4)).astype(np.float32)
    np.savez(tmp_path / "stream.npz", x=x1, y=(x1 + np.arange(6)[:, None, None]).reshape(6, 4))
    suite = tmp_path / "s.toml"
    suite.write_text(f"""
[matrix]
runtimes = ["tflite"]
[models.batch]
dataset = "batch3.npz"
metric = "mae"
dims = {{ "x[0]" = 3 }}
[models.batch.variants]
fp32 = "{tiny["dynamic"]}"
[models.mul]
dataset = "mul.npz"
metric = "mae"
signature = "mul"
[models.mul.variants]
fp32 = "{tiny["signatures"]}"
[models.q]
dataset = "add.npz"
metric = "mae"
[models.q.variants]
int8 = "{tiny["int8_add"]}"
[models.c]
dataset = "stream.npz"
metric = "mae"
output = "y"
[models.c.variants]
fp32 = "{tiny["counter"]}"
[models.c.inputs.state]
source = "zeros"
[models.c.feedback]
stateN = "state"
[measure]
repetitions = 1
min_runs = 20
min_seconds = 0.01
warmup_runs = 1
warmup_seconds = 0
""")
    target = tmp_path / "pi-like.toml"
    target.write_text(f'kind = "local"\npython = "{tflite_runtime_python}"\n')
    out = tmp_path / "out"
    assert main(["run", str(suite), "--target", str(target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet").set_index("model")
    assert set(cells.runtime_module) == {"tflite_runtime"}
    assert cells.loc["batch", "metric_value"] < 1e-6
    assert cells.loc["mul", "metric_value"] < 1e-6
    assert cells.loc["q", "metric_value"] < 0.06
    assert cells.loc["c", "metric_value"] < 1e-6  # y_k = x_k + k: the state counted invokes
