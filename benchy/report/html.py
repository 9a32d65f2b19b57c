"""`report.html` and `report.png` for one stored run.

Sections: the decision view per target (`report.decision`), cells that did not run, latency
distributions per cell (`report.distributions`), per-op shares when profiled (`report.ops`),
the comparison with a baseline
(`report.forest`), machine facts and settings (`report.facts`). Everything is read from the
stored run (`benchy.results.read.StoredRun`), so `benchy report` later draws what `benchy run` drew.
The page is one file: charts are Vega-Lite specs rendered by the inlined Vega bundle, and the
PNG is the decision view rendered by vl-convert (`report.vega`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchy.config import Gate, Suite, TargetConfig
from benchy.errors import UsageError
from benchy.judge.compare import Comparison
from benchy.report import vega
from benchy.report.decision import PNG_AXES, TargetView, chart, points, target_views, title
from benchy.report.distributions import distribution, ecdf_chart, repetitions_chart, subtitle
from benchy.report.facts import facts_section
from benchy.report.figures import is_number, latency_text, number_text
from benchy.report.forest import comparison_section, stored_summary_section
from benchy.report.ops import ops_section
from benchy.report.page import Page, ensure_writable, esc, table, verdict_chip, write_atomic
from benchy.results.read import StoredRun
from benchy.results.schema import IDENTITY, CellKey

DEFAULT_RANK_BY = "latency_p50_ms"
NOT_RUN = ("error", "crashed", "timeout", "unavailable")
INDEPENDENT = {"scale": {"x": "independent", "y": "independent"}}  # concat would share "x"


@dataclass(frozen=True)
class Written:
    html: Path
    png: Path | None
    seconds: float

    @property
    def size(self) -> int:
        return self.html.stat().st_size


def manifest_fields(suite: Suite, targets: list[TargetConfig]) -> dict[str, Any]:
    """What the report needs from the suite, stored in run.json by `benchy run`: the budgets
    in force per target and model, and how the best passing cell is ranked."""
    budgets = {
        t.name: {m: suite.budgets_for(m, t.name, t.budgets) for m in suite.models} for t in targets
    }
    return {"budgets": budgets, "rank_by": suite.rank_by}


def png_path(html: Path) -> Path:
    return html.with_suffix(".png")


def write_run_report(
    run: StoredRun,
    out: Path,
    comparison: Comparison | None = None,
    no_comparison: str = "",
) -> Written:
    """Write the report of `run` to `out` (and the decision view to out.png). `comparison` is
    drawn when given; otherwise run.json's stored summary is shown, with `no_comparison`
    saying why the shifts could not be computed again."""
    started = time.perf_counter()
    image = png_path(out)
    if image == out:
        raise UsageError(f"{out}: the page needs a name other than its picture's (.png)")
    for path in (out, image):
        ensure_writable(path)
    manifest = run.manifest
    rank_by = str(manifest.get("rank_by") or DEFAULT_RANK_BY)
    budgets = manifest.get("budgets")
    views = target_views(run.cells, budgets, rank_by)
    # Both render in child processes while this one reads the samples and builds the page.
    picture = vega.Picture(decision_picture(views, run))
    bundle = vega.Bundle()
    page = Page(f"benchy report — {manifest.get('suite', '')} — {run.name}")
    page.add(_header(run, comparison is not None or bool(manifest.get("comparison"))))
    page.add(_decision_section(page, views, budgets is not None, "rank_by" in manifest))
    page.add(_not_run_section(run))
    gate = Gate.from_payload(manifest.get("gate") or {})
    page.add(_distribution_section(page, run, gate.unstable_cv_pct))
    page.add(ops_section(page, run.dir))
    if comparison is not None:
        page.add(comparison_section(page, comparison))
    elif manifest.get("comparison"):
        page.add(stored_summary_section(manifest["comparison"], no_comparison))
    page.add(facts_section(manifest))
    page.add("</main>")
    text = page.render(bundle.script())
    write_atomic(out, text.encode())
    write_atomic(image, picture.png())
    return Written(out, image, time.perf_counter() - started)


def _header(run: StoredRun, compared: bool) -> str:
    m = run.manifest
    cells = run.cells
    status = cells["status"].astype(str)
    ran = int((status != "n/a").sum())
    ok = int((status == "ok").sum())
    verdict = str(m.get("verdict") or m.get("status", "?"))
    commit = str(m.get("git_commit") or "–")[:12]
    quick = " · <b>--quick</b>" if m.get("quick") else ""
    nav = [
        ("decision", "Decision"),
        ("distributions", "Distributions"),
        *([("comparison", "Baseline")] if compared else []),
        ("facts", "Machines and settings"),
    ]
    links = " ".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in nav)
    return (
        f"<header><h1>{esc(m.get('suite', 'benchy run'))}: {verdict_chip(verdict)} "
        f"<span class=muted>(exit {esc(m.get('exit_code', '?'))})</span></h1>"
        f"<p class=muted><span class=mono>{esc(run.dir)}</span><br>"
        f"{esc(m.get('started', '?'))} → {esc(m.get('finished', '?'))} · benchy "
        f"{esc(m.get('benchy_version', '?'))} · commit {esc(commit)}{quick} · "
        f"{ok} of {ran} cells ran ({len(cells) - ran} pairs not applicable)</p>"
        f"<nav>{links}</nav></header><main>"
    )


def _best_text(view: TargetView) -> str:
    if view.best is None:
        return f"<p><b>No cell passes every budget</b> on {esc(view.target)}.</p>"
    row = view.best
    name = " ".join(str(row[k]) for k in IDENTITY[1:3])
    figure = row.get(view.rank_by)
    shown = latency_text(figure) if view.rank_by.startswith("latency") else number_text(figure)
    tight = ""
    room = row.get("headroom_pct")
    if row.get("tightest_budget") and is_number(room):
        tight = f"; tightest budget {esc(row['tightest_budget'])} with {room:.0f}% headroom"
    return (
        f"<p>Best of {view.passing} passing on {esc(view.target)}, ranked by "
        f"<code>{esc(view.rank_by)}</code>: <b>{esc(name)}</b> on {esc(row['runtime'])}/"
        f"{esc(row['delegate'])} ×{esc(row['threads'])}: {esc(shown)}{tight}.</p>"
    )


def _decision_section(page: Page, views: list[TargetView], budgets: bool, ranked: bool) -> str:
    out = ['<h2 id="decision">Decision view</h2>']
    if not budgets:
        out.append(
            "<p class=note>This run did not record its budgets (it was made by a benchy "
            "before 0.2): no budget lines.</p>"
        )
    if not ranked:
        out.append(f"<p class=note>Ranking not recorded: best = lowest {DEFAULT_RANK_BY}.</p>")
    for view in views:
        out.append(f"<h3>{esc(view.target)}</h3>")
        out.append(_best_text(view))
        for group in view.groups:
            records = points(group)
            figures = []
            for i, axis in enumerate(group.axes()):
                cid = f"decision-{group.key}-{axis.column}"
                spec = chart(group, axis, records, "container", 340 if i == 0 else 260, cid)
                figures.append(page.chart(cid, spec, css="wide decision" if i == 0 else ""))
            out.append('<div class="grid">' + "".join(figures) + "</div>")
            if not figures:
                out.append(f"<p>No cell of {esc(view.target)} has a latency or size to plot.</p>")
        if view.unplotted:
            out.append(
                f"<p class=note>Not plotted, no metric (no dataset): "
                f"{esc(', '.join(view.unplotted))}</p>"
            )
        if not view.groups and not view.unplotted:
            out.append("<p>No cell ran on this target.</p>")
    return "\n".join(out)


def _not_run_section(run: StoredRun) -> str:
    cells = run.cells
    bad = cells[cells["status"].astype(str).isin(NOT_RUN)]
    if bad.empty:
        return ""
    rows = (
        [*(str(r[k]) for k in IDENTITY), str(r["status"]), str(r.get("error") or "")]
        for _, r in bad.iterrows()
    )
    return f"<h3>Cells that did not run ({len(bad)})</h3>" + table(
        (*IDENTITY, "status", "reason"), rows
    )


def _distribution_section(page: Page, run: StoredRun, unstable_cv_pct: float) -> str:
    out = [
        '<h2 id="distributions">Latency distributions</h2>',
        "<p class=note>Per cell: the ECDF of each repetition (one fresh worker process each; "
        f"first light, last dark) and each repetition's median with its p10–p90 in run order. "
        "Curves in two bundles: the processes land at two speeds; medians that climb or fall: "
        "drift. A CV of the repetition medians above the [gate] limit "
        f"({unstable_cv_pct:g}%) makes a cell unstable in comparisons.</p>",
    ]
    many = run.cells["target"].nunique() > 1
    titles = {}
    for _, row in run.cells[run.cells["status"] == "ok"].iterrows():
        key = CellKey.of(row)
        titles[key] = f"{row['target']}/{title(row)}" if many else title(row)
    cards = []
    for i, (key, (ns, reps)) in enumerate(run.samples_by_cell().items()):
        if key not in titles or not len(ns):
            continue
        d = distribution(titles[key], ns, reps)
        left = page.slot(f"ecdf-{i}", ecdf_chart(d, f"ecdf-{i}"))
        right = page.slot(f"reps-{i}", repetitions_chart(d, f"reps-{i}"))
        cards.append(
            f'<figure class="cell"><figcaption><b>{esc(d.title)}</b><br>'
            f"{esc(subtitle(d, unstable_cv_pct))}</figcaption>"
            f'<div class="pair">{left}{right}</div></figure>'
        )
    if not cards:
        out.append("<p>No latency samples stored.</p>")
    out.append('<div class="grid cells">' + "".join(cards) + "</div>")
    return "\n".join(out)


def decision_picture(views: list[TargetView], run: StoredRun) -> dict[str, Any]:
    """The decision view as one static chart: per target and metric a row of latency, model
    size and peak memory (and energy where measured)."""
    datasets: dict[str, Any] = {}
    rows = []
    for view in views:
        for group in view.groups:
            records = points(group)
            charts = []
            for axis in group.axes()[:PNG_AXES] + [
                a for a in group.axes()[PNG_AXES:] if a.column == "energy_per_inference_mj"
            ]:
                spec = chart(group, axis, records, 300, 240, f"png-{group.key}-{axis.column}")
                datasets.update(spec.pop("datasets"))
                for layer in spec["layer"]:
                    layer.pop("name", None)  # names must be unique in one spec
                charts.append(spec)
            if charts:
                rows.append({"hconcat": charts, "resolve": INDEPENDENT})
    m = run.manifest
    title = f"{m.get('suite', '')}: decision view — {run.name} ({m.get('verdict', '')})"
    if not rows:
        return {
            "title": title,
            "data": {"values": [{"text": "no cell ran"}]},
            "mark": "text",
            "encoding": {"text": {"field": "text"}},
        }
    return {
        "$schema": vega.schema_url(),
        "title": {"text": title, "anchor": "start", "fontSize": 15},
        "datasets": datasets,
        "vconcat": rows,
        "resolve": INDEPENDENT,
        "config": {"background": "white"},
    }
