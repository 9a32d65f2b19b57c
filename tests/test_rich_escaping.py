"""Names are shown as written, never read as rich markup (issue 9): `cnn[v2]` once showed as
`cnn`, `c[/]nn` crashed the live display, and `benchy history` crashed on an interrupted run.

A real run (model `c[/]nn`, target `lo[/]cal`), then every view of it: the table, notes and
best lines, the dry-run matrix, the live progress, history with an interrupted run stored,
compare, targets list and check."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

from benchy import exitcodes
from benchy.cli import main
from benchy.config import load_suite, load_target
from benchy.pipeline import matrix
from benchy.report.terminal import LiveProgress
from benchy.results.store import RunStore

from .conftest import MODELS

SUITE = f"""
[suite]
name = "names"
[matrix]
runtimes = ["tflite"]
[models."c[/]nn".variants]
"fp32[q]" = "{MODELS / "cnn_fp32.tflite"}"
[models."cnn[v2]".variants]
"[bold]int8" = "{MODELS / "cnn_full_int8.tflite"}"
[models."cnn[v2]".budgets]
latency_p50_ms = 1e-9
"""
TARGET = 'kind = "local"\nname = "lo[/]cal"\ndescription = "[red]not red[/] ok"\n'
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def files(tmp_path: Path, make_suite: Any) -> tuple[Path, Path]:
    suite = make_suite(SUITE)
    (tmp_path / "targets").mkdir()
    target = tmp_path / "targets" / "weird.toml"
    target.write_text(TARGET)
    return suite, target


def _out(capsys: pytest.CaptureFixture[str]) -> str:
    return ANSI.sub("", capsys.readouterr().out)


def test_every_view_shows_names_literally(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite, target = files
    results = tmp_path / "results"
    argv = ["run", str(suite), "--target", str(target), "--results", str(results)]

    assert main([*argv, "--dry-run"]) == 0
    out = _out(capsys)
    assert "lo[/]cal" in out and "c[/]nn" in out and "cnn[v2]" in out and "[bold]int8" in out

    assert main(argv) == 1  # cnn[v2] misses its budget
    out = _out(capsys)
    rows = {ln.split()[0]: ln.split()[1:3] for ln in out.splitlines() if ln.startswith(" c")}
    assert rows["c[/]nn"] == ["fp32[q]", "tflite/xnnpack"]
    assert rows["cnn[v2]"] == ["[bold]int8", "tflite/xnnpack"]
    assert "fail lo[/]cal/cnn[v2]/[bold]int8 tflite/xnnpack ×1: latency_p50_ms" in out
    assert "lo[/]cal: best of 1 passing = c[/]nn fp32[q] on tflite/xnnpack ×1" in out
    run_dir = next((results / "names").iterdir())

    # An interrupted run, stored as `benchy run` stores one on Ctrl-C (one cell finished).
    row0 = pd.read_parquet(run_dir / "cells.parquet").iloc[0].to_dict()
    cut = RunStore(results / "names" / "29991231T000000Z-cut[red]", {"suite": "names"})
    cut.add(row0)
    cut.finish(status="interrupted", exit_code=exitcodes.INTERRUPTED)
    empty = RunStore(results / "names" / "29991231T000001Z-none", {"suite": "names"})
    empty.finish(status="interrupted", exit_code=exitcodes.INTERRUPTED)
    assert main(["history", str(suite), "--results", str(results)]) == 0
    out = _out(capsys)
    assert "29991231T000000Z-cut[red]" in out and out.count("interrupted (130)") == 2
    assert "0/0" in out
    assert "c[/]nn/fp32[q] tflite/xnnpack ×1" in out

    # (one repetition per cell cannot decide a shift: inconclusive, exit 4)
    assert main(["compare", str(run_dir), str(run_dir), "--all"]) == exitcodes.INCONCLUSIVE
    out = _out(capsys)
    assert "c[/]nn" in out and "cnn[v2]" in out and "[bold]int8" in out and "fp32[q]" in out

    assert main(["targets", "list", "--dir", str(target.parent)]) == 0
    out = _out(capsys)
    assert "lo[/]cal" in out and "[red]not red[/] ok" in out
    assert main(["targets", "check", str(target)]) == 0
    assert "lo[/]cal (local)" in _out(capsys)


def test_live_progress_shows_names_literally(files: tuple[Path, Path]) -> None:
    suite_file, target_file = files
    suite = load_suite(suite_file)
    cells = [c for c in matrix(suite, [load_target(str(target_file))]) if c.applicable]
    console = Console(file=StringIO(), force_terminal=True, width=200)
    with LiveProgress(console, cells) as progress:
        for cell in cells:
            progress.cell_started(cell)
            progress.progress.refresh()
            row = {"verdict": "error", "error": "worker said [/] and [red]", "failed_budgets": ""}
            progress.cell_finished(cell, row)
    assert isinstance(console.file, StringIO)
    out = ANSI.sub("", console.file.getvalue())
    assert "error lo[/]cal/c[/]nn/fp32[q] tflite/xnnpack ×1: worker said [/] and [red]" in out
    assert "c[/]nn/fp32[q] tflite/xnnpack ×1" in out  # the cell being measured
    assert "lo[/]cal" in out
