"""The decision view: per target, the suite's metric against p90 latency, model size, peak
memory (and energy, battery life where measured) for every cell that ran, with the Pareto front,
the budgets and the best passing cell.

A cell is on the Pareto front when no other cell is at least as good on both axes and better
on one. Budget lines come from the budgets the run recorded per target and model (run.json
"budgets"); the best passing cell is `report.select.best_per_target` with the run's `rank_by`,
the same choice the terminal prints. Figure axes are logarithmic: "how far inside the budget"
is a ratio, and latencies of one suite span several decades.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchy.report.figures import is_number, latency_text, number_text
from benchy.report.select import best_per_target
from benchy.results.schema import CellKey

VERDICT_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "inconclusive": "#e09100"}
BUDGET_COLOUR = "#c62828"
FRONT_COLOUR = "#455a64"
LEGEND = {"orient": "bottom", "direction": "horizontal"}  # beside the plot it eats a phone
SHADE = 0.035  # opacity of the region a budget rules out; where two overlap it is darker


@dataclass(frozen=True)
class Axis:
    column: str  # cells column
    title: str
    unit: str  # shown after the values; "s" gets SI prefixes (µs, ms)
    budget: str | None  # the budget that limits this column
    scale: float = 1.0  # column value × scale = plotted value
    higher_is_better: bool = False


LATENCY = Axis("latency_p90_ms", "p90 latency", "s", "latency_p90_ms", scale=1e-3)
AXES = (
    LATENCY,
    Axis("model_size_kb", "model size", "KB", "model_size_kb"),
    Axis("peak_rss_mb", "peak memory (process RSS)", "MB", "peak_memory_mb"),
    Axis("tflm_arena_kb", "TFLite Micro arena", "KB", "tflm_arena_kb"),
    Axis("energy_per_inference_mj", "energy per inference", "mJ", "energy_per_inference_mj"),
    Axis(
        "battery_life_hours",
        "battery life",
        "h",
        "battery_life_hours_min",
        higher_is_better=True,
    ),
)
PNG_AXES = 3  # the static picture shows latency, model size and peak memory
METRIC_TITLES = {"accuracy": "accuracy (%)", "top_k": "top-k accuracy (%)", "mae": "MAE"}
HIGHER_IS_BETTER_METRICS = ("accuracy", "top_k")


def pareto_front(
    x: npt.ArrayLike, y: npt.ArrayLike, x_higher: bool = False, y_higher: bool = False
) -> npt.NDArray[np.bool_]:
    """Which points no other point dominates (at least as good on both axes, better on one)."""
    xs = np.asarray(x, dtype=np.float64) * (-1 if x_higher else 1)
    ys = np.asarray(y, dtype=np.float64) * (-1 if y_higher else 1)
    no_worse = (xs[:, None] <= xs[None, :]) & (ys[:, None] <= ys[None, :])
    better = (xs[:, None] < xs[None, :]) | (ys[:, None] < ys[None, :])
    dominated = (no_worse & better).any(axis=0)  # [i, j]: i dominates j
    return np.asarray(~dominated)


@dataclass(frozen=True)
class Group:
    """The ok cells of one target scored with one metric: one set of decision charts."""

    target: str
    metric: str
    cells: pd.DataFrame  # ok cells with a metric value
    budgets: dict[str, dict[str, float]] | None  # model → budgets; None when not recorded
    best: CellKey | None  # the best passing cell

    @property
    def key(self) -> str:
        return f"{self.target}-{self.metric}"

    @property
    def metric_higher(self) -> bool:
        return self.metric in HIGHER_IS_BETTER_METRICS

    def axes(self) -> list[Axis]:
        """The axes some cell of the group has a (positive: the axes are log) figure for."""
        return [a for a in AXES if a.column in self.cells and (self.cells[a.column] > 0).any()]


@dataclass(frozen=True)
class TargetView:
    target: str
    groups: list[Group]
    unplotted: list[str]  # ok cells without a metric value, by title
    best: pd.Series | None
    rank_by: str
    passing: int


def title(row: dict[str, Any] | pd.Series) -> str:
    """A cell's name without its target, as the terminal shows it."""
    return CellKey.of(row).title(target=False)


