"""Memory truth: a model with 64 MiB of float32 weights shows 64–140 MB of model memory."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnx")

from benchmarks.memory_truth import measure


def test_64_mib_of_weights_are_counted(tmp_path: Path) -> None:
    row = measure(tmp_path)
    assert row.weights_mib == 64
    assert 64 <= row.model_memory_mb <= 140
    assert row.peak_rss_mb >= row.rss_before_mb + 64
