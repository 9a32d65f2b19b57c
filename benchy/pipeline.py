"""One run of a suite, from its request to its stored, judged results: what `benchy run` and
`benchy.run()` both do. No printing here: what a person watches (the derive and measure progress)
comes through a `Display`; the CLI shows it, the library keeps quiet.

prepare()  everything checked before anything runs: the suite (or a model file's suite),
           targets, arguments, the baseline — BenchyError (exit 2) on anything wrong
execute()  derive, measure, store, judge budgets and exit code, compare with the baseline,
           write report.html; an interrupt finishes the run as interrupted and is handed back
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchy import interrupts
from benchy.adaptive import Adaptive
from benchy.config import Measure, Suite, TargetConfig, load_suite, load_target
from benchy.derive.variants import Derived, derive_variants
from benchy.errors import UsageError
from benchy.judge import outcome
from benchy.judge.compare import Comparison, compare_runs
from benchy.matrix import Cell, expand
from benchy.modelrun import is_model_file, model_suite
from benchy.preflight import check_run_arguments
from benchy.profiling.valgrind import check_local as check_local_valgrind
from benchy.report.html import manifest_fields
from benchy.results import resume
from benchy.results.manifest import read_manifest, run_manifest
from benchy.results.read import StoredRun
from benchy.results.store import ResultsUnwritable, RunStore
from benchy.runner import Events, NoEvents, Plan, Runner, Side
from benchy.targets import TARGET_KINDS

log = logging.getLogger("benchy")


@dataclass
class RunRequest:
    """What to run and how: the `benchy run` options, as the library takes them too."""

    suite: Path
    target: list[str] | None = None
    quick: bool = False
    out: Path | None = None
    results: Path = Path("results")
    baseline: str | None = None
    resume: Path | None = None
    inconclusive: str | None = None
    report: bool = True
    junit: Path | None = None
    markdown: Path | None = None
    runtime: str | None = None  # a model file without a suite: these three
    threads: list[int] | None = None
    dim: list[str] = field(default_factory=list)
    profile_ops: bool = False  # as [measure] profile_ops = true
    repetitions: int | None = None  # instead of [measure] repetitions


class Display(Protocol):
    """What a person watches while a run goes (the CLI); the library passes `Quiet`."""

    def derive(self, suite: Suite, out_dir: Path) -> Derived: ...

    def measuring(
        self, cells: list[Cell], repetitions: int, done: dict[Any, int]
    ) -> contextlib.AbstractContextManager[Events]: ...


class Quiet:
    def derive(self, suite: Suite, out_dir: Path) -> Derived:
        return derive_variants(suite, out_dir)

    @contextlib.contextmanager
    def measuring(
        self, cells: list[Cell], repetitions: int, done: dict[Any, int]
    ) -> Iterator[Events]:
        yield NoEvents()


@dataclass
class Prepared:
    request: RunRequest
    suite: Suite
    targets: list[TargetConfig]
    measure: Measure
    out: Path
    baseline: StoredRun | None

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]


@dataclass
class Outcome:
    """A finished (or interrupted, or stopped) run."""

    out: Path
    suite: Suite
    store: RunStore
    side: Side
    code: int
    comparison: Comparison | None = None
    interrupted: KeyboardInterrupt | None = None
    store_error: ResultsUnwritable | None = None


def targets_of(
    suite_path: Path, names: list[str] | None, suite_targets: tuple[str, ...]
) -> list[TargetConfig]:
    if names:
        return [load_target(n, suite_path, ("--target", "")) for n in names]
    return [load_target(n, suite_path, (str(suite_path), "[suite].targets")) for n in suite_targets]


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


def measure_of(suite: Suite, quick: bool, repetitions: int | None) -> Measure:
    """The measurement settings of a run: the suite's, or its quick ones; `--repetitions`."""
    measure = suite.quick if quick else suite.measure
    if repetitions is not None:
        measure = dataclasses.replace(measure, repetitions=repetitions)
    return measure


def load_request_suite(request: RunRequest) -> Suite:
    """The suite file's, or the one a model file is measured with (benchy/modelrun.py)."""
    if is_model_file(request.suite):
        targets = request.target or ["local"]
        return model_suite(request.suite, request.runtime, request.threads, request.dim, targets)
    for flag in ("runtime", "threads", "dim"):
        if getattr(request, flag):
            raise UsageError(
                f"--{flag} applies to a model file (benchy run MODEL.onnx); a suite says it in "
                "[matrix] and [models.NAME].dims"
            )
    return load_suite(request.suite)


