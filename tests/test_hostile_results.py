"""Stored results as hostile input: a corpus of broken run directories, each refused by
`compare`, `history` and `--baseline` with one line (exit 2) before anything is measured; which
baseline `latest` takes; a baseline that did not finish."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from benchy.cli import main
from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.results.find import newest_run
from benchy.results.read import StoredRun

from .fakeruns import cell_row, medians, write_run


def good_run(folder: Path, **manifest: object) -> Path:
    cells = {v: (cell_row(v), medians(1.0)) for v in ("fp32", "int8")}
    return write_run(folder, cells, **manifest)


def rewrite_json(value: object) -> Callable[[Path], None]:
    return lambda run: (run / "run.json").write_text(json.dumps(value))


def patch_json(**fields: object) -> Callable[[Path], None]:
    def patch(run: Path) -> None:
        manifest = json.loads((run / "run.json").read_text())
        manifest.update(fields)
        (run / "run.json").write_text(json.dumps(manifest))

    return patch


def corrupt(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).write_bytes(b"PAR1 this is not parquet")


def drop_columns(name: str, *columns: str) -> Callable[[Path], None]:
    def drop(run: Path) -> None:
        frame = pd.read_parquet(run / name)
        frame.drop(columns=list(columns)).to_parquet(run / name)

    return drop


# (case, how the run is broken, what the one-line refusal says)
CORPUS: list[tuple[str, Callable[[Path], None], str]] = [
    ("run.json null", rewrite_json(None), "not a benchy run.json: it holds NoneType"),
    ("run.json a list", rewrite_json([1, 2]), "not a benchy run.json: it holds list"),
    ("run.json not JSON", lambda r: (r / "run.json").write_text("{oops"), "unreadable"),
    ("no run.json", lambda r: (r / "run.json").unlink(), "not a benchy run (no run.json)"),
    ("status a number", patch_json(status=3), '"status" is int, expected str'),
    ("targets a list", patch_json(targets=["local"]), '"targets" is list, expected dict'),
    ("schema version a string", patch_json(schema_version="1"), "\"schema_version\" is str"),
    ("schema from the future", patch_json(schema_version=99), "newer than this benchy reads"),
    ("still running", patch_json(status="running"), "the run did not finish"),
    ("cells not parquet", corrupt("cells.parquet"), "cells.parquet: unreadable"),
    ("cells without identity", drop_columns("cells.parquet", "variant", "threads"),
     "cells.parquet lacks variant, threads"),
    ("samples not parquet", corrupt("samples.parquet"), "samples.parquet: unreadable"),
    ("samples without latencies", drop_columns("samples.parquet", "latency_ns"),
     "samples.parquet lacks latency_ns"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "breaks", "says"), CORPUS, ids=[c[0] for c in CORPUS])
def test_compare_refuses_a_broken_run_in_one_line(  # type: ignore[no-untyped-def]
    tmp_path: Path, capsys, case: str, breaks: Callable[[Path], None], says: str
) -> None:
    base, new = good_run(tmp_path / "base"), good_run(tmp_path / "new")
    breaks(base)
    assert main(["compare", str(base), str(new)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(("case", "breaks", "says"), CORPUS[:3] + CORPUS[9:11],
                         ids=[c[0] for c in CORPUS[:3] + CORPUS[9:11]])  # fmt: skip
def test_history_lists_a_broken_run_and_goes_on(  # type: ignore[no-untyped-def]
    tmp_path: Path, capsys, case: str, breaks: Callable[[Path], None], says: str
) -> None:
    runs = tmp_path / "results" / "fake"
    good_run(runs / "20261101T000000Z-aaaaaa")
    breaks(good_run(runs / "20261102T000000Z-bbbbbb"))
    suite = tmp_path / "fake.toml"
    suite.write_text('[models.cnn.variants]\nfp32 = "m.tflite"\n')
    (tmp_path / "m.tflite").write_bytes(b"x")
    assert main(["history", str(suite), "--results", str(tmp_path / "results")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "20261101T000000Z-aaaaaa" in out and "not read" in out


def test_a_broken_baseline_is_refused_before_anything_is_measured(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path, capsys
) -> None:
    base = good_run(tmp_path / "base")
    corrupt("samples.parquet")(base)
    results = tmp_path / "results"
    code = main(["run", str(make_suite('[models.m.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"')),
                 "--target", str(local_target), "--baseline", str(base),
                 "--results", str(results)])  # fmt: skip
    assert code == 2
    assert "samples.parquet: unreadable" in capsys.readouterr().err
    assert not results.exists()  # nothing was measured, nothing written


def test_latest_prefers_a_baseline_with_the_same_settings(  # type: ignore[no-untyped-def]
    tmp_path: Path, caplog
) -> None:
    runs = tmp_path / "fake"
    full = {"repetitions": 12, "min_runs": 50}
    quick = {"repetitions": 5, "min_runs": 20}
    good_run(runs / "20261101T000000Z-aaaaaa", measure=full, quick=False)
    good_run(runs / "20261102T000000Z-bbbbbb", measure=quick, quick=True)  # newest
    caplog.set_level(logging.INFO)
    found = newest_run(tmp_path, "fake", ["local"], settings=full, quick=False)
    assert found == runs / "20261101T000000Z-aaaaaa"
    assert "with the same measurement settings" in caplog.text
    caplog.clear()
    # Repetitions are how many values, not how one is measured: a baseline of 24 still matches.
    more = {"repetitions": 24, "min_runs": 50}
    found = newest_run(tmp_path, "fake", ["local"], settings=more, quick=False)
    assert found == runs / "20261101T000000Z-aaaaaa"
    caplog.clear()
    other = {"repetitions": 30, "min_runs": 60}
    found = newest_run(tmp_path, "fake", ["local"], settings=other, quick=False)
    assert found == runs / "20261102T000000Z-bbbbbb"  # none alike: the newest, and why
    assert "no run with the same settings exists (this one differs in --quick, min_runs)" in (
        caplog.text
    )


def test_an_interrupted_baseline_is_named_and_only_its_cells_judged(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", {"fp32": (cell_row("fp32"), medians(1.0))})
    patch_json(status="interrupted")(base)
    new = good_run(tmp_path / "new")
    c = compare_runs(StoredRun.load(base, full=True), StoredRun.load(new, full=True), Gate())
    status = [d for d in c.differences if d.kind == "status"]
    assert [d.text() for d in status] == [
        "run status: interrupted (only its cells are judged) → finished"
    ]
    verdicts = {(r.cell.variant, r.metric): r.verdict for r in c.results}
    assert verdicts[("fp32", "p50")] == "unchanged"
    assert verdicts[("int8", "cell")] == "new"
