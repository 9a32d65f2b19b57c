"""`benchy compare` on stored runs with chosen latencies: every verdict, its exit code, what
differs between the runs, JUnit (validated against tests/junit.xsd), markdown, annotations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from benchy.cli import main
from benchy.config import Gate
from benchy.judge.compare import compare_runs
from benchy.results.read import StoredRun

from .fakeruns import FACTS, cell_row, medians, write_run

XSD = Path(__file__).parent / "junit.xsd"
BASE = medians(0.100)  # ten repetitions, p50 0.1 ms, scatter ±0.2%


def pair(
    tmp_path: Path, new: list[float] | None, status: str = "ok", **new_manifest: Any
) -> tuple[Path, Path]:
    base = write_run(tmp_path / "base", {"a": (cell_row("a"), BASE)})
    cells = {"a": (cell_row("a", status), new if status == "ok" else None)}
    return base, write_run(tmp_path / "new", cells, **new_manifest)


def verdict_of(base: Path, new: Path, metric: str = "p50") -> str:
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    return next(r.verdict for r in c.results if r.metric in (metric, "cell"))


CASES = {
    # name: (new per-repetition medians, status, verdict, exit code)
    "regressed": ([m * 1.20 for m in BASE], "ok", "regressed", 1),
    "improved": ([m * 0.80 for m in BASE], "ok", "improved", 0),
    "unchanged": (list(reversed(BASE)), "ok", "unchanged", 0),
    # +5% with ±3% scatter: the CI reaches both sides of δ = 5%.
    "inconclusive": ([m * 1.05 for m in medians(0.100, spread=0.06)], "ok", "inconclusive", 4),
    # Half the processes 30% slower than the others (two speed modes): judged on the fast ones.
    "two speeds": ([0.10, 0.13] * 5, "ok", "unchanged", 0),
    "two speeds, +10%": ([0.11, 0.143] * 5, "ok", "regressed", 1),
    # Spread evenly over ±12%, no speed mode to compare: the CI straddles δ, not gated.
    "unstable": ([0.093, 0.099, 0.105, 0.111, 0.117, 0.123] * 2, "ok", "unstable", 0),
    # Scattered too, but every repetition 2× slower than every baseline one: judged.
    "unstable but far": ([0.20, 0.26] * 5, "ok", "regressed", 1),
    "crashed": (None, "crashed", "error", 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_verdict_and_its_exit_code(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_medians, status, verdict, code = CASES[case]
    base, new = pair(tmp_path, new_medians, status)
    assert verdict_of(base, new) == verdict
    summary = tmp_path / "summary.md"
    assert main(["compare", str(base), str(new), "--markdown", str(summary)]) == code
    out = capsys.readouterr().out
    assert f"(exit {code})" in out
    # an unstable latency between two runs points to what can judge it, here and in CI's summary
    hint = "`benchy ab BASE_SUITE NEW_SUITE` measures both sides"
    assert (hint in out, hint in summary.read_text()) == (verdict == "unstable",) * 2


def test_inconclusive_can_be_made_to_pass(tmp_path: Path) -> None:
    base, new = pair(tmp_path, CASES["inconclusive"][0])
    assert main(["compare", str(base), str(new), "--inconclusive=pass"]) == 0


def test_regression_message_has_the_shift_and_ci(tmp_path: Path) -> None:
    base, new = pair(tmp_path, [m * 1.20 for m in BASE])
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    p50 = next(r for r in c.results if r.metric == "p50")
    assert p50.shift == pytest.approx(0.20)
    assert p50.low is not None and p50.high is not None
    assert 0.05 < p50.low < 0.20 < p50.high
    assert p50.message().startswith("p50 +20.0% [99% CI +19.")
    assert p50.message().endswith("] > 5%")
    assert c.family == 1  # p50 of one cell (p99 is opt-in: [gate] metrics)


def test_holm_needs_more_than_one_test_alone(tmp_path: Path) -> None:
    """A shift whose own CI clears δ but not the Holm step over many tests is inconclusive."""
    spread = medians(0.100, n=6, spread=0.02)
    cells = {f"v{i}": (cell_row(f"v{i}"), spread) for i in range(30)}
    base = write_run(tmp_path / "base", cells)
    moved = {f"v{i}": (cell_row(f"v{i}"), spread) for i in range(30)}
    moved["v0"] = (cell_row("v0"), [m * 1.09 for m in spread])
    new = write_run(tmp_path / "new", moved)
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    v0 = next(r for r in c.results if r.cell.variant == "v0" and r.metric == "p50")
    assert v0.low is not None and v0.low > 0.05  # alone, the 99% CI clears δ
    assert v0.verdict == "inconclusive"
    assert "Holm" in v0.note
    assert "regressed" not in c.verdicts()


def test_too_few_repetitions_are_inconclusive_not_passed(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", {"a": (cell_row("a"), [0.1, 0.1, 0.1])})
    new = write_run(tmp_path / "new", {"a": (cell_row("a"), [0.2, 0.2, 0.2])})
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    p50 = next(r for r in c.results if r.metric == "p50")
    assert p50.verdict == "inconclusive"
    assert "need ≥ 5 each" in p50.note


def test_memory_and_accuracy_are_point_comparisons(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", {"a": (cell_row("a"), BASE), "b": (cell_row("b"), BASE)})
    cells = {
        "a": (cell_row("a", peak_rss_mb=40.9, metric_value=94.95), BASE),  # within δ
        "b": (cell_row("b", peak_rss_mb=43.0, metric_value=93.0), BASE),  # +3 MiB, −2 points
    }
    new = write_run(tmp_path / "new", cells)
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    got = {(r.cell.variant, r.metric): r.verdict for r in c.results}
    assert got[("a", "peak_memory")] == "unchanged"
    assert got[("a", "accuracy")] == "unchanged"
    assert got[("b", "peak_memory")] == "regressed"
    assert got[("b", "accuracy")] == "regressed"
    assert ("a", "energy") not in got  # no energy column on either side: nothing to say


def test_what_differs_is_shown_beside_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_run(tmp_path / "base", {"a": (cell_row("a"), BASE)})
    facts = {**FACTS, "kernel": "6.2"}
    facts["runtimes"] = {"tflite": {**FACTS["runtimes"]["tflite"], "version": "2.4.0"}}
    new = write_run(
        tmp_path / "new",
        {"a": (cell_row("a", delegate_applied="none"), [m * 1.2 for m in BASE])},
        facts=facts,
        models_sha256={"cnn/a": "d" * 64},
        benchy_version="0.2.0",
    )
    assert main(["compare", str(base), str(new)]) == 1
    out = capsys.readouterr().out
    for text in (
        "benchy_version: 0.1.0 → 0.2.0",
        "local: kernel: 6.1 → 6.2",
        "local: tflite version: 2.3.0 → 2.4.0",
        "cnn/a: model sha256: cccccccccccc → dddddddddddd",
        "delegate applied (tflite/xnnpack ×1): xnnpack (1 partition) → none",
    ):
        assert text in out
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    p50 = next(r for r in c.results if r.metric == "p50")
    assert any("model sha256" in t for t in p50.context)  # beside the very result


def test_cells_only_on_one_side(tmp_path: Path) -> None:
    base = write_run(
        tmp_path / "base", {"a": (cell_row("a"), BASE), "old": (cell_row("old"), BASE)}
    )
    new = write_run(
        tmp_path / "new", {"a": (cell_row("a"), BASE), "fresh": (cell_row("fresh"), BASE)}
    )
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    cell = {r.cell.variant: r.verdict for r in c.results if r.metric == "cell"}
    assert cell == {"fresh": "new", "old": "missing"}
    assert main(["compare", str(base), str(new)]) == 0


def test_unknown_result_schema_is_refused_with_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, new = pair(tmp_path, BASE)
    manifest = json.loads((base / "run.json").read_text())
    manifest["schema_version"] = 99
    (base / "run.json").write_text(json.dumps(manifest))
    assert main(["compare", str(base), str(new)]) == 2
    err = capsys.readouterr().err
    assert "result schema 99 is newer than this benchy reads (1); upgrade benchy" in err
    assert main(["compare", str(tmp_path / "nowhere"), str(new)]) == 2
    assert "not a benchy run (no run.json)" in capsys.readouterr().err


def test_junit_validates_and_carries_every_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = {
        "slow": (cell_row("slow"), BASE),
        "same": (cell_row("same"), BASE),
        "fuzzy": (cell_row("fuzzy"), BASE),
        "dies": (cell_row("dies"), BASE),
    }
    base = write_run(tmp_path / "base", cells)
    new = write_run(
        tmp_path / "new",
        {
            "slow": (cell_row("slow"), [m * 1.3 for m in BASE]),
            "same": (cell_row("same"), BASE),
            "fuzzy": (cell_row("fuzzy"), CASES["inconclusive"][0]),
            "dies": (cell_row("dies", "crashed"), None),
        },
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    junit = tmp_path / "junit.xml"
    assert main(["compare", str(base), str(new), "--junit", str(junit)]) == 3
    xmlschema.XMLSchema(XSD).validate(junit)
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "benchy.fake.local"
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "0")) == len(cases)
    failure = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failure] == ["vs baseline p50"]
    message = failure[0].find("failure").get("message")  # type: ignore[union-attr]
    assert message.startswith("regressed: p50 +30.0% [99% CI +")  # type: ignore[union-attr]
    assert [c.find("error").get("type") for c in cases if c.find("error") is not None] == [  # type: ignore[union-attr]
        "crash"
    ]
    skipped = [c.find("skipped").get("message") for c in cases if c.find("skipped") is not None]  # type: ignore[union-attr]
    assert any(m.startswith("inconclusive: p50 ") for m in skipped)  # type: ignore[union-attr]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["target.cpu_model"] == "AMD EPYC"
    assert props["baseline"] == str(base)
    out = capsys.readouterr().out
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2  # the crash first, then the regression
    assert errors[0].startswith("::error title=benchy local/cnn/dies tflite/xnnpack ×1::crashed")
    assert "::regressed: p50 +30.0%25 [99%25 CI" in errors[1]  # % escaped as GitHub wants
    text = summary.read_text()
    assert text.startswith("## benchy fake: 💥 error (exit 3)")
    assert "### Needs attention" in text and "regressed: p50 +30.0%" in text


def test_markdown_file_and_summary_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, new = pair(tmp_path, BASE)
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    out = tmp_path / "report.md"
    assert main(["compare", str(base), str(new), "--markdown", str(out)]) == 0
    assert out.read_text().startswith("## benchy fake: ✅ pass (exit 0)")
    assert step.read_text().startswith("earlier step\n## benchy fake: ✅ pass (exit 0)")


def test_history_lists_runs_verdicts_and_the_p50_trend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results" / "fake"
    for i, factor in enumerate((1.0, 1.02, 1.5)):
        write_run(
            results / f"2026112{i}T000000Z-00000{i}",
            {"a": (cell_row("a"), [m * factor for m in BASE])},
        )
    old = results / "20261119T000000Z-000009"
    write_run(old, {"a": (cell_row("a"), BASE)})
    manifest = json.loads((old / "run.json").read_text())
    manifest["schema_version"] = 0
    (old / "run.json").write_text(json.dumps(manifest))
    assert main(["history", "fake", "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "4 stored runs" in out
    assert (
        "result schema 0 is not 1; re-run the suite with this benchy or read it with benchy" in out
    )
    assert "+50.0%" in out  # last vs first
    assert "▁▁█" in out
    assert main(["history", "nothing", "--results", str(tmp_path / "results")]) == 2


def eight_cells(factor: float = 1.0, slow: str | None = None, extra: float = 1.0) -> dict:  # type: ignore[type-arg]
    cells = {}
    for i in range(8):
        name = f"v{i}"
        f = factor * (extra if name == slow else 1.0)
        cells[name] = (cell_row(name), [m * f for m in BASE])
    return cells


def test_a_machine_drift_moves_every_cell_and_is_taken_out(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", eight_cells())
    new = write_run(tmp_path / "new", eight_cells(1.07))  # the whole machine 7% slower
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    drift = next(r for r in c.results if r.cell.model == "all cells" and r.metric == "p50")
    assert drift.verdict == "drift"
    assert drift.shift == pytest.approx(0.07, abs=1e-4)
    cells = [r for r in c.results if r.metric == "p50" and r.cell.model == "cnn"]
    assert {r.verdict for r in cells} == {"unchanged"}
    assert all(r.raw == pytest.approx(0.07, abs=1e-4) for r in cells)
    assert main(["compare", str(base), str(new)]) == 0


def test_one_cell_slower_than_the_drift_is_regressed(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", eight_cells())
    new = write_run(tmp_path / "new", eight_cells(1.07, slow="v3", extra=1.12))
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    got = {r.cell.variant: r for r in c.results if r.metric == "p50" and r.cell.runtime}
    assert got["v3"].verdict == "regressed"
    assert got["v3"].shift == pytest.approx(0.12, abs=0.005)
    assert {got[v].verdict for v in got if v != "v3"} == {"unchanged"}


def test_a_drift_with_a_runtime_change_cannot_be_told_apart(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", eight_cells())
    facts = {**FACTS, "runtimes": {"tflite": {**FACTS["runtimes"]["tflite"], "version": "2.4"}}}
    new = write_run(tmp_path / "new", eight_cells(1.07), facts=facts)
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate())
    drift = next(r for r in c.results if r.cell.model == "all cells" and r.metric == "p50")
    assert drift.verdict == "inconclusive"
    assert "tflite version changed too" in drift.note
    assert main(["compare", str(base), str(new)]) == 4


def test_drift_correction_can_be_switched_off(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", eight_cells())
    new = write_run(tmp_path / "new", eight_cells(1.07))
    c = compare_runs(StoredRun.load(base), StoredRun.load(new), Gate(drift_correction=False))
    cells = [r for r in c.results if r.metric == "p50"]
    assert {r.verdict for r in cells} == {"regressed"}
