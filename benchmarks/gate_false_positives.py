"""How often the regression gate cries wolf, and how often it catches a real 10% slowdown.

1. Measures the wearable suite several times (default 6 runs) with a pool of repetitions per
   cell (default 20 fresh worker processes each, the suite's own per-repetition settings), or
   reuses stored runs (`--runs DIR ...`).
2. A/A pairs: two *different* runs (as a nightly and its baseline are), R repetitions drawn
   from each run's pool for every cell, compared by benchy's own `compare_runs` at the default
   [gate] settings. A false positive is a pair the gate would fail (any `regressed`); an
   inconclusive pair would exit 4.
3. Detection: the same pairs with one cell's candidate repetitions made 10% slower (all its
   latencies × 1.1), a different cell each pair; detected when that cell's p50 is `regressed`.

    python benchmarks/gate_false_positives.py                    # measure, then resample
    python benchmarks/gate_false_positives.py --runs results/fp/wearable/*   # reuse runs

Prints, per R: pairs, false-positive rate with its 95% upper bound, inconclusive rate,
detection rate, and what measuring the suite at that R costs.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.results.read import QUANTILES, StoredRun
from benchy.results.schema import IDENTITY, CellKey

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "suites" / "wearable.toml"


def pool_suite(repetitions: int, folder: Path) -> Path:
    """The wearable suite with absolute paths and `repetitions` per cell."""
    text = SUITE.read_text()
    text = re.sub(r'"(models|data)/', lambda m: f'"{SUITE.parent}/{m.group(1)}/', text)
    if re.search(r"(?m)^repetitions\s*=", text):
        text = re.sub(r"(?m)^repetitions\s*=\s*\d+", f"repetitions = {repetitions}", text, count=1)
    else:
        text = text.replace("[measure]\n", f"[measure]\nrepetitions = {repetitions}\n", 1)
    path = folder / "wearable_pool.toml"
    path.write_text(text)
    return path


def measure(runs: int, repetitions: int, results: Path) -> list[Path]:
    suite = pool_suite(repetitions, results)
    out = []
    for i in range(runs):
        run_dir = results / f"run{i}"
        cmd = [sys.executable, "-m", "benchy", "run", str(suite), "--out", str(run_dir)]
        print(f"measuring run {i + 1}/{runs} ({repetitions} repetitions per cell) …", flush=True)
        subprocess.run(cmd, check=False, cwd=ROOT, stdout=subprocess.DEVNULL)
        out.append(run_dir)
    return out


@dataclass
class Pool:
    run: StoredRun
    reps: pd.DataFrame  # per cell and repetition
    seconds_per_rep: float  # wall time of the run / repetitions


def load(run_dir: Path) -> Pool:
    run = StoredRun.load(run_dir)
    m = run.manifest
    wall = (_time(m["finished"]) - _time(m["started"])).total_seconds()
    return Pool(run, run.repetitions(), wall / int(m["measure"]["repetitions"]))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def draw(pool: Pool, r: int, rng: np.random.Generator) -> StoredRun:
    """The run as if it had measured R repetitions: R of its rounds (round k = repetition k of
    every cell, measured one after the other), drawn without replacement."""
    rounds = np.sort(pool.reps["repetition"].unique())
    take = rng.choice(rounds, size=min(r, len(rounds)), replace=False)
    reps = pool.reps[pool.reps["repetition"].isin(take)]
    return StoredRun(pool.run.dir, pool.run.manifest, pool.run.cells, reps)


def slow_down(run: StoredRun, key: CellKey, factor: float) -> StoredRun:
    reps = run.repetitions().copy()
    rows = reps[list(IDENTITY)].itertuples(index=False)
    mine = np.array([CellKey.from_values(k) == key for k in rows])
    for q in QUANTILES:
        reps.loc[mine, q] = reps.loc[mine, q] * factor
    return StoredRun(run.dir, run.manifest, run.cells, reps)


def upper_bound(failures: int, trials: int, confidence: float = 0.95) -> float:
    """Clopper–Pearson one-sided upper bound of a binomial rate."""
    lo, hi = failures / trials, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        tail = sum(
            math.comb(trials, k) * mid**k * (1 - mid) ** (trials - k) for k in range(failures + 1)
        )
        lo, hi = (mid, hi) if tail > 1 - confidence else (lo, mid)
    return hi


def study(pools: list[Pool], r: int, pairs: int, seed: int, gate: Gate) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    ordered = [(i, j) for i in range(len(pools)) for j in range(len(pools)) if i != j]
    keys = [k for k, row in pools[0].run.records().items() if row["status"] == "ok"]
    false_pos = inconclusive = detected = tests = flagged_tests = judged = 0
    missed: dict[str, int] = {}
    unsure: dict[str, int] = {}  # A/A inconclusive tests by metric
    slowed: dict[str, int] = {}  # the slowed cell's p50 verdict
    t0 = time.perf_counter()
    for n in range(pairs):
        i, j = ordered[n % len(ordered)]
        base, new = draw(pools[i], r, rng), draw(pools[j], r, rng)
        aa = compare_runs(base, new, gate)
        verdicts = aa.verdicts()
        false_pos += "regressed" in verdicts
        inconclusive += "inconclusive" in verdicts and "regressed" not in verdicts
        tests += len(verdicts)
        flagged_tests += verdicts.count("regressed")
        for res in aa.results:
            if res.verdict == "inconclusive":
                unsure[res.metric] = unsure.get(res.metric, 0) + 1
        key = keys[n % len(keys)]
        ab = compare_runs(base, slow_down(new, key, 1.10), gate)
        verdict = next(res.verdict for res in ab.results if res.metric == "p50" and res.cell == key)
        slowed[verdict] = slowed.get(verdict, 0) + 1
        hit = verdict == "regressed"
        detected += hit
        judged += verdict != "unstable"
        if not hit:
            name = key.title(target=False)
            missed[name] = missed.get(name, 0) + 1
    seconds = time.perf_counter() - t0
    return {
        "repetitions": r,
        "pairs": pairs,
        "false_positives": false_pos,
        "fp_rate": false_pos / pairs,
        "fp_upper95": upper_bound(false_pos, pairs),
        "fp_per_test": flagged_tests / max(tests, 1),
        "inconclusive_rate": inconclusive / pairs,
        "detection": detected / pairs,
        "detection_judged": detected / max(judged, 1),
        "missed": missed,  # type: ignore[dict-item]
        "slowed_cell_verdicts": slowed,  # type: ignore[dict-item]
        "aa_inconclusive_tests": unsure,  # type: ignore[dict-item]
        "suite_seconds": float(np.median([p.seconds_per_rep for p in pools])) * r,
        "gate_ms_per_comparison": seconds / (2 * pairs) * 1000,
    }


def _value(text: str) -> object:
    """A --gate value as TOML would give it: a number, true/false, a list, else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", nargs="*", type=Path, help="reuse these stored pool runs")
    p.add_argument("--measure-runs", type=int, default=6, help="runs to measure (6)")
    p.add_argument("--pool", type=int, default=20, help="repetitions per cell per run (20)")
    p.add_argument("--reps", type=int, nargs="*", default=[5, 8, 10, 12], help="R to study")
    p.add_argument("--pairs", type=int, default=400, help="pairs per R (400)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [gate] setting other than the default, e.g. unstable_cv_pct=5 (repeatable)",
    )
    args = p.parse_args()
    t0 = time.perf_counter()
    dirs = args.runs or measure(args.measure_runs, args.pool, Path(tempfile.mkdtemp()))
    pools = [load(d) for d in dirs]
    measured = time.perf_counter() - t0
    gate = Gate.from_payload({k: _value(v) for k, v in (i.split("=", 1) for i in args.gate)})
    print(f"{len(pools)} runs; default gate: {json.dumps(gate.payload())}")
    print(
        f"{'R':>3} {'pairs':>5} {'FP':>4} {'FP rate':>8} {'≤ (95%)':>8} {'per test':>9} "
        f"{'exit 4':>7} {'detect 10%':>10} {'suite s':>8} {'gate ms':>8}"
    )
    figures = []
    for r in args.reps:
        f = study(pools, r, args.pairs, args.seed, gate)
        figures.append(f)
        print(
            f"{r:>3} {f['pairs']:>5} {f['false_positives']:>4} {f['fp_rate']:>8.2%} "
            f"{f['fp_upper95']:>8.2%} {f['fp_per_test']:>9.3%} {f['inconclusive_rate']:>7.1%} "
            f"{f['detection']:>10.1%} {f['detection_judged']:>9.1%} {f['suite_seconds']:>8.0f} "
            f"{f['gate_ms_per_comparison']:>8.1f}",
            flush=True,
        )
        print(f"    slowed cell's p50 verdicts: {f['slowed_cell_verdicts']}")
        print(f"    A/A inconclusive tests by metric: {f['aa_inconclusive_tests']}")
        if f["missed"]:
            print(f"    missed: {f['missed']}")
    print(f"measuring {measured:.0f} s; total {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
