"""`benchy history`: stored runs oldest first, with verdicts, then each cell's p50 across them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from benchy.errors import UsageError
from benchy.report.markup import plain, styled
from benchy.results.manifest import read_manifest, schema_problem
from benchy.results.read import StoredRun
from benchy.results.schema import CellKey

SPARK = "▁▂▃▄▅▆▇█"
SHOWN_RUNS = 6  # p50 columns in the trend table; the sparkline covers every run


@dataclass
class Entry:
    dir: Path
    manifest: dict[str, Any]
    cells: pd.DataFrame | None  # None when unreadable
    problem: str | None = None


@dataclass
class History:
    entries: list[Entry]  # oldest first
    target: str | None

    @classmethod
    def load(cls, newest_first: list[Path], target: str | None) -> History:
        entries = []
        for d in reversed(newest_first):
            try:
                manifest = read_manifest(d)
            except UsageError as exc:
                entries.append(Entry(d, {}, None, str(exc)))
                continue
            problem = schema_problem(manifest)
            cells = None
            if problem is None:
                try:
                    cells = StoredRun.load(d).cells
                except UsageError as exc:
                    problem = str(exc).removeprefix(f"{d}: ")
            if cells is not None and target is not None:
                cells = cells[cells["target"] == target]
            entries.append(Entry(d, manifest, cells, problem))
        return cls(entries, target)


def comparison_text(manifest: dict[str, Any]) -> str:
    comparison = manifest.get("comparison")
    if not comparison:
        return "–"
    counts = comparison.get("counts", {})
    shown = [f"{counts[v]} {v}" for v in ("regressed", "inconclusive", "error") if counts.get(v)]
    base = Path(str(comparison.get("baseline", ""))).name
    return f"vs {base}: {', '.join(shown) or 'no regression'}"


def runs_table(history: History) -> Table:
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for head in ("run", "commit", "benchy", "quick", "reps", "cells ok", "verdict", "comparison"):
        table.add_column(head, no_wrap=head != "comparison")
    for e in history.entries:
        m = e.manifest
        if e.problem is not None:
            row = [plain(e.dir.name), "", "", "", "", "", "[yellow]not read[/]", plain(e.problem)]
            table.add_row(*row)
            continue
        assert e.cells is not None
        # (a run interrupted before its first cell finished has no status column at all)
        status = e.cells.get("status", pd.Series(dtype="string"))
        ok, ran = int((status == "ok").sum()), int((status != "n/a").sum())
        verdict = m.get("verdict") or m.get("status", "?")
        code = m.get("exit_code")
        styles = {0: "green", 1: "red", 3: "bold red", 4: "yellow"}
        style = styles.get(code, "") if isinstance(code, int) else ""
        table.add_row(
            plain(e.dir.name),
            plain(str(m.get("git_commit") or "–")[:10]),
            plain(m.get("benchy_version", "–")),
            "yes" if m.get("quick") else "",
            plain((m.get("measure") or {}).get("repetitions", "–")),
            f"{ok}/{ran}",
            f"{styled(verdict, style)} ({plain(code)})",
            plain(comparison_text(m)),
        )
    return table


def p50_series(history: History) -> dict[CellKey, list[float | None]]:
    """Each cell's p50 (ms) per readable run, oldest first; None where the cell did not run."""
    readable = [e for e in history.entries if e.cells is not None]
    series: dict[CellKey, list[float | None]] = {}
    for i, e in enumerate(readable):
        assert e.cells is not None
        if "status" not in e.cells:
            continue
        for row in e.cells[e.cells["status"] == "ok"].to_dict("records"):
            key = CellKey.of(row)
            series.setdefault(key, [None] * len(readable))[i] = float(row["latency_p50_ms"])
    return series


def sparkline(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    lo, hi = min(known), max(known)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARK[int((v - lo) / span * (len(SPARK) - 1)) if span else 0])
    return "".join(out)


def _latency(value: float | None, micro: bool) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.3g}" if micro else f"{value:.3g}"


def trend_table(history: History) -> Table:
    series = p50_series(history)
    readable = [e for e in history.entries if e.cells is not None]
    shown = readable[-SHOWN_RUNS:]
    known = [v for s in series.values() for v in s if v is not None]
    micro = bool(known) and max(known) < 1.0
    unit = "µs" if micro else "ms"
    table = Table(
        title=f"p50 {unit} per run (oldest → newest)",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title_justify="left",
    )
    many = len({k.target for k in series}) > 1
    stamps = [plain(e.dir.name.split("-")[0]) for e in shown]
    for head in ["cell", *stamps, "trend", "last vs first"]:
        table.add_column(
            head, justify="left" if head in ("cell", "trend") else "right", no_wrap=head == "cell"
        )
    for key, values in series.items():
        name = key.title(target=many)
        points = [v for v in values if v is not None]
        change = "–"
        if len(points) > 1 and points[0] > 0:
            rel = points[-1] / points[0] - 1
            change = f"{rel * 100:+.1f}%".replace("-", "−") if math.isfinite(rel) else "–"
        table.add_row(
            plain(name),
            *(_latency(v, micro) for v in values[-len(shown) :]),
            sparkline(values),
            change,
        )
    return table


def print_history(console: Console, suite: str, history: History) -> None:
    target = f" on {plain(history.target)}" if history.target else ""
    head = f"{styled(suite, 'bold')}{target}: {len(history.entries)} stored runs, oldest first"
    console.print(head)
    console.print(runs_table(history))
    for e in history.entries:
        if e.problem is not None:
            console.print(f"{styled(e.dir, 'yellow')}: {plain(e.problem)}", soft_wrap=True)
    if any(e.cells is not None for e in history.entries):
        console.print(trend_table(history))
