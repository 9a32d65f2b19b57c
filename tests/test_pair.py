"""Issue 12, `benchy ab`'s paired latency: each round's candidate and baseline also timed in
turn in one worker process (benchy/worker/pair.py), and the latency shift judged on those
rounds. The worker on real runtimes (ONNX Runtime's shared thread pool, TFLite, a streaming
model); the rows; the comparison on constructed runs (which values it judges, the fallback)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main
from benchy.config import AB_P50_PCT, Gate, load_suite
from benchy.judge.compare import compare_runs
from benchy.results.read import StoredRun
from benchy.rows import paired_columns, paired_figures
from benchy.worker.protocol import CellRequest, CellResult
from benchy.worker.server import run_isolated

from .conftest import MODELS
from .fakeruns import cell_row, medians, write_run
from .mlp_models import mlp_chain
from .test_inputs_run import VAD_STREAM, cell_for

MEASURE = {"warmup_runs": 5, "warmup_seconds": 0.0, "min_runs": 150, "min_seconds": 0.02,
           "max_seconds": 10.0, "max_runs": 100_000, "repetitions": 1,
           "timeout_s": 60.0}  # fmt: skip


def request(model: Path, runtime: str, threads: int) -> CellRequest:
    delegate = {"name": "xnnpack" if runtime == "tflite" else "CPUExecutionProvider"}
    return {"runtime": runtime, "model_path": str(model), "delegate": delegate,  # type: ignore[typeddict-item]
            "threads": threads, "inputs": {}, "measure": MEASURE, "timeout_s": 60.0,  # type: ignore[typeddict-item]
            "collect_outputs": False}  # fmt: skip


def paired(own: CellRequest, partner: CellRequest) -> CellResult:
    return run_isolated({**own, "partner": partner})


@pytest.mark.parametrize(
    ("model", "runtime"), [("cnn_fp32.onnx", "onnxruntime"), ("cnn_fp32.tflite", "tflite")]
)
def test_a_pair_request_times_both_models_in_one_process(model: str, runtime: str) -> None:
    """Two threads: ONNX Runtime's two sessions on one shared pool, TFLite's two interpreters
    with XNNPACK. Each model gets its full count of timed runs."""
    cell = request(MODELS / model, runtime, 2)
    got = paired(cell, cell)
    assert got["status"] == "ok", got.get("error")
    assert min(len(got["samples_ns"]), len(got["partner_ns"])) >= 150
    assert min(got["samples_ns"]) > 0 and min(got["partner_ns"]) > 0


def test_the_pair_tells_which_model_is_slower(tmp_path: Path) -> None:
    """A 4-layer and a 24-layer ONNX MLP chain (256 wide: ~6× the work) timed in turn: the
    candidate's samples are its own, the partner's its own, whichever loads and times first."""
    small = request(mlp_chain(tmp_path / "c4.onnx", 4, width=256), "onnxruntime", 2)
    large = request(mlp_chain(tmp_path / "c24.onnx", 24, width=256), "onnxruntime", 2)
    cases = [(large, small, "samples_ns"), (small, large, "partner_ns")]
    for (own, partner, slower), first in itertools.product(cases, (True, False)):
        got = paired({**own, "partner_first": first}, partner)
        assert got["status"] == "ok", got.get("error")
        faster = "partner_ns" if slower == "samples_ns" else "samples_ns"
        assert np.median(got[slower]) > 2 * np.median(got[faster])  # type: ignore[literal-required]


def test_a_streaming_model_pairs_with_its_state_fed_back(tiny: dict[str, Path]) -> None:
    cell = cell_for(tiny["vad"], "onnxruntime", VAD_STREAM)
    got = paired(cell, cell)
    assert got["status"] == "ok", got.get("error")
    assert len(got["samples_ns"]) == len(got["partner_ns"]) == 200  # max_runs of cell_for


def test_a_pair_that_fails_costs_the_pairing_not_the_cell(
    make_suite: Any, local_target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `benchy ab` whose pair requests crash (the processes of each side do not): the
    cell is measured, the reason recorded, and the shift judged on the processes."""
    monkeypatch.setenv("BENCHY_INJECT_FAULT", "pair-segfault:cnn_fp32")
    body = ('[matrix]\nruntimes = ["tflite"]\n[models.cnn.variants]\n'
            'fp32 = "@MODELS@/cnn_fp32.tflite"\n')  # fmt: skip
    suite = make_suite(body, name="s.toml", measure="[measure]\nrepetitions = 6\nmin_runs = 50\n")
    out = tmp_path / "ab"
    main(["ab", str(suite), str(suite), "--target", str(local_target), "--out", str(out)])
    new = pd.read_parquet(out / "candidate" / "cells.parquet").set_index("variant")
    assert new.loc["fp32", "status"] == "ok"
    assert new.loc["fp32", "paired_rounds"] == 0
    assert new.loc["fp32", "paired_error"] == "crashed: worker killed by signal SIGSEGV"
    assert pd.read_parquet(out / "base" / "cells.parquet")["paired_rounds"].isna().all()
    gate = Gate(metrics=("p50",))
    results = compare_runs(StoredRun.load(out / "base"), StoredRun.load(out / "candidate"), gate)
    assert all("one process" not in r.note for r in results.results)


