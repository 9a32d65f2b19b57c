"""The terminal as a reader sees it: the result table at 80 and 160 columns rendered to text,
each figure whole and with its own unit; progress that counts repetitions; MCU rows; notes."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.matrix import Cell
from benchy.report.comparison import print_comparison
from benchy.report.terminal import LiveProgress, print_report
from benchy.results.read import StoredRun
from benchy.results.store import cells_frame
from benchy.runtimes import Delegate

from .fakeruns import cell_row, medians, write_run

ROWS = [
    cell_row("fp32", latency_p50_ms=0.00574, latency_p90_ms=0.0061, latency_p99_ms=0.009,
             model_size_kb=16.3, model_memory_mb=5.9, accuracy_drop=0.0, agreement=100.0),
    cell_row("lstm_fp32", latency_p50_ms=0.0889, latency_p90_ms=0.0901, latency_p99_ms=1.07,
             model_size_kb=37.4, model_memory_mb=1.1, accuracy_drop=0.0, agreement=97.5),
    cell_row("big", latency_p50_ms=1234.5, latency_p90_ms=1300.0, latency_p99_ms=1400.0,
             model_size_kb=2048.0, model_memory_mb=80.2, accuracy_drop=-2.5, agreement=91.25),
    {**cell_row("full_int8", runtime="tflm", delegate="firmware", delegate_applied="firmware",
                latency_p50_ms=0.3,
                latency_p90_ms=0.31, latency_p99_ms=0.33, emulated=True, tflm_arena_kb=6.0625,
                flash_bytes=9012, model_size_kb=8.8), "peak_rss_mb": None,
     "model_memory_mb": None},
    cell_row("onnx", status="n/a", runtime="tflite", error="tflite does not run .onnx files"),
]  # fmt: skip


def render(width: int, show_na: bool = False) -> str:
    console = Console(file=StringIO(), width=width, color_system=None)
    print_report(console, cells_frame(ROWS), "suite — run", "latency_p50_ms", show_na)
    assert isinstance(console.file, StringIO)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [80, 160])
def test_every_figure_is_whole_and_has_its_own_unit(width: int) -> None:
    text = render(width)
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines())
    # One p99 over a second does not turn the others into milliseconds.
    assert "5.74 µs" in text and "1.23 s" in text and "88.9 µs" in text
    assert "0.00574" not in text


def test_a_narrow_terminal_leaves_columns_out_whole_and_says_which() -> None:
    narrow, wide = render(80), render(160)
    assert "left out at 80 columns:" in narrow and "left out" not in wide
    left_out = re.search(r"left out at 80 columns: ([^(]+) \(see", " ".join(narrow.split()))
    assert left_out is not None
    for head in left_out.group(1).split(", "):
        assert head.strip() in wide  # shown when there is room
    for kept in ("model", "variant", "p90", "verdict"):
        assert kept in narrow.splitlines()[2]  # the header line


def test_mcu_rows_show_arena_and_flash_and_say_emulated() -> None:
    text = render(160)
    row = next(line for line in text.splitlines() if "full_int8" in line)
    assert "6.06 KB arena" in row and "8.80 KB flash" in row
    assert "cnn†" in row
    assert "† emulated device" in text


def test_not_applicable_pairs_are_one_line_with_a_count() -> None:
    text = render(160)
    assert "1 pairs not applicable (1: the runtime does not take the file); --show-na" in text
    assert "cnn/onnx on tflite" not in text
    assert "cnn/onnx on tflite" in render(160, show_na=True)


def cell(name: str) -> Cell:
    return Cell("t", "m", name, "tflite", Delegate("xnnpack", {}), 1, Path("m.tflite"))


def cell_na(name: str) -> Cell:
    return Cell("t", "m", name, "onnxruntime", Delegate("-", {}), 0, Path("m.tflite"), "n/a")


def test_progress_counts_repetitions_not_finished_cells() -> None:
    console = Console(file=StringIO(), width=120)
    cells = [cell("a"), cell("b"), cell_na("c")]
    progress = LiveProgress(console, cells, repetitions=4)
    (task,) = progress.progress.tasks
    assert task.total == 4 + 4 + 1
    for c in cells[:2]:  # round 1 of every cell: the bar moves before any cell is finished
        progress.cell_started(c)
        progress.repetition_finished(c)
    assert task.completed == 2
    progress.cell_finished(cells[2], {"verdict": "n/a", "error": None, "failed_budgets": ""})
    assert task.completed == 3
    progress.cell_finished(cells[1], {"verdict": "error", "error": "crashed", "failed_budgets": ""})
    assert task.completed == 6  # a cell that failed counts the repetitions it will not run
    for _ in range(3):
        progress.repetition_finished(cells[0])
    progress.cell_finished(cells[0], {"verdict": "pass", "error": None, "failed_budgets": ""})
    assert task.completed == task.total


def test_progress_grows_with_adaptive_repetitions() -> None:
    console = Console(file=StringIO(), width=120)
    cells = [cell("a"), cell("b")]
    progress = LiveProgress(console, cells, repetitions=2)
    (task,) = progress.progress.tasks
    for _ in range(5):  # cell a: 2 planned, 3 more for a close call
        progress.repetition_finished(cells[0])
    progress.cell_finished(cells[0], {"verdict": "pass", "error": None, "failed_budgets": ""})
    assert (task.completed, task.total) == (5, 7)
    for _ in range(2):
        progress.repetition_finished(cells[1])
    progress.cell_finished(cells[1], {"verdict": "pass", "error": None, "failed_budgets": ""})
    assert task.completed == task.total == 7


def printed_comparison(tmp_path: Path) -> str:
    """The terminal's comparison at 80 columns of a run 30% slower than its baseline."""
    base = write_run(tmp_path / "b", {"fp32": (cell_row("fp32"), medians(1.0))})
    new = write_run(tmp_path / "n", {"fp32": (cell_row("fp32"), medians(1.3))})
    comparison = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    console = Console(file=StringIO(), width=80, color_system=None)
    print_comparison(console, comparison)
    assert isinstance(console.file, StringIO)
    return console.file.getvalue()


def test_compare_says_what_base_new_and_shift_are(tmp_path: Path) -> None:
    text = " ".join(printed_comparison(tmp_path).split())
    assert "regressed" in text
    assert "each cell's figure over all its samples pooled" in text
    assert "per-repetition values" in text


def test_compare_keeps_the_verdict_readable_at_80_columns(tmp_path: Path) -> None:
    lines = printed_comparison(tmp_path).splitlines()
    table = [line for line in lines if line.startswith(" ")]  # the table's lines
    assert any(re.search(r"\bregressed\b", line) for line in table if "p50" in line)
    assert "…" not in "".join(lines) and all(len(line) <= 80 for line in table)


def test_whole_frame_reads_back(tmp_path: Path) -> None:
    frame = cells_frame(ROWS)
    frame.to_parquet(tmp_path / "c.parquet")
    assert len(pd.read_parquet(tmp_path / "c.parquet")) == len(ROWS)
