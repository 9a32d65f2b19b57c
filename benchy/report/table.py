"""The result table: one row per cell that ran, every figure with its own unit (a slow cell does
not turn the others into 0.00x ms), and on a narrow terminal whole columns left out, least
important first and named under the table — a number is never cut short.

MCU rows (runtime tflm) show the TFLite Micro arena and the flash the model takes where Linux
rows show peak RSS and model memory; rows from an emulated device are marked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from rich import box
from rich.table import Table
from rich.text import Text

from benchy.report.figures import is_number, latency_text, sig
from benchy.results.read import records

STYLE = {
    "pass": "green",
    "fail": "red",
    "error": "bold red",
    "n/a": "dim",
    "unavailable": "yellow",
    "inconclusive": "yellow",
}
EMULATED = "†"
GAP = 3  # between two columns: rich's padding of one each side and a (blank) rule
EDGE = 2  # the table's (blank) left and right edges


@dataclass
class Column:
    head: str
    cells: Callable[[dict[str, Any]], str]
    right: bool = True
    drop: int | None = None
    """When the terminal is too narrow, columns are left out by this rank, lowest first;
    None: always shown."""


def _unit(value: Any, unit: str, digits: str = "{:.1f}") -> str:
    return f"{digits.format(float(value))} {unit}" if is_number(value) else "–"


def _memory(r: dict[str, Any]) -> str:
    if r["runtime"] == "tflm":  # an MCU: the RAM it needs is the TFLite Micro arena
        kb = r.get("tflm_arena_kb")
        return f"{sig(float(kb))} KB arena" if is_number(kb) else "–"
    return _unit(r.get("peak_rss_mb"), "MB")


def _model_memory(r: dict[str, Any]) -> str:
    if r["runtime"] == "tflm":  # the model lives in flash
        flash = r.get("flash_bytes")
        return f"{sig(float(flash) / 1024)} KB flash" if is_number(flash) else "–"
    return _unit(r.get("model_memory_mb"), "MB")


def _setup(r: dict[str, Any]) -> str:
    applied = (r.get("delegate_applied") or "").split(" (")[0]
    delegate = r["delegate"] if applied in ("", r["delegate"]) else f"{r['delegate']}→{applied}"
    return f"{r['runtime']}/{delegate} ×{r['threads']}"


def _signed(value: Any) -> str:
    return f"{float(value):+.1f}".replace("-", "−") if is_number(value) else "–"


def columns(rows: list[dict[str, Any]]) -> list[Column]:
    """The table's columns for these rows, in display order."""
    metrics = {r["metric"] for r in rows if r.get("metric")}
    metric = "acc %" if metrics <= {"accuracy"} else "/".join(sorted(metrics))
    out = []
    if len({r["target"] for r in rows}) > 1:
        out.append(Column("target", lambda r: str(r["target"]), right=False))
    out += [
        Column("model", lambda r: str(r["model"]) + (EMULATED if r.get("emulated") else ""),
               right=False),
        Column("variant", lambda r: str(r["variant"]), right=False),
        Column("runtime ×threads", _setup, right=False),
        Column("p50", lambda r: latency_text(r.get("latency_p50_ms")), drop=9),
        Column("p90", lambda r: latency_text(r.get("latency_p90_ms"))),
        Column("p99", lambda r: latency_text(r.get("latency_p99_ms")), drop=6),
        Column("memory", _memory, drop=5),
        Column("model mem", _model_memory, drop=0),
        Column("size", lambda r: _unit(r.get("model_size_kb"), "KB"), drop=4),
        Column(metric, lambda r: _plain_number(r.get("metric_value")), drop=10),
        Column("drop", lambda r: _signed(r.get("accuracy_drop")), drop=7),
    ]  # fmt: skip
    optional = [
        ("agreement", Column("agree %", lambda r: _plain_number(r.get("agreement")), drop=1)),
        ("active_power_mw", Column("active", lambda r: _unit(r.get("active_power_mw"), "mW",
                                                             "{:.0f}"), drop=3)),
        ("energy_per_inference_mj", Column("energy", lambda r: _energy(r), drop=8)),
        ("battery_life_hours", Column("battery", lambda r: _unit(r.get("battery_life_hours"), "h",
                                                                "{:.0f}"), drop=2)),
        ("instructions_per_inference", Column("instr/inf", _instructions, drop=11)),
    ]  # fmt: skip
    out += [col for name, col in optional if any(r.get(name) is not None for r in rows)]
    out.append(Column("verdict", lambda r: str(r["verdict"]), right=False))
    return out


def _plain_number(value: Any) -> str:
    return sig(float(value)) if is_number(value) else "–"


def _instructions(r: dict[str, Any]) -> str:
    count = r.get("instructions_per_inference")
    return f"{float(count):,.0f}" if is_number(count) else "–"


def _energy(r: dict[str, Any]) -> str:
    mj = r.get("energy_per_inference_mj")
    return f"{sig(float(mj))} mJ" if is_number(mj) else "–"


def fit_widths(widths: list[int], drops: list[int | None], width: int | None) -> list[int]:
    """Which columns (indices) fit in `width` characters, the least important (lowest `drop`)
    left out first; columns whose `drop` is None always stay."""
    kept = list(range(len(widths)))
    while width is not None:
        used = sum(widths[i] for i in kept) + GAP * (len(kept) - 1) + EDGE
        droppable = [i for i in kept if drops[i] is not None]
        if used <= width or not droppable:
            break
        kept.remove(min(droppable, key=lambda i: drops[i] or 0))
    return kept


def fit(cols: list[Column], rows: list[dict[str, Any]], width: int | None) -> list[Column]:
    """The columns to show in `width` characters: least important left out first."""
    widths = [max([len(c.head), *(len(c.cells(r)) for r in rows)]) for c in cols]
    return [cols[i] for i in fit_widths(widths, [c.drop for c in cols], width)]


def cells_table(cells: pd.DataFrame, title: str, width: int | None = None) -> tuple[Table, str]:
    """One row per cell that ran (not-applicable pairs are summarised apart), and a note naming
    the columns a narrow terminal left out and the emulated marker ("" when none)."""
    rows = [r for r in records(cells) if r["status"] != "n/a"]
    all_columns = columns(rows)
    shown = fit(all_columns, rows, width)
    table = Table(
        title=Text(title), header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
        title_justify="left",
    )  # fmt: skip
    for c in shown:
        table.add_column(c.head, justify="right" if c.right else "left", no_wrap=True)
    for r in rows:
        values = [Text(c.cells(r)) for c in shown[:-1]]
        values.append(Text(str(r["verdict"]), style=STYLE.get(str(r["verdict"]), "")))
        table.add_row(*values)
    notes = []
    left_out = [c.head for c in all_columns if c not in shown]
    if left_out:
        notes.append(f"left out at {width} columns: {', '.join(left_out)} (see cells.csv)")
    if any(r.get("emulated") for r in rows):
        notes.append(f"{EMULATED} emulated device: host-CPU latencies, not the MCU's")
    return table, "; ".join(notes)
