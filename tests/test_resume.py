"""`benchy run SUITE --resume RUN_DIR`: a real run interrupted (SIGINT, SIGKILL) and completed,
keeping every cell and repetition already measured; refused when anything that measured it
changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main

from .conftest import CNN_MODELS, ROOT

SUITE = '[matrix]\nruntimes = ["tflite"]\n[matrix.tflite]\ndelegates = ["xnnpack", "none"]\n'
SUITE += CNN_MODELS
MEASURE = "[measure]\nmin_runs = 5\nmin_seconds = 0.5\nmax_seconds = 0.5\nrepetitions = 3\n"


def interrupted_run(suite: Path, target: Path, out: Path, sig: signal.Signals, *extra: str) -> None:
    """Start a real run and stop it once some cells are done and others are under way."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchy", "run", str(suite), "--target", str(target),
         "--out", str(out), *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    # Repetitions are interleaved: round 2 starts after round 1 of every cell; stop in round 3.
    while time.monotonic() < deadline:
        journal = out / "cells.jsonl"
        if journal.exists() and '"status": "ok"' in journal.read_text():
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("no cell finished")
    os.kill(proc.pid, sig)
    proc.communicate(timeout=60)


def test_a_run_interrupted_by_ctrl_c_is_completed_keeping_what_it_had(  # type: ignore[no-untyped-def]
    make_suite, local_target: Path, tmp_path: Path
) -> None:
    suite, out = make_suite(SUITE, measure=MEASURE), tmp_path / "out"
    # Started with --repetitions 4 (the suite says 3): resumed without it, it keeps 4.
    interrupted_run(suite, local_target, out, signal.SIGINT, "--repetitions", "4")
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    before = pd.read_parquet(out / "cells.parquet")
    finished = before[before.status == "ok"]
    partial = sorted((out / "partial").glob("*.npz"))
    assert len(finished) >= 1
    assert [p for p in partial if p.name != "references.npz"], "no cell was under way"
    earlier = {}
    for path in partial:
        if path.name == "references.npz":
            continue
        with np.load(path) as data:
            key = json.loads(str(data["key"]))
            earlier[key["variant"], key["delegate"]] = np.asarray(data["samples"])

    assert main(["run", str(suite), "--target", str(local_target), "--resume", str(out)]) == 0

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["resumed"]) == 1
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status == "ok"]
    assert len(ran) == 4 and (ran.repetitions == 4).all()
    samples = pd.read_parquet(out / "samples.parquet")
    assert int(ran.n_samples.sum()) == len(samples)
    # Cells finished before the interrupt are the same rows, figures untouched.
    kept = ran.set_index(["variant", "delegate"]).loc[
        [(r.variant, r.delegate) for r in finished.itertuples()]
    ]
    assert list(kept.latency_p50_ms) == list(finished.latency_p50_ms)
    # Repetitions measured before the interrupt are the first ones of their cell.
    for (variant, delegate), old in earlier.items():
        mine = samples[(samples.variant == variant) & (samples.delegate == delegate)]
        assert np.array_equal(mine.latency_ns.to_numpy()[: len(old)], old)
    assert not (out / "partial").exists() and not (out / "run.lock").exists()