def target_views(
    cells: pd.DataFrame, budgets: dict[str, Any] | None, rank_by: str
) -> list[TargetView]:
    ok = cells[cells["status"] == "ok"]
    out = []
    bests = {b.target: b for b in best_per_target(cells, rank_by)}
    for target in dict.fromkeys(cells["target"].astype(str)):
        mine = ok[ok["target"].astype(str) == target]
        best = bests[target].row if target in bests else None
        best_key = None if best is None else CellKey.of(best)
        scored = mine[mine["metric_value"].notna()] if "metric_value" in mine else mine.iloc[:0]
        groups = [
            Group(
                target,
                str(metric),
                part,
                None if budgets is None else budgets.get(target, {}),
                best_key,
            )
            for metric, part in scored.groupby("metric", sort=False)
        ]
        unplotted = [title(r) for _, r in mine.iterrows() if not is_number(r.get("metric_value"))]
        passing = bests[target].candidates if target in bests else 0
        out.append(TargetView(target, groups, unplotted, best, rank_by, passing))
    return out


def _budget_text(name: str, value: float, axis: Axis) -> str:
    return f"{name} {latency_text(value) if axis is LATENCY else number_text(value, axis.unit)}"


def _models_text(models: list[str], all_models: list[str]) -> str:
    return "" if sorted(models) == sorted(all_models) else f" ({', '.join(models)})"


def budget_lines(group: Group, axis: Axis) -> list[dict[str, Any]]:
    """One rule per distinct budget value on this axis, labelled with the models it binds."""
    if group.budgets is None or axis.budget is None:
        return []
    models = list(dict.fromkeys(group.cells["model"].astype(str)))
    by_value: dict[float, list[str]] = {}
    for model in models:
        limit = group.budgets.get(model, {}).get(axis.budget)
        if limit is not None and limit > 0:
            by_value.setdefault(float(limit), []).append(model)
    return [
        {
            "x": v * axis.scale,
            "label": _budget_text(axis.budget, v, axis) + _models_text(ms, models),
            "floor": axis.higher_is_better,
        }
        for v, ms in by_value.items()
    ]


def metric_lines(group: Group) -> list[dict[str, Any]]:
    """accuracy_min, and per model the reference's value less accuracy_drop_max."""
    if group.budgets is None or not group.metric_higher:
        return []
    models = list(dict.fromkeys(group.cells["model"].astype(str)))
    lines: dict[tuple[str, float], list[str]] = {}  # (label, accuracy) → models
    for model in models:
        budgets = group.budgets.get(model, {})
        if "accuracy_min" in budgets:
            limit = float(budgets["accuracy_min"])
            lines.setdefault((f"accuracy_min {limit:g}", limit), []).append(model)
        drops = group.cells[group.cells["model"].astype(str) == model]
        if "accuracy_drop_max" in budgets and "accuracy_drop" in drops:
            refs = (drops["metric_value"] + drops["accuracy_drop"]).dropna()
            if len(refs):
                drop = float(budgets["accuracy_drop_max"])
                floor = float(refs.median()) - drop
                name = f"accuracy_drop_max {drop:g} → {number_text(floor, digits=4)}"
                lines.setdefault((name, floor), []).append(model)
    return [{"y": v, "label": name + _models_text(ms, models)} for (name, v), ms in lines.items()]


def points(group: Group) -> list[dict[str, Any]]:
    """One record per cell: plotted values (`x_<column>`, `y`) and the tooltip texts."""
    out = []
    for _, row in group.cells.iterrows():
        key = CellKey.of(row)
        rec: dict[str, Any] = {
            "cell": title(row),
            "model": str(row["model"]),
            "verdict": str(row.get("verdict")),
            "best": key == group.best,
            "y": float(row["metric_value"]),
            "metric": number_text(row["metric_value"], digits=4),
            "latency": " / ".join(
                latency_text(row.get(f"latency_{q}_ms")) for q in ("p50", "p90", "p99")
            ),
            "failed": str(row.get("failed_budgets") or "") or "–",
            "tightest": _tightest(row),
        }
        for axis in group.axes():
            value = row.get(axis.column)
            rec[f"x_{axis.column}"] = float(value) * axis.scale if is_number(value) else None
            if axis is not LATENCY:
                rec[axis.column] = number_text(value, axis.unit)
        out.append(rec)
    return out


