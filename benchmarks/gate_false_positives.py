"""How often the regression gate cries wolf, how often it catches a real slowdown — counting every
cell (an `unstable` or `inconclusive` cell is a miss) — its minimum detectable effect, and what
adaptive repetitions cost. On real measured data.

1. Measures the wearable suite several times (default 8 runs) with a pool of repetitions per
   cell (default 30 fresh worker processes each), or reuses stored runs (`--runs DIR ...`).
2. Each pair is two *different* runs, as a nightly and its baseline are: R rounds drawn from
   each run's pool (round k = repetition k of every cell), judged by benchy's own
   `compare_runs` at the default [gate] — then, as `benchy run --baseline` does
   (benchy/adaptive.py), the cells left undecided get more rounds of the candidate's pool (the
   same pool round for all of them, as an extra round measures them together) at the looks of
   sequential.py, within
   `max_repetitions` and `extra_time_pct` of the planned rounds' time.
3. Per pair: A/A (nothing changed): exit 1 (any `regressed`) and exit 4 (any `inconclusive`);
   the same with a +10% and a +5% slowdown of one cell (all its candidate latencies × factor,
   a different cell each pair: every cell in turn), detected when that cell's p50 is
   `regressed`; and all of it again with hiccups: in every cell one repetition of the initial
   rounds, on a side drawn at random, × 1.5. Detection is also given per thread count.
5. The same A/A and slowdowns with both sides drawn from one run (disjoint rounds of the same
   pool, not paired). Conservative: only the candidate's side grows in extra rounds here.
6. With `--ab-runs` (or `--measure-ab N`): `benchy ab` jobs of the pool suite against itself.
   Each draw takes the same R rounds of both sides, so a round's two processes (the base's,
   then the candidate's, back to back) are compared as a pair, as `benchy ab` does; both sides
   grow into the job's other rounds. A/A, slowdowns and hiccups as above. Jobs measured since
   each round's two models are also timed in one process (worker/pair.py) are judged on those
   (a slowdown or hiccup multiplies them too); `ab_processes` judges the same draws on the
   processes alone, as before.
4. The p50 minimum detectable effect of every cell in the A/A comparisons, and the repetitions
   the cells took.

    python benchmarks/gate_false_positives.py                       # measure, then resample
    python benchmarks/gate_false_positives.py --runs /tmp/pools/run*   # reuse runs
    python benchmarks/gate_false_positives.py --ab-runs /tmp/ab/job*   # benchy ab jobs

The load average is printed while measuring and at the start: the figures depend on it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchy.adaptive import undecided
from benchy.config import Gate
from benchy.judge.compare import Comparison, compare_runs
from benchy.judge.sequential import Looks
from benchy.results.read import QUANTILES, StoredRun
from benchy.results.schema import IDENTITY, PAIRED_FIGURES, CellKey

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "suites" / "wearable.toml"


def pool_suite(repetitions: int, folder: Path) -> Path:
    """The wearable suite with absolute paths and `repetitions` per cell."""
    text = SUITE.read_text()
    text = re.sub(r'"(models|data)/', lambda m: f'"{SUITE.parent}/{m.group(1)}/', text)
    text = re.sub(r"(?m)^repetitions\s*=\s*\d+", f"repetitions = {repetitions}", text, count=1)
    path = folder / "wearable_pool.toml"
    path.write_text(text)
    return path


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def measure(runs: int, repetitions: int, results: Path, ab: bool = False) -> list[Path]:
    """`runs` runs of the pool suite; with `ab`, `benchy ab` jobs of it against itself (both
    sides' rounds: pairs of processes run back to back)."""
    suite = pool_suite(repetitions, results)
    what, name = ("ab", "job") if ab else ("run", "run")
    out = []
    for i in range(runs):
        run_dir = results / f"{name}{i}"
        cmd = [sys.executable, "-m", "benchy", what, str(suite), *([str(suite)] if ab else []),
               "--out", str(run_dir)]  # fmt: skip
        print(f"measuring {what} {i + 1}/{runs} ({repetitions} repetitions per cell), load "
              f"average {load_average()} …", flush=True)  # fmt: skip
        subprocess.run(cmd, check=False, cwd=ROOT, stdout=subprocess.DEVNULL)
        out.append(run_dir)
    return out


@dataclass
class Pool:
    run: StoredRun
    reps: pd.DataFrame  # per cell and repetition, with a "key" column
    figures: pd.DataFrame
    rounds: np.ndarray
    seconds_per_round: float


def load(run_dir: Path) -> Pool:
    run = StoredRun.load(run_dir)
    m = run.manifest
    wall = (_time(m["finished"]) - _time(m["started"])).total_seconds()
    reps = run.repetitions().copy()
    reps["key"] = [CellKey.from_values(k) for k in reps[list(IDENTITY)].itertuples(index=False)]
    figures = run.figures().copy()
    figures["key"] = [
        CellKey.from_values(k) for k in figures[list(IDENTITY)].itertuples(index=False)
    ]
    rounds = np.sort(reps["repetition"].unique())
    return Pool(run, reps, figures, rounds, wall / len(rounds))


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Draw:
    """The rounds one side measured: R for every cell, then extra rounds for some cells."""

    pool: Pool
    planned: list[int]
    spare: list[int]  # the pool's other rounds, in the order extra rounds take them
    extra: dict[CellKey, list[int]] = field(default_factory=dict)
    pairs: bool = True  # the rounds timed in one process (`benchy ab`), when the job has them

    def chosen(self, frame: pd.DataFrame) -> pd.DataFrame:
        mask = frame["repetition"].isin(self.planned).to_numpy().copy()
        for key, rounds in self.extra.items():
            mask |= ((frame["key"] == key) & frame["repetition"].isin(rounds)).to_numpy()
        return frame[mask]

    def run(self, looks: Looks | None, change: Any, partner: Any = None) -> StoredRun:
        """`change` this side's values; `partner`: the base side's change, for the baseline's
        values in the candidate's rounds timed in one process (`benchy ab`)."""
        reps = change(self.chosen(self.pool.reps).copy(), list(QUANTILES))
        manifest = dict(self.pool.run.manifest)
        if looks is not None:
            manifest["looks"] = looks.payload()
        figures = self.chosen(self.pool.figures).copy()
        if "paired_n" in figures.columns and not self.pairs:
            figures = figures.drop(columns=list(PAIRED_FIGURES))
        elif "paired_n" in figures.columns:
            figures = change(figures, [f"paired_{q}" for q in QUANTILES])
            if partner is not None:
                figures = partner(figures, [f"paired_base_{q}" for q in QUANTILES])
        figures = figures.drop(columns="key")
        return StoredRun(self.pool.run.dir, manifest, self.pool.run.cells,
                         reps.drop(columns="key"), figures)  # fmt: skip


def draw(pool: Pool, r: int, rng: np.random.Generator) -> Draw:
    order = [int(v) for v in rng.permutation(pool.rounds)]
    return Draw(pool, order[:r], order[r:])


def split(pool: Pool, r: int, rng: np.random.Generator) -> tuple[Draw, Draw]:
    """Both sides from one run: R rounds each, disjoint; the candidate grows into the rest."""
    order = [int(v) for v in rng.permutation(pool.rounds)]
    return Draw(pool, order[:r], []), Draw(pool, order[r : 2 * r], order[2 * r :])


def ab_draw(
    job: tuple[Pool, Pool], r: int, rng: np.random.Generator, pairs: bool = True
) -> tuple[Draw, Draw]:
    """Both sides of one `benchy ab` job (`--ab-runs`): the same R rounds of each, so a round's
    two processes — the base's, then the candidate's, back to back — are compared as a pair;
    both grow into the job's other rounds in the same order."""
    base, new = job
    rounds = np.intersect1d(base.rounds, new.rounds)
    # Even and odd rounds alternate, as in the runner: a round's parity is which model its pair
    # process timed first (runner._run_paired), and the comparison takes that order effect out.
    even, odd = (rng.permutation(rounds[rounds % 2 == k]) for k in (0, 1))
    order = [int(v) for pair in zip(even, odd, strict=False) for v in pair]
    order += [int(v) for v in (even if len(even) > len(odd) else odd)[min(len(even), len(odd)) :]]
    return Draw(base, order[:r], order[r:]), Draw(new, order[:r], order[r:], pairs=pairs)


def slow_down(key: CellKey | None, factor: float) -> Any:
    def change(reps: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        if key is not None:
            mine = (reps["key"] == key).to_numpy()
            for q in columns:
                reps.loc[mine, q] = reps.loc[mine, q] * factor
        return reps

    return change


def hiccups(picks: dict[CellKey, int], then: Any) -> Any:
    """One repetition per cell (the round picked) × 1.5, then `then`."""

    def change(reps: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        for key, rnd in picks.items():
            mine = ((reps["key"] == key) & (reps["repetition"] == rnd)).to_numpy()
            for q in columns:
                reps.loc[mine, q] = reps.loc[mine, q] * 1.5
        return then(reps, columns)

    return change


@dataclass
class Outcome:
    comparison: Comparison
    repetitions: dict[CellKey, int]
    extra_seconds: float


def adaptive(
    base: Draw, new: Draw, gate: Gate, change_b: Any, change_n: Any, r: int, ab: bool = False
) -> Outcome:
    """The undecided cells measured again, look after look, as the runner does: the candidate's
    against a stored baseline, both sides (a round each) in `benchy ab` (`ab`)."""
    looks = Looks.plan(r, gate.max_repetitions)
    new.extra, base.extra = {}, {}
    grow = (base, new) if ab else (new,)
    per_round = new.pool.seconds_per_round  # in an ab job, both sides' (each side's wall)
    planned = r * per_round
    cells = new.pool.reps["key"].nunique()
    spent = 0.0
    reps: dict[CellKey, int] = {}
    done = r

    def judged() -> Comparison:
        partner = change_b if ab else None
        return compare_runs(
            base.run(None, change_b), new.run(looks, change_n, partner), gate,
            interleaved=ab or None,
        )  # fmt: skip

    while True:
        comparison = judged()
        open_cells = undecided(comparison, base_grows=ab)
        target = looks.after(done)
        if not open_cells or target is None or done - r >= len(new.spare):
            break
        stop = False
        for k in range(done, target):
            cost = len(open_cells) / cells * per_round
            if spent + cost > planned * gate.extra_time_pct / 100 or k - r >= len(new.spare):
                stop = True
                break
            spent += cost
            for key in open_cells:
                for side in grow:
                    side.extra.setdefault(key, []).append(side.spare[k - r])
                reps[key] = k + 1
            done = k + 1
        if stop:
            comparison = judged()
            break
    return Outcome(comparison, reps, spent)


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


@dataclass
class Tally:
    pairs: int = 0
    false_positives: int = 0
    exit4: int = 0
    detected: Counter[str] = field(default_factory=Counter)
    by_threads: Counter[tuple[str, int, bool]] = field(default_factory=Counter)
    verdicts: dict[str, Counter[str]] = field(default_factory=dict)
    missed: dict[str, Counter[str]] = field(default_factory=dict)
    mde: list[tuple[int, float]] = field(default_factory=list)
    repetitions: list[int] = field(default_factory=list)
    extra_seconds: list[float] = field(default_factory=list)
    aa_open: Counter[str] = field(default_factory=Counter)

    def aa(self, out: Outcome, cells: int, r: int) -> None:
        verdicts = out.comparison.verdicts()
        self.pairs += 1
        self.false_positives += "regressed" in verdicts
        self.exit4 += "inconclusive" in verdicts and "regressed" not in verdicts
        for res in out.comparison.results:
            if res.verdict == "inconclusive":
                self.aa_open[f"{res.metric} inconclusive"] += 1
            if res.metric == "p50" and res.mde is not None and res.cell.threads:
                self.mde.append((res.cell.threads, res.mde))
        self.repetitions += list(out.repetitions.values()) + [r] * (cells - len(out.repetitions))
        self.extra_seconds.append(out.extra_seconds)

    def slowed(self, name: str, out: Outcome, key: CellKey) -> None:
        verdict = next(
            res.verdict for res in out.comparison.results if res.metric == "p50" and res.cell == key
        )
        self.verdicts.setdefault(name, Counter())[verdict] += 1
        self.detected[name] += verdict == "regressed"
        self.by_threads[(name, key.threads, verdict == "regressed")] += 1
        if verdict != "regressed":
            self.missed.setdefault(name, Counter())[key.title(target=False)] += 1

    def figures(self, planned_seconds: float) -> dict[str, Any]:
        mde = np.asarray([m for _, m in self.mde])
        by_threads = {
            t: np.asarray([m for tt, m in self.mde if tt == t])
            for t in sorted({t for t, _ in self.mde})
        }
        reps = np.asarray(self.repetitions)
        return {
            "pairs": self.pairs,
            "false_positives": self.false_positives,
            "fp_rate": self.false_positives / max(self.pairs, 1),
            "fp_upper95": upper_bound(self.false_positives, max(self.pairs, 1)),
            "exit4_rate": self.exit4 / max(self.pairs, 1),
            "detected": {k: v / max(self.pairs, 1) for k, v in self.detected.items()},
            "detected_by_threads": {
                name: {
                    str(t): self.by_threads[(name, t, True)]
                    / max(self.by_threads[(name, t, True)] + self.by_threads[(name, t, False)], 1)
                    for t in sorted({t for n, t, _ in self.by_threads if n == name})
                }
                for name in self.detected
            },
            "slowed_cell_verdicts": {k: dict(v) for k, v in self.verdicts.items()},
            "missed": {k: dict(v.most_common(8)) for k, v in self.missed.items()},
            "aa_open_tests": dict(self.aa_open),
            "mde_p50": _quantiles(mde),
            "mde_p50_by_threads": {str(t): _quantiles(v) for t, v in by_threads.items()},
            "repetitions": {
                "mean": float(reps.mean()) if len(reps) else math.nan,
                "extended_share": float((reps > reps.min()).mean()) if len(reps) else math.nan,
                "max": int(reps.max()) if len(reps) else 0,
            },
            "extra_seconds_mean": float(np.mean(self.extra_seconds)) if self.extra_seconds else 0,
            "planned_seconds": planned_seconds,
        }


def _quantiles(v: np.ndarray) -> dict[str, float]:
    finite = v[np.isfinite(v)]
    out = {"cells": len(v), "infinite_share": float(np.mean(~np.isfinite(v))) if len(v) else 0}
    for q in (10, 50, 90):
        out[f"p{q}"] = float(np.percentile(finite, q)) if len(finite) else math.inf
    return out


MODES = ("plain", "hiccups", "same_run", "ab", "ab_hiccups", "ab_processes")


def study(
    pools: list[Pool],
    jobs: list[tuple[Pool, Pool]],
    r: int,
    pairs: int,
    seed: int,
    gate: Gate,
    modes: tuple[str, ...] = MODES,
    base_r: int = 0,
) -> dict[str, Any]:
    """Figures of every mode over `pairs` draws; `base_r`: rounds of a stored baseline (R)."""
    rng = np.random.default_rng(seed)
    ordered = [(i, j) for i in range(len(pools)) for j in range(len(pools)) if i != j]
    first = pools[0] if pools else jobs[0][0]
    keys = [k for k, row in first.run.records().items() if row["status"] == "ok"]
    tallies = {m: Tally() for m in modes if (jobs if m.startswith("ab") else pools)}
    same = slow_down(None, 1.0)
    t0 = time.perf_counter()

    def judge(
        tally: Tally, base: Draw, new: Draw, hb: Any, hn: Any, key: CellKey, ab: bool
    ) -> None:
        tally.aa(
            adaptive(base, new, gate, hiccups(hb, same), hiccups(hn, same), r, ab), len(keys), r
        )
        for name, factor in (("10%", 1.10), ("5%", 1.05)):
            slow = slow_down(key, factor)
            out = adaptive(base, new, gate, hiccups(hb, same), hiccups(hn, slow), r, ab)
            tally.slowed(name, out, key)

    def picks(base: Draw, new: Draw) -> tuple[dict[CellKey, int], dict[CellKey, int]]:
        """One repetition per cell, on a side drawn at random, for the hiccup (stored rounds)."""
        sides = {k: bool(rng.integers(2)) for k in keys}  # True: the hiccup is on the new side
        hb = {k: base.planned[int(rng.integers(len(base.planned)))] for k in keys if not sides[k]}
        hn = {k: new.planned[int(rng.integers(r))] for k in keys if sides[k]}
        return hb, hn

    for n in range(pairs):
        key = keys[n % len(keys)]
        if pools:
            i, j = ordered[n % len(ordered)]
            base, new = draw(pools[i], base_r or r, rng), draw(pools[j], r, rng)
            hb, hn = picks(base, new)
        if "plain" in tallies:
            judge(tallies["plain"], base, new, {}, {}, key, False)
        if "hiccups" in tallies:
            judge(tallies["hiccups"], base, new, hb, hn, key, False)
        if "same_run" in tallies:
            judge(tallies["same_run"], *split(pools[i], r, rng), {}, {}, key, False)
        if not jobs:
            continue
        one, other = ab_draw(jobs[n % len(jobs)], r, rng)
        hb, hn = picks(one, other)
        if "ab" in tallies:
            judge(tallies["ab"], one, other, {}, {}, key, True)
        if "ab_hiccups" in tallies:
            judge(tallies["ab_hiccups"], one, other, hb, hn, key, True)
        if "ab_processes" in tallies:
            other.pairs = False
            judge(tallies["ab_processes"], one, other, {}, {}, key, True)
            other.pairs = True
        if (n + 1) % 25 == 0:
            print(f"    {n + 1}/{pairs} pairs, {time.perf_counter() - t0:.0f} s", flush=True)

    def planned(m: str) -> float:
        sides = [job[1] for job in jobs] if m.startswith("ab") else pools
        return float(np.median([p.seconds_per_round for p in sides])) * r

    return {
        "repetitions": r,
        **{m: t.figures(planned(m)) for m, t in tallies.items()},
        "seconds": time.perf_counter() - t0,
    }


def _value(text: str) -> object:
    """A --gate value as TOML would give it: a number, true/false, a list, else a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


LABELS = {
    "plain": "two separate runs (run --baseline)",
    "hiccups": "two separate runs, hiccups (one repetition per cell × 1.5)",
    "same_run": "both sides from one run, rounds drawn at random, not paired",
    "ab": "benchy ab jobs (both suites the same), the same rounds of each side, paired by round",
    "ab_hiccups": "benchy ab, hiccups (one repetition per cell × 1.5)",
    "ab_processes": "benchy ab jobs judged on the processes alone (no rounds timed in one process)",
}


def report(f: dict[str, Any], label: str) -> None:
    print(f"  {label}: {f['pairs']} A/A pairs, exit 1 in {f['false_positives']} "
          f"({f['fp_rate']:.2%}, 95% upper bound {f['fp_upper95']:.2%}), exit 4 in "
          f"{f['exit4_rate']:.1%}")  # fmt: skip
    for name, rate in f["detected"].items():
        threads = ", ".join(
            f"{t} thread(s) {v:.0%}" for t, v in f["detected_by_threads"][name].items()
        )
        print(f"    slowdown {name}: detected in {rate:.1%} of all cells ({threads}); verdicts "
              f"{f['slowed_cell_verdicts'][name]}")  # fmt: skip
        if f["missed"].get(name):
            print(f"      most missed: {f['missed'][name]}")
    m = f["mde_p50"]
    print(f"    p50 MDE: median {m['p50']:.1%}, p10 {m['p10']:.1%}, p90 {m['p90']:.1%}, "
          f"infinite in {m['infinite_share']:.1%} of {m['cells']} cells")  # fmt: skip
    for t, q in f["mde_p50_by_threads"].items():
        print(f"      {t} thread(s): median {q['p50']:.1%}, p90 {q['p90']:.1%}, "
              f"infinite {q['infinite_share']:.1%}")  # fmt: skip
    reps = f["repetitions"]
    print(f"    repetitions per cell: mean {reps['mean']:.1f}, extended "
          f"{reps['extended_share']:.1%}, max {reps['max']}; extra time "
          f"{f['extra_seconds_mean']:.1f} s on {f['planned_seconds']:.0f} s planned")  # fmt: skip
    print(f"    A/A open tests: {f['aa_open_tests']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", nargs="*", type=Path, help="reuse these stored pool runs")
    p.add_argument("--measure-runs", type=int, default=8, help="runs to measure (8)")
    p.add_argument("--ab-runs", nargs="*", type=Path, help="reuse these `benchy ab --out` folders")
    p.add_argument("--measure-ab", type=int, default=0, help="`benchy ab` A/A jobs to measure")
    p.add_argument("--pool", type=int, default=30, help="repetitions per cell per run (30)")
    p.add_argument("--reps", type=int, nargs="*", default=[12], help="R to study (12)")
    p.add_argument("--pairs", type=int, default=300, help="pairs per R (300)")
    p.add_argument("--base-reps", type=int, default=0,
                   help="the stored baseline's repetitions (default: R)")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES),
                   help="which comparisons to study (all)")  # fmt: skip
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument(
        "--gate",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [gate] setting other than the default, e.g. max_repetitions=12 (repeatable)",
    )
    args = p.parse_args()
    print(f"load average at start: {load_average()}")
    t0 = time.perf_counter()
    ab_dirs = args.ab_runs or []
    if args.measure_ab:
        ab_dirs += measure(args.measure_ab, args.pool, Path(tempfile.mkdtemp()), ab=True)
    dirs = args.runs
    if dirs is None and not ab_dirs:
        dirs = measure(args.measure_runs, args.pool, Path(tempfile.mkdtemp()))
    pools = [load(d) for d in dirs or []]
    jobs = [(load(d / "base"), load(d / "candidate")) for d in ab_dirs]
    measured = time.perf_counter() - t0
    settings = {k: _value(v) for k, v in (i.split("=", 1) for i in args.gate)}
    gate = Gate.from_payload({**settings, "given": list(settings)})
    print(f"{len(pools)} runs, {len(jobs)} ab jobs; gate: {json.dumps(gate.payload())}; "
          f"δ p50 in benchy ab {gate.for_ab().p50_pct:g}%")  # fmt: skip
    figures = []
    for r in args.reps:
        print(f"R = {r}:", flush=True)
        f = study(pools, jobs, r, args.pairs, args.seed, gate, tuple(args.modes), args.base_reps)
        figures.append(f)
        for mode in args.modes:
            if mode in f:
                report(f[mode], LABELS[mode])
    print(f"measuring {measured:.0f} s; total {time.perf_counter() - t0:.0f} s; load average "
          f"{load_average()}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
