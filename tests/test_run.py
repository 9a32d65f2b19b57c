"""Real runs: real models, real LiteRT and ONNX Runtime, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchy.cli import main

from .conftest import CNN_MODELS, DATA, MODELS, ROOT

SUITE = (
    """
[matrix]
runtimes = ["tflite", "onnxruntime"]
threads = [1]
[matrix.tflite]
delegates = ["xnnpack", "none"]

[budgets]
latency_p90_ms = 1000
accuracy_drop_max = 5

"""
    + CNN_MODELS
)

CELL_COLUMNS = [
    "target",
    "model",
    "variant",
    "runtime",
    "runtime_version",
    "delegate",
    "threads",
    "status",
    "error",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "latency_ci_low_ms",
    "latency_ci_high_ms",
    "n_samples",
    "load_ms",
    "first_inference_ms",
    "peak_rss_mb",
    "model_memory_mb",
    "model_size_bytes",
    "accuracy",
    "accuracy_drop",
    "agreement",
    "verdict",
    "failed_budgets",
]


def run(args: list[str]) -> int:
    return main(["run", *args])


def test_real_run_writes_every_output(make_suite, local_target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    assert run([str(make_suite(SUITE)), "--target", str(local_target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert set(CELL_COLUMNS) <= set(cells.columns)
    assert len(pd.read_csv(out / "cells.csv")) == len(cells)
    ran = cells[cells.status == "ok"]
    assert len(ran) == 5  # 2 tflite variants × 2 delegates + 1 onnx
    assert (cells.status == "n/a").sum() == 3
    assert (ran.latency_p50_ms > 0).all()
    assert (ran.latency_ci_low_ms <= ran.latency_p50_ms).all()
    assert (ran.latency_p50_ms <= ran.latency_ci_high_ms).all()
    assert (ran.n_samples >= 20).all()
    assert (ran.model_size_bytes > 0).all()
    assert ran.peak_rss_mb.notna().all() and (ran.model_memory_mb > 0).all()
    assert set(ran.runtime_module) == {"ai_edge_litert", "onnxruntime"}
    applied = dict(zip(ran.delegate, ran.delegate_applied, strict=False))
    assert applied["xnnpack"].startswith("xnnpack (")
    assert applied["none"] == "none"
    assert applied["cpu"] == "cpu"

    samples = pd.read_parquet(out / "samples.parquet")
    counts = samples.groupby(["variant", "runtime", "delegate"]).size()
    for r in ran.itertuples():
        assert counts[(r.variant, r.runtime, r.delegate)] == r.n_samples
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["schema_version"] == 1
    assert manifest["status"] == "finished" and manifest["exit_code"] == 0
    assert manifest["targets"]["local"]["runtimes"]["tflite"]["module"] == "ai_edge_litert"
    assert set(manifest["models_sha256"]) == {"cnn/fp32", "cnn/full_int8", "cnn/onnx_fp32"}
    assert not (out / "samples.parts").exists()


def direct_accuracy(model: Path) -> float:
    """The metric computed without benchy: the runtimes' own Python APIs over the dataset."""
    data = np.load(DATA)
    x, y = data["x"], data["y"]
    if model.suffix == ".onnx":
        import onnxruntime as ort

        sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        preds = [sess.run(None, {name: xi[None].astype(np.float32)})[0].argmax() for xi in x]
    else:
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(str(model))
        interp.allocate_tensors()
        inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
        preds = []
        for xi in x:
            scale, zero = inp["quantization"]
            v = xi[None]
            if inp["dtype"] == np.int8:
                v = np.clip(np.round(v / scale) + zero, -128, 127)
            interp.reset_all_variables()  # the fused LSTM is stateful across invokes
            interp.set_tensor(inp["index"], v.astype(inp["dtype"]))
            interp.invoke()
            preds.append(interp.get_tensor(outp["index"]).argmax())
    return float(np.mean(np.array(preds) == y) * 100)


def test_accuracy_equals_direct_computation(make_suite, local_target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = SUITE.replace(
        "[models.cnn]",
        '[models.lstm]\ndataset = "@DATA@"\nreference = "fp32"\n'
        '[models.lstm.variants]\nfull_int8 = "@MODELS@/lstm_full_int8.tflite"\n'
        'fp32 = "@MODELS@/lstm_fp32.tflite"\nonnx = "@MODELS@/lstm_fp32.onnx"\n'
        "[models.cnn]",
    )
    out = tmp_path / "out"
    run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)])
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status == "ok"]
    assert set(ran.model) == {"cnn", "lstm"}
    for r in ran.itertuples():
        assert r.accuracy == pytest.approx(direct_accuracy(MODELS / r.model_file)), r
        ref = ran[(ran.model == r.model) & (ran.variant == "fp32") & (ran.delegate == r.delegate)]
        if len(ref):
            assert r.accuracy_drop == pytest.approx(ref.accuracy.iloc[0] - r.accuracy)


