"""Against a baseline: every judged metric's shift with its CI as a forest plot (one chart per
metric, one row per cell, coloured by verdict, the ±δ band drawn per row), the results that
have no shift to draw, and what differs between the two runs.

The figures are `benchy.compare`'s: the same `Comparison` that `benchy run --baseline` and
`benchy compare` print and gate on.
"""

from __future__ import annotations

import math
from typing import Any

from benchy.judge.compare import Comparison
from benchy.judge.result import LABELS, Result
from benchy.report.comparison import ORDER, delta_text, shift_text, value_text
from benchy.report.page import Page, esc, table, verdict_chip

ROW_PX = 18
VERDICT_COLOURS = {
    "regressed": "#c62828",
    "error": "#7f0000",
    "inconclusive": "#e09100",
    "unstable": "#8e24aa",
    "drift": "#1565c0",
    "improved": "#2e7d32",
    "unchecked": "#bdbdbd",
    "unchanged": "#757575",
}


def drawable(r: Result) -> bool:
    return r.shift is not None and math.isfinite(r.shift)


def _scaled(value: float | None, points: bool) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value if points else value * 100


def rows(results: list[Result], many_targets: bool) -> list[dict[str, Any]]:
    out = []
    for r in results:
        name = r.title if many_targets else r.title.removeprefix(f"{r.cell.target}/")
        delta = _scaled(r.delta, r.points)
        out.append(
            {
                "row": name,
                "verdict": r.verdict,
                "shift": _scaled(r.shift, r.points),
                "low": _scaled(r.low, r.points),
                "high": _scaled(r.high, r.points),
                "dlo": None if delta is None else -delta,
                "dhi": delta,
                "message": r.message(),
                "values": f"{value_text(r, r.base)} → {value_text(r, r.new)}",
                "differs": "; ".join(r.context) or "–",
            }
        )
    return out


def forest_chart(
    metric: str, points: bool, data: list[dict[str, Any]], confidence: float, cid: str
) -> dict[str, Any]:
    unit = "points" if points else "%"
    y = {
        "field": "row",
        "type": "nominal",
        "sort": None,
        "title": None,
        "axis": {"labelLimit": 280},
    }
    x_title = f"shift of {LABELS.get(metric, metric)} ({unit}), {confidence:.0%} CI"
    x = {"field": "shift", "type": "quantitative", "title": x_title}
    verdicts = {r["verdict"] for r in data}
    present = [v for v in VERDICT_COLOURS if v in verdicts]  # the legend lists only these
    colour = {
        "field": "verdict",
        "type": "nominal",
        "scale": {"domain": present, "range": [VERDICT_COLOURS.get(v, "#000") for v in present]},
        "legend": {"orient": "top", "title": None},
    }
    tooltip = [
        {"field": "row", "title": "cell"},
        {"field": "verdict", "title": "verdict"},
        {"field": "message", "title": "shift"},
        {"field": "values", "title": "base → new"},
        {"field": "differs", "title": "differs"},
    ]
    band = {
        "mark": {"type": "rect", "color": "#eeeeee"},
        "encoding": {"y": y, "x": {**x, "field": "dlo"}, "x2": {"field": "dhi"}},
    }
    ci = {
        "mark": {"type": "rule", "strokeWidth": 2},
        "encoding": {"y": y, "x": {**x, "field": "low"}, "x2": {"field": "high"}, "color": colour},
    }
    zero = {"mark": {"type": "rule", "color": "#9e9e9e"}, "encoding": {"x": {"datum": 0}}}
    shifts = {
        "name": "shifts",
        "mark": {"type": "point", "filled": True, "size": 50},
        "encoding": {"y": y, "x": x, "color": colour, "tooltip": tooltip},
    }
    layers = [
        *([band] if any(r["dhi"] is not None for r in data) else []),
        zero,
        *([ci] if any(r["low"] is not None for r in data) else []),  # point values have none
        shifts,
    ]
    return {
        "width": "container",
        "height": ROW_PX * len(data),  # a step height would not fit a container's width
        "title": {"text": LABELS.get(metric, metric), "anchor": "start"},
        "datasets": {cid: data},
        "data": {"name": cid},
        "layer": layers,
    }


def comparison_section(page: Page, comparison: Comparison) -> str:
    gate = comparison.gate
    counts = comparison.counts()
    order = sorted(counts, key=lambda v: ORDER.index(v) if v in ORDER else len(ORDER))
    out = [
        '<h2 id="comparison">Against the baseline</h2>',
        f"<p>Baseline <span class=mono>{esc(comparison.base.dir)}</span>: "
        + " ".join(f"{verdict_chip(v)} {counts[v]}" for v in order)
        + f"</p><p class=note>{gate.confidence:.0%} confidence intervals of the "
        f"per-repetition shift (Hodges–Lehmann); Holm over {comparison.family} latency tests; "
        "grey band: ±δ, the shift that counts. Latency and memory shifts are relative, "
        "accuracy in points.</p>",
    ]
    if comparison.drift_text():
        out.append(f"<p>Run-wide drift taken out of every cell: {esc(comparison.drift_text())}</p>")
    many = len({r.cell.target for r in comparison.results}) > 1
    shown = [r for r in comparison.results if drawable(r)]
    charts = []
    for metric in dict.fromkeys(r.metric for r in shown):
        for points in (False, True):
            mine = [r for r in shown if r.metric == metric and r.points == points]
            if mine:
                cid = f"forest-{metric}{'-points' if points else ''}"
                spec = forest_chart(metric, points, rows(mine, many), gate.confidence, cid)
                charts.append(page.chart(cid, spec, css="forest"))
    out.append('<div class="grid">' + "".join(charts) + "</div>")
    rest = [r for r in comparison.results if not drawable(r)]
    if rest:
        out.append(f"<h3>Not drawn ({len(rest)}): no shift to show</h3>")
        out.append(
            table(
                ("cell", "metric", "verdict", "base → new", "shift", "δ", "why"),
                (
                    (
                        r.title,
                        LABELS.get(r.metric, r.metric),
                        r.verdict,
                        f"{value_text(r, r.base)} → {value_text(r, r.new)}",
                        shift_text(r),
                        delta_text(r),
                        "; ".join(filter(None, [r.note, *r.context])),
                    )
                    for r in rest
                ),
            )
        )
    out.append(differences_html([d.text() for d in comparison.differences]))
    return "\n".join(out)


def differences_html(texts: list[str]) -> str:
    if not texts:
        return "<h3>What differs</h3><p>The two runs differ in nothing benchy records but time.</p>"
    items = "".join(f"<li>{esc(t)}</li>" for t in texts)
    return f"<h3>What differs between the runs ({len(texts)})</h3><ul>{items}</ul>"


def stored_summary_section(summary: dict[str, Any], why: str) -> str:
    """run.json's comparison when the baseline itself cannot be read again: counts, the
    regressions and the differences as stored, no forest."""
    counts = summary.get("counts") or {}
    out = [
        '<h2 id="comparison">Against the baseline</h2>',
        f"<p>Baseline <span class=mono>{esc(summary.get('baseline'))}</span>: "
        + " ".join(f"{verdict_chip(str(v))} {n}" for v, n in counts.items())
        + "</p>",
        f"<p class=note>Shifts not drawn: {esc(why)}. Below is what run.json kept.</p>",
    ]
    regressed = summary.get("regressed") or []
    if regressed:
        out.append("<h3>Regressions</h3><ul>")
        out += [f"<li>{esc(r)}</li>" for r in regressed]
        out.append("</ul>")
    out.append(differences_html([str(d) for d in summary.get("differences") or []]))
    return "\n".join(out)
