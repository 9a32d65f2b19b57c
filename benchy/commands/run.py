"""`benchy run SUITE|MODEL`: the run pipeline (benchy/pipeline.py) with a terminal: progress
while it measures, then the table, the comparison, the CI reports and the verdict line."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.commands.common import (
    add_gate_arguments,
    add_repetitions_argument,
    publish,
    reports_wanted,
)
from benchy.commands.derive import derive_with_progress
from benchy.config import Measure, Suite
from benchy.derive.variants import Derived, planned
from benchy.matrix import Cell
from benchy.pipeline import Outcome, RunRequest, execute, matrix, prepare
from benchy.profiling.summary import print_top_ops
from benchy.report.comparison import print_comparison
from benchy.report.markup import plain
from benchy.report.terminal import LiveProgress, print_report
from benchy.results.read import records
from benchy.results.schema import INSTRUCTIONS
from benchy.results.store import cells_frame
from benchy.runner import Events

log = logging.getLogger("benchy")


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run a suite's matrix, or one model file",
        description="Run every cell of a suite; or measure one .tflite/.onnx file without a "
        "suite (random inputs, the local target).",
    )
    run.add_argument(
        "suite", type=Path, metavar="SUITE|MODEL",
        help="suite file, e.g. suites/wearable.toml; or a .tflite/.onnx model file",
    )  # fmt: skip
    run.add_argument(
        "--target",
        action="append",
        metavar="NAME_OR_PATH",
        help="run on this target instead of the suite's list (repeatable); "
        "NAME means targets/NAME.toml",
    )
    run.add_argument(
        "--out", type=Path, help="result directory (default results/<suite>/<UTC time>-<id>)"
    )
    run.add_argument(
        "--results", type=Path, default=Path("results"), help="base folder for results"
    )
    run.add_argument("--quick", action="store_true", help="few samples: for CI smoke runs")
    add_repetitions_argument(run)
    run.add_argument("--dry-run", action="store_true", help="print the matrix and exit")
    run.add_argument(
        "--show-na", action="store_true", help="list the pairs that cannot apply, one by one"
    )
    run.add_argument(
        "--profile-ops",
        action="store_true",
        help="a per-op profiling pass after each cell's timed loop (ops.parquet); "
        "as [measure] profile_ops = true",
    )
    model = run.add_argument_group("a model file without a suite")
    model.add_argument("--runtime", help="tflite or onnxruntime (default: the one for the file)")
    model.add_argument("--threads", type=int, action="append", metavar="N",
                       help="thread count (repeatable; default 1)")  # fmt: skip
    model.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                       help="a dynamic dimension's size, by its name in `benchy inspect` "
                       "(repeatable)")  # fmt: skip
    add_gate_arguments(run)
    run.add_argument(
        "--baseline",
        metavar="PATH|latest",
        help="compare with a stored run: its directory, a folder holding runs of this suite "
        "(the newest is taken), or `latest` (the newest under --results)",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="complete this interrupted run: its finished cells and repetitions are kept, the "
        "rest measured with the same settings (refused if the suite, models or settings changed)",
    )
    run.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.html and report.png into the run directory",
    )
    run.set_defaults(func=cmd_run)


def _print_matrix(console: Console, cells: list[Cell]) -> None:
    from rich.table import Table

    table = Table(title=f"{sum(c.applicable for c in cells)} cells to run", header_style="bold")
    for col in ("target", "model", "variant", "runtime", "delegate", "threads", "note"):
        table.add_column(col)
    for c in cells:
        shown = (c.target, c.model, c.variant, c.runtime, c.delegate.label)
        threads = str(c.threads) if c.applicable else "–"
        table.add_row(*(plain(v) for v in shown), threads, plain(c.reason or ""))
    console.print(table)


class Terminal:
    """The pipeline's display on a console: derive and measure progress bars."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def derive(self, suite: Suite, out_dir: Path) -> Derived:
        return derive_with_progress(self.console, suite, out_dir)

    @contextlib.contextmanager
    def measuring(
        self, cells: list[Cell], repetitions: int, done: dict[Any, int]
    ) -> Iterator[Events]:
        with LiveProgress(self.console, cells, repetitions, done) as progress:
            yield progress


def rank_by(suite: Suite, measure: Measure) -> str:
    """Instruction mode has no latency: its best cell is the one with fewest instructions."""
    if measure.mode == "instructions" and suite.rank_by.startswith("latency_"):
        return INSTRUCTIONS
    return suite.rank_by


def request_of(args: argparse.Namespace) -> RunRequest:
    return RunRequest(
        suite=args.suite, target=args.target, quick=args.quick, out=args.out,
        results=args.results, baseline=args.baseline, resume=args.resume,
        inconclusive=args.inconclusive, report=not args.no_report, junit=args.junit,
        markdown=args.markdown, runtime=args.runtime, threads=args.threads, dim=args.dim,
        profile_ops=args.profile_ops, repetitions=args.repetitions,
    )  # fmt: skip


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    prepared = prepare(request_of(args))
    if args.dry_run:  # derived variants are listed, not made
        _print_matrix(console, matrix(planned(prepared.suite), prepared.targets))
        return exitcodes.PASS
    result = execute(prepared, Terminal(console))
    out, rows = result.out, result.store.rows
    if result.interrupted is not None:
        kept = f"{len(rows)} finished cells kept in {plain(out)}"
        console.print(f"[yellow]interrupted[/]: {kept} (`--resume {plain(out)}` completes it)")
        return result.code
    if result.store_error is not None:
        console.print(f"[red]stopped[/]: {plain(result.store_error)}; "
                      f"{len(rows)} finished cells kept in {plain(out)}")  # fmt: skip
        return result.code
    suite = result.suite
    cells_now = cells_frame(rows)
    ranking = rank_by(suite, prepared.measure)
    print_report(console, cells_now, f"{suite.name} — {out}", ranking, args.show_na)
    print_top_ops(console, out)
    if result.comparison is not None:
        print_comparison(console, result.comparison)
    verdict = str(result.store.manifest["verdict"])
    if reports_wanted(args):
        _publish(console, args, result, records(cells_now), verdict, prepared.baseline is None)
    console.print(f"results: {plain(out)}  verdict: [bold]{verdict}[/] (exit {result.code})")
    return result.code


def _publish(
    console: Console,
    args: argparse.Namespace,
    result: Outcome,
    rows: list[dict[str, Any]],
    verdict: str,
    no_baseline: bool,
) -> None:
    note = ""
    if not args.baseline:
        note = " (no --baseline given)"
    elif no_baseline:
        note = " (no earlier run to compare with)"
    publish(console, args, suite=result.suite.name, manifest=result.store.manifest,
            run_dir=result.out, rows=rows, checks=result.side.checks,
            comparison=result.comparison, code=result.code, verdict=verdict,
            note=note)  # fmt: skip
