"""benchy under hostile conditions, with real runs: run directories it must not write over,
signals, internal faults, a full disk, runs that measured nothing. Nothing destroyed, nothing
lost, no traceback."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.rows import RowBuilder
from benchy.runner import Runner

from .conftest import CNN_MODELS, ROOT

SUITE = '[matrix]\nruntimes = ["tflite"]\n' + CNN_MODELS
SLOW = "[measure]\nmin_runs = 5\nmin_seconds = 1.0\nmax_seconds = 1.0\n"


def benchy(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchy", *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_for_cells(out: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journal = out / "cells.jsonl"
        if journal.exists() and journal.read_text().count("\n") >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {n} cells in {out} within {timeout} s")


def wait_for_file(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path} within {timeout} s")
        time.sleep(0.05)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- run directories


def test_out_holding_a_run_is_refused_and_left_untouched(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, capsys
) -> None:
    suite, out = str(make_suite(SUITE)), tmp_path / "out"
    assert main(["run", suite, "--target", str(local_target), "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()
    assert main(["run", suite, "--target", str(local_target), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --out: {out} already holds a run")
    assert len(err.splitlines()) == 1
    assert snapshot(out) == before


def test_out_that_is_a_foreign_folder_is_refused(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "home"
    (out / "important").mkdir(parents=True)
    (out / "important" / "t.txt").write_text("mine")
    assert main(["run", str(make_suite(SUITE)), "--target", str(local_target),
                 "--out", str(out)]) == 2  # fmt: skip
    assert "is not empty (important) and holds no benchy run" in capsys.readouterr().err
    assert sorted(p.name for p in out.rglob("*")) == ["important", "t.txt"]


def test_two_runs_into_one_out_cannot_interleave(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path
) -> None:
    suite, out = str(make_suite(SUITE, measure=SLOW)), tmp_path / "out"
    first = benchy("run", suite, "--target", str(local_target), "--out", str(out))
    # Wait for the lock, not a finished cell: repetitions are interleaved, so the first cell
    # finishes ~1 s before the last, and under stress-ng the second run's start took longer.
    wait_for_file(out / "run.lock")
    second = subprocess.run(
        [sys.executable, "-m", "benchy", "run", suite, "--target", str(local_target),
         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode == 2
    assert "is being written by another benchy run" in second.stderr
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    cells = pd.read_parquet(out / "cells.parquet")
    samples = pd.read_parquet(out / "samples.parquet")
    ran = cells[cells.status == "ok"]
    assert len(ran) == 2 and int(ran.n_samples.sum()) == len(samples)
    assert not (out / "run.lock").exists()


def test_a_results_folder_that_is_a_file_is_refused_before_running(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["run", str(make_suite(SUITE)), "--target", str(local_target),
                 "--results", str(blocker / "x")])  # fmt: skip
    assert code == 2
    assert f"{blocker} is not a directory" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


@pytest.fixture
def small_tmpfs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 1 MiB file system (needs root to mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_once_a_cell_is_stored(mount: Path, out: Path, stop: threading.Event) -> None:
    """Fill the file system to the last byte as soon as the run has stored a measured cell:
    the disk runs out mid-run, after one cell and before the last, however fast the machine
    (how much a cell writes depends on how its latencies compress)."""
    journal = out / "cells.jsonl"
    while not stop.is_set():
        if journal.exists() and '"status": "ok"' in journal.read_text():
            with contextlib.suppress(OSError), (mount / "filler").open("wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
            return
        time.sleep(0.02)


def test_a_disk_that_fills_up_stops_the_run_cleanly_and_resume_completes_it(  # type: ignore[no-untyped-def]
    make_suite, local_target, small_tmpfs: Path, capsys
) -> None:
    suite = SUITE + '[matrix.tflite]\ndelegates = ["xnnpack", "none"]\n'
    measure = "[measure]\nmin_runs = 2000\nmin_seconds = 0.01\nmax_seconds = 0.5\n"
    suite_file, out = make_suite(suite, measure=measure), small_tmpfs / "run"
    stop = threading.Event()
    filler = threading.Thread(target=fill_once_a_cell_is_stored, args=(small_tmpfs, out, stop))
    filler.start()
    try:
        code = main(["run", str(suite_file), "--target", str(local_target), "--out", str(out)])
    finally:
        stop.set()
        filler.join()
    captured = capsys.readouterr()
    said = " ".join(captured.out.split())
    assert code == 3
    assert "stopped: cannot write" in said and "No space left on device" in said
    assert "Traceback" not in captured.err
    assert not list(out.rglob("*.tmp"))  # no half-written files left behind
    # The journal has every cell that was stored, each with its samples (merged, or still in
    # parts when even that could not be written).
    journal = [json.loads(line) for line in (out / "cells.jsonl").read_text().splitlines()]
    ran = [row for row in journal if row["status"] == "ok"]
    assert len(ran) >= 1
    merged = out / "samples.parquet"
    parts = sorted((out / "samples.parts").glob("*.parquet"))[: len(journal)]
    samples = pd.read_parquet(merged) if merged.exists() else pd.concat(map(pd.read_parquet, parts))
    assert sum(row["n_samples"] for row in ran) == len(samples)
    # Space freed, --resume completes the run: every cell once, the ones stored kept as they were.
    (small_tmpfs / "filler").unlink()
    assert main(["run", str(suite_file), "--target", str(local_target), "--resume", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    done = cells[cells.status == "ok"]
    assert len(done) == len(done.drop_duplicates(["variant", "delegate", "threads"])) == 4
    kept = done.set_index(["variant", "delegate"]).loc[[(r["variant"], r["delegate"]) for r in ran]]
    assert list(kept.latency_p50_ms) == [row["latency_p50_ms"] for row in ran]
    assert int(done.n_samples.sum()) == len(pd.read_parquet(out / "samples.parquet"))


# ---------------------------------------------------------------- signals


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "out"
    proc = benchy("run", str(make_suite(SUITE, measure=SLOW)), "--target", str(local_target),
                  "--out", str(out))  # fmt: skip
    wait_for_cells(out, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert b"Traceback" not in err
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    cells = pd.read_parquet(out / "cells.parquet")
    samples = pd.read_parquet(out / "samples.parquet")
    ran = cells[cells.status == "ok"]
    assert len(ran) >= 1 and int(ran.n_samples.sum()) == len(samples)
    assert not (out / "samples.parts").exists()


# ---------------------------------------------------------------- internal faults


def test_a_fault_assembling_one_cell_costs_that_cell_only(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real = RowBuilder._quality

    def broken(self: RowBuilder, cell, outputs):  # type: ignore[no-untyped-def]
        if cell.variant == "full_int8":
            raise FloatingPointError("a bug in scoring")
        return real(self, cell, outputs)

    monkeypatch.setattr(RowBuilder, "_quality", broken)
    out = tmp_path / "out"
    assert main(["run", str(make_suite(SUITE)), "--target", str(local_target),
                 "--out", str(out)]) == 3  # fmt: skip
    cells = pd.read_parquet(out / "cells.parquet").set_index("variant")
    assert set(cells.loc[["full_int8"], "status"]) == {"error"}
    assert set(cells.loc[["full_int8"], "error"]) == {
        "results could not be assembled: FloatingPointError: a bug in scoring"
    }
    assert set(cells.loc[["fp32"], "status"]) == {"ok"}
    assert "Traceback" not in capsys.readouterr().err


def test_a_fault_in_a_target_thread_is_recorded_for_its_cells(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def broken(self: Runner, target, jobs):  # type: ignore[no-untyped-def]
        raise KeyError("target")

    monkeypatch.setattr(Runner, "_rounds", broken)
    out = tmp_path / "out"
    assert main(["run", str(make_suite(SUITE)), "--target", str(local_target),
                 "--out", str(out)]) == 3  # fmt: skip
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["exit_code"] == 3
    cells = pd.read_parquet(out / "cells.parquet")
    applicable = cells[cells.status != "n/a"]
    assert set(applicable.status) == {"error"}
    assert set(applicable.error) == {"internal error on this target: KeyError: 'target'"}


# ---------------------------------------------------------------- gates that must not pass


def test_a_target_that_measured_nothing_fails_the_run(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, caplog
) -> None:
    """A suite whose only runtime cannot take its models: nothing measured is not a pass."""
    body = '[matrix]\nruntimes = ["onnxruntime"]\n'
    body += '[models.m.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n'
    out = tmp_path / "out"
    assert main(["run", str(make_suite(body)), "--target", str(local_target),
                 "--out", str(out)]) == 3  # fmt: skip
    manifest = json.loads((out / "run.json").read_text())
    why = manifest["idle_targets"]["local"]
    assert why == "no cell was measured (1 cells: onnxruntime does not run .tflite files)"
    assert why in caplog.text
