"""Time to derive the four named variants (fp16, dynamic_int8, int8, int4_weights) of the example
CNN and LSTM in both formats, calibrating on 100 samples; then again from the cache.

    python benchmarks/derive.py

Goal: ≤ 20 s with an empty cache, 0 s of quantizing when cached. Measured twice: in-process
(`derive_variants`, after the quantizer libraries are imported once by a warm-up derivation into
another cache) and end to end (`benchy derive` in a fresh interpreter: Python start, imports,
cache lookups, copies). Each run gets an empty cache of its own ($XDG_CACHE_HOME). The 100
calibration windows are the dataset's 40 `x_calib` windows, its 40 `x` windows and the first 20
`x_calib` again (BasicMotions has 80 windows in all); the time does not depend on their values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchy.config import load_suite  # noqa: E402
from benchy.derive.cache import VariantCache  # noqa: E402
from benchy.derive.variants import Derived, derive_variants  # noqa: E402

MODELS = {
    "cnn": "cnn_fp32.tflite",
    "lstm": "lstm_fp32.tflite",
    "cnn_onnx": "cnn_fp32.onnx",
    "lstm_onnx": "lstm_fp32.onnx",
}


def write_suite(base: Path) -> Path:
    with np.load(ROOT / "suites" / "data" / "basicmotions.npz") as data:
        x = np.concatenate([data["x_calib"], data["x"], data["x_calib"][:20]])
    np.savez(base / "calib.npz", x=x, y=np.zeros(len(x), dtype=np.int64))
    text = ""
    for name, file in MODELS.items():
        text += (
            f'[models.{name}]\nreference = "fp32"\n'
            'derive = ["fp16", "dynamic_int8", "int8", "int4_weights"]\n'
            'calibration = { source = "calib.npz", samples = 100 }\n'
            f'[models.{name}.variants]\nfp32 = "{ROOT / "suites" / "models" / file}"\n'
        )
    suite = base / "derive.toml"
    suite.write_text(text)
    return suite


def in_process(suite: Path, base: Path) -> tuple[Derived, float, Derived, float]:
    loaded = load_suite(suite)
    derive_variants(loaded, base / "warm", VariantCache(base / "warm-cache"))  # imports
    cache = VariantCache(base / "cache")
    t0 = time.perf_counter()
    first = derive_variants(loaded, base / "first", cache)
    t1 = time.perf_counter()
    second = derive_variants(loaded, base / "second", cache)
    t2 = time.perf_counter()
    return first, t1 - t0, second, t2 - t1


def end_to_end(suite: Path, base: Path) -> list[tuple[float, dict[str, dict[str, object]]]]:
    env = {**os.environ, "XDG_CACHE_HOME": str(base / "xdg")}
    runs = []
    for name in ("cli-first", "cli-second"):
        argv = [sys.executable, "-m", "benchy", "derive", str(suite), "-o", str(base / name)]
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, check=False)
        wall = time.perf_counter() - t0
        variants = json.loads((base / name / "derived.json").read_text())["variants"]
        runs.append((wall, variants))
    return runs


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        suite = write_suite(base)
        first, t_first, second, t_second = in_process(suite, base)
        cli = end_to_end(suite, base)
    made = [d for d in first.variants if d.error is None]
    print(f"{len(first.variants)} derived variants ({len(made)} made, {len(first.failed)} refused:"
          f" {', '.join(f'{d.model}/{d.variant}' for d in first.failed)})")  # fmt: skip
    calibrated = [d for d in first.variants if d.calibration is not None]
    print(f"calibration: {calibrated[0].calibration.payload()['samples']} samples"  # type: ignore[union-attr]
          f" for {len(calibrated)} int8 variants")  # fmt: skip
    print(f"in-process, empty cache: {t_first:.2f} s; slowest: " + ", ".join(
        f"{d.model}/{d.variant} {d.seconds:.2f} s"
        for d in sorted(first.variants, key=lambda d: -d.seconds)[:4]))  # fmt: skip
    hits = sum(d.cached for d in second.variants)
    total = len(second.variants)
    print(f"in-process, cached:      {t_second:.3f} s ({hits} of {total} from the cache)")
    for label, (wall, variants) in zip(("empty cache", "cached"), cli, strict=True):
        quantized = sum(not v["cached"] for v in variants.values())
        work = sum(float(v["seconds"]) for v in variants.values())  # type: ignore[arg-type]
        print(f"benchy derive, {label}: {wall:.2f} s wall (Python start and imports included); "
              f"{quantized} quantizer calls, {work:.3f} s deriving")  # fmt: skip


if __name__ == "__main__":
    main()