def test_int8_variant_is_quantized_with_the_tensor_scale(
    make_suite, local_target, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Full-int8 outputs dequantized by benchy agree with fp32 (a wrong scale would not)."""
    out = tmp_path / "out"
    run([str(make_suite(SUITE)), "--target", str(local_target), "--out", str(out)])
    cells = pd.read_parquet(out / "cells.parquet")
    int8 = cells[(cells.variant == "full_int8") & (cells.status == "ok")]
    assert (int8.agreement >= 95).all()
    assert (int8.max_abs_error < 1.0).all()


def test_budget_failure_exits_1(make_suite, local_target, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    body = SUITE.replace("latency_p90_ms = 1000", "latency_p90_ms = 0.0000001")
    out = tmp_path / "out"
    assert run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)]) == 1
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status == "ok"]
    assert (ran.verdict == "fail").all()
    assert ran.failed_budgets.str.startswith("latency_p90_ms: ").all()
    assert "no variant meets all budgets" in capsys.readouterr().out


def test_corrupt_model_and_crashing_worker_are_recorded_while_others_finish(
    make_suite, local_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"TFL3" + os.urandom(2000))
    crashing = tmp_path / "crashes.tflite"
    crashing.write_bytes((MODELS / "cnn_fp32.tflite").read_bytes())
    body = SUITE.replace(
        'onnx_fp32 = "@MODELS@/cnn_fp32.onnx"',
        f'onnx_fp32 = "@MODELS@/cnn_fp32.onnx"\ncorrupt = "{corrupt}"\ncrashes = "{crashing}"',
    )
    monkeypatch.setenv("BENCHY_INJECT_FAULT", "segfault:crashes.tflite")
    out = tmp_path / "out"
    assert run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)]) == 3
    cells = pd.read_parquet(out / "cells.parquet").set_index(["variant", "delegate"])
    assert cells.loc[("corrupt", "xnnpack"), "status"] == "error"
    assert cells.loc[("corrupt", "xnnpack"), "error"] == (
        "ValueError: The model is not a valid Flatbuffer buffer"
    )
    assert cells.loc[("crashes", "xnnpack"), "status"] == "crashed"
    assert "SIGSEGV" in cells.loc[("crashes", "none"), "error"]
    for variant in ("fp32", "full_int8"):
        assert cells.loc[(variant, "xnnpack"), "status"] == "ok"
    assert cells.loc[("onnx_fp32", "cpu"), "status"] == "ok"
    assert (cells.verdict == "error").sum() == 4


def test_hanging_cell_times_out(
    make_suite, local_target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BENCHY_INJECT_FAULT", "hang:cnn_full_int8")
    suite = make_suite(
        SUITE, measure="[measure]\nmin_runs = 5\nmin_seconds = 0.01\ntimeout_s = 1\n"
    )
    out = tmp_path / "out"
    assert run([str(suite), "--target", str(local_target), "--out", str(out)]) == 3
    cells = pd.read_parquet(out / "cells.parquet")
    hung = cells[(cells.variant == "full_int8") & (cells.status != "n/a")]
    assert set(hung.status) == {"timeout"}
    assert hung.error.iloc[0] == "cell exceeded 1 s and was killed"
    assert set(cells[cells.variant == "fp32"].status) == {"ok", "n/a"}


def test_ctrl_c_keeps_finished_cells_and_exits_130(
    make_suite, local_target, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Long cells so the interrupt lands mid-matrix.
    suite = make_suite(
        SUITE, measure="[measure]\nmin_runs = 5\nmin_seconds = 1.0\nmax_seconds = 1.0\n"
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchy",
            "run",
            str(suite),
            "--target",
            str(local_target),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until at least one cell is on disk
        if (out / "cells.jsonl").exists() and (out / "cells.jsonl").read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    cells = pd.read_parquet(out / "cells.parquet")
    assert 2 <= len(cells) < 8
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    assert (out / "samples.parquet").exists()


def test_random_inputs_without_dataset(make_suite, local_target, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = """
[budgets]
accuracy_min = 90
[models.tiny]
[models.tiny.input]
low = -1.0
high = 1.0
[models.tiny.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
"""
    out = tmp_path / "out"
    assert run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    cells = cells[cells.status != "n/a"]
    assert set(cells.status) == {"ok"}
    assert cells.accuracy.isna().all()  # nothing to score against: not invented
    assert set(cells.unchecked_budgets) == {"accuracy_min"}


def test_python_dash_m_and_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchy", "run", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0
    assert "--dry-run" in proc.stdout and "--target" in proc.stdout


def test_missing_provider_is_unavailable_and_a_delegate_that_fails_is_an_error(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path
) -> None:
    body = """
[matrix]
runtimes = ["tflite", "onnxruntime"]
[matrix.tflite]
delegates = ["xnnpack", "external:/nonexistent/libdelegate.so"]
[matrix.onnxruntime]
providers = ["CPUExecutionProvider", "CUDAExecutionProvider"]
[models.cnn]
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
onnx = "@MODELS@/cnn_fp32.onnx"
"""
    out = tmp_path / "out"
    # The delegate was asked for and cannot load: a CI gate must not pass over it (exit 3).
    assert run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)]) == 3
    cells = pd.read_parquet(out / "cells.parquet").set_index(["variant", "delegate"])
    ext = cells.loc[("fp32", "external:libdelegate.so")]
    assert ext.status == "error"
    assert ext.error.startswith("delegate /nonexistent/libdelegate.so does not load")
    cuda = cells.loc[("onnx", "cuda")]
    assert cuda.status == "unavailable"
    assert cuda.error.startswith(
        "execution provider CUDAExecutionProvider is not in this onnxruntime"
    )
    assert cells.loc[("fp32", "xnnpack")].status == "ok"
    assert cells.loc[("onnx", "cpu")].status == "ok"


def test_cpu_pinning(make_suite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "pinned.toml"
    target.write_text('kind = "local"\npin_cpus = [0]\n')
    body = '[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n'
    out = tmp_path / "out"
    assert run([str(make_suite(body)), "--target", str(target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    assert set(cells[cells.status == "ok"].cpus) == {"0"}


def test_repetitions_run_in_fresh_processes_and_two_targets_together(  # type: ignore[no-untyped-def]
    make_suite, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.toml").write_text('kind = "local"\n')
    body = """
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
int8 = "@MODELS@/cnn_full_int8.tflite"
"""
    measure = "[measure]\nmin_runs = 10\nmin_seconds = 0.0\nrepetitions = 3\n"
    out = tmp_path / "out"
    argv = [str(make_suite(body, measure=measure)), "--out", str(out)]
    argv += ["--target", str(tmp_path / "a.toml"), "--target", str(tmp_path / "b.toml")]
    assert run(argv) == 0
    cells = pd.read_parquet(out / "cells.parquet")
    ran = cells[cells.status == "ok"]
    assert sorted(ran.target) == ["a", "a", "b", "b"]
    assert set(ran.repetitions) == {3}
    samples = pd.read_parquet(out / "samples.parquet")
    per_rep = samples.groupby(["target", "variant", "repetition"]).size()
    assert set(per_rep.index.get_level_values("repetition")) == {0, 1, 2}
    assert (per_rep >= 10).all()
    manifest = json.loads((out / "run.json").read_text())
    assert set(manifest["targets"]) == {"a", "b"}


def test_tflm_arena_is_reported_for_int8_tflite_when_asked(  # type: ignore[no-untyped-def]
    make_suite, local_target, tmp_path: Path
) -> None:
    """ "Fits in 256 KB RAM?" before flashing: host TFLM for the int8 variant, a reason for the
    dynamic-int8 one (TFLM cannot run hybrid models), nothing invented for ONNX."""
    body = """
[suite]
tflm_arena = true
[budgets]
tflm_arena_kb = 256
[matrix]
runtimes = ["tflite", "onnxruntime"]
[models.cnn.variants]
full_int8 = "@MODELS@/cnn_full_int8.tflite"
dynamic_int8 = "@MODELS@/cnn_dynamic_int8.tflite"
onnx = "@MODELS@/cnn_fp32.onnx"
"""
    out = tmp_path / "out"
    assert run([str(make_suite(body)), "--target", str(local_target), "--out", str(out)]) == 0
    cells = pd.read_parquet(out / "cells.parquet").query("status == 'ok'").set_index("variant")
    assert (
        1024 <= cells.loc["full_int8", "tflm_arena_bytes"] <= 64 * 1024
    )  # 6208 with TFLM of 2026-10
    assert cells.loc["full_int8", "memory_source"] == "host TFLM"
    assert cells.loc["full_int8", "tightest_budget"] == "tflm_arena_kb"
    assert "hybrid" in cells.loc["dynamic_int8", "tflm_arena_note"]
    assert pd.isna(cells.loc["onnx", "tflm_arena_bytes"])


def test_the_worker_parses_as_python_3_9() -> None:
    """Boards run the worker with their own Python (Raspberry Pi OS Bullseye has 3.9)."""
    import ast

    from benchy.worker.bundle import sources

    imported = set()
    for name, data in sources():
        tree = ast.parse(data.decode(), name, feature_version=(3, 9))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    benchy = {m for m in imported if m.split(".")[0] == "benchy"}
    assert benchy and all(m.startswith("benchy.worker") for m in benchy), benchy
    # stdlib + numpy + the runtimes: nothing a board would have to pip-install for benchy.
    assert {m.split(".")[0] for m in imported - benchy} - set(sys.stdlib_module_names) == {
        "numpy",
        "ai_edge_litert",
        "tflite_runtime",
        "onnxruntime",
    }


def test_a_column_empty_in_every_row_keeps_its_number_type(tmp_path: Path) -> None:
    """Parquet readers (compare, history) must not see a figure as text because no cell had it."""
    from benchy.results.store import cells_frame

    frame = cells_frame([{"active_power_ci_low_mw": None, "tflm_arena_bytes": None, "error": None}])
    frame.to_parquet(tmp_path / "c.parquet")
    back = pd.read_parquet(tmp_path / "c.parquet")
    assert back["active_power_ci_low_mw"].dtype == "float64"
    assert pd.api.types.is_integer_dtype(back["tflm_arena_bytes"])  # a count (issue 9: schema)
    assert back["error"].dtype != "float64"
