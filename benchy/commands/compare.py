"""`benchy compare BASE_RUN NEW_RUN`: judge a stored run against a stored baseline.

Reads stored results only: nothing is measured. Exit 0 pass, 1 regressed, 2 usage, 3 a cell of
the new run crashed, 4 inconclusive (0 with `--inconclusive=pass`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy.commands.common import add_gate_arguments, publish, reports_wanted
from benchy.config import Gate, load_suite
from benchy.judge import outcome
from benchy.judge.compare import compare_runs
from benchy.report.comparison import print_comparison
from benchy.results.read import StoredRun, records


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two stored runs",
        description="Compare a stored run with a stored baseline, cell by cell (matched by "
        "target, model, variant, runtime, delegate, threads), and gate on regressions.",
    )
    p.add_argument("base", type=Path, metavar="BASE_RUN", help="baseline run directory")
    p.add_argument("new", type=Path, metavar="NEW_RUN", help="run directory to judge")
    p.add_argument(
        "--suite",
        type=Path,
        help="take the [gate] settings from this suite file (default: those stored with NEW_RUN)",
    )
    p.add_argument("--all", action="store_true", help="list unchanged results too")
    add_gate_arguments(p)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    base, new = StoredRun.load(args.base, full=True), StoredRun.load(args.new, full=True)
    if args.suite is not None:
        settings = load_suite(args.suite).gate
    else:
        settings = Gate.from_payload(new.manifest.get("gate") or {})
    comparison = compare_runs(base, new, settings)
    print_comparison(console, comparison, args.all)
    rows = records(new.cells)
    verdicts = comparison.verdicts()
    code = outcome.exit_code([], False, verdicts, args.inconclusive or settings.inconclusive)
    verdict = outcome.run_verdict(code, [], verdicts)  # budgets are `benchy run`'s business
    if reports_wanted(args):
        suite = str(new.manifest.get("suite") or new.dir.parent.name)
        publish(
            console,
            args,
            suite=suite,
            manifest=new.manifest,
            run_dir=new.dir,
            rows=rows,
            checks={},
            comparison=comparison,
            code=code,
            verdict=verdict,
        )
    console.print(f"verdict: [bold]{verdict}[/] (exit {code})")
    return code
