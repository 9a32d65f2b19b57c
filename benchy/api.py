"""benchy as a Python library: what the command line does, returning results instead of printing
tables and exit codes. Nothing is printed; errors are exceptions (`benchy.ConfigError` names the
file, table and key of a bad suite; `benchy.UsageError` a bad argument or stored run).

    import benchy
    run = benchy.run("suites/wearable.toml", quick=True)
    run.cells, run.samples            # DataFrames, the columns of cells.parquet / samples.parquet
    run.verdict, run.exit_code        # "pass", 0 — as `benchy run` would exit
    run.best("local"), run.failed_budgets()
    cmp = run.compare(benchy.load("results/wearable/20261126T212449Z-3fa2c1"))
    cmp.table, cmp.verdict
    benchy.history("suites/wearable.toml")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchy.config import Gate, load_suite
from benchy.errors import UsageError
from benchy.judge import outcome
from benchy.judge.compare import Comparison, compare_runs
from benchy.modelrun import is_model_file
from benchy.pipeline import Quiet, RunRequest, execute, prepare
from benchy.report.history import History
from benchy.report.select import best_per_target
from benchy.results.find import finished_runs
from benchy.results.read import StoredRun, records
from benchy.results.schema import IDENTITY, CellKey

PathLike = str | Path


@dataclass
class Run:
    """A stored run: its cells and samples as DataFrames, its verdict and exit code."""

    stored: StoredRun
    exit_code: int
    comparison: Compared | None = None
    _samples: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def dir(self) -> Path:
        return self.stored.dir

    @property
    def manifest(self) -> dict[str, Any]:
        return self.stored.manifest

    @property
    def cells(self) -> pd.DataFrame:
        return self.stored.cells

    @property
    def samples(self) -> pd.DataFrame:
        """One row per timed invoke (empty when the run stored none)."""
        if self._samples is None:
            path = self.dir / "samples.parquet"
            self._samples = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
        return self._samples

    @property
    def verdict(self) -> str:
        return str(self.manifest.get("verdict") or self.manifest.get("status"))

    def best(self, target: str | None = None) -> pd.Series | None:
        """The best cell meeting every budget (ranked by the suite's `rank_by`), on `target`
        (the first target when None); None when no cell passes."""
        rank_by = str(self.manifest.get("rank_by") or "latency_p50_ms")
        for best in best_per_target(self.cells, rank_by):
            if target is None or best.target == target:
                return best.row
        return None

    def failed_budgets(self) -> list[str]:
        """One line per budget that failed or could not be decided: `cell: message`."""
        out = []
        for row in records(self.cells):
            if row.get("failed_budgets"):
                for message in str(row["failed_budgets"]).split("; "):
                    out.append(f"{CellKey.of(row).title()}: {message}")
        return out

    def errors(self) -> list[str]:
        """One line per cell that errored, crashed or timed out."""
        return [
            f"{CellKey.of(r).title()}: {r['status']}: {r.get('error') or ''}"
            for r in records(self.cells)
            if r["verdict"] == "error"
        ]

    def compare(self, baseline: Run | PathLike, gate: Gate | None = None) -> Compared:
        """This run judged against a baseline, as `benchy compare BASELINE THIS` would."""
        base = baseline.stored if isinstance(baseline, Run) else _stored(baseline)
        settings = gate or Gate.from_payload(self.manifest.get("gate") or {})
        return Compared(compare_runs(base, self.stored, settings))


@dataclass
class Compared:
    """A baseline comparison: one row per cell × metric, and what it means for the gate."""

    judged: Comparison

    @property
    def table(self) -> pd.DataFrame:
        rows = []
        for r in self.judged.results:
            rows.append(
                {**r.cell.columns(), "metric": r.metric, "verdict": r.verdict, "base": r.base,
                 "new": r.new, "shift": r.shift, "ci_low": r.low, "ci_high": r.high,
                 "delta": r.delta, "points": r.points, "note": r.note}
            )  # fmt: skip
        columns = [*IDENTITY, "metric", "verdict", "base", "new", "shift", "ci_low", "ci_high",
                   "delta", "points", "note"]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    @property
    def exit_code(self) -> int:
        inconclusive = self.judged.gate.inconclusive
        return outcome.exit_code([], False, self.judged.verdicts(), inconclusive)

    @property
    def verdict(self) -> str:
        return outcome.run_verdict(self.exit_code, [], self.judged.verdicts())

    def regressions(self) -> list[str]:
        return [f"{r.title}: {r.message()}" for r in self.judged.results if r.verdict in
                ("regressed", "error")]  # fmt: skip


def _stored(run_dir: PathLike) -> StoredRun:
    return StoredRun.load(Path(run_dir), full=True)


def run(
    suite: PathLike,
    *,
    quick: bool = False,
    target: str | list[str] | None = None,
    out: PathLike | None = None,
    results: PathLike = "results",
    baseline: str | None = None,
    resume: PathLike | None = None,
    inconclusive: str | None = None,
    report: bool = True,
    runtime: str | None = None,
    threads: list[int] | None = None,
    dims: dict[str, int] | None = None,
    profile_ops: bool = False,
) -> Run:
    """Run a suite (or one .tflite/.onnx file) as `benchy run` does, silently. A Ctrl-C still
    stops it (KeyboardInterrupt, after the finished cells are stored)."""
    request = RunRequest(
        suite=Path(suite),
        target=[target] if isinstance(target, str) else target,
        quick=quick,
        out=None if out is None else Path(out),
        results=Path(results),
        baseline=baseline,
        resume=None if resume is None else Path(resume),
        inconclusive=inconclusive,
        report=report,
        runtime=runtime,
        threads=threads,
        dim=[f"{k}={v}" for k, v in (dims or {}).items()],
        profile_ops=profile_ops,
    )
    result = execute(prepare(request), Quiet())
    if result.interrupted is not None:
        raise result.interrupted
    compared = None if result.comparison is None else Compared(result.comparison)
    return Run(StoredRun.load(result.out), result.code, compared)


def load(run_dir: PathLike) -> Run:
    """A stored run (checked as `benchy compare` checks it)."""
    stored = _stored(run_dir)
    code = stored.manifest.get("exit_code")
    return Run(stored, code if isinstance(code, int) else -1)


def history(
    suite: PathLike, results: PathLike = "results", target: str | None = None, last: int = 0
) -> pd.DataFrame:
    """Every stored run of a suite, oldest first, one row per run and cell: its verdict and
    latency figures (runs benchy cannot read are left out)."""
    path = Path(suite)
    name = load_suite(path).name if path.suffix == ".toml" or path.is_file() else str(suite)
    if is_model_file(path):
        name = path.stem
    runs = finished_runs(Path(results) / name)
    if last:
        runs = runs[:last]
    frames = []
    for entry in History.load(runs, target).entries:
        if entry.cells is None:
            continue
        frame = entry.cells.copy()
        frame.insert(0, "run", entry.dir.name)
        frame.insert(1, "started", entry.manifest.get("started"))
        frame.insert(2, "run_verdict", entry.manifest.get("verdict"))
        frames.append(frame)
    if not frames:
        raise UsageError(f"no stored runs of suite {name} in {Path(results) / name}")
    return pd.concat(frames, ignore_index=True)
