"""Rich terminal output: live progress while cells run, the table and the best variant after."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
from rich import box
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
from rich.table import Table

from benchy.matrix import Cell
from benchy.report.markup import plain, styled
from benchy.report.select import best_per_target
from benchy.results.read import records
from benchy.results.schema import CellKey

_FILE_MISMATCH = re.compile(r" does not run \.\w+ files$")
ENERGY_COLUMNS = {
    "active_power_mw": ("active mW", "{:.0f}"),
    "energy_per_inference_mj": ("mJ/inf", "{:.3g}"),
    "battery_life_hours": ("battery h", "{:.0f}"),
}
"""Shown only when some cell has them (a power source, an [energy] duty cycle)."""

OPTIONAL_COLUMNS = {
    "agreement": ("agree %", "{:.1f}"),
    **ENERGY_COLUMNS,
    "instructions_per_inference": ("instr/inf", "{:,.0f}"),  # issue 15: instruction mode
}
"""Shown after "drop" when some cell has them: agreement with the reference's top-1 (derived
variants, issue 13: the table is the quantization trade-off), then the energy columns."""

STYLE = {
    "pass": "green",
    "fail": "red",
    "error": "bold red",
    "n/a": "dim",
    "unavailable": "yellow",
    "inconclusive": "yellow",
}


class LiveProgress:
    """Progress bars over the matrix: one per target (targets run at the same time), each with
    cells done/total, the cell being measured and an ETA."""

    def __init__(self, console: Console, cells: list[Cell]) -> None:
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
        self.tasks: dict[str, TaskID] = {}
        for cell in cells:
            if cell.target not in self.tasks:
                total = sum(c.target == cell.target for c in cells)
                self.tasks[cell.target] = self.progress.add_task(
                    plain(cell.target), total=total, cell=""
                )

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def cell_started(self, cell: Cell) -> None:
        title = cell.key.title(target=False)
        self.progress.update(self.tasks[cell.target], cell=title)

    def cell_finished(self, cell: Cell, row: dict[str, Any]) -> None:
        self.progress.advance(self.tasks[cell.target])
        if row["verdict"] in ("error", "fail"):
            why = row["error"] or row["failed_budgets"]
            self.progress.console.print(
                f"{styled(row['verdict'], STYLE.get(row['verdict'], ''))} "
                f"{plain(cell.key.title())}: {plain(why)}"
            )


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def _latency_unit(rows: list[dict[str, Any]]) -> tuple[str, float]:
    worst = max((r.get("latency_p99_ms") or 0.0 for r in rows), default=0.0)
    return ("µs", 1000.0) if worst < 1.0 else ("ms", 1.0)


def cells_table(cells: pd.DataFrame, title: str) -> Table:
    """One row per cell that ran (not-applicable pairs are summarised separately)."""
    rows = [r for r in records(cells) if r["status"] != "n/a"]
    many_targets = len({r["target"] for r in rows}) > 1
    unit, scale = _latency_unit(rows)
    metric_names = {r["metric"] for r in rows if r.get("metric")}
    metric_head = "acc %" if metric_names <= {"accuracy"} else "/".join(sorted(metric_names))
    table = Table(
        title=plain(title),
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    columns = ["target"] if many_targets else []
    columns += [
        "model",
        "variant",
        "runtime ×threads",
        f"p50 {unit}",
        f"p90 {unit}",
        f"p99 {unit}",
        "RSS MB",
        "model MB",
        "size KB",
        metric_head,
        "drop",
    ]
    optional = [c for c in OPTIONAL_COLUMNS if any(r.get(c) is not None for r in rows)]
    columns += [OPTIONAL_COLUMNS[c][0] for c in optional]
    columns.append("verdict")
    for name in columns:
        numeric = name != "verdict" and name not in (
            "target",
            "model",
            "variant",
            "runtime ×threads",
        )
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for r in rows:
        verdict = r["verdict"]
        applied = (r.get("delegate_applied") or "").split(" (")[0]
        delegate = r["delegate"] if applied in ("", r["delegate"]) else f"{r['delegate']}→{applied}"
        values = [plain(r["target"])] if many_targets else []
        values += [
            plain(r["model"]),
            plain(r["variant"]),
            plain(f"{r['runtime']}/{delegate} ×{r['threads']}"),
            *(_sig(_scaled(r.get(f"latency_{p}_ms"), scale)) for p in ("p50", "p90", "p99")),
            _num(r.get("peak_rss_mb"), "{:.1f}"),
            _num(r.get("model_memory_mb"), "{:.1f}"),
            _num(r.get("model_size_kb"), "{:.1f}"),
            _num(r.get("metric_value"), "{:.1f}"),
            _num(r.get("accuracy_drop"), "{:+.1f}"),
            *(_num(r.get(c), OPTIONAL_COLUMNS[c][1]) for c in optional),
            styled(verdict, STYLE.get(verdict, "")),
        ]
        table.add_row(*values)
    return table


def _sig(value: float | None) -> str:
    """Three significant digits without scientific notation: 0.00301, 0.84, 12.3, 1234."""
    if value is None:
        return "–"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def notes(cells: pd.DataFrame) -> list[str]:
    """Why cells failed or did not run, one line each; not-applicable pairs folded into one line."""
    lines: list[str] = []
    na: dict[str, list[str]] = {}
    for r in records(cells):
        if r["status"] == "n/a":
            reason = str(r.get("error") or "")
            # Runtime/file mismatches fold into one line; a target's own reasons (an MCU holds
            # one model) are shown as they are.
            if not reason or _FILE_MISMATCH.search(reason):
                reason = "runtime does not take the file"
            na.setdefault(reason, []).append(f"{r['model']}/{r['variant']} on {r['runtime']}")
        elif r["verdict"] != "pass":
            why = r.get("failed_budgets") or r.get("error") or ""
            verdict = styled(r["verdict"], STYLE.get(r["verdict"], ""))
            lines.append(f"{verdict} {plain(CellKey.of(r).title())}: {plain(why)}")
    for reason, pairs in na.items():
        lines.append(styled(f"not applicable ({reason}): {', '.join(pairs)}", "dim"))
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
        return f"{name} {value * 1000:.1f} µs" if value < 1 else f"{name} {value:.2f} ms"
    unit = "MB" if column.endswith("_mb") else "KB"
    return f"{name} {value:.1f} {unit}"


def print_report(console: Console, cells: pd.DataFrame, title: str, rank_by: str) -> None:
    console.print(cells_table(cells, title))
    for line in notes(cells):
        console.print(line)
    for line in best_lines(cells, rank_by):
        console.print(line)
    battery = cells.get("battery_life_hours")
    if rank_by != "battery_life_hours" and battery is not None and battery.notna().any():
        for line in best_lines(cells, "battery_life_hours"):
            console.print(line.replace("best of", "longest battery life of", 1))
