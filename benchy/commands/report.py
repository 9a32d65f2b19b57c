"""`benchy report RUN_DIR`: the HTML report (report.html, report.png) of a stored run.

Reads stored results only. The comparison drawn is `--baseline`'s, computed with benchy's
compare code, or else the one run.json records (computed again from its baseline when that
run is still on disk). Exit 0 when the report is written, 2 on a usage error."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.config import Gate
from benchy.errors import UsageError
from benchy.judge.compare import Comparison, compare_runs
from benchy.report.html import write_run_report
from benchy.results.find import resolve_baseline
from benchy.results.read import StoredRun

log = logging.getLogger("benchy")
REPORT = "report.html"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write the HTML report of a stored run",
        description="Write one self-contained HTML file (opens offline) with the decision view "
        "per target, latency distributions, the comparison with a baseline and the machine "
        "facts, and report.png (the decision view) beside it. Reads stored results only.",
    )
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="a run directory")
    p.add_argument(
        "--baseline",
        metavar="RUN_DIR|latest",
        help="compare with this stored run (a run directory, a folder holding runs, or "
        "`latest`: the newest other run beside RUN_DIR); default: the comparison run.json "
        "records, if any",
    )
    p.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="FILE",
        help=f"where to write the page (default RUN_DIR/{REPORT}); the picture goes beside it "
        "with the suffix .png. Files benchy did not write are not overwritten",
    )
    p.set_defaults(func=cmd_report)


def stored_comparison(run: StoredRun, settings: Gate) -> tuple[Comparison | None, str]:
    """run.json's comparison computed again from its baseline, or why it cannot be."""
    summary = run.manifest.get("comparison")
    if not summary:
        return None, ""
    try:
        base = StoredRun.load(Path(str(summary.get("baseline"))))
    except UsageError as exc:
        return None, f"the baseline cannot be read any more ({exc})"
    return compare_runs(base, run, settings), ""


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    run = StoredRun.load(args.run)
    settings = Gate.from_payload(run.manifest.get("gate") or {})
    comparison: Comparison | None
    if args.baseline:
        suite = str(run.manifest.get("suite") or run.dir.parent.name)
        found = resolve_baseline(args.baseline, run.dir.parent, suite, run.targets, run.dir)
        if found is None:
            raise UsageError(f"--baseline: no other finished run of {suite} beside {run.dir}")
        comparison, why = compare_runs(StoredRun.load(found), run, settings), ""
    else:
        comparison, why = stored_comparison(run, settings)
    written = write_run_report(run, args.out or run.dir / REPORT, comparison, why)
    console.print(
        f"report: {written.html} ({written.size / 1e6:.1f} MB, {written.seconds:.1f} s)"
        + (f"  picture: {written.png}" if written.png else ""),
        soft_wrap=True,
    )
    return exitcodes.PASS


def write_report_logged(run_dir: Path, comparison: Comparison | None) -> None:
    """`benchy run`'s report: written after the results and the verdict; a failure is logged
    and changes neither (the run's exit code stays what the gate said)."""
    try:
        written = write_run_report(StoredRun.load(run_dir), run_dir / REPORT, comparison)
    except Exception as exc:  # a report must never cost the run its results or exit code
        log.error("report not written: %s (`benchy report %s` tries again)", exc, run_dir)
        log.debug("report failure", exc_info=True)
        return
    log.info("report: %s (%.1f s)", written.html, written.seconds)
