"""How far a cell's fastest repetition moves between two separate runs, per thread count: the
evidence behind `unstable` 2-thread cells in a `--baseline` comparison on a shared VM.

For random pairs of stored pool runs (as `gate_false_positives.py --runs` takes them) and R
random rounds of each, every cell's fastest p50 of R is compared between the runs; the run-wide
drift (the median over the 1-thread cells) is taken out. Printed per thread count: quantiles of
the absolute shift and the share of cells beyond δ (5%) — with nothing changed, a cell whose
fastest speed moved more than δ cannot be gated on it.

    python benchmarks/fastest_between_runs.py --runs /tmp/gate/qpools/run* --reps 12 24
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchy.results.read import StoredRun
from benchy.results.schema import IDENTITY


def fastest_logs(run_dir: Path) -> dict[tuple[object, ...], np.ndarray]:
    """Per cell, the log p50 of each repetition (in repetition order)."""
    reps = StoredRun.load(run_dir).repetitions().sort_values("repetition")
    return {
        tuple(key): np.log(group["p50"].to_numpy(np.float64))
        for key, group in reps.groupby(list(IDENTITY), observed=True)
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", nargs="+", type=Path, required=True, help="stored pool runs")
    p.add_argument("--reps", type=int, nargs="+", default=[12], help="R per side (12)")
    p.add_argument("--pairs", type=int, default=2000)
    p.add_argument("--delta", type=float, default=5.0, help="δ in % (5)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    runs = [fastest_logs(d) for d in args.runs]
    cells = sorted(set.intersection(*(set(r) for r in runs)), key=str)
    threads = np.array([int(c[IDENTITY.index("threads")]) for c in cells])
    rng = np.random.default_rng(args.seed)
    for r in args.reps:
        shifts: dict[int, list[float]] = {int(t): [] for t in np.unique(threads)}
        for _ in range(args.pairs):
            i, j = rng.choice(len(runs), 2, replace=False)
            s = np.array([
                rng.choice(runs[j][c], r, replace=False).min()
                - rng.choice(runs[i][c], r, replace=False).min()
                for c in cells
            ])  # fmt: skip
            s -= np.median(s[threads == 1])
            for t in shifts:
                shifts[t] += list(np.abs(np.expm1(s[threads == t])))
        print(f"R = {r}, {args.pairs} pairs of runs:")
        for t, v in shifts.items():
            a = np.asarray(v) * 100
            q = ", ".join(f"p{k} {np.percentile(a, k):.1f}%" for k in (50, 90, 99))
            print(f"  {t} thread(s): |fastest shift| {q}; beyond δ in "
                  f"{np.mean(a > args.delta):.1%} of cells")  # fmt: skip


if __name__ == "__main__":
    main()
