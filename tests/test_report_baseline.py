"""The report against a baseline and the history page, on stored runs with chosen latencies
(tests/fakeruns.py): the forest plot holds benchy's comparison (verdicts, shifts), the results
without a shift and the differences between the runs are listed; the comparison run.json
records is drawn again from its baseline, or shown as stored when that is gone; the history page
marks the run that recorded a regression. Pages are opened in a real headless Chromium."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest

from benchy.cli import main
from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.results.read import StoredRun

from .chromium import Chromium
from .fakeruns import FACTS, cell_row, medians, write_run
from .report_page import marks, open_report, picture_stats, rendered, specs

REGRESSED = "local/cnn/a tflite/xnnpack ×1"


def runs(tmp_path: Path) -> tuple[Path, Path]:
    """a: +20% (regressed), b: unchanged, c: only in the new run, d: only in the baseline;
    the new run's kernel differs."""
    base = write_run(
        tmp_path / "base",
        {v: (cell_row(v), medians(m)) for v, m in (("a", 0.1), ("b", 0.2), ("d", 0.3))},
    )
    new_cells = {
        "a": (cell_row("a"), [x * 1.2 for x in medians(0.1)]),
        "b": (cell_row("b"), list(reversed(medians(0.2)))),
        "c": (cell_row("c"), medians(0.1)),
    }
    new = write_run(tmp_path / "new", new_cells, facts={**FACTS, "kernel": "6.2"})
    return base, new


def test_forest_holds_the_comparison(tmp_path: Path, browser: Chromium) -> None:
    base, new = runs(tmp_path)
    page = tmp_path / "vs.html"
    assert main(["report", str(new), "--baseline", str(base), "-o", str(page)]) == 0
    expected = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    charts = specs(page)
    p50 = {r["row"]: r for r in charts["forest-p50"]["datasets"]["forest-p50"]}
    assert p50.keys() == {"cnn/a tflite/xnnpack ×1", "cnn/b tflite/xnnpack ×1"}
    for result in expected.results:
        if result.metric == "p50":
            row = p50[result.title.removeprefix("local/")]
            assert row["verdict"] == result.verdict
            assert result.shift is not None and row["shift"] == pytest.approx(result.shift * 100)
    assert p50["cnn/a tflite/xnnpack ×1"]["verdict"] == "regressed"
    assert p50["cnn/b tflite/xnnpack ×1"]["verdict"] == "unchanged"
    accuracy = charts["forest-accuracy-points"]["datasets"]["forest-accuracy-points"]
    assert {r["verdict"] for r in accuracy} == {"unchanged"}
    text = page.read_text()
    assert "Not drawn (2)" in text and ">new<" in text and ">missing<" in text
    assert "local: kernel: 6.1 → 6.2" in text

    tab = open_report(browser, page)
    rendered(tab)
    assert tab.problems() == []
    assert tab.requests() == [page.resolve().as_uri()]
    assert marks(tab, "forest-p50", "shifts") == 2

    latest = tmp_path / "latest.html"  # `latest`: the newest other run beside the new one
    assert main(["report", str(new), "--baseline", "latest", "-o", str(latest)]) == 0
    assert specs(latest)["forest-p50"] == charts["forest-p50"]
    alone = write_run(tmp_path / "alone" / "run", {"a": (cell_row("a"), medians(0.1))})
    assert main(["report", str(alone), "--baseline", "latest"]) == 2


def test_the_stored_comparison_is_drawn_again_or_shown_as_stored(tmp_path: Path) -> None:
    base, _ = runs(tmp_path)
    regressed = f"{REGRESSED}: p50 +20.0% > 5%"
    summary = {"baseline": str(base), "counts": {"regressed": 1}, "regressed": [regressed],
               "differences": ["local: kernel: 6.1 → 6.2"]}  # fmt: skip
    stored = write_run(
        tmp_path / "stored", {"a": (cell_row("a"), medians(0.12))}, comparison=summary
    )
    assert main(["report", str(stored)]) == 0
    assert "forest-p50" in specs(stored / "report.html")
    shutil.rmtree(base)
    assert main(["report", str(stored)]) == 0
    text = (stored / "report.html").read_text()
    assert "forest-p50" not in specs(stored / "report.html")
    assert "the baseline cannot be read any more" in text
    assert html.escape(regressed) in text and "local: kernel: 6.1 → 6.2" in text


def test_history_page_marks_the_regression(tmp_path: Path, browser: Chromium) -> None:
    folder = tmp_path / "results" / "fake"
    for i, center in enumerate((0.10, 0.10, 0.12)):
        comparison = {}
        if i == 2:
            regressed = [f"{REGRESSED}: p50 +20.0% > 5%"]
            summary = {"baseline": "x", "counts": {"regressed": 1}, "regressed": regressed}
            comparison = {"comparison": summary}
        cells = {
            v: (cell_row(v, latency_ci_low_ms=c * 0.98, latency_ci_high_ms=c * 1.02), medians(c))
            for v, c in (("a", center), ("b", 0.2))
        }
        write_run(folder / f"2026110{i + 1}T000000Z-00000{i}", cells, **comparison)
    assert main(["history", "fake", "--results", str(tmp_path / "results"), "--html"]) == 0
    page = folder / "history.html"
    charts = specs(page)
    assert len(charts) == 2
    trend = next(
        s["datasets"][k] for k, s in charts.items() if s["datasets"][k][0]["run"].endswith("0")
        and any(p["regressed"] for p in s["datasets"][k])
    )  # fmt: skip
    assert [p["i"] for p in trend if p["regressed"]] == [3]
    assert [round(p["p50"], 1) for p in trend] == [100.0, 100.0, 120.0]  # µs

    tab = open_report(browser, page)
    assert rendered(tab) == 2
    assert tab.problems() == []
    assert tab.requests() == [page.resolve().as_uri()]
    drawn = tab.evaluate(
        "Array.from(document.querySelectorAll('[id^=trend-]')).map(el => "
        "el.querySelectorAll('g.role-mark.regressions_marks > *').length)"
    )
    assert sorted(drawn) == [0, 1]


