from __future__ import annotations

from pathlib import Path

from benchy.config import load_suite
from benchy.matrix import expand

BODY = """
[matrix]
runtimes = ["tflite", "onnxruntime"]
threads = [1, 2]
[matrix.tflite]
delegates = ["xnnpack", "none", "reference"]
{filters}
[models.cnn]
reference = "fp32"
[models.cnn.variants]
int8 = "@MODELS@/cnn_full_int8.tflite"
fp32 = "@MODELS@/cnn_fp32.tflite"
onnx = "@MODELS@/cnn_fp32.onnx"
"""


def test_full_expansion(make_suite) -> None:  # type: ignore[no-untyped-def]
    cells = expand(load_suite(make_suite(BODY.format(filters=""))), ["local", "pi"])
    runnable = [c for c in cells if c.applicable]
    # per target: 2 tflite variants × 3 delegates × 2 threads + 1 onnx variant × 2 threads
    assert len(runnable) == 2 * (2 * 3 * 2 + 2)
    na = [c for c in cells if not c.applicable]
    assert {(c.variant, c.runtime) for c in na} == {
        ("int8", "onnxruntime"),
        ("fp32", "onnxruntime"),
        ("onnx", "tflite"),
    }
    assert na[0].reason in (
        "onnxruntime does not run .tflite files",
        "tflite does not run .onnx files",
    )
    # the reference variant runs first on each target (others compare to it)
    assert cells[0].variant == "fp32" and cells[0].target == "local"


def test_exclude_and_include(make_suite) -> None:  # type: ignore[no-untyped-def]
    filters = """
[[matrix.exclude]]
delegate = ["none", "reference"]
threads = 2
[[matrix.include]]
runtime = "tflite"
"""
    cells = [
        c
        for c in expand(load_suite(make_suite(BODY.format(filters=filters))), ["local"])
        if c.applicable
    ]
    assert {c.runtime for c in cells} == {"tflite"}
    assert len(cells) == 2 * (2 + 1 + 1)  # xnnpack ×2 threads, none ×1, reference ×1
    assert not [c for c in cells if c.delegate.label != "xnnpack" and c.threads == 2]


def test_dry_run_prints_the_matrix(make_suite, capsys) -> None:  # type: ignore[no-untyped-def]
    from benchy.cli import main

    path: Path = make_suite(BODY.format(filters=""))
    assert main(["run", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "14 cells to run" in out
    assert "tflite does not run .onnx files" in out
