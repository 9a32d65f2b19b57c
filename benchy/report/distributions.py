"""Latency distributions per cell from samples.parquet: the ECDF of every repetition (one worker
process each) and each repetition's median with its p10–p90 range in run order, so a cell whose
processes land at two speeds (bimodal) or slow down over the run (drift) is seen at a glance.

Downsampling: each repetition's ECDF is drawn through `POINTS_PER_REPETITION` order statistics
at evenly spaced ranks, always including its minimum and maximum. A line through 64 of 20 000
sorted samples is indistinguishable from all of them at chart size, and the wearable suite
(32 cells × 12 repetitions, 1.6 M samples) then costs about 25 000 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchy.report.figures import latency_text, latency_unit
from benchy.stats import robust_scatter

POINTS_PER_REPETITION = 64
REPETITION_COLOURS = ["#9ecae1", "#08306b"]  # first repetition light, last dark


@dataclass(frozen=True)
class CellDistribution:
    title: str
    unit: str
    factor: float  # ms × factor = plotted value
    ecdf: list[dict[str, Any]]  # per repetition: {"rep", "v": [...], "p": [...]}
    reps: list[dict[str, Any]]  # per repetition: {"rep", "median", "low", "high", "n"}
    p50_ms: float
    p99: float  # pooled, in the plotted unit: the x axis ends there
    max_ms: float
    scatter: float  # robust relative scatter of the repetition medians, as the gate judges it

    @property
    def n(self) -> int:
        return sum(int(r["n"]) for r in self.reps)


def ecdf_points(sorted_values: npt.NDArray[np.float64], k: int) -> tuple[list[float], list[float]]:
    """(value, cumulative fraction) at up to k evenly spaced ranks, first and last included."""
    n = len(sorted_values)
    ranks = np.unique(np.round(np.linspace(0, n - 1, min(k, n))).astype(np.int64))
    return sorted_values[ranks].tolist(), np.round((ranks + 1) / n, 4).tolist()


def sorted_quantile(ordered: npt.NDArray[np.float64], q: float) -> float:
    """numpy's default (linear) quantile of an already sorted array, without sorting again."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def distribution(
    title: str, latency_ns: npt.NDArray[np.int64], repetition: npt.NDArray[np.int64]
) -> CellDistribution:
    ms = latency_ns.astype(np.float64) / 1e6
    p50 = float(np.median(ms))
    factor, unit = latency_unit(p50)
    order = np.argsort(repetition, kind="stable")
    scaled_all, repetition = np.round(ms[order] * factor, 4), repetition[order]
    starts = np.r_[0, np.flatnonzero(np.diff(repetition)) + 1]
    ecdf, reps = [], []
    for start, end in zip(starts, [*starts[1:], len(ms)], strict=True):
        scaled = np.sort(scaled_all[start:end])
        values, fractions = ecdf_points(scaled, POINTS_PER_REPETITION)
        rep = int(repetition[start]) + 1  # shown counting from 1
        ecdf.append({"rep": rep, "v": values, "p": fractions})
        low, median, high = (sorted_quantile(scaled, q) for q in (0.1, 0.5, 0.9))
        reps.append({"rep": rep, "median": median, "low": low, "high": high, "n": int(end - start)})
    medians = [r["median"] for r in reps]
    return CellDistribution(
        title,
        unit,
        factor,
        ecdf,
        reps,
        p50,
        float(np.quantile(scaled_all, 0.99)),
        float(ms.max()) if len(ms) else 0.0,
        robust_scatter(np.log(medians)) if len(medians) > 1 and min(medians) > 0 else float("nan"),
    )


def subtitle(d: CellDistribution, unstable_cv_pct: float) -> str:
    text = f"p50 {latency_text(d.p50_ms)} · {len(d.reps)} repetitions, {d.n} samples"
    if d.scatter == d.scatter:  # not nan
        text += f" · robust scatter of repetition medians {d.scatter * 100:.1f}%"
        if d.scatter * 100 > unstable_cv_pct:
            text += f" > {unstable_cv_pct:g}%"
    return text


def ecdf_chart(d: CellDistribution, cid: str) -> dict[str, Any]:
    colour = {
        "field": "rep",
        "type": "quantitative",
        "title": "repetition",
        "scale": {"range": REPETITION_COLOURS},
        "legend": None,
    }
    return {
        "width": "container",
        "height": 170,
        "title": {
            "text": "ECDF per repetition",
            "subtitle": f"axis ends at the pooled p99; max {latency_text(d.max_ms)}",
            "anchor": "start",
            "fontSize": 12,
            "subtitleFontSize": 10,
        },
        "datasets": {cid: d.ecdf},
        "data": {"name": cid},
        "transform": [{"flatten": ["v", "p"]}],
        "mark": {"type": "line", "interpolate": "step-after", "strokeWidth": 1.2, "clip": True},
        "encoding": {
            "x": {
                "field": "v",
                "type": "quantitative",
                "title": f"latency ({d.unit})",
                "scale": {"zero": False, "domainMax": d.p99, "nice": False},
            },
            "y": {"field": "p", "type": "quantitative", "title": "fraction ≤ x"},
            "color": colour,
            "detail": {"field": "rep", "type": "nominal"},
            "tooltip": [
                {"field": "rep", "title": "repetition"},
                {"field": "v", "title": f"latency ({d.unit})"},
                {"field": "p", "title": "fraction ≤", "format": ".1%"},
            ],
        },
    }


def repetitions_chart(d: CellDistribution, cid: str) -> dict[str, Any]:
    x = {
        "field": "rep",
        "type": "quantitative",
        "title": "repetition (run order)",
        "scale": {"domain": [0.5, len(d.reps) + 0.5], "nice": False},
        "axis": {"tickMinStep": 1, "format": "d"},
    }
    y = {"field": "median", "type": "quantitative", "title": f"median ({d.unit})"}
    return {
        "width": "container",
        "height": 170,
        "title": {
            "text": "repetitions: median, p10–p90",
            "anchor": "start",
            "fontSize": 12,
        },
        "datasets": {cid: d.reps},
        "data": {"name": cid},
        "layer": [
            {
                "mark": {"type": "rule", "color": "#9e9e9e"},
                "encoding": {
                    "x": x,
                    "y": {**y, "field": "low", "scale": {"zero": False}},
                    "y2": {"field": "high"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 45},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": {
                        "field": "rep",
                        "type": "quantitative",
                        "scale": {"range": REPETITION_COLOURS},
                        "legend": None,
                    },
                    "tooltip": [
                        {"field": "rep", "title": "repetition"},
                        {"field": "median", "title": f"median ({d.unit})"},
                        {"field": "low", "title": f"p10 ({d.unit})"},
                        {"field": "high", "title": f"p90 ({d.unit})"},
                        {"field": "n", "title": "samples"},
                    ],
                },
            },
        ],
    }