def _tightest(row: pd.Series) -> str:
    name, room = row.get("tightest_budget"), row.get("headroom_pct")
    if not name or not is_number(room):
        return "–"
    return f"{name}, {room:.0f}% headroom"


def front(group: Group, axis: Axis, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Pareto front on this axis, ordered along it for a step line."""
    field = f"x_{axis.column}"
    usable = [r for r in records if is_number(r.get(field)) and r[field] > 0]
    if not usable:
        return []
    mask = pareto_front(
        [r[field] for r in usable],
        [r["y"] for r in usable],
        axis.higher_is_better,
        group.metric_higher,
    )
    chosen = [r for r, on in zip(usable, mask, strict=True) if on]
    chosen.sort(key=lambda r: float(r[field]), reverse=axis.higher_is_better)
    return [
        {"x": r[field], "y": r["y"], "cell": r["cell"], "order": i} for i, r in enumerate(chosen)
    ]


def log_ticks(values: Iterable[float]) -> list[float]:
    """Tick values for a log axis over `values`: every decade, with 2× and 5× when it spans
    two decades or less (Vega's own log ticks grid every 1..9 × 10^k: too dense to read)."""
    known = [v for v in values if v > 0]
    if not known:
        return []
    low, high = np.floor(np.log10(min(known))), np.ceil(np.log10(max(known)))
    steps = (1, 2, 5) if high - low <= 2 else (1,)
    return [
        float(f"{m * 10.0**e:.12g}")
        for e in range(int(low), int(high) + 1)
        for m in steps
        if 10**low <= m * 10.0**e <= 10**high
    ]


def _x_encoding(axis: Axis, ticks: list[float]) -> dict[str, Any]:
    label = f"{axis.title} ({axis.unit}, log scale)"
    enc: dict[str, Any] = {
        "field": "x",
        "type": "quantitative",
        "title": label,
        # padding (pixels): a point on a decade is not cut in half by the plot's edge
        "scale": {"type": "log", "nice": False, "domain": [ticks[0], ticks[-1]], "padding": 14}
        if ticks
        else {"type": "log"},
        "axis": {"values": ticks, "labelFlush": True},
    }
    if axis.unit == "s":  # 2µs, 50ms: SI prefixes on seconds
        enc["axis"]["labelExpr"] = "format(datum.value, '~s') + 's'"
    return enc


def _tooltip(group: Group, axis_columns: Iterable[str]) -> list[dict[str, str]]:
    tips = [
        {"field": "cell", "title": "cell"},
        {"field": "verdict", "title": "verdict"},
        {"field": "latency", "title": "p50 / p90 / p99"},
        {"field": "metric", "title": group.metric},
    ]
    tips += [{"field": c, "title": c} for c in axis_columns]
    tips += [
        {"field": "failed", "title": "failed budgets"},
        {"field": "tightest", "title": "tightest budget"},
    ]
    return tips


def chart(
    group: Group, axis: Axis, records: list[dict[str, Any]], width: int | str, height: int, cid: str
) -> dict[str, Any]:
    """One decision chart (a Vega-Lite layer spec with its data in `datasets`)."""
    field = f"x_{axis.column}"
    shown = [
        {**r, "x": r[field]} for r in records if is_number(r.get(field)) and float(r[field]) > 0
    ]
    xs = budget_lines(group, axis)
    x = _x_encoding(axis, log_ticks([r["x"] for r in shown] + [b["x"] for b in xs]))
    y = {
        "field": "y",
        "type": "quantitative",
        "title": METRIC_TITLES.get(group.metric, group.metric),
        "scale": {"zero": False, "padding": 12},
    }
    ys = metric_lines(group)
    others = [a.column for a in group.axes() if a is not LATENCY]
    data = {
        f"{cid}-cells": shown,
        f"{cid}-front": front(group, axis, records),
        f"{cid}-xbudget": xs,
        f"{cid}-ybudget": ys,
        f"{cid}-best": [r for r in shown if r["best"]],
    }
    layers: list[dict[str, Any]] = []
    if xs:
        layers += _x_budget_layers(f"{cid}-xbudget", x, axis.higher_is_better)
    if ys:
        layers += _y_budget_layers(f"{cid}-ybudget", y)
    layers.append(
        {
            "data": {"name": f"{cid}-front"},
            "mark": {
                "type": "line",
                "interpolate": "step-before" if axis.higher_is_better else "step-after",
                "color": FRONT_COLOUR,
                "strokeDash": [2, 2],
                "clip": True,
            },
            "encoding": {"x": x, "y": y, "order": {"field": "order", "type": "quantitative"}},
        }
    )
    layers.append(
        {
            "name": "cells",
            "data": {"name": f"{cid}-cells"},
            "mark": {"type": "point", "filled": True, "size": 80, "opacity": 0.85},
            "encoding": {
                "x": x,
                "y": y,
                "color": {
                    "field": "verdict",
                    "type": "nominal",
                    "title": "budgets",
                    "scale": {
                        "domain": list(VERDICT_COLOURS),
                        "range": list(VERDICT_COLOURS.values()),
                    },
                    "legend": LEGEND,
                },
                "shape": {"field": "model", "type": "nominal", "title": "model", "legend": LEGEND},
                "tooltip": _tooltip(group, others),
            },
        }
    )
    if data[f"{cid}-best"]:  # a layer without data has no extent: Vega would warn
        layers += _best_layers(f"{cid}-best", x, y, _tooltip(group, others))
    return {
        "width": width,
        "height": height,
        "title": {
            "text": f"{METRIC_TITLES.get(group.metric, group.metric)} vs {axis.title}",
            "subtitle": f"{group.target}: {len(shown)} cells; dashed: Pareto front",
            "anchor": "start",
        },
        "datasets": data,
        "layer": layers,
    }


def _best_layers(
    name: str, x: dict[str, Any], y: dict[str, Any], tooltip: list[dict[str, str]]
) -> list[dict[str, Any]]:
    return [
        {
            "name": "best",
            "data": {"name": name},
            "mark": {"type": "point", "size": 420, "strokeWidth": 2.5, "color": "#111"},
            "encoding": {"x": x, "y": y, "tooltip": tooltip},
        },
        {
            "data": {"name": name},
            "mark": {"type": "text", "align": "left", "dx": 14, "dy": -10, "fontWeight": "bold"},
            "encoding": {"x": x, "y": y, "text": {"value": "best passing"}},
        },
    ]


def _x_budget_layers(name: str, x: dict[str, Any], floor: bool) -> list[dict[str, Any]]:
    side = {"x": x, "x2": {"value": 0 if floor else "width"}}  # the side the budget rules out
    return [
        {
            "data": {"name": name},
            "mark": {"type": "rect", "color": BUDGET_COLOUR, "opacity": SHADE},
            "encoding": side,
        },
        {
            "data": {"name": name},
            "mark": {"type": "rule", "color": BUDGET_COLOUR, "strokeDash": [6, 3]},
            "encoding": {"x": x},
        },
        {
            "data": {"name": name},
            "mark": {
                "type": "text",
                "color": BUDGET_COLOUR,
                "align": "right",
                "angle": 270,
                "baseline": "bottom",
                "dx": -4,
                "dy": -3,
            },
            "encoding": {"x": x, "y": {"value": 0}, "text": {"field": "label"}},
        },
    ]


def _y_budget_layers(name: str, y: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "data": {"name": name},
            "mark": {"type": "rect", "color": BUDGET_COLOUR, "opacity": SHADE},
            "encoding": {"y": y, "y2": {"value": "height"}},
        },
        {
            "data": {"name": name},
            "mark": {"type": "rule", "color": BUDGET_COLOUR, "strokeDash": [6, 3]},
            "encoding": {"y": y},
        },
        {
            "data": {"name": name},
            "mark": {"type": "text", "color": BUDGET_COLOUR, "align": "left", "dy": -5},
            "encoding": {"y": y, "x": {"value": 4}, "text": {"field": "label"}},
        },
    ]
