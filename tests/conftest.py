from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .chromium import Chromium

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "suites" / "models"
DATA = ROOT / "suites" / "data" / "basicmotions.npz"

CNN_MODELS = """
[models.cnn]
dataset = "@DATA@"
reference = "fp32"
[models.cnn.variants]
fp32 = "@MODELS@/cnn_fp32.tflite"
full_int8 = "@MODELS@/cnn_full_int8.tflite"
onnx = "@MODELS@/cnn_fp32.onnx"
"""
"""The wearable CNN as fp32 and full-int8 TFLite and fp32 ONNX, scored on BasicMotions."""

QUICK_MEASURE = """
[measure]
warmup_runs = 2
warmup_seconds = 0.0
min_runs = 20
min_seconds = 0.01
max_seconds = 1.0
timeout_s = 60
"""


def one_repetition_unless_asked(measure: str) -> str:
    """Tests measure each cell once unless they ask for repetitions: the default (12, for
    comparisons that do not cry wolf) would make every test twelve times slower."""
    if "[measure]" in measure and "repetitions" not in measure:
        return measure.replace("[measure]\n", "[measure]\nrepetitions = 1\n", 1)
    return measure


@pytest.fixture
def make_suite(tmp_path: Path) -> Callable[..., Path]:
    """Write a suite file in tmp_path that uses the shipped models and dataset."""

    def make(body: str, name: str = "suite.toml", measure: str = QUICK_MEASURE) -> Path:
        text = textwrap.dedent(body).replace("@MODELS@", str(MODELS)).replace("@DATA@", str(DATA))
        path = tmp_path / name
        path.write_text(text + "\n" + one_repetition_unless_asked(measure))
        return path

    return make


@pytest.fixture
def local_target(tmp_path: Path) -> Path:
    path = tmp_path / "local.toml"
    path.write_text('kind = "local"\n')
    return path


CACHE = (
    Path.home()
    / ".cache"
    / "benchy-tests"
    / f"tflite-runtime-py{sys.version_info[0]}{sys.version_info[1]}"
)


@pytest.fixture(scope="session")
def tflite_runtime_python() -> Path:
    """A real venv with tflite-runtime 2.14 and numpy 1.x, as a Pi often has; no onnxruntime."""
    if sys.version_info >= (3, 12):
        pytest.skip("tflite-runtime 2.14 has no wheel for Python ≥ 3.12")
    python = CACHE / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CACHE)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "numpy<2", "tflite-runtime==2.14.0"],
            check=True,
        )
    return python


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """Debian's headless Chromium (installed when missing), shared by the report tests."""
    from .chromium import Chromium

    chromium = Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.close()
