"""Rich terminal output: live progress while cells run, the table and the best variant after."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from benchy.matrix import Cell
from benchy.report.figures import latency_text
from benchy.report.markup import plain, styled
from benchy.report.select import best_per_target
from benchy.report.table import STYLE, cells_table
from benchy.results.read import records
from benchy.results.schema import CellKey

_FILE_MISMATCH = re.compile(r" does not run \.\w+ files$")


class LiveProgress:
    """Progress bars over the matrix: one per target (targets run at the same time), counting
    repetitions — the unit of work — so the ETA moves from the first round on; the cell being
    measured beside it."""

    def __init__(
        self,
        console: Console,
        cells: list[Cell],
        repetitions: int = 1,
        done: dict[CellKey, int] | None = None,
    ) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[cell]}", markup=False),
            console=console,
            transient=True,
        )
        self.repetitions = repetitions
        self.counted: dict[tuple[int, CellKey], int] = {}
        done = done or {}
        self.tasks: dict[str, TaskID] = {}
        self.totals: dict[str, int] = {}
        for target in dict.fromkeys(c.target for c in cells):
            mine = [c for c in cells if c.target == target]
            total = self.totals[target] = sum(self._work(c) for c in mine)
            already = sum(done.get(c.key, 0) for c in mine if c.applicable)
            self.tasks[target] = self.progress.add_task(
                plain(target), total=total, completed=already, cell=""
            )
        for c in cells:
            if c.applicable and done.get(c.key):
                self.counted[(id(c), c.key)] = done[c.key]

    def _work(self, cell: Cell) -> int:
        return self.repetitions if cell.applicable else 1

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def cell_started(self, cell: Cell) -> None:
        title = cell.key.title(target=False)
        self.progress.update(self.tasks[cell.target], cell=title)

    def repetition_finished(self, cell: Cell) -> None:
        if self.counted.get((id(cell), cell.key), 0) >= self._work(cell):
            # An adaptive gate measures close calls further: the bar's total grows with them.
            self.totals[cell.target] += 1
            self.progress.update(self.tasks[cell.target], total=self.totals[cell.target])
        self._advance(cell, 1)

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        # A cell that failed, or did not apply, ends with the work it will not do.
        self._advance(cell, self._work(cell) - self.counted.get((id(cell), cell.key), 0))
        if row["verdict"] in ("error", "fail"):
            why = row["error"] or row["failed_budgets"]
            self.progress.console.print(
                f"{styled(row['verdict'], STYLE.get(row['verdict'], ''))} "
                f"{plain(cell.key.title())}: {plain(why)}"
            )

    def _advance(self, cell: Cell, steps: int) -> None:
        key = (id(cell), cell.key)
        self.counted[key] = self.counted.get(key, 0) + steps
        if steps > 0:
            self.progress.advance(self.tasks[cell.target], steps)


def notes(cells: pd.DataFrame, show_na: bool = False) -> list[str]:
    """Why cells failed or did not run, one line each; the pairs that cannot apply in one line
    with their count (`show_na` lists them)."""
    lines: list[str] = []
    na: dict[str, list[str]] = {}
    for r in records(cells):
        if r["status"] == "n/a":
            reason = str(r.get("error") or "")
            # Runtime/file mismatches fold together; a target's own reasons (an MCU holds one
            # model) are kept apart.
            if not reason or _FILE_MISMATCH.search(reason):
                reason = "the runtime does not take the file"
            na.setdefault(reason, []).append(f"{r['model']}/{r['variant']} on {r['runtime']}")
        elif r["verdict"] != "pass":
            why = r.get("failed_budgets") or r.get("error") or ""
            verdict = styled(r["verdict"], STYLE.get(r["verdict"], ""))
            lines.append(f"{verdict} {plain(CellKey.of(r).title())}: {plain(why)}")
    if na and show_na:
        for reason, pairs in na.items():
            lines.append(styled(f"not applicable ({reason}): {', '.join(pairs)}", "dim"))
    elif na:
        count = sum(len(p) for p in na.values())
        reasons = "; ".join(f"{len(p)}: {reason}" for reason, p in na.items())
        text = f"{count} pairs not applicable ({reasons}); --show-na lists them"
        lines.append(styled(text, "dim"))
    return lines


def best_lines(cells: pd.DataFrame, rank_by: str) -> list[str]:
    lines = []
    for best in best_per_target(cells, rank_by):
        if best.row is None:
            lines.append(f"{styled(best.target, 'bold')}: [red]no variant meets all budgets[/]")
            continue
        r = best.row
        margin = ""
        if isinstance(r["tightest_budget"], str) and pd.notna(r["headroom_pct"]):
            margin = (
                f"; tightest budget {r['tightest_budget']} with {r['headroom_pct']:.0f}% headroom"
            )
        variant = styled(f"{r['model']} {r['variant']}", "green")
        lines.append(
            f"{styled(best.target, 'bold')}: best of {best.candidates} passing = {variant} on "
            f"{plain(CellKey.of(r.to_dict()).setup())}: {_show_value(rank_by, r[rank_by])}{margin}"
        )
    return lines


def _show_value(column: str, value: float) -> str:
    if column == "instructions_per_inference":  # issue 15
        return f"{value:,.0f} instructions/inference"
    if column == "battery_life_hours":
        return f"battery life {value:.0f} h"
    if column == "energy_per_inference_mj":
        return f"energy {value:.3g} mJ/inference"
    name = (
        column.removesuffix("_ms").removesuffix("_mb").removesuffix("_kb").replace("latency_", "")
    )
    if column.endswith("_ms"):
        return f"{name} {latency_text(value)}"
    unit = "MB" if column.endswith("_mb") else "KB"
    return f"{name} {value:.1f} {unit}"


def print_report(
    console: Console, cells: pd.DataFrame, title: str, rank_by: str, show_na: bool = False
) -> None:
    table, note = cells_table(cells, title, console.width)
    console.print(table)
    if note:
        console.print(styled(note, "dim"))
    for line in notes(cells, show_na):
        console.print(line)
    for line in best_lines(cells, rank_by):
        console.print(line)
    battery = cells.get("battery_life_hours")
    if rank_by != "battery_life_hours" and battery is not None and battery.notna().any():
        for line in best_lines(cells, "battery_life_hours"):
            console.print(line.replace("best of", "longest battery life of", 1))
