"""Adaptive repetitions (benchy/adaptive.py) driven round by round with recorded worker results,
as the runner drives it: a clear cell stops after the planned repetitions, a close call is
measured again at each look until the last one, the time budget cuts the extra rounds short,
and nothing goes past max_repetitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchy.adaptive import Adaptive, NoLooks
from benchy.config import Gate, load_suite, load_target
from benchy.pipeline import matrix, new_store
from benchy.results.read import StoredRun
from benchy.runner import Job, Plan, Side

from .fakeruns import FACTS, SPREAD, cell_row, medians, write_run

R = 6
SUITE = """
[matrix]
runtimes = ["tflite"]
[matrix.tflite]
delegates = ["xnnpack"]
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
"""


def result(median_ms: float) -> dict[str, Any]:
    """One repetition as the worker reports it (the figures rows.py reads)."""
    return {
        "status": "ok",
        "samples_ns": [int(v) for v in median_ms * 1e6 * SPREAD],
        "window_s": 0.1,
        "warmup_s": 0.01,
        "runtime_module": "ai_edge_litert",
        "runtime_version": "2.3.0",
        "delegate_applied": "xnnpack (1 partition)",
        "peak_rss_mb": 40.0,
        "rss_before_mb": 38.0,
    }


def setup(
    tmp_path: Path, make_suite: Callable[..., Path], local_target: Path, gate: Gate
) -> tuple[Adaptive, Job]:
    base = write_run(tmp_path / "base", {"fp32": (cell_row("fp32"), medians(0.100, n=R))})
    path = make_suite(SUITE)
    suite = dataclasses.replace(load_suite(path), gate=gate)
    target = load_target(str(local_target), path, ("--target", ""))
    cells = matrix(suite, [target])
    store = new_store(tmp_path / "new", suite, path, suite.measure, False)
    store.set_facts("local", FACTS)
    side = Side(Plan(suite, suite.measure, (target,), tuple(cells)), store)
    adaptive = Adaptive(gate, R, side, StoredRun.load(base))
    return adaptive, (side, cells[0])


def drive(adaptive: Adaptive, job: Job, medians_ms: list[float], seconds: float = 1.0) -> int:
    """Feed one repetition per round until the cell is settled; the repetitions it took."""
    results: dict[Job, list[Any]] = {job: []}
    wall = {job: 0.0}
    for rep, m in enumerate(medians_ms):
        results[job].append(result(m))
        wall[job] += seconds
        settled = adaptive.settled("local", rep, results, wall, [job])
        if settled:
            assert settled == [job]
            return rep + 1
    raise AssertionError("never settled")


def test_a_clear_cell_stops_after_the_planned_repetitions(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_suite, local_target: Path
) -> None:
    adaptive, job = setup(tmp_path, make_suite, local_target, Gate(max_repetitions=12))
    assert adaptive.looks.at == (6, 9, 12)
    assert drive(adaptive, job, medians(0.100, n=24)) == R
    assert adaptive.summary()["extended"] == {}


def test_a_close_call_is_measured_again_until_the_last_look(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_suite, local_target: Path
) -> None:
    """+5% with ±3% scatter: the CI straddles δ at every look; judged at 6 and 9, and settled at
    12 = max_repetitions, never later (the time budget allows the 6 extra rounds)."""
    gate = Gate(max_repetitions=12, extra_time_pct=100)
    adaptive, job = setup(tmp_path, make_suite, local_target, gate)
    close = [m * 1.05 for m in medians(0.100, n=6, spread=0.06)] * 4
    assert drive(adaptive, job, close) == 12
    assert adaptive.summary()["extended"] == {"local/cnn/fp32 tflite/xnnpack ×1": 12}


def test_the_time_budget_cuts_extra_rounds_short(  # type: ignore[no-untyped-def]
    tmp_path: Path, make_suite, local_target: Path
) -> None:
    """10% of the planned rounds' 6 s: one extra second and the cell is settled as it is."""
    gate = Gate(max_repetitions=24, extra_time_pct=10)
    adaptive, job = setup(tmp_path, make_suite, local_target, gate)
    close = [m * 1.05 for m in medians(0.100, n=6, spread=0.06)] * 4
    assert drive(adaptive, job, close) == R + 1
    assert "extra rounds stopped at 7 repetitions" in adaptive.summary()["stopped"]["local"]


def test_without_a_baseline_nothing_waits() -> None:
    assert NoLooks().settled("local", 0, {}, {}, []) == [] and not NoLooks.active
