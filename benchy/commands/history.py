"""`benchy history SUITE`: the stored runs of a suite with their verdicts, and the trend of every
cell's p50 across them. Runs written with a result schema this benchy cannot read are listed
with advice, not read."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.config import load_suite
from benchy.errors import UsageError
from benchy.report.history import History, print_history
from benchy.report.trend import write_history_report
from benchy.results.find import finished_runs
from benchy.tomltable import FOLDER_NAME, FOLDER_NAME_TEXT


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "history",
        help="stored runs of a suite and each cell's p50 trend",
        description="List the stored runs of a suite (verdicts, comparisons) and the trend of "
        "each cell's p50 across them. Reads stored results only.",
    )
    p.add_argument("suite", help="suite file (its [suite].name is used) or suite name")
    p.add_argument("--results", type=Path, default=Path("results"), help="base folder for results")
    p.add_argument("--target", help="only this target's cells")
    p.add_argument("--last", type=int, default=10, metavar="N", help="the N newest runs (10)")
    p.add_argument(  # issue 14: HTML history
        "--html",
        nargs="?",
        const="",
        metavar="FILE",
        help="also write an HTML page: each cell's p50 over the runs with its CI band and the "
        "regressions marked (default FILE: RESULTS/SUITE/history.html)",
    )
    p.set_defaults(func=cmd_history)


def suite_name(arg: str) -> str:
    path = Path(arg)
    if path.suffix == ".toml" or path.is_file():
        return load_suite(path).name
    if FOLDER_NAME.fullmatch(arg) is None:  # it becomes a folder under --results
        raise UsageError(f"{arg}: no such suite file, and not a suite name ({FOLDER_NAME_TEXT})")
    return arg


def cmd_history(args: argparse.Namespace, console: Console) -> int:
    if args.last < 1:
        raise UsageError(f"--last: expected an integer ≥ 1, got {args.last}")
    name = suite_name(args.suite)
    folder = args.results / name
    dirs = finished_runs(folder)
    if not dirs:
        raise UsageError(f"no stored runs of suite {name} in {folder}")
    history = History.load(dirs[: args.last], args.target)
    print_history(console, name, history)
    if args.html is not None:  # issue 14
        written = write_history_report(name, history, Path(args.html or folder / "history.html"))
        console.print(f"history page: {written.html}", soft_wrap=True)
    return exitcodes.PASS
