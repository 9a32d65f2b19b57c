"""TFLite Micro on the host: the arena a model needs, and a clear word for variants TFLM cannot
run (dynamic-range int8, float16)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchy.errors import TflmError
from benchy.runtimes.tflm import tflm_arena_bytes

from .conftest import MODELS

pytest.importorskip("tflite_micro", reason="tflite-micro is not installed (Linux x86_64 only)")


@pytest.mark.parametrize("model", ["cnn_full_int8", "lstm_full_int8"])
def test_arena_is_what_tflite_micro_needs(model: str) -> None:
    from benchy.runtimes.tflm_probe import _smallest_arena

    path = MODELS / f"{model}.tflite"
    arena = tflm_arena_bytes(path)
    smallest = _smallest_arena(path.read_bytes())  # the least arena that allocates and runs
    assert smallest <= arena <= smallest + 64  # the record adds at most alignment padding


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("cnn_dynamic_int8", "dynamic-range (hybrid) int8"),
        ("lstm_dynamic_int8", "dynamic-range (hybrid) int8"),  # TFLM would run it, into NaN
        ("cnn_fp16", "float16 tensors: TFLite Micro has no float16 kernels"),
        ("lstm_fp16", "float16 tensors"),
    ],
)
def test_variants_tflite_micro_cannot_run_say_so(model: str, why: str) -> None:
    with pytest.raises(TflmError, match=f"TFLite Micro cannot run {model}.tflite: ") as err:
        tflm_arena_bytes(MODELS / f"{model}.tflite")
    assert why in str(err.value)


def test_not_a_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(TflmError, match=r"bad\.tflite"):
        tflm_arena_bytes(bad)


def test_missing_package_is_named(tmp_path: Path) -> None:
    model = tmp_path / "m.tflite"
    shutil.copy(MODELS / "cnn_full_int8.tflite", model)
    code = (
        "import sys; sys.modules['tflite_micro'] = None\n"
        "from benchy.runtimes.tflm import tflm_arena_bytes\n"
        "from benchy.errors import TflmError\n"
        f"try:\n    tflm_arena_bytes({str(model)!r})\n"
        "except TflmError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "tflite-micro is not installed" in out.stdout
    assert "pip install tflite-micro" in out.stdout
