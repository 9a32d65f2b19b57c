"""Memory truth: an ONNX model holding 64 MiB of float32 weights must show model_memory_mb in
[64, 140] — the weights are really resident, and benchy does not count its own process.

    python benchmarks/memory_truth.py        (needs the `onnx` package: pip install -e '.[test]')
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SIDE = 4096  # 4096 × 4096 float32 = 64 MiB


def build_model(path: Path, side: int = SIDE) -> int:
    """y = x @ W with W a (side, side) float32 initializer; returns the weight bytes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).standard_normal((side, side)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, side])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return w.nbytes


SUITE = """
[matrix]
runtimes = ["onnxruntime"]
[models.big]
[models.big.variants]
fp32 = "{model}"
[measure]
warmup_runs = 2
warmup_seconds = 0.0
min_runs = 10
min_seconds = 0.0
"""


def measure(tmp: Path) -> pd.Series:
    model = tmp / "big.onnx"
    weights = build_model(model)
    suite = tmp / "big.toml"
    suite.write_text(SUITE.format(model=model))
    out = tmp / "run"
    subprocess.run(
        [sys.executable, "-m", "benchy", "run", str(suite), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    row = pd.read_parquet(out / "cells.parquet").iloc[0]
    row["weights_mib"] = weights / 2**20
    return row


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(Path(tmp))
    print(f"weights: {row.weights_mib:.0f} MiB")
    for key in ("rss_before_mb", "rss_after_load_mb", "peak_rss_mb", "model_memory_mb"):
        print(f"  {key}: {row[key]:.1f}")
    ok = 64 <= row.model_memory_mb <= 140
    print(f"model_memory_mb in [64, 140]: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