def test_a_run_killed_hard_keeps_its_finished_cells(  # type: ignore[no-untyped-def]
    make_suite, local_target: Path, tmp_path: Path
) -> None:
    suite, out = make_suite(SUITE, measure=MEASURE), tmp_path / "out"
    interrupted_run(suite, local_target, out, signal.SIGKILL)
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    journal = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    done = {(r["variant"], r["delegate"]) for r in journal if r["status"] == "ok"}
    assert main(["run", str(suite), "--target", str(local_target), "--resume", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells[cells.status == "ok"]) == 4
    assert len(cells) == len(cells.drop_duplicates(["variant", "runtime", "delegate"]))
    assert done  # the cells finished before the kill are among them, measured once
    samples = pd.read_parquet(out / "samples.parquet")
    assert int(cells[cells.status == "ok"].n_samples.sum()) == len(samples)


def test_resume_refuses_what_would_mix_two_runs(  # type: ignore[no-untyped-def]
    make_suite, local_target: Path, tmp_path: Path, capsys
) -> None:
    suite, out = make_suite(SUITE, measure=MEASURE), tmp_path / "out"
    finished = tmp_path / "done"
    assert main(["run", str(suite), "--target", str(local_target), "--out", str(finished)]) == 0
    capsys.readouterr()
    assert main(["run", str(suite), "--target", str(local_target), "--resume", str(finished)]) == 2
    assert "the run is finished, not interrupted" in capsys.readouterr().err

    interrupted_run(suite, local_target, out, signal.SIGINT)
    changed = make_suite(SUITE + "\n[budgets]\nlatency_p90_ms = 5\n", name="changed.toml",
                         measure=MEASURE)  # fmt: skip
    assert main(["run", str(changed), "--target", str(local_target), "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "suite_sha256 changed since the run started" in err
    assert main(["run", str(suite), "--target", str(local_target), "--resume", str(out),
                 "--quick"]) == 2  # fmt: skip
    assert "was measured without --quick" in capsys.readouterr().err
    assert main(["run", str(suite), "--target", str(local_target), "--resume", str(out),
                 "--repetitions", "5"]) == 2  # fmt: skip
    assert "measure changed since the run started" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"  # untouched


@pytest.mark.parametrize("flag", ["--out"])
def test_resume_keeps_the_run_in_its_own_folder(  # type: ignore[no-untyped-def]
    make_suite, local_target: Path, tmp_path: Path, capsys, flag: str
) -> None:
    suite = make_suite(SUITE, measure=MEASURE)
    code = main(["run", str(suite), "--target", str(local_target), "--resume",
                 str(tmp_path), flag, str(tmp_path / "elsewhere")])  # fmt: skip
    assert code == 2
    assert "--resume completes the run in its own folder: drop --out" in capsys.readouterr().err


KILLED_BETWEEN_WRITES = """
import os, signal, sys
import pandas as pd
from benchy.results.store import RunStore

store = RunStore(__import__("pathlib").Path(sys.argv[1]), {})
row = {"target": "t", "model": "m", "variant": "a", "runtime": "tflite", "delegate": "none",
       "threads": 1, "status": "ok"}
samples = pd.DataFrame({"repetition": [0, 0], "index": [0, 1], "latency_ns": [10, 11],
                        "latency_ms": [1e-5, 1.1e-5]})
store.add(row, {"samples": samples})
# What a kill between a cell's two writes leaves: its samples part, not its row.
store._write_part("samples", 2, {**row, "variant": "b"}, samples)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_between_a_cells_samples_and_its_row_loses_nothing_and_mixes_nothing(
    tmp_path: Path,
) -> None:
    from benchy.results.store import RunStore

    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_WRITES, str(run)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    assert len(list((run / "samples.parts").glob("*.parquet"))) == 2
    store = RunStore.reopen(run)
    assert [r["variant"] for r in store.rows] == ["a"]
    assert len(list((run / "samples.parts").glob("*.parquet"))) == 1  # b's orphan removed
    store.finish(status="finished")
    samples = pd.read_parquet(run / "samples.parquet")
    assert list(samples.variant.astype(str)) == ["a", "a"]


KILLED_MID_LINE = KILLED_BETWEEN_WRITES.replace(
    'store._write_part("samples", 2, {**row, "variant": "b"}, samples)',
    """store._write_part("samples", 2, {**row, "variant": "b"}, samples)
with (store.dir / "cells.jsonl").open("a") as fh:  # b's line, cut short by the kill
    fh.write('{"target": "t", "model": "m", "vari')""",
)


def test_a_kill_mid_journal_line_keeps_the_whole_rows_only(tmp_path: Path) -> None:
    from benchy.results.store import RunStore

    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_LINE, str(run)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL
    (run / "cells.parquet").unlink(missing_ok=True)  # the journal alone must do
    store = RunStore.reopen(run)
    assert [(r["variant"], r["threads"], r["status"]) for r in store.rows] == [("a", 1, "ok")]
    assert (run / "cells.jsonl").read_text().count("\n") == 1  # the torn line is gone
    assert len(list((run / "samples.parts").glob("*.parquet"))) == 1
    store.add({**store.rows[0], "variant": "b"})  # appends after a whole line
    store.finish(status="finished")
    assert list(pd.read_parquet(run / "cells.parquet").variant) == ["a", "b"]


def test_a_journal_damaged_before_its_last_line_is_refused(tmp_path: Path) -> None:
    from benchy.errors import UsageError
    from benchy.results.store import journal_rows

    (tmp_path / "cells.jsonl").write_text('{"variant": "a"}\nnot json\n{"variant": "b"}\n')
    with pytest.raises(UsageError, match=r"cells.jsonl: line 2 is not a cell benchy wrote"):
        journal_rows(tmp_path)
