"""`benchy run SUITE`: expand the matrix, run every cell, store, report, gate."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes, interrupts
from benchy.commands.common import add_gate_arguments, publish, reports_wanted
from benchy.commands.derive import derive_with_progress
from benchy.commands.preflight import check_run_arguments
from benchy.commands.report import write_report_logged
from benchy.config import Measure, Suite, TargetConfig, load_suite, load_target
from benchy.derive.variants import planned
from benchy.errors import UsageError
from benchy.judge import outcome
from benchy.judge.compare import compare_runs
from benchy.matrix import Cell, expand
from benchy.modelrun import is_model_file, model_suite
from benchy.report.comparison import print_comparison
from benchy.report.html import manifest_fields
from benchy.report.markup import plain
from benchy.report.terminal import LiveProgress, print_report
from benchy.results import resume
from benchy.results.manifest import read_manifest, run_manifest
from benchy.results.read import StoredRun, records
from benchy.results.store import ResultsUnwritable, RunStore, cells_frame
from benchy.runner import Plan, Runner, Side
from benchy.targets import TARGET_KINDS

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
    run.add_argument("--dry-run", action="store_true", help="print the matrix and exit")
    run.add_argument(
        "--show-na", action="store_true", help="list the pairs that cannot apply, one by one"
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


def _resumed_quick(args: argparse.Namespace) -> bool:
    """A resumed run keeps the settings it was started with (--quick or not)."""
    if args.out is not None:
        raise UsageError("--resume completes the run in its own folder: drop --out")
    stored = read_manifest(args.resume)
    quick = bool(stored.get("quick"))
    if args.quick and not quick:
        raise UsageError(f"--resume: {args.resume} was measured without --quick; drop --quick")
    return quick


def _reopen(
    args: argparse.Namespace, suite: Suite, measure: Measure, names: list[str]
) -> tuple[RunStore, resume.Carried]:
    """The interrupted run, reopened for completion, and what it already has."""
    stored = read_manifest(args.resume)
    problem = resume.resumable_problem(stored, run_manifest(suite, args.suite, measure, args.quick))
    if problem is None:
        measured_on = set(stored.get("targets") or {})
        if not measured_on <= set(names):
            problem = f"it was measured on {', '.join(sorted(measured_on))}, not {', '.join(names)}"
    if problem is not None:
        raise UsageError(f"--resume: {args.resume}: {problem}")
    store = RunStore.reopen(args.resume)
    return store, resume.load(args.resume, store.rows)


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


def _suite(args: argparse.Namespace) -> Suite:
    """The suite file's, or the one a model file is measured with (benchy/modelrun.py)."""
    if is_model_file(args.suite):
        targets = args.target or ["local"]
        return model_suite(args.suite, args.runtime, args.threads, args.dim, targets)
    for flag in ("runtime", "threads", "dim"):
        if getattr(args, flag):
            raise UsageError(
                f"--{flag} applies to a model file (benchy run MODEL.onnx); a suite says it in "
                "[matrix] and [models.NAME].dims"
            )
    return load_suite(args.suite)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    suite = _suite(args)
    targets = _targets(args.suite, args.target, suite.targets)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {', '.join(names)}")
    if args.resume is not None:
        args.quick = _resumed_quick(args)
    measure = suite.quick if args.quick else suite.measure
    checked = check_run_arguments(args, suite, names, measure)  # a dry run too; creates nothing
    if args.dry_run:  # derived variants are listed, not made
        _print_matrix(console, matrix(planned(suite), targets))
        return exitcodes.PASS
    out, baseline = checked.out, checked.baseline
    derived = derive_with_progress(console, suite, out / "derived")
    suite = derived.suite
    cells = matrix(suite, targets)
    if args.resume is not None:
        store, carried = _reopen(args, suite, measure, names)
    else:
        store, carried = new_store(out, suite, args.suite, measure, args.quick), None
    if derived.variants:
        store.annotate(derived=derived.provenance())  # provenance in run.json
    store.annotate(**manifest_fields(suite, targets))  # budgets and rank_by, for reports
    side = Side(Plan(suite, measure, tuple(targets), tuple(cells)), store, carried)
    todo = [c for c in cells if not side.done(c)]
    log.info(
        "%d cells (%d not applicable) → %s", len(todo), sum(not c.applicable for c in todo), out
    )
    runner = Runner([side])
    try:
        done = {k: len(p.results) for k, p in side.partial.items()}
        with LiveProgress(console, todo, measure.repetitions, done) as progress:
            runner.events = progress
            runner.run()
    except KeyboardInterrupt as stop:
        code = interrupts.exit_code(stop)
        resume.save(out, side.partial, side.rows.references)
        store.finish(status="interrupted", exit_code=code)
        kept = f"{len(store.rows)} finished cells kept in {plain(out)}"
        console.print(f"[yellow]interrupted[/]: {kept} (`--resume {plain(out)}` completes it)")
        return code
    resume.discard(out)
    rows = store.rows
    inconclusive = args.inconclusive or suite.gate.inconclusive
    code = _finish(store, side, runner, inconclusive, names)
    if runner.store_error is not None:
        console.print(f"[red]stopped[/]: {plain(runner.store_error)}; "
                      f"{len(rows)} finished cells kept in {plain(out)}")  # fmt: skip
        return code
    cells_now = cells_frame(rows)
    print_report(console, cells_now, f"{suite.name} — {out}", suite.rank_by, args.show_na)
    comparison = None
    if baseline is not None:
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
    if not args.no_report:  # after the verdict is stored; never changes `code`
        write_report_logged(out, comparison)
    console.print(f"results: {plain(out)}  verdict: [bold]{verdict}[/] (exit {code})")
    return code
