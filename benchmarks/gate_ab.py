"""Real A/B runs with a known extra cost, through `benchy ab`, and the wearable suite's wall time
with adaptive repetitions when nothing changed.

1. Chains (benchmarks/chains.py): an MLP of K dense 256×256 layers against K + 1 layers, for
   K = 10, 20, 33 — as ONNX (ONNX Runtime) and as TFLite, the TFLite chains once with XNNPACK and
   once with the builtin kernels (`delegates = ["none"]`). One `benchy ab` measures all nine
   cells interleaved at the default [gate]; each cell's p50 verdict is recorded. Repeated
   `--runs` times quiet, and as many times while another process keeps one core busy.
   Detection per cell = share of runs whose p50 is `regressed`; the true shift is the median of
   the shift estimates over the runs (each run's CI is in the JSON).
2. `benchy run suites/wearable.toml` once, then `--runs-wall` times with `--baseline` that run
   (nothing changed): wall time, exit code, and the cells adaptive repetitions extended.

    python benchmarks/gate_ab.py --runs 10 --json gate_ab.json

The load average is printed with every run: the machine is shared, the figures depend on it.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.chains import mlp_chain, tflite_chain
from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.results.read import StoredRun

ROOT = Path(__file__).resolve().parent.parent
KS = (10, 20, 33)


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def suites(folder: Path, threads: list[int]) -> tuple[Path, Path]:
    """The base suite (K layers) and the candidate (K + 1) with the same cell identities, at
    these thread counts (builtin TFLite kernels single-threaded only, as in the wearable suite)."""
    for k in KS:
        for layers in (k, k + 1):
            mlp_chain(layers, folder / f"chain{layers}.onnx")
            tflite_chain(layers, folder / f"chain{layers}.tflite")
    out = []
    for name, extra in (("base", 0), ("candidate", 1)):
        models = "\n".join(
            f'[models.onnx{k}]\ninput = {{ source = "random", seed = 1 }}\n'
            f'[models.onnx{k}.variants]\nk = "{folder}/chain{k + extra}.onnx"\n'
            f'[models.tflite{k}]\ninput = {{ source = "random", seed = 1 }}\n'
            f'[models.tflite{k}.variants]\nk = "{folder}/chain{k + extra}.tflite"\n'
            for k in KS
        )
        path = folder / f"{name}.toml"
        path.write_text(
            '[suite]\nname = "chains"\n[matrix]\nruntimes = ["tflite", "onnxruntime"]\n'
            f"threads = {threads}\n"
            '[matrix.tflite]\ndelegates = ["xnnpack", "none"]\n'
            '[[matrix.exclude]]\ndelegate = "none"\nthreads = 2\n'
            "[measure]\nwarmup_runs = 50\nwarmup_seconds = 0.02\nmin_runs = 300\n"
            "min_seconds = 0.1\n" + models
        )
        out.append(path)
    return out[0], out[1]


def spin(stop: Any) -> None:
    """Keep one core busy (the "another process" of the busy runs)."""
    x = 0
    while not stop.is_set():
        x += 1


def ab(base: Path, new: Path, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "benchy", "ab", str(base), str(new), "--out", str(out)]
    code = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=False).returncode
    return judged(out, code, time.perf_counter() - t0)


def judged(out: Path, code: int, seconds: float) -> dict[str, Any]:
    """One stored `benchy ab` folder, judged by this benchy at `benchy ab`'s default [gate]."""
    base, candidate = StoredRun.load(out / "base"), StoredRun.load(out / "candidate")
    c = compare_runs(base, candidate, Gate(), interleaved=True)  # runs stored before ab marked them
    cells = {}
    for r in c.results:
        if r.metric == "p50" and r.cell.runtime:
            cells[r.cell.title(target=False)] = {
                "verdict": r.verdict,
                "shift": r.shift,
                "low": r.low,
                "high": r.high,
                "mde": r.mde,
                "repetitions": list(r.repetitions or ()),
            }
    verdicts = c.verdicts()
    verdict_code = 1 if "regressed" in verdicts else 4 if "inconclusive" in verdicts else 0
    return {"exit": code, "exit_judged": verdict_code, "seconds": seconds, "cells": cells,
            "load": load_average()}  # fmt: skip


def rejudge(folder: Path) -> dict[str, Any]:
    """The `benchy ab` runs stored in `folder` by an earlier measurement, judged again (as
    measured: adaptive repetitions were decided by the benchy that ran them)."""
    results: dict[str, list[dict[str, Any]]] = {"quiet": [], "one core busy": []}
    for condition in results:
        runs = sorted(folder.glob(f"ab-{condition.replace(' ', '-')}-*"),
                      key=lambda p: int(p.name.rsplit("-", 1)[1]))  # fmt: skip
        results[condition] = [judged(run, -1, math.nan) for run in runs]
    return results


