"""`benchy ab BASE_SUITE NEW_SUITE`: measure a baseline and a candidate in one job, interleaved,
and judge the candidate against the baseline.

Each cell of the candidate runs right after the matching cell of the baseline (same target,
model, variant, runtime, delegate, threads), repetition after repetition, so machine drift hits
both sides alike. Both sides use the candidate suite's measurement settings. The two runs are
stored side by side (`base/`, `candidate/`) and compared exactly as `benchy compare` would.

Each round's two models are also timed in turn in one worker process, and latency shifts are
judged on those rounds: p50 at δ = 2% unless the candidate suite's [gate] sets p50_pct (two
separate runs keep 5%).
"""

from __future__ import annotations

import argparse
import dataclasses
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import interrupts
from benchy.adaptive import Adaptive
from benchy.commands.common import (
    add_gate_arguments,
    add_repetitions_argument,
    publish,
    reports_wanted,
)
from benchy.commands.derive import derive_with_progress
from benchy.config import load_suite
from benchy.errors import UsageError
from benchy.judge import outcome
from benchy.judge.compare import compare_runs
from benchy.pipeline import matrix, measure_of, new_store, targets_of
from benchy.report.comparison import print_comparison
from benchy.report.markup import plain
from benchy.report.terminal import LiveProgress
from benchy.results.manifest import new_run_dir
from benchy.results.read import StoredRun, records
from benchy.runner import Plan, Runner, Side


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ab", help="measure a baseline and a candidate interleaved, then gate",
                       description=__doc__)  # fmt: skip
    p.add_argument("base", type=Path, metavar="BASE_SUITE", help="the baseline suite file")
    p.add_argument("new", type=Path, metavar="NEW_SUITE", help="the candidate suite file")
    p.add_argument(
        "--target",
        action="append",
        metavar="NAME_OR_PATH",
        help="run on this target instead of the candidate suite's list (repeatable)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="folder for base/ and candidate/ (default results/<suite>-ab/<UTC time>-<id>)",
    )
    p.add_argument("--results", type=Path, default=Path("results"), help="base folder for results")
    p.add_argument("--quick", action="store_true", help="few samples: for CI smoke runs")
    add_repetitions_argument(p)
    add_gate_arguments(p)
    p.set_defaults(func=cmd_ab)  # fmt: skip


def cmd_ab(args: argparse.Namespace, console: Console) -> int:
    base_suite, new_suite = load_suite(args.base), load_suite(args.new)
    new_suite = dataclasses.replace(new_suite, gate=new_suite.gate.for_ab())
    targets = targets_of(args.new, args.target, new_suite.targets)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {', '.join(names)}")
    measure = measure_of(new_suite, args.quick, args.repetitions)
    out = args.out or new_run_dir(args.results, f"{new_suite.name}-ab")
    # derive (issue 13): each side's derived variants, made into its own folder
    made_base = derive_with_progress(console, base_suite, out / "base" / "derived")
    made_new = derive_with_progress(console, new_suite, out / "candidate" / "derived")
    base_suite, new_suite = made_base.suite, made_new.suite
    sides = (("base", base_suite, args.base), ("candidate", new_suite, args.new))
    stores = {
        side: new_store(out / side, suite, path, measure, args.quick) for side, suite, path in sides
    }
    pair = uuid.uuid4().hex  # marks the two runs as one interleaved job (compare pairs rounds)
    for side, made in (("base", made_base), ("candidate", made_new)):
        stores[side].annotate(ab={"id": pair, "side": side})
        if made.variants:
            stores[side].annotate(derived=made.provenance())
    base = Side(Plan(base_suite, measure, tuple(targets), tuple(matrix(base_suite, targets))),
                stores["base"])  # fmt: skip
    candidate = Side(Plan(new_suite, measure, tuple(targets), tuple(matrix(new_suite, targets))),
                     stores["candidate"])  # fmt: skip
    runner = Runner([base, candidate])
    runner.paired_latency = True  # latency shifts judged within one process per round
    # close calls get more repetitions, on both sides, back to back (benchy/adaptive.py)
    runner.stopping = adaptive = Adaptive(new_suite.gate, measure.repetitions, candidate)
    stores["candidate"].annotate(looks=adaptive.looks.payload())
    try:
        cells = [*base.plan.cells, *candidate.plan.cells]
        with LiveProgress(console, cells, measure.repetitions) as progress:
            runner.events = progress
            runner.run()
    except KeyboardInterrupt as stop:
        code = interrupts.exit_code(stop)
        for store in stores.values():
            store.finish(status="interrupted", exit_code=code)
        console.print(f"[yellow]interrupted[/]: finished cells kept in {plain(out)}")
        return code
    failed = base.target_failed or candidate.target_failed
    for store in stores.values():
        idle = outcome.idle_targets(store.rows, [t.name for t in targets])
        failed = failed or bool(idle)
        code = outcome.exit_code(store.rows, failed)
        store.finish(status="finished", exit_code=code,
                     verdict=outcome.run_verdict(code, store.rows))  # fmt: skip
    stores["candidate"].annotate(adaptive=adaptive.summary())
    comparison = compare_runs(
        StoredRun.load(out / "base"), StoredRun.load(out / "candidate"), new_suite.gate
    )
    print_comparison(console, comparison)
    verdicts = comparison.verdicts()
    inconclusive = args.inconclusive or new_suite.gate.inconclusive
    rows = stores["candidate"].rows
    # Budgets are `benchy run`'s question; ab asks whether the candidate is worse than the base.
    code = outcome.exit_code([r for r in rows if r["verdict"] == "error"], failed, verdicts,
                          inconclusive)  # fmt: skip
    verdict = outcome.run_verdict(code, [], verdicts)
    stores["candidate"].annotate(
        ab_exit_code=code, ab_verdict=verdict, comparison=comparison.summary()
    )
    if reports_wanted(args):
        publish(console, args, suite=new_suite.name, manifest=stores["candidate"].manifest,
                run_dir=out / "candidate", rows=records(StoredRun.load(out / "candidate").cells),
                checks={}, comparison=comparison, code=code, verdict=verdict)  # fmt: skip
    console.print(f"results: {plain(out)}  verdict: [bold]{verdict}[/] (exit {code})")
    return code
