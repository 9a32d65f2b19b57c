"""Harness overhead and fixed cost per cell (run on demand; figures go into the README).

    python benchmarks/overhead.py [--rounds 5]

1. Overhead on the measured latency: benchy's p50 for a ~12 µs model vs a bare `invoke()` loop
   (same process type, same inputs, no harness), alternated in rounds so drift hits both.
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
import textwrap
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# The wearable CNN on builtin kernels (no XNNPACK) takes ~12 µs per invoke here: the size of
# model for which a few hundred ns of harness cost would show.
MODEL = ROOT / "suites" / "models" / "cnn_fp32.tflite"

BARE = """
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
interp = Interpreter(
    sys.argv[1], num_threads=1,
    experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
)
interp.allocate_tensors()
inp = interp.get_input_details()[0]
x = np.random.default_rng(0).uniform(-1, 1, inp["shape"]).astype(np.float32)
interp.set_tensor(inp["index"], x)
for _ in range(200):
    interp.invoke()
clock, invoke, out = time.perf_counter_ns, interp.invoke, []
for _ in range(int(sys.argv[2])):
    a = clock(); invoke(); out.append(clock() - a)
out.sort()
print(json.dumps({"p50_ms": out[len(out) // 2] / 1e6}))
"""

SUITE = """
[suite]
name = "overhead"
[matrix]
runtimes = ["tflite"]
[matrix.tflite]
delegates = ["none"]
[models.cnn]
[models.cnn.input]
low = -1.0
high = 1.0
[models.cnn.variants]
fp32 = "{model}"
[measure]
warmup_runs = 200
warmup_seconds = 0.0
min_runs = {runs}
min_seconds = 0.0
max_seconds = 30
"""


def bare_p50(runs: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", BARE, str(MODEL), str(runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout)["p50_ms"])


def benchy_cells(tmp: Path, runs: int, tag: str) -> pd.DataFrame:
    suite = tmp / f"overhead-{tag}.toml"
    suite.write_text(textwrap.dedent(SUITE.format(model=MODEL, runs=runs)))
    out = tmp / f"run-{tag}"
    subprocess.run(
        [sys.executable, "-m", "benchy", "run", str(suite), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return pd.read_parquet(out / "cells.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    bare, harness, overhead = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            bare.append(bare_p50(args.runs))
            cells = benchy_cells(Path(tmp), args.runs, str(i))
            harness.append(float(cells.latency_p50_ms.iloc[0]))
            overhead.append(float(cells.overhead_s.iloc[0]))
        wear = benchy_wearable(Path(tmp))
    b, h = statistics.median(bare), statistics.median(harness)
    print(f"{MODEL.name} (builtin kernels), {args.runs} invokes x {args.rounds} alternating rounds")
    print(f"  bare invoke() loop p50: {b * 1000:.2f} µs  (rounds: {_us(bare)})")
    print(f"  benchy cell p50:        {h * 1000:.2f} µs  (rounds: {_us(harness)})")
    print(f"  harness overhead on p50: {(h - b) / b * 100:+.1f}%")
    print(
        "  fixed cost per cell (random input, no accuracy pass): "
        f"median {statistics.median(overhead) * 1000:.0f} ms"
    )
    print(
        "  fixed cost per cell (wearable --quick): "
        f"median {wear.median() * 1000:.0f} ms, max {wear.max() * 1000:.0f} ms"
        f" over {len(wear)} cells"
    )


def benchy_wearable(tmp: Path) -> pd.Series:
    out = tmp / "wearable"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchy",
            "run",
            "suites/wearable.toml",
            "--quick",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    cells = pd.read_parquet(out / "cells.parquet")
    return cells.loc[cells.status == "ok", "overhead_s"]


def _us(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.2f}" for v in values)


if __name__ == "__main__":
    main()
