"""Options and output shared by the commands that gate (`run`, `compare`): JUnit, markdown
summary, workflow annotations, and what an inconclusive verdict exits with."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy.judge.budgets import Check
from benchy.judge.compare import Comparison
from benchy.report.cases import build_cases
from benchy.report.junit import write_junit
from benchy.report.markdown import summary, workflow_annotations, write_summary
from benchy.results.schema import CellKey

log = logging.getLogger("benchy")


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the markdown summary here (it is also appended to $GITHUB_STEP_SUMMARY "
        "when that is set)",
    )
    parser.add_argument(
        "--inconclusive",
        choices=("flag", "pass"),
        help="what an inconclusive verdict exits with: flag = 4, pass = 0 "
        "(default: the suite's [gate].inconclusive, else flag)",
    )


def repetitions_arg(text: str) -> int:
    """`--repetitions N`: a whole number ≥ 1 (argparse reports anything else, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def add_repetitions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repetitions",
        type=repetitions_arg,
        metavar="N",
        help="fresh worker processes per cell, instead of the suite's [measure] repetitions "
        "(with --quick, its quick ones): e.g. 24 for a baseline that many nights are compared "
        "with. A baseline measured with more repetitions is still `latest`'s match",
    )


def reports_wanted(args: argparse.Namespace) -> bool:
    return bool(
        args.junit
        or args.markdown
        or os.environ.get("GITHUB_STEP_SUMMARY")
        or os.environ.get("GITHUB_ACTIONS") == "true"
    )


def publish(
    console: Console,
    args: argparse.Namespace,
    *,
    suite: str,
    manifest: dict[str, Any],
    run_dir: Path,
    rows: list[dict[str, Any]],
    checks: dict[CellKey, list[Check]],
    comparison: Comparison | None,
    code: int,
    verdict: str,
    note: str = "",
) -> None:
    """Write every report asked for; called before the command returns its exit code."""
    cases = build_cases(rows, checks, comparison)
    if args.junit:
        baseline = str(comparison.base.dir) if comparison is not None else None
        differs = [d.text() for d in comparison.differences] if comparison is not None else []
        write_junit(args.junit, suite, manifest, cases, baseline, differs)
        log.info("JUnit: %s", args.junit)
    text = summary(suite, verdict, code, run_dir, cases, comparison, note)
    for path in write_summary(text, args.markdown):
        log.info("summary: %s", path)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in workflow_annotations(cases):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
