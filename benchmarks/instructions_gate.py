"""Instruction mode as a gate (issue 15): A/A false positives at δ = 0.5%, detection of a true
~1% change, and the wall-clock gate's view of the same change.

    python benchmarks/instructions_gate.py [--runs 25] [--wall-reps 12]

Models: an ONNX MLP chain of 100 vs 101 MatMul+Relu layers (64 wide: one layer is ~1% of the
chain) and the example CNN (fp32, LiteRT/XNNPACK). `--runs` separate `benchy run`s in
instruction mode, one repetition per cell each (so each run is a fresh Valgrind worker and a
fresh process per cell). Pairs are then judged with benchy's own verdict
(judge/instructions.py), one repetition per side:
- A/A: every pair of runs (i < j) of the same cell: C(runs, 2) pairs per cell;
- detection: every (run i of the 100-layer chain, run j of the 101-layer chain) pair.
The pairs share runs, so they are not independent; every pairing is counted once.

Wall clock: `--wall-reps` repetitions per cell in time mode for each chain (the default
suite settings), compared with `benchy compare` logic (compare_runs): the p50 verdict, shift and
99% CI of the same 1% change under the default δ (5%).

The machine is shared with other sessions: wall-clock figures move with its load, instruction
counts do not (Valgrind counts instructions, not time).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchy.config import Gate  # noqa: E402
from benchy.judge.compare import compare_runs  # noqa: E402
from benchy.judge.instructions import compare_instructions  # noqa: E402
from benchy.results.read import StoredRun, records  # noqa: E402
from benchy.results.schema import CellKey  # noqa: E402
from tests.mlp_models import mlp_chain  # noqa: E402

COUNTED = """
[measure]
repetitions = 1
warmup_runs = 10
instruction_runs = 5
timeout_s = 600
mode = "instructions"
"""


def benchy(*argv: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "benchy", *argv], env=env, check=False,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def suite(path: Path, variants: dict[str, Path], measure: str) -> Path:
    lines = "\n".join(f'{k} = "{v}"' for k, v in variants.items())
    path.write_text(f"[models.m.variants]\n{lines}\n[matrix.tflite]\ndelegates = "
                    f'["xnnpack"]\n{measure}')  # fmt: skip
    return path


def counted_runs(work: Path, models: dict[str, Path], runs: int) -> pd.DataFrame:
    target = work / "local.toml"
    target.write_text('kind = "local"\n')
    s = suite(work / "counted.toml", models, COUNTED)
    frames = []
    t0 = time.perf_counter()
    for i in range(runs):
        out = work / f"counted-{i}"
        benchy("run", str(s), "--target", str(target), "--out", str(out))
        cells = pd.read_parquet(out / "cells.parquet")
        frames.append(cells[cells["status"] == "ok"].assign(run=i))
        print(f"run {i + 1}/{runs}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return pd.concat(frames, ignore_index=True)


def judge(base: dict, new: dict) -> str:  # type: ignore[type-arg]
    key = CellKey("local", "m", "x", "r", "d", 1)
    result = compare_instructions(key, base, new, Gate(), ())
    assert result is not None
    return result.verdict


def pairs_report(cells: pd.DataFrame) -> None:
    rows = {v: records(g.sort_values("run")) for v, g in cells.groupby("variant")}
    for variant in ("mlp100", "cnn"):
        verdicts = [judge(a, b) for a, b in itertools.combinations(rows[variant], 2)]
        fp = sum(v == "regressed" for v in verdicts)
        other = {v: verdicts.count(v) for v in set(verdicts)}
        values = [r["instructions_per_inference"] for r in rows[variant]]
        spread = (max(values) - min(values)) / min(values)
        print(f"A/A {variant}: {len(verdicts)} pairs, regressed {fp}; verdicts {other}; "
              f"spread over {len(values)} runs {spread:.3%}")  # fmt: skip
    detected = [judge(a, b) for a in rows["mlp100"] for b in rows["mlp101"]]
    hits = sum(v == "regressed" for v in detected)
    base = pd.Series([r["instructions_per_inference"] for r in rows["mlp100"]]).median()
    new = pd.Series([r["instructions_per_inference"] for r in rows["mlp101"]]).median()
    print(f"100 → 101 layers: true change {new / base - 1:+.3%}; regressed in {hits} of "
          f"{len(detected)} pairs ({hits / len(detected):.1%})")  # fmt: skip


def wall_clock(work: Path, models: dict[str, Path], reps: int) -> None:
    target = work / "local.toml"
    measure = f"[measure]\nrepetitions = {reps}\n"
    runs = {}
    for name in ("mlp100", "mlp101"):
        s = suite(work / f"wall-{name}.toml", {"mlp": models[name]}, measure)
        out = work / f"wall-{name}-{reps}"
        t0 = time.perf_counter()
        benchy("run", str(s), "--target", str(target), "--out", str(out))
        print(f"wall-clock {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        runs[name] = StoredRun.load(out)
    comparison = compare_runs(runs["mlp100"], runs["mlp101"], Gate())
    for r in comparison.results:
        if r.metric == "p50":
            print(f"wall-clock gate, {reps} repetitions, δ 5%: {r.verdict}: {r.message()}")
            if r.low is not None and r.high is not None:
                print(f"  99% CI width {(r.high - r.low) * 100:.2f} points: a change is "
                      f"called only once its CI clears δ = 5%")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--wall-reps", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = {
            "mlp100": mlp_chain(work / "mlp100.onnx", 100),
            "mlp101": mlp_chain(work / "mlp101.onnx", 101),
            "cnn": ROOT / "suites" / "models" / "cnn_fp32.tflite",
        }
        cells = counted_runs(work, models, args.runs)
        pairs_report(cells)
        wall_clock(work, models, args.wall_reps)


if __name__ == "__main__":
    main()
