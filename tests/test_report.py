"""The HTML report of a real run: written by `benchy run` (and skipped with --no-report, and
never costing the run its exit code), opened in a real headless Chromium (no console errors, no
request but the file itself, one point per cell that ran, a picture that is not blank, no
sideways scrolling on a phone), its figures equal to the stored cells; report.png; `benchy
report`; the Pareto front, the ECDF downsampling and the log ticks on their own."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from benchy.cli import main
from benchy.report.decision import log_ticks, pareto_front
from benchy.report.distributions import ecdf_points
from benchy.report.select import best_per_target
from benchy.report.vega import png_is_ours

from .chromium import Chromium
from .conftest import CNN_MODELS, DATA, MODELS, QUICK_MEASURE
from .report_page import marks, open_report, picture_stats, rendered, specs

# fp32 (16 KB) fails the CNN's 12 KB size budget, full-int8 (9 KB) passes; ONNX fp32 fails too.
SUITE = f"""
[suite]
name = "small"
rank_by = "latency_p90_ms"
[budgets]
latency_p90_ms = 50
accuracy_min = 85
[matrix]
runtimes = ["onnxruntime", "tflite"]
[matrix.tflite]
delegates = ["none", "xnnpack"]
[models.cnn.budgets]
model_size_kb = 12
{CNN_MODELS}
"""
REPETITIONS = QUICK_MEASURE.replace("[measure]\n", "[measure]\nrepetitions = 3\n", 1)


def write_suite(folder: Path) -> Path:
    text = SUITE.replace("@MODELS@", str(MODELS)).replace("@DATA@", str(DATA))
    (folder / "local.toml").write_text('kind = "local"\n')
    path = folder / "suite.toml"
    path.write_text(text + REPETITIONS)
    return path


def run(folder: Path, out: Path, *extra: str) -> int:
    suite = write_suite(folder)
    return main(
        ["run", str(suite), "--target", str(folder / "local.toml"), "--out", str(out), *extra]
    )


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("report")
    out = folder / "run"
    return out, run(folder, out)


def ok_cells(run_dir: Path) -> pd.DataFrame:
    cells = pd.read_parquet(run_dir / "cells.parquet")
    return cells[cells["status"] == "ok"]


def test_run_writes_the_report_and_its_picture(real_run: tuple[Path, int]) -> None:
    out, code = real_run
    assert code == 1  # a size budget fails: the report does not change that
    assert json.loads((out / "run.json").read_text())["exit_code"] == 1
    html, png = out / "report.html", out / "report.png"
    assert html.is_file() and png.is_file()
    assert html.stat().st_size < 5_000_000
    text = html.read_text()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    for external in ("<script src", "<link", "@import", "cdn.jsdelivr", "unpkg.com"):
        assert external not in text
    data = png.read_bytes()
    assert png_is_ours(data)
    assert Image.open(io.BytesIO(data)).info["Software"].startswith("benchy ")
    size, colours, inked = picture_stats(data)
    assert size[0] >= 1200 and 400 <= size[1] <= 1500  # three charts in a row, one target
    assert colours > 50 and 0.02 < inked < 0.8


def test_decision_figures_are_the_stored_cells(real_run: tuple[Path, int]) -> None:
    out, _ = real_run
    cells = ok_cells(out)
    spec = specs(out / "report.html")["decision-local-accuracy-latency_p90_ms"]
    cid = "decision-local-accuracy-latency_p90_ms"
    points = {p["cell"]: p for p in spec["datasets"][f"{cid}-cells"]}
    assert len(points) == len(cells) == 5  # 2 TFLite variants × 2 delegates, 1 ONNX
    for row in cells.itertuples():
        name = f"{row.model}/{row.variant} {row.runtime}/{row.delegate} ×{row.threads}"
        assert points[name]["x"] == pytest.approx(row.latency_p90_ms / 1e3)
        assert points[name]["y"] == pytest.approx(row.metric_value)
        assert points[name]["verdict"] == row.verdict
    best = best_per_target(pd.read_parquet(out / "cells.parquet"), "latency_p90_ms")[0].row
    assert best is not None
    (marked,) = spec["datasets"][f"{cid}-best"]
    assert marked["cell"] == f"cnn/{best.variant} {best.runtime}/{best.delegate} ×1"
    assert [b["x"] for b in spec["datasets"][f"{cid}-xbudget"]] == [0.05]  # 50 ms in s
    assert {b["y"] for b in spec["datasets"][f"{cid}-ybudget"]} == {85.0}
    size = specs(out / "report.html")["decision-local-accuracy-model_size_kb"]
    (limit,) = size["datasets"]["decision-local-accuracy-model_size_kb-xbudget"]
    assert limit["x"] == 12 and "model_size_kb" in limit["label"]
    front = spec["datasets"][f"{cid}-front"]
    assert front[0]["x"] == min(p["x"] for p in points.values())  # same accuracy: fastest only


def test_report_in_a_real_browser(real_run: tuple[Path, int], browser: Chromium) -> None:
    out, _ = real_run
    cells = ok_cells(out)
    tab = open_report(browser, out / "report.html")
    assert rendered(tab) == len(specs(out / "report.html"))
    assert tab.problems() == []
    assert tab.requests() == [(out / "report.html").resolve().as_uri()]
    assert marks(tab, "decision-local-accuracy-latency_p90_ms", "cells") == len(cells)
    assert marks(tab, "decision-local-accuracy-latency_p90_ms", "best") == 1
    ecdfs = tab.evaluate("document.querySelectorAll('[id^=ecdf-] svg.marks').length")
    assert ecdfs == len(cells)
    size, colours, inked = picture_stats(tab.screenshot())
    assert size == (1280, 900) and colours > 100 and inked > 0.05


def test_report_fits_a_phone(real_run: tuple[Path, int], browser: Chromium) -> None:
    out, _ = real_run
    tab = open_report(browser, out / "report.html", width=390)
    rendered(tab)
    assert tab.problems() == []
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    assert marks(tab, "decision-local-accuracy-latency_p90_ms", "cells") == len(ok_cells(out))


def test_benchy_report_rewrites_its_own_files_only(
    real_run: tuple[Path, int], tmp_path: Path
) -> None:
    out, _ = real_run
    page = tmp_path / "page.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    assert specs(page).keys() == specs(out / "report.html").keys()
    assert png_is_ours((tmp_path / "page.png").read_bytes())
    assert main(["report", str(out), "-o", str(page)]) == 0  # its own file: rewritten
    foreign = tmp_path / "notes.html"
    foreign.write_text("<p>mine</p>")
    assert main(["report", str(out), "-o", str(foreign)]) == 2
    assert foreign.read_text() == "<p>mine</p>"
    assert not (tmp_path / "notes.png").exists()


def test_no_report_and_a_failing_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(tmp_path, tmp_path / "quiet", "--no-report") == 1
    assert not (tmp_path / "quiet" / "report.html").exists()
    blocked = tmp_path / "blocked"

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")  # the report cannot be written

    monkeypatch.setattr("benchy.commands.report.write_run_report", broken)
    with caplog.at_level(logging.ERROR):
        assert run(tmp_path, blocked, "--baseline", str(tmp_path / "quiet")) == 1
    assert "report not written" in caplog.text
    manifest = json.loads((blocked / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["exit_code"] == 1
    assert manifest["comparison"]["counts"]
    assert len(ok_cells(blocked)) == 5


@given(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_undominated_points(pairs: list[tuple[int, int]]) -> None:
    x, y = np.array(pairs).T
    front = pareto_front(x, y, x_higher=False, y_higher=True)  # low x, high y are better
    for i in range(len(x)):
        dominated = any(
            x[j] <= x[i] and y[j] >= y[i] and (x[j] < x[i] or y[j] > y[i]) for j in range(len(x))
        )
        assert front[i] == (not dominated)


@given(st.lists(st.floats(0.001, 1e3), min_size=1, max_size=500), st.integers(2, 80))
def test_ecdf_points_keep_the_extremes(values: list[float], k: int) -> None:
    ordered = np.sort(np.asarray(values))
    xs, ps = ecdf_points(ordered, k)
    assert len(xs) <= k and xs[0] == ordered[0] and xs[-1] == ordered[-1]
    assert ps[-1] == 1.0 and ps == sorted(ps) and xs == sorted(xs)


def test_log_ticks_cover_the_values() -> None:
    assert log_ticks([4e-6, 1.3e-3, 0.05]) == [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert log_ticks([9, 37, 256]) == [1, 10, 100, 1000]
    assert log_ticks([12, 37, 90]) == [10, 20, 50, 100]  # two decades or less: 2× and 5× too
    assert log_ticks([]) == []