def test_the_rows_keep_each_models_percentiles_per_round() -> None:
    own, theirs = list(range(1000, 2000)), list(range(500, 1300))
    result: CellResult = {"paired": {"samples_ns": own, "partner_ns": theirs}}
    got = paired_figures(result)
    assert got["paired_n"] == 800
    assert got["paired_p50"] == pytest.approx(np.quantile(own, 0.5) / 1e6)
    assert got["paired_base_p90"] == pytest.approx(np.quantile(theirs, 0.9) / 1e6)
    assert set(paired_figures({}).values()) == {None}
    rounds: list[CellResult] = [result, {"paired": {"error": "crashed: SIGSEGV"}}, result]
    assert paired_columns(rounds) == {"paired_rounds": 2, "paired_error": "crashed: SIGSEGV"}
    assert paired_columns([{}]) == {}  # not a candidate of `benchy ab`


def _ab(tmp_path: Path, process: list[float], pair: tuple[list[float], list[float]] | None,
        threads: int = 1, rounds_paired: int = 12, slower: float = 1.0,
        gate: dict[str, Any] | None = None) -> StoredRun:  # fmt: skip
    """Two runs of one `benchy ab` whose processes' medians are `process` (the candidate's
    × `slower`), and whose rounds timed in one process gave `pair` (base, new) in the first
    `rounds_paired`."""
    row = cell_row("fp32", threads=threads)
    job = {"id": "j1"}
    write_run(tmp_path / "base", {"fp32": (row, process)}, ab={**job, "side": "base"})
    figures = None
    if pair is not None:
        base, new = pair
        gap = [math.nan] * (len(process) - rounds_paired)
        figures = {"fp32": {"paired_n": [2000.0] * rounds_paired + gap}}
        for q in ("p50", "p90", "p99"):
            figures["fp32"][f"paired_base_{q}"] = base[:rounds_paired] + gap
            figures["fp32"][f"paired_{q}"] = new[:rounds_paired] + gap
    write_run(tmp_path / "new", {"fp32": (row, [v * slower for v in process])}, figures=figures,
              ab={**job, "side": "candidate"}, gate=gate or {})  # fmt: skip
    return StoredRun.load(tmp_path / "new")


def _p50(tmp_path: Path, new: StoredRun) -> Any:
    gate = Gate(metrics=("p50",))
    (r,) = [r for r in compare_runs(StoredRun.load(tmp_path / "base"), new, gate).results
            if r.metric == "p50"]  # fmt: skip
    return r


@pytest.mark.parametrize("threads", [1, 2])
def test_the_shift_is_judged_on_the_rounds_timed_in_one_process(
    tmp_path: Path, threads: int
) -> None:
    """The processes' medians are the same on both sides; the rounds timed in one process say
    +12% (±0.3%): that is what is judged, round by round, whatever the threads."""
    process = [5.0, 5.0, 6.0, 5.0, 7.5, 5.0, 5.0, 6.0, 5.0, 5.0, 7.5, 5.0]
    base = medians(5.0, 12, 0.006)
    new = [v * 1.12 for v in reversed(base)]
    r = _p50(tmp_path, _ab(tmp_path, process, (base, new), threads))
    assert r.verdict == "regressed", r.message()
    assert r.shift == pytest.approx(0.12, abs=0.005)
    assert "timed in turn in one process per round: 20% trimmed mean of 12 rounds'" in r.note
    # shown beside the shift: the medians of what was compared, not the processes' 5.0
    assert (r.base, r.new) == pytest.approx((np.median(base), np.median(new)))


def test_an_aa_timed_in_one_process_is_unchanged_where_processes_differ(tmp_path: Path) -> None:
    """The candidate's processes happened to land slower (+15%), its rounds timed in one
    process with the baseline's agree: unchanged."""
    base = medians(5.0, 12, 0.006)
    r = _p50(tmp_path, _ab(tmp_path, [5.0] * 12, (base, list(reversed(base))), slower=1.15))
    assert r.verdict == "unchanged", r.message()
    assert r.base == pytest.approx(r.new)


def test_too_few_rounds_timed_in_one_process_fall_back_to_the_processes(
    tmp_path: Path,
) -> None:
    """5 of 12 rounds timed in one process (say the pair crashed in the others): the processes'
    values are compared, as before there were pairs."""
    base = medians(5.0, 12, 0.006)
    new = [v * 1.12 for v in base]
    r = _p50(tmp_path, _ab(tmp_path, medians(5.0, 12), (base, new), rounds_paired=5))
    assert r.verdict == "unchanged", r.message()
    assert "one process" not in r.note


def test_benchy_ab_judges_p50_at_its_own_delta_unless_the_suite_sets_one(
    tmp_path: Path, make_suite: Any
) -> None:
    """δ p50 is 5% between runs and AB_P50_PCT (2%) in `benchy ab`, whose rounds are timed in
    one process; a suite's own `p50_pct` holds in both."""
    body = '[models.cnn]\n[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n'
    default = load_suite(make_suite(body)).gate
    assert (default.p50_pct, default.for_ab().p50_pct) == (5.0, AB_P50_PCT)
    own = load_suite(make_suite(body + "[gate]\np50_pct = 5\n", name="own.toml")).gate
    assert own.given == ("p50_pct",) and own.for_ab().p50_pct == 5.0
    assert Gate.from_payload(own.payload()) == own  # as run.json keeps it
    # `benchy compare` of a stored ab job judges as `benchy ab` did: +4.5% is past 2%, not 5%
    base = medians(5.0, 12, 0.006)
    new = [v * 1.045 for v in reversed(base)]
    run = _ab(tmp_path / "a", [5.0] * 12, (base, new))
    assert main(["compare", str(tmp_path / "a" / "base"), str(run.dir)]) == 1
    run = _ab(tmp_path / "b", [5.0] * 12, (base, new), gate=own.payload())
    assert main(["compare", str(tmp_path / "b" / "base"), str(run.dir)]) == 0  # unchanged
