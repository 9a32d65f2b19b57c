"""Rich terminal output: live progress while cells run, the table and the best variant after."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from benchy.matrix import Cell
from benchy.report.select import best_per_target

STYLE = {"pass": "green", "fail": "red", "error": "bold red", "n/a": "dim", "unavailable": "yellow"}


class LiveProgress:
    """Progress bar over the matrix: cells done/total, current cell, ETA."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[cell]}"),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("cells", total=total, cell="")

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def cell_started(self, cell: Cell) -> None:
        self.progress.update(self.task, cell=cell.title())

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        self.progress.advance(self.task)
        if row["verdict"] in ("error", "fail"):
            why = row["error"] or row["failed_budgets"]
            self.progress.console.print(f"[{STYLE[row['verdict']]}]{row['verdict']}[/] {cell.title()}: {why}")


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def records(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as None (pandas gives NaN or <NA>)."""
    return [{k: (None if _missing(v) else v) for k, v in r.items()} for r in cells.to_dict("records")]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cells_table(cells: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for name, justify in [
        ("target", "left"), ("model", "left"), ("variant", "left"), ("runtime", "left"),
        ("delegate\n(applied)", "left"), ("thr", "right"), ("p50\nms", "right"),
        ("p90\nms", "right"), ("p99\nms", "right"), ("±CI p50\nms", "right"), ("n", "right"),
        ("peak RSS\nMB", "right"), ("model mem\nMB", "right"), ("size\nKB", "right"),
        ("metric", "right"), ("drop\npts", "right"), ("agree\n%", "right"), ("verdict", "left"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in records(cells):
        verdict = r["verdict"]
        applied = r.get("delegate_applied")
        delegate = r["delegate"] if not isinstance(applied, str) else f"{r['delegate']}\n({applied.split(' (')[0]})"
        ci = None
        if r["status"] == "ok":
            ci = (r["latency_ci_high_ms"] - r["latency_ci_low_ms"]) / 2
        metric = "–" if r.get("metric") is None or r.get("metric_value") is None else f"{r['metric']} {r['metric_value']:.1f}"
        note = r["failed_budgets"] or r["error"] or ""
        table.add_row(
            r["target"], r["model"], r["variant"], r["runtime"], delegate,
            "–" if r["status"] == "n/a" else str(r["threads"]),
            _num(r.get("latency_p50_ms")), _num(r.get("latency_p90_ms")), _num(r.get("latency_p99_ms")),
            _num(ci), _num(r.get("n_samples"), "{:.0f}"), _num(r.get("peak_rss_mb"), "{:.1f}"),
            _num(r.get("model_memory_mb"), "{:.1f}"), _num(r.get("model_size_kb"), "{:.1f}"),
            metric, _num(r.get("accuracy_drop"), "{:+.1f}"), _num(r.get("agreement"), "{:.1f}"),
            f"[{STYLE.get(verdict, '')}]{verdict}[/]" + (f"\n[dim]{note[:60]}[/]" if note else ""),
        )
    return table


def best_lines(cells: pd.DataFrame, rank_by: str) -> list[str]:
    lines = []
    for best in best_per_target(cells, rank_by):
        if best.row is None:
            lines.append(f"[bold]{best.target}[/]: [red]no variant meets all budgets[/]")
            continue
        r = best.row
        margin = ""
        if isinstance(r["tightest_budget"], str) and not _missing(r["headroom_pct"]):
            margin = f"; tightest budget {r['tightest_budget']} with {r['headroom_pct']:.0f}% headroom"
        lines.append(
            f"[bold]{best.target}[/]: best meeting all budgets = [green]{r['model']} · {r['variant']}[/]"
            f" on {r['runtime']}/{r['delegate']} × {r['threads']} thread(s): "
            f"{rank_by} {r[rank_by]:.3f}{margin} ({best.candidates} passing)"
        )
    return lines


def print_report(console: Console, cells: pd.DataFrame, title: str, rank_by: str) -> None:
    console.print(cells_table(cells, title))
    for line in best_lines(cells, rank_by):
        console.print(line)
