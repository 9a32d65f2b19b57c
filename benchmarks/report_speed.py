"""Time to write the HTML report of a full wearable run, and its size.

    python benchmarks/report_speed.py              # runs the wearable suite first (~70 s)
    python benchmarks/report_speed.py RUN_DIR      # or reports on a stored run

Goal (issue 14): ≤ 3 s and ≤ 5 MB for the wearable suite (32 cells). Each round runs in a
fresh process, as `benchy run` and `benchy report` do:

- `write`: what `benchy run` adds after its table — `write_run_report` on the loaded run
  (reading samples.parquet, the page, report.png), timed inside the process;
- `benchy report`: the command end to end, Python start and imports included.

Both with the JavaScript bundle cached (every report after the first on a machine) and without
(`cold`: an empty cache folder, so vl-convert builds the bundle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
WRITE = """
import json, sys, time
from pathlib import Path
from benchy.results.read import StoredRun
from benchy.report.html import write_run_report
run = StoredRun.load(Path(sys.argv[1]))
t = time.perf_counter()
w = write_run_report(run, Path(sys.argv[2]))
print(json.dumps({"s": time.perf_counter() - t, "html": w.size, "png": w.png.stat().st_size}))
"""


def env(cache: Path) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": path}


def write_once(run: Path, out: Path, cache: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", WRITE, str(run), str(out)],
        env=env(cache), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(proc.stdout))


def command_once(run: Path, out: Path, cache: Path) -> float:
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "benchy", "report", str(run), "-o", str(out)],
        env=env(cache), capture_output=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - t


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a stored run (default: run one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        run = args.run
        if run is None:
            run = base / "run"
            argv = [sys.executable, "-m", "benchy", "run", "suites/wearable.toml", "--no-report"]
            subprocess.run([*argv, "--out", str(run)], cwd=ROOT, env=env(base / "c"), check=False)
        cells = pd.read_parquet(run / "cells.parquet")
        samples = len(pd.read_parquet(run / "samples.parquet", columns=["latency_ns"]))
        print(f"{run}: {int((cells.status == 'ok').sum())} cells ran, {samples} samples")
        warm_cache = base / "warm"
        write_once(run, base / "warmup.html", warm_cache)  # fills the bundle cache
        rounds = range(args.rounds)
        cold = [write_once(run, base / f"c{i}.html", base / f"cold{i}") for i in rounds]
        warm = [write_once(run, base / f"w{i}.html", warm_cache) for i in rounds]
        command = [command_once(run, base / f"r{i}.html", warm_cache) for i in rounds]
        cold_cmd = [command_once(run, base / f"k{i}.html", base / f"kold{i}") for i in rounds]
    print(f"write, bundle cached:      {summary([w['s'] for w in warm])}")
    print(f"write, cold (no cache):    {summary([w['s'] for w in cold])}")
    print(f"benchy report, cached:     {summary(command)}")
    print(f"benchy report, cold:       {summary(cold_cmd)}")
    print(f"report.html {warm[0]['html'] / 1e6:.2f} MB, report.png {warm[0]['png'] / 1e6:.2f} MB")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} (1 min) on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