def prepare(request: RunRequest) -> Prepared:
    """Everything checked before anything runs (the same for a dry run)."""
    suite = load_request_suite(request)
    targets = targets_of(request.suite, request.target, suite.targets)
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise UsageError(f"target names repeat: {', '.join(names)}")
    if request.resume is not None:
        request.quick = _resumed_quick(request)
        request.repetitions = request.repetitions or _resumed_repetitions(request.resume)
    measure = measure_of(suite, request.quick, request.repetitions)
    if request.profile_ops:
        measure = dataclasses.replace(measure, profile_ops=True)
    check_local_valgrind(request.suite, measure, targets)  # instruction mode needs valgrind
    checked = check_run_arguments(request, suite, names, measure)
    return Prepared(request, suite, targets, measure, checked.out, checked.baseline)


def _resumed_quick(request: RunRequest) -> bool:
    """A resumed run keeps the settings it was started with (--quick or not)."""
    assert request.resume is not None
    if request.out is not None:
        raise UsageError("--resume completes the run in its own folder: drop --out")
    quick = bool(read_manifest(request.resume).get("quick"))
    if request.quick and not quick:
        raise UsageError(f"--resume: {request.resume} was measured without --quick; drop --quick")
    return quick


def _resumed_repetitions(run_dir: Path) -> int | None:
    """A resumed run keeps the repetitions it was started with (`--repetitions` or not)."""
    stored = (read_manifest(run_dir).get("measure") or {}).get("repetitions")
    return stored if isinstance(stored, int) and not isinstance(stored, bool) else None


def _reopen(p: Prepared, suite: Suite) -> tuple[RunStore, resume.Carried]:
    """The interrupted run, reopened for completion, and what it already has."""
    run_dir = p.request.resume
    assert run_dir is not None
    stored = read_manifest(run_dir)
    now = run_manifest(suite, p.request.suite, p.measure, p.request.quick)
    problem = resume.resumable_problem(stored, now)
    if problem is None:
        measured_on = set(stored.get("targets") or {})
        if not measured_on <= set(p.names):
            on = ", ".join(sorted(measured_on))
            problem = f"it was measured on {on}, not {', '.join(p.names)}"
    if problem is not None:
        raise UsageError(f"--resume: {run_dir}: {problem}")
    store = RunStore.reopen(run_dir)
    return store, resume.load(run_dir, store.rows)


def execute(p: Prepared, display: Display) -> Outcome:
    """Derive, measure, store, judge; the baseline comparison and report.html after."""
    derived = display.derive(p.suite, p.out / "derived")
    suite = derived.suite
    cells = matrix(suite, p.targets)
    if p.request.resume is not None:
        store, carried = _reopen(p, suite)
    else:
        store = new_store(p.out, suite, p.request.suite, p.measure, p.request.quick)
        carried = None
    if derived.variants:
        store.annotate(derived=derived.provenance())  # provenance in run.json
    store.annotate(**manifest_fields(suite, p.targets))  # budgets and rank_by, for reports
    side = Side(Plan(suite, p.measure, tuple(p.targets), tuple(cells)), store, carried)
    todo = [c for c in cells if not side.done(c)]
    log.info(
        "%d cells (%d not applicable) → %s", len(todo), sum(not c.applicable for c in todo), p.out
    )
    runner = Runner([side])
    adaptive = None
    if p.baseline is not None:  # close calls get more repetitions while the run goes on
        runner.stopping = adaptive = Adaptive(suite.gate, p.measure.repetitions, side, p.baseline)
        store.annotate(looks=adaptive.looks.payload())
    try:
        done = {k: len(part.results) for k, part in side.partial.items()}
        with display.measuring(todo, p.measure.repetitions, done) as events:
            runner.events = events
            runner.run()
    except KeyboardInterrupt as stop:
        code = interrupts.exit_code(stop)
        resume.save(p.out, side.partial, side.rows.references)
        store.finish(status="interrupted", exit_code=code)
        return Outcome(p.out, suite, store, side, code, interrupted=stop)
    resume.discard(p.out)
    inconclusive = p.request.inconclusive or suite.gate.inconclusive
    code = _finish(store, side, runner, inconclusive, p.names)
    result = Outcome(p.out, suite, store, side, code, store_error=runner.store_error)
    if runner.store_error is not None:
        return result
    if p.baseline is not None:
        if adaptive is not None:
            store.annotate(adaptive=adaptive.summary())
        comparison = compare_runs(p.baseline, StoredRun.load(p.out), suite.gate)
        verdicts = comparison.verdicts()
        failed = side.target_failed or "idle_targets" in store.manifest
        result.code = outcome.exit_code(store.rows, failed, verdicts, inconclusive)
        store.annotate(
            exit_code=result.code,
            verdict=outcome.run_verdict(result.code, store.rows, verdicts),
            comparison=comparison.summary(),
        )
        result.comparison = comparison
    if p.request.report:  # after the verdict is stored; never changes the exit code
        from benchy.commands.report import write_report_logged

        write_report_logged(p.out, result.comparison)
    return result


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
