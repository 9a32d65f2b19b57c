"""`benchy run SUITE`: expand the matrix, run every cell, store, report, gate."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes, interrupts
from benchy.adaptive import Adaptive
from benchy.commands.common import add_gate_arguments, publish, reports_wanted
from benchy.commands.derive import derive_with_progress
from benchy.commands.preflight import check_run_arguments
from benchy.config import Measure, Suite, TargetConfig, load_suite, load_target
from benchy.derive.variants import planned
from benchy.errors import UsageError
from benchy.judge import outcome
from benchy.judge.compare import compare_runs
from benchy.matrix import Cell, expand
from benchy.report.comparison import print_comparison
from benchy.report.markup import plain
from benchy.report.terminal import LiveProgress, print_report
from benchy.results.manifest import run_manifest
from benchy.results.read import StoredRun, records
from benchy.results.store import ResultsUnwritable, RunStore, cells_frame
from benchy.runner import Plan, Runner, Side
from benchy.targets import TARGET_KINDS

log = logging.getLogger("benchy")


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run a suite's matrix", description="Run every cell of a suite."
    )
    run.add_argument("suite", type=Path, help="suite file, e.g. suites/wearable.toml")
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
    run.add_argument("--dry-run", action="store_true", help="print the matrix and exit")
    add_gate_arguments(run)
    run.add_argument(
        "--baseline",
        metavar="PATH|latest",
        help="compare with a stored run: its directory, a folder holding runs of this suite "
        "(the newest is taken), or `latest` (the newest under --results)",
    )
    run.set_defaults(func=cmd_run)


def _targets(
    suite_path: Path, names: list[str] | None, suite_targets: tuple[str, ...]
) -> list[TargetConfig]:
    if names:
        return [load_target(n, suite_path, ("--target", "")) for n in names]
    return [load_target(n, suite_path, (str(suite_path), "[suite].targets")) for n in suite_targets]


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


def matrix(suite: Suite, targets: list[TargetConfig]) -> list[Cell]:
    """The suite's cells on these targets, with what each target refuses listed n/a."""
    by_name = {t.name: t for t in targets}

    def refuses(target: str, model: str, variant: str, runtime: str) -> str | None:
        cfg = by_name[target]
        return TARGET_KINDS[cfg.kind].refuses(cfg.options, model, variant, runtime)

    return expand(suite, [t.name for t in targets], refuses)


def new_store(out: Path, suite: Suite, suite_file: Path, measure: Measure, quick: bool) -> RunStore:
    """A run directory with its manifest: what ran, on what, with which files."""
    return RunStore(out, run_manifest(suite, suite_file, measure, quick))


def _finish(
    store: RunStore, side: Side, runner: Runner, inconclusive: str, names: list[str]
) -> int:
    """Close the run: its exit code and verdict, and why a target measured nothing."""
    rows = store.rows
    idle = outcome.idle_targets(rows, names)
    for target, why in idle.items():
        log.error("target %s: %s", target, why)
    failed = side.target_failed or bool(idle) or runner.store_error is not None
    code = outcome.exit_code(rows, failed, inconclusive=inconclusive)
    fields: dict[str, Any] = {"idle_targets": idle} if idle else {}
    if runner.store_error is not None:
        fields["stopped"] = str(runner.store_error)
    status = "finished" if runner.store_error is None else "stopped"
    try:
        store.finish(status=status, exit_code=code, verdict=outcome.run_verdict(code, rows),
                     **fields)  # fmt: skip
    except ResultsUnwritable as exc:
        if runner.store_error is None:
            raise
        log.error("results folder: %s (run.json may still say running)", exc)
    return code


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    suite = load_suite(args.suite)
    targets = _targets(args.suite, args.target, suite.targets)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {', '.join(names)}")
    measure = suite.quick if args.quick else suite.measure
    checked = check_run_arguments(args, suite, names, measure)  # a dry run too; creates nothing
    if args.dry_run:  # derived variants are listed, not made
        _print_matrix(console, matrix(planned(suite), targets))
        return exitcodes.PASS
    out, baseline = checked.out, checked.baseline
    derived = derive_with_progress(console, suite, out / "derived")
    suite = derived.suite
    cells = matrix(suite, targets)
    store = new_store(out, suite, args.suite, measure, args.quick)
    if derived.variants:
        store.annotate(derived=derived.provenance())  # provenance in run.json
    side = Side(Plan(suite, measure, tuple(targets), tuple(cells)), store)
    log.info(
        "%d cells (%d not applicable) → %s", len(cells), sum(not c.applicable for c in cells), out
    )
    runner = Runner([side])
    if baseline is not None:  # close calls get more repetitions while the run goes on
        runner.stopping = adaptive = Adaptive(suite.gate, measure.repetitions, side, baseline)
        store.annotate(looks=adaptive.looks.payload())
    try:
        with LiveProgress(console, cells) as progress:
            runner.events = progress
            runner.run()
    except KeyboardInterrupt as stop:
        code = interrupts.exit_code(stop)
        store.finish(status="interrupted", exit_code=code)
        kept = f"{len(store.rows)} finished cells kept in {plain(out)}"
        console.print(f"[yellow]interrupted[/]: {kept}")
        return code
    rows = store.rows
    inconclusive = args.inconclusive or suite.gate.inconclusive
    code = _finish(store, side, runner, inconclusive, names)
    if runner.store_error is not None:
        console.print(f"[red]stopped[/]: {plain(runner.store_error)}; "
                      f"{len(rows)} finished cells kept in {plain(out)}")  # fmt: skip
        return code
    cells_now = cells_frame(rows)
    print_report(console, cells_now, f"{suite.name} — {out}", suite.rank_by)
    comparison = None
    if baseline is not None:
        store.annotate(adaptive=adaptive.summary())
        comparison = compare_runs(baseline, StoredRun.load(out), suite.gate)
        print_comparison(console, comparison)
        verdicts = comparison.verdicts()
        failed = side.target_failed or "idle_targets" in store.manifest
        code = outcome.exit_code(rows, failed, verdicts, inconclusive)
        store.annotate(
            exit_code=code,
            verdict=outcome.run_verdict(code, rows, verdicts),
            comparison=comparison.summary(),
        )
    verdict = str(store.manifest["verdict"])
    if reports_wanted(args):
        note = ""
        if not args.baseline:
            note = " (no --baseline given)"
        elif baseline is None:
            note = " (no earlier run to compare with)"
        publish(
            console,
            args,
            suite=suite.name,
            manifest=store.manifest,
            run_dir=out,
            rows=records(cells_now),
            checks=side.checks,
            comparison=comparison,
            code=code,
            verdict=verdict,
            note=note,
        )
    console.print(f"results: {plain(out)}  verdict: [bold]{verdict}[/] (exit {code})")
    return code
