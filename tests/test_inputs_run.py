"""Models with the inputs real models have, run for real (ONNX Runtime, LiteRT): several inputs
with an int64 scalar, symbolic and dynamic dimensions, streaming state fed back, TFLite
signatures, an int8 model with two inputs from a two-array dataset, external data, int8/uint8/
bool/float16 inputs. Each model computes something exact, so a wrong feed shows in the metric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main
from benchy.worker.inputs import feedback_pairs, input_sets
from benchy.worker.measure import timed_loop
from benchy.worker.protocol import CellRequest, InputsSpec
from benchy.worker.runtimes import RUNNERS

from .conftest import QUICK_MEASURE, ROOT, one_repetition_unless_asked
from .tiny_models import TFLITE_LIMITS, WEIGHTS, tflite_suite


def run_suite(tmp_path: Path, body: str, name: str = "s") -> pd.DataFrame:
    path = tmp_path / f"{name}.toml"
    path.write_text(body + one_repetition_unless_asked(QUICK_MEASURE))
    out = tmp_path / f"out-{name}"
    code = main(["run", str(path), "--out", str(out)])
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status != "n/a"].set_index(["model", "variant"])
    assert code == 0, ran[["status", "error"]]
    return ran


def frames(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 1, 16)).astype(np.float32)


VAD = """
[models.{name}]
dataset = "{data}"
metric = "mae"
reference = "fp32"
dims = {{ batch = 1, sequence = 16 }}
output = "output"
[models.{name}.variants]
fp32 = "{fp32}"
half = "{half}"
[models.{name}.inputs.state]
source = "zeros"
[models.{name}.inputs.sr]
value = 16000
"""


def test_a_streaming_model_with_three_inputs_runs_as_one_stream(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    """vad.onnx (input [batch, sequence], state [2, batch, 8], sr int64 scalar) in fp32 and
    fp16: output_k = mean(frame k) + state_k + sr/10000, and stateN = state + 1 fed back, so
    output_k = mean(frame k) + k + 1.6 only if every invoke got the previous one's state, in
    dataset order, and sr was 16000. Without feedback the same model scores k off."""
    x = frames(20)
    y = x.mean(axis=(1, 2)) + np.arange(20) + 1.6
    data = tmp_path / "frames.npz"
    np.savez(data, input=x, y=y.astype(np.float32))
    models = {"data": data, "fp32": tiny["vad"], "half": tiny["vad_half"]}
    body = VAD.format(name="stream", **models) + '[models.stream.feedback]\nstateN = "state"\n'
    body += VAD.format(name="frames", **models)  # the same model, each frame on its own
    cells = run_suite(tmp_path, body)
    assert cells.loc[("stream", "fp32"), "metric_value"] < 1e-5
    assert cells.loc[("stream", "half"), "metric_value"] < 0.02  # float16 rounding of ~20
    assert cells.loc[("frames", "fp32"), "metric_value"] == pytest.approx(9.5, abs=1e-4)
    assert (cells.status == "ok").all()


VAD_STREAM: InputsSpec = {
    "feeds": [
        {"name": "input", "source": "random", "shape": [1, 16]},
        {"name": "state", "source": "zeros", "shape": [2, 1, 8]},
        {"name": "sr", "source": "value", "shape": [], "value": 16000},
    ],
    "feedback": {"stateN": "state"},
}
"""vad.onnx as one stream: its state fed back, sr a scalar."""


def cell_for(model: Path, runtime: str, inputs: InputsSpec) -> CellRequest:
    measure = {"warmup_runs": 0, "warmup_seconds": 0.0, "min_runs": 200, "min_seconds": 0.0,
               "max_seconds": 10.0, "max_runs": 200, "repetitions": 1,
               "timeout_s": 60.0}  # fmt: skip
    delegate = {"name": "xnnpack" if runtime == "tflite" else "CPUExecutionProvider"}
    return {"runtime": runtime, "model_path": str(model), "delegate": delegate, "threads": 1,
            "inputs": inputs, "measure": measure, "timeout_s": 60.0,  # type: ignore[typeddict-item]
            "collect_outputs": False}  # fmt: skip


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_the_timed_loop_feeds_every_invoke_the_previous_state(
    tiny: dict[str, Path], kind: str
) -> None:
    """The worker's own timed loop on a real runtime, with a counter model (stateN = state +
    1): after n timed invokes from state 0 the next invoke sees state n — each timed invoke
    took the previous one's output, and the state changed every time."""
    if kind == "onnx":
        model, runtime = tiny["vad"], "onnxruntime"
        inputs: InputsSpec = VAD_STREAM
    else:
        model, runtime = tiny["counter"], "tflite"
        inputs = {
            "feeds": [{"name": "x", "source": "random"}, {"name": "state", "source": "zeros"}],
            "feedback": {"stateN": "state"},
        }
    cell = cell_for(model, runtime, inputs)
    runner = RUNNERS[runtime](cell)
    arrays = input_sets(runner.inputs, inputs)
    state = [t.name for t in runner.outputs].index("stateN")
    runner.stream(feedback_pairs(runner, inputs))
    sets = runner.load(arrays)
    runner.restart(arrays[0])
    seen = []
    for handle in sets[:3]:  # the state changes from invoke to invoke
        runner.set_inputs(handle)
        runner.invoke()
        seen.append(float(runner.output(state).mean()))
        runner.feed()
    assert seen == [1.0, 2.0, 3.0]
    runner.restart(arrays[0])
    samples, _, _ = timed_loop(runner, sets, runner.feed, cell["measure"])
    assert len(samples) == 200
    runner.set_inputs(sets[0])
    runner.invoke()
    assert float(runner.output(state).min()) == float(runner.output(state).max()) == 201.0


