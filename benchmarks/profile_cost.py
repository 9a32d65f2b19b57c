"""What issue 15's passes cost on the example suite.

    python benchmarks/profile_cost.py

1. The per-op profiling pass: `benchy run suites/wearable.toml --quick` with and without
   `--profile-ops` (alternately, twice each); the extra wall time per cell, and each cell's own
   `profile_s` (the first TFLite cell's includes starting the Valgrind worker). Goal ≤ 1 s
   extra per cell.
2. The wearable suite in instruction mode, one repetition per cell: its wall time.

The machine is shared with other sessions: wall times move with its load (the counts of
instruction mode do not).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "suites" / "wearable.toml"


def timed_run(suite: Path, out: Path, *extra: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchy", "run", str(suite), "--out", str(out), *extra],
                   env=env, check=False, stdout=subprocess.DEVNULL, cwd=ROOT)  # fmt: skip
    return time.perf_counter() - t0


def ok_cells(out: Path) -> pd.DataFrame:
    cells = pd.read_parquet(out / "cells.parquet")
    return cells[cells["status"] == "ok"]


def profiling_pass(work: Path) -> None:
    plain, profiled = [], []
    for i in range(2):
        plain.append(timed_run(SUITE, work / f"plain-{i}", "--quick"))
        profiled.append(timed_run(SUITE, work / f"profiled-{i}", "--quick", "--profile-ops"))
    cells = ok_cells(work / "profiled-1")
    n = len(cells)
    extra = (min(profiled) - min(plain)) / n
    runs = f"{', '.join(f'{t:.1f}' for t in plain)} / {', '.join(f'{t:.1f}' for t in profiled)}"
    print(f"--quick: {min(plain):.1f} s; with --profile-ops {min(profiled):.1f} s "
          f"(runs: {runs}); {n} cells: {extra:+.2f} s per cell")  # fmt: skip
    for source, group in cells.groupby("ops_source"):
        s = group["profile_s"]
        print(f"  {source}: {len(group)} cells, profile_s median {s.median():.2f} s, "
              f"max {s.max():.2f} s, sum {s.sum():.1f} s")  # fmt: skip


def instruction_suite(work: Path) -> None:
    text = SUITE.read_text()
    text = re.sub(r'"(models|data)/', lambda m: f'"{SUITE.parent}/{m.group(1)}/', text)
    text = re.sub(r"^repetitions = 12", 'repetitions = 1\nmode = "instructions"', text,
                  flags=re.M)  # fmt: skip
    suite = work / "wearable-instructions.toml"
    suite.write_text(text)
    wall = timed_run(suite, work / "instructions")
    cells = ok_cells(work / "instructions")
    print(f"instruction mode, 1 repetition: {wall:.0f} s for {len(cells)} cells "
          f"({wall / max(len(cells), 1):.1f} s per cell)")  # fmt: skip
    shown = cells[["model", "variant", "runtime", "delegate", "threads",
                   "instructions_per_inference"]]  # fmt: skip
    print(shown.to_string(index=False))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        profiling_pass(work)
        instruction_suite(work)


if __name__ == "__main__":
    main()
