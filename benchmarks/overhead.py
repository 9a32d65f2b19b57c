"""Harness overhead and fixed cost per cell (run on demand; figures go into the README).

    python benchmarks/overhead.py [--rounds 5] [--runs 20000]

1. Overhead on the measured latency: benchy's p50 vs a bare `invoke()` loop (same inputs, no
   harness), alternated in rounds so drift hits both. Two models: the wearable CNN on builtin
   kernels (~12 µs per invoke, the size where a few hundred ns of harness cost would show) and a
   tiny Dense model on XNNPACK (~0.5 µs, the floor). Then two multi-input models with state fed
   back (tests/tiny_models.py, built here; needs the test extra's `onnx`), where benchy sets
   every input and copies the state between invokes, outside the timed region: counter.tflite
   (x, state → y, state + 1; builtin kernels) and vad.onnx on ONNX Runtime (input [1, 512],
   state [2, 1, 8], int64 sr → output, stateN; IOBinding, state buffers swapped).
2. Fixed cost per isolated cell: a cell's wall time minus the work the suite asked for (warmup,
   timed loop, accuracy pass): fork, model load, first inference, result transfer and parsing,
   as recorded in `overhead_s`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    (ROOT / "suites" / "models" / "cnn_fp32.tflite", "none"),
    (ROOT / "benchmarks" / "models" / "tiny_fp32.tflite", "xnnpack"),
]

BARE = """
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
kind = {"none": "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "xnnpack": "AUTO"}[sys.argv[3]]
resolver = getattr(OpResolverType, kind)
interp = Interpreter(sys.argv[1], num_threads=1, experimental_op_resolver_type=resolver)
interp.allocate_tensors()
rng = np.random.default_rng(0)
for inp in interp.get_input_details():  # every input set once; no state carried over
    interp.set_tensor(inp["index"], rng.uniform(-1, 1, inp["shape"]).astype(np.float32))
invoke = interp.invoke
"""

LOOP = """
for _ in range(200):
    invoke()
clock, out = time.perf_counter_ns, []
for _ in range(int(sys.argv[2])):
    a = clock(); invoke(); out.append(clock() - a)
out.sort()
print(json.dumps({"p50_ms": out[len(out) // 2] / 1e6}))
"""
BARE += LOOP

BARE_ORT = (
    """
import json, sys, time
import numpy as np
import onnxruntime as ort
opts = ort.SessionOptions()
opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
session = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
binding = session.io_binding()  # every input bound once; no state carried over
binding.bind_cpu_input("input", np.zeros((1, 512), np.float32))
binding.bind_cpu_input("state", np.zeros((2, 1, 8), np.float32))
binding.bind_cpu_input("sr", np.array(16000, np.int64))
for o, shape in zip(session.get_outputs(), [(1, 1), (2, 1, 8)]):
    value = ort.OrtValue.ortvalue_from_shape_and_type(shape, np.float32)
    binding.bind_ortvalue_output(o.name, value)
def invoke():
    session.run_with_iobinding(binding)
"""
    + LOOP
)

SUITE = """
[suite]
name = "overhead"
[matrix]
runtimes = ["{runtime}"]
[matrix.tflite]
delegates = ["{delegate}"]
[models.m.variants]
fp32 = "{model}"
{inputs}
[measure]
warmup_runs = 200
warmup_seconds = 0.0
min_runs = {runs}
min_seconds = 0.0
max_seconds = 30
"""

RANDOM = "[models.m.input]\nlow = -1.0\nhigh = 1.0\n"
STREAM = '[models.m.inputs.state]\nsource = "zeros"\n[models.m.feedback]\nstateN = "state"\n'
"""Inputs of the single-input models; of the streaming ones (state fed back)."""


def bare_p50(model: Path, delegate: str, runs: int, script: str = BARE) -> float:
    argv = [sys.executable, "-c", script, str(model), str(runs), delegate]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["p50_ms"])


def benchy_run(suite: Path, out: Path, *extra: str) -> pd.DataFrame:
    argv = [sys.executable, "-m", "benchy", "run", str(suite), "--out", str(out), *extra]
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
    cells = pd.read_parquet(out / "cells.parquet")
    return cells[cells.status == "ok"]


def one_case(
    tmp: Path, model: Path, delegate: str, rounds: int, runs: int, script: str = BARE,
    inputs: str = RANDOM, runtime: str = "tflite",
) -> None:  # fmt: skip
    suite = tmp / f"{model.stem}.toml"
    text = SUITE.format(model=model, delegate=delegate, runs=runs, runtime=runtime, inputs=inputs)
    suite.write_text(text)
    bare, harness, fixed = [], [], []
    for i in range(rounds):
        bare.append(bare_p50(model, delegate, runs, script))
        cells = benchy_run(suite, tmp / f"{model.stem}-{i}")
        harness.append(float(cells.latency_p50_ms.iloc[0]))
        fixed.append(float(cells.overhead_s.iloc[0]))
    b, h = statistics.median(bare), statistics.median(harness)
    print(f"{model.name} ({delegate}), {runs} invokes x {rounds} alternating rounds")
    print(f"  bare invoke() loop p50: {b * 1000:.2f} µs  (rounds: {_us(bare)})")
    print(f"  benchy cell p50:        {h * 1000:.2f} µs  (rounds: {_us(harness)})")
    print(f"  harness overhead on p50: {(h - b) / b * 100:+.1f}%")
    print(f"  fixed cost per cell: median {statistics.median(fixed) * 1000:.0f} ms")


def _us(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.2f}" for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description="benchy harness overhead and fixed cost per cell")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for model, delegate in CASES:
            one_case(Path(tmp), model, delegate, args.rounds, args.runs)
        sys.path.insert(0, str(ROOT))
        from tests.tiny_models import counter_tflite, vad_onnx

        counter = counter_tflite(Path(tmp) / "counter.tflite")
        one_case(Path(tmp), counter, "none", args.rounds, args.runs, BARE, STREAM)
        vad = vad_onnx(Path(tmp) / "vad.onnx")
        dims = "[models.m]\ndims = { batch = 1, sequence = 512 }\n"
        one_case(Path(tmp), vad, "cpu", args.rounds, args.runs, BARE_ORT, dims + STREAM,
                 "onnxruntime")  # fmt: skip
        wear = benchy_run(ROOT / "suites" / "wearable.toml", Path(tmp) / "wearable", "--quick")
    fixed = wear.overhead_s / wear.repetitions * 1000  # per worker process
    print(
        f"wearable --quick: fixed cost per cell median {fixed.median():.0f} ms, "
        f"max {fixed.max():.0f} ms over {len(wear)} cells"
    )


if __name__ == "__main__":
    main()
