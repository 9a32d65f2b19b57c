"""The report's per-op section, drawn when the run stored ops.parquet (`--profile-ops`): per
cell, its share of time (or of instructions, under callgrind) by op type, as one stacked bar
per cell, and a table of the heaviest ops. Timer and instruction shares are different units, so
each source gets its own chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchy.report.page import Page, esc, table
from benchy.results.schema import IDENTITY, CellKey

TYPES_SHOWN = 8  # op types beyond these (by total share) are drawn as "other"
TOP_OPS = 12


def read_ops(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / "ops.parquet"
    if not path.is_file():
        return None
    try:
        ops = pd.read_parquet(path)
    except (OSError, ValueError):
        return None  # the report draws what it can; `benchy runs` names broken files
    return None if ops.empty else ops


def shares_by_type(ops: pd.DataFrame) -> list[dict[str, Any]]:
    """One record per cell and op type: {"cell", "op_type", "share"}; types outside the
    `TYPES_SHOWN` largest (summed over cells) are folded into "other"."""
    ops = ops.assign(cell=[CellKey.of(r).title() for _, r in ops.iterrows()])
    ops["op_type"] = ops["op_type"].astype(str)
    totals = ops.groupby("op_type")["share_pct"].sum().sort_values(ascending=False)
    keep = set(totals.index[:TYPES_SHOWN])
    ops.loc[~ops["op_type"].isin(keep), "op_type"] = "other"
    summed = ops.groupby(["cell", "op_type"], sort=False)["share_pct"].sum().reset_index()
    return [
        {"cell": str(cell), "op_type": str(op_type), "share": round(float(share), 2)}
        for cell, op_type, share in summed[["cell", "op_type", "share_pct"]].to_numpy().tolist()
    ]


def shares_chart(records: list[dict[str, Any]], unit: str) -> dict[str, Any]:
    cells = list(dict.fromkeys(r["cell"] for r in records))
    return {
        "data": {"values": records},
        "width": "container",
        "height": {"step": 22},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "y": {"field": "cell", "type": "nominal", "sort": cells, "title": None},
            "x": {
                "field": "share",
                "type": "quantitative",
                "stack": "zero",
                "title": f"% of {unit} per inference",
                "scale": {"domain": [0, 100]},
            },
            "color": {"field": "op_type", "type": "nominal", "title": "op type"},
            "order": {"field": "share", "type": "quantitative", "sort": "descending"},
        },
    }


def top_ops_rows(ops: pd.DataFrame, top: int = TOP_OPS) -> list[list[str]]:
    heaviest = ops.sort_values("share_pct", ascending=False).head(top)
    rows = []
    for _, r in heaviest.iterrows():
        timed = pd.notna(r["mean_us"])
        cost = f"{r['mean_us']:.1f} µs" if timed else f"{int(r['instructions']):,} instr"
        share = f"{r['share_pct']:.1f}%"
        rows.append([CellKey.of(r).title(), str(r["op_name"]), str(r["op_type"]), cost, share,
                     str(r["source"])])  # fmt: skip
    return rows


def ops_section(page: Page, run_dir: Path) -> str:
    ops = read_ops(run_dir)
    if ops is None:
        return ""
    missing = [c for c in ("op_type", "share_pct", "mean_us", "source", *IDENTITY) if c not in ops]
    if missing:
        return (
            '<h2 id="ops">Where the time goes</h2><p class=note>ops.parquet lacks '
            f"{esc(', '.join(missing))}: not drawn.</p>"
        )
    out = [
        '<h2 id="ops">Where the time goes</h2>',
        "<p class=note>Per cell, from its per-op profiling pass (ops.parquet; docs/profile.md): "
        "the share of each op type. Timer sources give time; callgrind gives instructions, "
        "a different unit, drawn apart.</p>",
    ]
    timed = ops["mean_us"].notna()
    for i, (part, unit) in enumerate(((ops[timed], "time"), (ops[~timed], "instructions"))):
        if part.empty:
            continue
        sources = ", ".join(sorted(set(part["source"].astype(str))))
        spec = shares_chart(shares_by_type(part), unit)
        out.append(page.chart(f"ops-{i}", spec, f"share of {esc(unit)} ({esc(sources)})"))
    head = ("cell", "op", "type", "per inference", "share", "source")
    out.append(f"<h3>Heaviest ops (top {TOP_OPS})</h3>")
    out.append(table(head, top_ops_rows(ops), frozenset({3, 4})))
    return "\n".join(out)
