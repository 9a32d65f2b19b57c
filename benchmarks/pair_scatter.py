"""How far apart a round's two values land: two worker processes run back to back (how `benchy
ab` paired rounds before), against two models timed in turn in one process (worker/pair.py,
how it pairs them now). A/A on the wearable suite's models, and a known extra cost (an MLP
chain of 10 vs 11 layers) to check that both ways see the same shift.

Each round, through the worker's own `run_isolated` (a forked child per request, as the local
target runs cells): the base's process, the candidate's process, then one pair request. Per
cell: the median of the rounds' log differences (the shift), their robust scatter (scaled
MAD), and the share of rounds more than 3% from that median.

    python benchmarks/pair_scatter.py                 # 16 rounds per cell (~4 min)
    python benchmarks/pair_scatter.py --rounds 24 --cells cnn_fp32.onnx:2
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.chains import mlp_chain, tflite_chain  # noqa: E402
from benchy.worker.server import run_isolated  # noqa: E402

MODELS = ROOT / "suites" / "models"
MEASURE = {
    "warmup_runs": 10,
    "warmup_seconds": 0.05,
    "min_runs": 100,
    "min_seconds": 0.1,
    "max_seconds": 5.0,
    "max_runs": 100_000,
    "repetitions": 1,
    "timeout_s": 120.0,
}  # fmt: skip  (the wearable suite's [measure])
CELLS = ["cnn_fp32.onnx:1", "cnn_fp32.onnx:2", "lstm_fp32.onnx:2", "cnn_fp32.tflite:1",
         "cnn_fp32.tflite:2", "lstm_fp32.tflite:2", "chain:2"]  # fmt: skip


def request(path: Path, threads: int) -> dict[str, Any]:
    onnx = path.suffix == ".onnx"
    return {"runtime": "onnxruntime" if onnx else "tflite", "model_path": str(path),
            "delegate": {"name": "CPUExecutionProvider" if onnx else "xnnpack"},
            "threads": threads, "inputs": {}, "measure": MEASURE, "timeout_s": 120.0,
            "collect_outputs": False}  # fmt: skip


def p50(ns: list[int]) -> float:
    return float(np.median(np.asarray(ns, np.float64)))


def rounds(base: dict[str, Any], new: dict[str, Any], n: int) -> tuple[list[float], list[float]]:
    """Per round, log(new / base): from two processes, and from one pair request."""
    apart, within = [], []
    for r in range(n):
        a, b = run_isolated(cast(Any, base)), run_isolated(cast(Any, new))
        pair = run_isolated(cast(Any, {**new, "partner": base, "partner_first": r % 2 == 0}))
        for got in (a, b, pair):
            if got["status"] != "ok":
                raise SystemExit(f"{got['status']}: {got.get('error')}")
        apart.append(math.log(p50(b["samples_ns"]) / p50(a["samples_ns"])))
        within.append(math.log(p50(pair["samples_ns"]) / p50(pair["partner_ns"])))
    return apart, within


def describe(d: list[float]) -> str:
    v = np.asarray(d)
    centre = float(np.median(v))
    mad = 1.4826 * float(np.median(np.abs(v - centre)))
    far = float(np.mean(np.abs(v - centre) > 0.03))
    return f"shift {math.expm1(centre):+6.1%}  scatter {mad:5.1%}  >3% apart {far:4.0%}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=16)
    p.add_argument("--cells", nargs="*", default=CELLS, help="MODEL_FILE:THREADS, or chain:THREADS")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="benchy-pairs-"))
    print(f"{args.rounds} rounds per cell; load average {os.getloadavg()[0]:.2f}")
    for spec in args.cells:
        name, threads = spec.rsplit(":", 1)
        cases: list[Iterable[Path]]
        if name == "chain":
            cases = [(mlp_chain(k, folder / f"c{k}.onnx") for k in (10, 11)),
                     (tflite_chain(k, folder / f"c{k}.tflite") for k in (10, 11))]  # fmt: skip
        else:
            cases = [iter([MODELS / name, MODELS / name])]
        for models in cases:
            a, b = (request(m, int(threads)) for m in models)
            apart, within = rounds(a, b, args.rounds)
            label = f"{Path(a['model_path']).name} vs {Path(b['model_path']).name} ×{threads}"
            print(f"{label:40s} processes: {describe(apart)}")
            print(f"{'':40s} one process: {describe(within)}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