def test_no_passing_cell_no_metric_and_errors(tmp_path: Path, browser: Chromium) -> None:
    """A run whose cells fail a budget, one without a metric (no dataset), one crashed: the
    page says so and still draws without a warning."""
    failing = {"verdict": "fail", "failed_budgets": "latency_p90_ms: 0.2 > 0.1"}
    cells = {
        "a": (cell_row("a", latency_p90_ms=0.2, model_size_kb=9.0, **failing), medians(0.15)),
        "b": (
            cell_row("b", latency_p90_ms=0.3, metric_value=None, accuracy=None, **failing),
            medians(0.2),
        ),
        "c": (cell_row("c", "crashed"), None),
    }
    run = write_run(tmp_path / "run", cells, budgets={"local": {"cnn": {"latency_p90_ms": 0.1}}})
    assert main(["report", str(run)]) == 0
    page = run / "report.html"
    text = page.read_text()
    assert "No cell passes every budget" in text
    assert "Not plotted, no metric (no dataset): cnn/b tflite/xnnpack ×1" in text
    assert "Cells that did not run (1)" in text and "SIGSEGV in invoke" in text
    charts = specs(page)
    latency = charts["decision-local-accuracy-latency_p90_ms"]["datasets"]
    assert [p["cell"] for p in latency["decision-local-accuracy-latency_p90_ms-cells"]] == [
        "cnn/a tflite/xnnpack ×1"
    ]
    assert not latency["decision-local-accuracy-latency_p90_ms-best"]
    tab = open_report(browser, page)
    rendered(tab)
    assert tab.problems() == []
    assert marks(tab, "decision-local-accuracy-latency_p90_ms", "cells") == 1


def test_energy_and_battery_life_where_measured(tmp_path: Path, browser: Chromium) -> None:
    """Battery life is better when higher: its budget is a floor, its front runs the other way."""
    figures = {  # variant: (p90 ms, mJ per inference, battery hours)
        "a": (0.10, 2.0, 40.0),
        "b": (0.05, 3.0, 30.0),
        "c": (0.20, 1.0, 60.0),
        "d": (0.30, 4.0, 20.0),
    }
    cells = {
        v: (
            cell_row(v, latency_p90_ms=ms, energy_per_inference_mj=mj, battery_life_hours=h),
            medians(ms),
        )
        for v, (ms, mj, h) in figures.items()
    }
    budgets = {"local": {"cnn": {"battery_life_hours_min": 24, "energy_per_inference_mj": 3.5}}}
    run = write_run(tmp_path / "run", cells, budgets=budgets)
    assert main(["report", str(run)]) == 0
    charts = specs(run / "report.html")
    cid = "decision-local-accuracy-battery_life_hours"
    battery = charts[cid]["datasets"]
    assert battery[f"{cid}-xbudget"] == [
        {"x": 24, "label": "battery_life_hours_min 24 h", "floor": True}
    ]
    # Same accuracy everywhere: the front is the longest battery life alone.
    assert [p["cell"] for p in battery[f"{cid}-front"]] == ["cnn/c tflite/xnnpack ×1"]
    energy = charts["decision-local-accuracy-energy_per_inference_mj"]["datasets"]
    assert [p["cell"] for p in energy["decision-local-accuracy-energy_per_inference_mj-front"]] == [
        "cnn/c tflite/xnnpack ×1"
    ]
    tab = open_report(browser, run / "report.html")
    rendered(tab)
    assert tab.problems() == []
    assert marks(tab, cid, "cells") == 4


def test_two_targets_and_not_a_run(tmp_path: Path) -> None:
    cells = {
        f"{t}-{v}": (cell_row(v, target=t, latency_p90_ms=ms), medians(ms))
        for t in ("local", "pi")
        for v, ms in (("a", 0.1), ("b", 0.2))
    }
    run = write_run(tmp_path / "run", cells)
    assert main(["report", str(run)]) == 0
    charts = specs(run / "report.html")
    for target in ("local", "pi"):
        points = charts[f"decision-{target}-accuracy-latency_p90_ms"]["datasets"]
        assert len(points[f"decision-{target}-accuracy-latency_p90_ms-cells"]) == 2
    size, _, _ = picture_stats((run / "report.png").read_bytes())
    assert size[1] > 900  # one row of charts per target
    assert "local/cnn/a tflite/xnnpack ×1" in (run / "report.html").read_text()
    assert main(["report", str(tmp_path)]) == 2  # not a run directory
