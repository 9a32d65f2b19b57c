"""`benchy run SUITE`: expand the matrix, run every cell, store, report, gate."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from benchy import __version__, gate
from benchy.commands.common import add_gate_arguments, publish, reports_wanted
from benchy.commands.report import write_report_logged
from benchy.compare import compare_runs
from benchy.config import Measure, Suite, TargetConfig, load_suite, load_target
from benchy.errors import UsageError
from benchy.matrix import Cell, expand
from benchy.report.comparison import print_comparison
from benchy.report.html import manifest_fields
from benchy.report.terminal import LiveProgress, print_report, records
from benchy.runner import Plan, Runner
from benchy.runs import StoredRun, resolve_baseline
from benchy.store import RunStore, git_commit, new_run_dir, read_cells, sha256_file, utc_now
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
    run.add_argument(  # issue 14: HTML report
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
        table.add_row(
            c.target,
            c.model,
            c.variant,
            c.runtime,
            c.delegate.label,
            str(c.threads) if c.applicable else "–",
            escape(c.reason or ""),
        )
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
    models = {
        f"{m.name}/{v}": sha256_file(p)
        for m in suite.models.values()
        for v, p in m.variants.items()
    }
    datasets = {
        str(m.dataset.name): sha256_file(m.dataset) for m in suite.models.values() if m.dataset
    }
    return RunStore(
        out,
        {
            "benchy_version": __version__,
            "git_commit": git_commit(Path.cwd()),
            "suite": suite.name,
            "suite_file": str(suite_file),
            "suite_sha256": sha256_file(suite_file),
            "models_sha256": models,
            "datasets_sha256": datasets,
            "quick": quick,
            "measure": measure.payload(),
            "gate": suite.gate.payload(),
            "argv": sys.argv,
            "started": utc_now(),
        },
    )


def _baseline(
    args: argparse.Namespace, suite: Suite, names: list[str], out: Path
) -> StoredRun | None:
    """Resolve and load --baseline before anything runs (a bad one is a usage error, exit 2)."""
    if not args.baseline:
        return None
    found = resolve_baseline(args.baseline, args.results, suite.name, names, out)
    if found is None:
        log.warning("no earlier run of %s on %s to compare with", suite.name, ", ".join(names))
        return None
    return StoredRun.load(found)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    suite = load_suite(args.suite)
    targets = _targets(args.suite, args.target, suite.targets)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {', '.join(names)}")
    by_name = {t.name: t for t in targets}
    cells = matrix(suite, targets)
    if args.dry_run:
        _print_matrix(console, cells)
        return gate.EXIT_PASS
    measure = suite.quick if args.quick else suite.measure
    out = args.out or new_run_dir(args.results, suite.name)
    baseline = _baseline(args, suite, names, out)
    store = new_store(out, suite, args.suite, measure, args.quick)
    store.annotate(**manifest_fields(suite, targets))  # issue 14: budgets, rank_by for reports
    plan = Plan(suite, measure, targets, cells)
    log.info(
        "%d cells (%d not applicable) → %s", len(cells), sum(not c.applicable for c in cells), out
    )
    try:
        with LiveProgress(console, cells) as progress:
            rows = Runner(plan, store, progress).run()
    except KeyboardInterrupt:
        store.finish(status="interrupted", exit_code=gate.EXIT_INTERRUPTED)
        console.print(f"[yellow]interrupted[/]: {len(store.rows)} finished cells kept in {out}")
        return gate.EXIT_INTERRUPTED
    inconclusive = args.inconclusive or suite.gate.inconclusive
    code = gate.exit_code(rows, plan.target_failed, inconclusive=inconclusive)
    store.finish(status="finished", exit_code=code, verdict=gate.run_verdict(code, rows))
    print_report(console, read_cells(out), f"{suite.name} — {out}", suite.rank_by)
    comparison = None
    if baseline is not None:
        comparison = compare_runs(baseline, StoredRun.load(out), suite.gate)
        print_comparison(console, comparison)
        verdicts = comparison.verdicts()
        code = gate.exit_code(rows, plan.target_failed, verdicts, inconclusive)
        store.annotate(
            exit_code=code,
            verdict=gate.run_verdict(code, rows, verdicts),
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
            rows=records(read_cells(out)),
            checks=_budget_checks(out, suite, by_name),
            comparison=comparison,
            code=code,
            verdict=verdict,
            note=note,
        )
    if not args.no_report:  # issue 14: after the verdict is stored; never changes `code`
        write_report_logged(out, comparison)
    console.print(f"results: {out}  verdict: [bold]{verdict}[/] (exit {code})")
    return code


def _budget_checks(
    out: Path, suite: Suite, targets: dict[str, TargetConfig]
) -> dict[tuple[str, ...], list[gate.Check]]:
    """Each stored cell's budgets judged again from stored samples, check by check, for the
    reports (the same function and inputs the runner used for the verdict column)."""
    stored = StoredRun.load(out)
    samples = stored.samples_by_cell()
    checks = {}
    for key, row in stored.records().items():
        if row["status"] != "ok" or row["target"] not in targets:
            continue
        budgets = suite.budgets_for(row["model"], row["target"], targets[row["target"]].budgets)
        row = {**row, "_samples": samples.get(key)}
        checks[key] = gate.judge(row, budgets, suite.gate.confidence).checks
    return checks
