from __future__ import annotations

import glob
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# A test run started in the background (`nohup … &`, a script's `&`) inherits SIGINT ignored, and
# exec passes that on: every benchy the tests start and then interrupt would ignore its Ctrl-C.
# The tests interrupt processes on purpose, so they restore it for their children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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
onnx_fp32 = "@MODELS@/cnn_fp32.onnx"
"""
"""The wearable CNN as fp32 and full-int8 TFLite and fp32 ONNX, scored on BasicMotions."""

# 60 timed invokes at least: enough for a finite 99% CI of p90 (44 are needed), so a latency
# budget cannot turn inconclusive because a busy machine gave a cell few samples.
QUICK_MEASURE = """
[measure]
warmup_runs = 2
warmup_seconds = 0.0
min_runs = 60
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


CACHE = Path.home() / ".cache" / "benchy-tests"


def board_python() -> str:
    """The interpreter a Raspberry Pi OS Bullseye board has: Python 3.9 where this machine has
    one (pyenv or PATH), else this Python."""
    candidates = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.9*/bin/python3.9")))
    candidates.append(shutil.which("python3.9"))  # may be a pyenv shim that cannot run it
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


@pytest.fixture(scope="session")
def tflite_runtime_python() -> Path:
    """A real venv with tflite-runtime 2.14 and numpy 1.x, as a Pi often has; no onnxruntime.
    Built with Python 3.9 when this machine has it, so the worker really runs on 3.9."""
    base = board_python()
    version = subprocess.run(
        [base, "-c", "import sys; print('%d%d' % sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if int(version) >= 312:
        pytest.skip("tflite-runtime 2.14 has no wheel for Python ≥ 3.12")
    venv = CACHE / f"tflite-runtime-py{version}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(venv)], check=True)
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


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small models of tests/tiny_models.py (several inputs, dynamic dimensions, state,
    signatures, int8, external data), built once per session."""
    from .tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))
