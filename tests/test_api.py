"""benchy as a library, in pytest, and exported: real runs through `benchy.run`, the pytest
plugin in a real pytest session (pytester), OpenMetrics and JSON read back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import benchy
from benchy.cli import main

from .conftest import CNN_MODELS, ROOT
from .fakeruns import cell_row, medians, write_run

pytest_plugins = ["pytester"]

SUITE = '[matrix]\nruntimes = ["tflite", "onnxruntime"]\n' + CNN_MODELS


def test_run_returns_what_the_cli_writes(tmp_path: Path) -> None:
    """The example suite through the library and through the command line: the same cells."""
    suite = ROOT / "suites" / "wearable.toml"
    run = benchy.run(suite, quick=True, results=tmp_path / "api", report=False)
    assert main(["run", str(suite), "--quick", "--out", str(tmp_path / "cli"), "--no-report"]) == 0
    cli = pd.read_parquet(tmp_path / "cli" / "cells.parquet")
    identity = ["target", "model", "variant", "runtime", "delegate", "threads", "status"]
    assert run.cells[identity].equals(cli[identity])
    assert list(run.cells.columns) == list(cli.columns)
    assert run.exit_code == 0 and run.verdict == "pass"
    assert len(run.samples) == int(run.cells.n_samples.sum())
    best = run.best("local")
    assert best is not None and best["verdict"] == "pass"


def test_budgets_regressions_and_errors_are_data(make_suite, local_target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = SUITE + "\n[budgets]\nmodel_size_kb = 10\n"
    run = benchy.run(make_suite(body), target=str(local_target), out=tmp_path / "r", report=False)
    assert run.exit_code == 1 and run.verdict == "budget failed"
    failed = run.failed_budgets()
    assert len(failed) == 2  # fp32 and onnx_fp32; full_int8 (8.8 KB) fits
    assert all(re.search(r"model_size_kb: 1\d\.\d+ > 10$", line) for line in failed)
    assert run.errors() == []


def test_config_errors_are_exceptions_naming_the_place(make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = make_suite(SUITE + "\n[measure]\ntimeout_s = -1\n", measure="")
    with pytest.raises(benchy.ConfigError) as err:
        benchy.run(suite, results=tmp_path)
    assert err.value.file == str(suite)
    assert (err.value.table, err.value.key) == ("measure", "timeout_s")
    assert not (tmp_path / "suite").exists()  # nothing ran


def test_compare_and_history_as_dataframes(tmp_path: Path) -> None:
    runs = tmp_path / "results" / "fake"
    base = write_run(runs / "20261101T000000Z-aaaaaa", {"fp32": (cell_row("fp32"), medians(1.0))})
    new = write_run(runs / "20261102T000000Z-bbbbbb", {"fp32": (cell_row("fp32"), medians(1.3))})
    cmp = benchy.load(new).compare(benchy.load(base))
    p50 = cmp.table.set_index("metric").loc["p50"]
    assert p50["verdict"] == "regressed" and p50["shift"] == pytest.approx(0.3, abs=0.01)
    assert (cmp.verdict, cmp.exit_code) == ("regressed", 1)
    assert cmp.regressions()[0].startswith("local/cnn/fp32 tflite/xnnpack ×1: p50 +30.0%")
    suite = tmp_path / "fake.toml"
    suite.write_text('[suite]\nname = "fake"\n[models.cnn.variants]\nfp32 = "m.tflite"\n')
    (tmp_path / "m.tflite").write_bytes(b"x")
    history = benchy.history(suite, results=tmp_path / "results")
    assert list(history.run) == [base.name, new.name]
    assert list(history.latency_p50_ms.round(2)) == [1.0, 1.3]


def test_the_pytest_plugin_fails_a_test_whose_budget_fails(  # type: ignore[no-untyped-def]
    pytester: pytest.Pytester, make_suite, local_target, tmp_path: Path
) -> None:
    good = make_suite(SUITE, name="good.toml")
    bad = make_suite(SUITE + "\n[budgets]\nmodel_size_kb = 10\n", name="bad.toml")
    results = tmp_path / "results"
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.benchy(suite={str(good)!r}, target={str(local_target)!r},
                            results={str(results)!r}, report=False)
        def test_good(benchy_run):
            assert benchy_run.best("local") is not None

        @pytest.mark.benchy(suite={str(bad)!r}, target={str(local_target)!r},
                            results={str(results)!r}, report=False)
        def test_bad():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:labgrid")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*benchy: budget failed (exit 1)*", "*budget  local/cnn/fp32 tflite/xnnpack ×1: *"]
    )


def test_export_openmetrics_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    row = cell_row('v"1\\x', latency_p50_ms=0.0031, peak_rss_mb=44.5, model_size_bytes=16708)
    run = write_run(tmp_path / "run", {"v": (row, None)})
    assert main(["export", str(run), "--format", "openmetrics"]) == 0
    text = capsys.readouterr().out
    assert text.endswith("# EOF\n")
    lines = text.splitlines()
    sample = next(line for line in lines if line.startswith("benchy_latency_p50_seconds{"))
    assert 'variant="v\\"1\\\\x"' in sample  # quote and backslash escaped
    assert sample.endswith(" 3.1e-06")
    rss = next(line for line in lines if line.startswith("benchy_peak_rss_bytes{"))
    assert float(rss.rsplit(" ", 1)[1]) == 44.5 * 1024**2
    assert "# UNIT benchy_latency_p50_seconds seconds" in lines
    out = tmp_path / "cells.json"
    assert main(["export", str(run), "--format", "json", "-o", str(out)]) == 0
    body = json.loads(out.read_text())
    assert body["cells"][0]["variant"] == 'v"1\\x' and body["verdict"] == "pass"
