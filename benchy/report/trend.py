"""`benchy history SUITE --html`: each cell's p50 over the stored runs, oldest first, with the
95% CI of the median as a band and the runs whose comparison found the cell regressed marked
(asv's view, for benchy's results).

The CI is the one every run stores per cell (`latency_ci_low_ms`/`latency_ci_high_ms`,
distribution-free, from binomial order statistics); the regressions are those its own
`--baseline` comparison recorded in run.json. Nothing is measured or judged again here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchy.report import vega
from benchy.report.decision import title
from benchy.report.figures import is_number, latency_text, latency_unit, signed_pct
from benchy.report.history import History, comparison_text
from benchy.report.html import Written
from benchy.report.page import Page, ensure_writable, esc, table, verdict_chip, write_atomic
from benchy.results.schema import CellKey


def _regressions(manifest: dict[str, Any]) -> list[str]:
    return [str(r) for r in (manifest.get("comparison") or {}).get("regressed") or []]


def series(history: History) -> dict[CellKey, list[dict[str, Any]]]:
    """Per cell, one point per readable run where it ran: p50 and its CI (ms), and the
    regression messages its run recorded for it."""
    out: dict[CellKey, list[dict[str, Any]]] = {}
    readable = [e for e in history.entries if e.cells is not None]
    for i, entry in enumerate(readable, start=1):
        assert entry.cells is not None
        m = entry.manifest
        regressed = _regressions(m)
        for _, row in entry.cells[entry.cells["status"] == "ok"].iterrows():
            name = f"{row['target']}/{title(row)}"
            mine = [r.removeprefix(f"{name}: ") for r in regressed if r.startswith(f"{name}: ")]
            out.setdefault(CellKey.of(row), []).append(
                {
                    "i": i,
                    "run": entry.dir.name,
                    "started": str(m.get("started", "")),
                    "commit": str(m.get("git_commit") or "–")[:10],
                    "verdict": str(m.get("verdict") or m.get("status", "")),
                    "quick": bool(m.get("quick")),
                    "p50": _number(row.get("latency_p50_ms")),
                    "low": _number(row.get("latency_ci_low_ms")),
                    "high": _number(row.get("latency_ci_high_ms")),
                    "regressed": "; ".join(mine) or None,
                }
            )
    return out


def _number(value: Any) -> float | None:
    return float(value) if is_number(value) else None


def trend_chart(points: list[dict[str, Any]], runs: int, cid: str) -> dict[str, Any]:
    known = [p["p50"] for p in points if p["p50"] is not None]
    factor, unit = latency_unit(max(known, default=1.0))
    data = [
        {
            **p,
            **{k: None if p[k] is None else p[k] * factor for k in ("p50", "low", "high")},
            "p50_text": latency_text(p["p50"]),
            "ci_text": f"{latency_text(p['low'])} – {latency_text(p['high'])}",
        }
        for p in points
    ]
    x = {
        "field": "i",
        "type": "quantitative",
        "title": "run (oldest → newest)",
        "scale": {"domain": [0.5, runs + 0.5], "nice": False},
        "axis": {"tickMinStep": 1, "format": "d"},
    }
    y = {"field": "p50", "type": "quantitative", "title": f"p50 ({unit})", "scale": {"zero": False}}
    tooltip = [
        {"field": "run"},
        {"field": "started"},
        {"field": "commit"},
        {"field": "verdict", "title": "run verdict"},
        {"field": "p50_text", "title": "p50"},
        {"field": "ci_text", "title": "95% CI"},
        {"field": "regressed", "title": "regressed"},
    ]
    band = {
        "mark": {"type": "area", "opacity": 0.25, "color": "#1565c0"},
        "encoding": {"x": x, "y": {**y, "field": "low"}, "y2": {"field": "high"}},
    }
    line = {
        "mark": {"type": "line", "point": True, "color": "#1565c0"},
        "encoding": {"x": x, "y": y, "tooltip": tooltip},
    }
    marked = {
        "name": "regressions",
        "transform": [{"filter": "datum.regressed != null"}],
        "mark": {"type": "point", "shape": "triangle-up", "filled": True, "size": 160},
        "encoding": {"x": x, "y": y, "tooltip": tooltip, "color": {"value": "#c62828"}},
    }
    regressed = any(p["regressed"] for p in points)  # an empty layer has no extent: Vega warns
    return {
        "width": "container",
        "height": 160,
        "datasets": {cid: data},
        "data": {"name": cid},
        "layer": [band, line, *([marked] if regressed else [])],
    }


def _change(points: list[dict[str, Any]]) -> str:
    known = [p["p50"] for p in points if p["p50"] is not None]
    if len(known) < 2 or known[0] <= 0:
        return ""
    return f" · last vs first {signed_pct(known[-1] / known[0] - 1)}"


def write_history_report(suite: str, history: History, out: Path) -> Written:
    started = time.perf_counter()
    ensure_writable(out)
    bundle = vega.Bundle()
    page = Page(f"benchy history — {suite}")
    entries = history.entries
    page.add(
        f"<header><h1>{esc(suite)}: history</h1><p class=muted>{len(entries)} stored runs, "
        "oldest first. Per cell: the p50 of every run with its 95% CI (band); a red triangle "
        "marks a run whose comparison with its baseline found the cell regressed.</p>"
        "</header><main>"
    )
    page.add(
        "<h2>Runs</h2>"
        + table(
            ("#", "run", "commit", "quick", "verdict", "comparison"),
            (
                (
                    i,
                    e.dir.name,
                    str(e.manifest.get("git_commit") or "–")[:10],
                    "yes" if e.manifest.get("quick") else "",
                    e.manifest.get("verdict") or e.problem or "",
                    comparison_text(e.manifest) if e.problem is None else "not read",
                )
                for i, e in enumerate(entries, start=1)
            ),
        )
    )
    runs = sum(e.cells is not None for e in entries)
    cards = []
    for n, (key, points) in enumerate(series(history).items()):
        regressions = sum(p["regressed"] is not None for p in points)
        note = f" · {regressions} regression{'s' * (regressions != 1)}" if regressions else ""
        name = key.title()
        caption = (
            f"<figcaption><b>{esc(name)}</b> {verdict_chip('regressed') if regressions else ''}"
            f"<br>{len(points)} runs{esc(_change(points))}{esc(note)}</figcaption>"
        )
        chart = page.slot(f"trend-{n}", trend_chart(points, runs, f"trend-{n}"))
        cards.append(f"<figure>{caption}{chart}</figure>")
    page.add('<h2>p50 per cell</h2><div class="grid">' + "".join(cards) + "</div></main>")
    write_atomic(out, page.render(bundle.script()).encode())
    return Written(out, None, time.perf_counter() - started)