def test_tflite_dynamic_batch_signatures_int8_from_two_arrays_and_state(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    cells = run_suite(tmp_path, tflite_suite(tmp_path, tiny)).reset_index()
    for model, limit in TFLITE_LIMITS.items():  # what each scores when fed right
        assert cells[cells.model == model].metric_value.iloc[0] < limit, model


def test_int8_uint8_bool_and_float16_inputs(tmp_path: Path, tiny: dict[str, Path]) -> None:
    """types.onnx: out = a (int8) + b (uint8) + flag (bool) + h (float16)."""
    a = np.random.default_rng(4).integers(-100, 100, size=(8, 1, 4)).astype(np.float32)
    np.savez(tmp_path / "a.npz", a=a, y=(a + 2 + 1 + 0.5).reshape(8, 4))
    body = f"""
[models.t]
dataset = "a.npz"
metric = "mae"
[models.t.variants]
onnx = "{tiny["types"]}"
[models.t.inputs.b]
value = 2
[models.t.inputs.flag]
value = true
[models.t.inputs.h]
value = 0.5
[models.r]
[models.r.variants]
onnx = "{tiny["types"]}"
[models.r.inputs.a]
source = "random"
low = -128
high = 127
"""
    cells = run_suite(tmp_path, body)
    assert cells.loc[("t", "onnx"), "metric_value"] == 0.0
    assert cells.loc[("r", "onnx"), "status"] == "ok"


def test_an_onnx_model_with_external_data_runs_and_counts_its_data(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    x = np.random.default_rng(5).uniform(-1, 1, size=(6, 1, 16)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x, y=(x @ WEIGHTS).reshape(6, 4))
    body = (
        '[models.w]\ndataset = "x.npz"\nmetric = "mae"\n'
        f'[models.w.variants]\nfp32 = "{tiny["weights"]}"\n'
    )
    cells = run_suite(tmp_path, body)
    w = cells.loc[("w", "fp32")]
    assert w.metric_value < 1e-6
    data = tiny["weights"].parent / "weights.data"
    assert w.model_size_bytes == tiny["weights"].stat().st_size + data.stat().st_size
    manifest = json.loads((tmp_path / "out-s" / "run.json").read_text())
    assert "w/fp32:weights.data" in manifest["models_sha256"]


def test_run_a_model_file_without_a_suite_from_any_folder(
    tmp_path: Path, tiny: dict[str, Path]
) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"))

    def benchy(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "benchy", "run", *argv], cwd=tmp_path,
                              capture_output=True, text=True, env=env, timeout=300)  # fmt: skip

    missing = benchy(str(tiny["vad"]), "--quick")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip() == (
        f"error: {tiny['vad']}: dynamic dimensions without a value: batch (input[0], state[1]), "
        "sequence (input[1]); add --dim batch=N --dim sequence=N"
    )
    tflite = benchy(str(tiny["dynamic"]), "--quick")
    assert tflite.returncode == 2 and "add --dim 'x[0]=N'" in tflite.stderr
    started = time.monotonic()
    ok = benchy(str(tiny["vad"]), "--quick", "--dim", "batch=2", "--dim", "sequence=64",
                "--threads", "1", "--threads", "2")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert time.monotonic() - started < 300
    (run,) = (tmp_path / "results" / "vad").iterdir()
    cells = pd.read_parquet(run / "cells.parquet")
    assert list(cells.threads) == [1, 2] and set(cells.status) == {"ok"}
    assert "vad" in ok.stdout and "onnxruntime/cpu" in ok.stdout
    assert benchy(str(tiny["dynamic"]), "--dim", "x[0]=4", "--quick").returncode == 0
    wrong = benchy(str(tiny["dynamic"]), "--dim", "x[0]=4", "--runtime", "onnxruntime")
    assert wrong.returncode == 2 and "does not run .tflite files" in wrong.stderr