def chains(runs: int, folder: Path, threads: list[int]) -> dict[str, Any]:
    base, new = suites(folder, threads)
    results: dict[str, list[dict[str, Any]]] = {"quiet": [], "one core busy": []}
    for condition in results:
        stop = multiprocessing.Event()
        spinner = None
        if condition == "one core busy":
            spinner = multiprocessing.Process(target=spin, args=(stop,), daemon=True)
            spinner.start()
        try:
            for i in range(runs):
                got = ab(base, new, folder / f"ab-{condition.replace(' ', '-')}-{i}")
                results[condition].append(got)
                verdicts = [c["verdict"] for c in got["cells"].values()]
                print(f"  {condition} run {i + 1}/{runs}: exit {got['exit']}, "
                      f"{verdicts.count('regressed')}/{len(verdicts)} regressed, "
                      f"{got['seconds']:.0f} s, load {got['load']}", flush=True)  # fmt: skip
        finally:
            stop.set()
            if spinner is not None:
                spinner.join(5)
    return results


def summarize(results: dict[str, list[dict[str, Any]]]) -> None:
    for condition, runs in results.items():
        print(f"{condition}: {len(runs)} runs of `benchy ab`")
        titles = sorted({t for r in runs for t in r["cells"]})
        for title in titles:
            got = [r["cells"][title] for r in runs if title in r["cells"]]
            shifts = [g["shift"] for g in got if g["shift"] is not None]
            verdicts = [g["verdict"] for g in got]
            reps = [max(g["repetitions"] or [0]) for g in got]
            mdes = [g["mde"] for g in got if g["mde"] is not None]
            print(f"  {title:<36} true shift ≈ {np.median(shifts) * 100:+5.1f}%  detected "
                  f"{verdicts.count('regressed')}/{len(got)}  verdicts "
                  f"{ {v: verdicts.count(v) for v in sorted(set(verdicts))} }  repetitions "
                  f"{min(reps)}–{max(reps)}  MDE median "
                  f"{np.median(mdes) * 100 if mdes else float('nan'):.1f}%")  # fmt: skip


def wall(runs: int, folder: Path) -> list[dict[str, Any]]:
    suite = ROOT / "suites" / "wearable.toml"
    first = folder / "wearable-base"
    cmd = [sys.executable, "-m", "benchy", "run", str(suite), "--out", str(first)]
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
    out = []
    for i in range(runs):
        run_dir = folder / f"wearable-{i}"
        load = load_average()
        t0 = time.perf_counter()
        code = subprocess.run(
            [*cmd[:-1], str(run_dir), "--baseline", str(first)],
            cwd=ROOT, stdout=subprocess.DEVNULL, check=False,
        ).returncode  # fmt: skip
        seconds = time.perf_counter() - t0
        manifest = json.loads((run_dir / "run.json").read_text())
        extended = (manifest.get("adaptive") or {}).get("extended") or {}
        counts = (manifest.get("comparison") or {}).get("counts")
        out.append({"seconds": seconds, "exit": code, "extended": extended, "counts": counts,
                    "load_before": load, "load_after": load_average()})  # fmt: skip
        print(f"  wearable --baseline run {i + 1}/{runs}: {seconds:.1f} s, exit {code}, "
              f"{len(extended)} cells extended, verdicts {counts}, load {load} → "
              f"{load_average()}", flush=True)  # fmt: skip
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=10, help="`benchy ab` runs per condition (10)")
    p.add_argument("--runs-wall", type=int, default=3, help="wearable runs with --baseline (3)")
    p.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="chain cells' thread counts (1); builtin kernels: 1 only")  # fmt: skip
    p.add_argument("--skip-chains", action="store_true")
    p.add_argument("--skip-wall", action="store_true")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--rejudge", type=Path, metavar="DIR", help="judge the ab runs stored in DIR")
    args = p.parse_args()
    if args.rejudge:
        summarize(rejudge(args.rejudge))
        return
    folder = Path(tempfile.mkdtemp(prefix="gate-ab-"))
    print(f"load average at start: {load_average()}; work in {folder}")
    figures: dict[str, Any] = {}
    if not args.skip_chains:
        figures["chains"] = chains(args.runs, folder, args.threads)
        summarize(figures["chains"])
    if not args.skip_wall:
        figures["wearable"] = wall(args.runs_wall, folder)
    print(f"load average at the end: {load_average()}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
