"""Derived variants with the real quantizers (ai-edge-quantizer, onnxruntime.quantization,
onnxconverter-common) on the example CNN and LSTM, both formats: each recipe's file loads in its
runtime and holds the tensor types the recipe promises (read from the file, not the quantizer);
static int8 keeps the example suite's accuracy budget; the cache makes a re-derivation call no
quantizer; a refused recipe fails alone, with the quantizer's reason."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from ai_edge_litert.interpreter import Interpreter

from benchy.cli import main
from benchy.config import Suite, load_suite
from benchy.derive.cache import VariantCache, default_root
from benchy.derive.quantizers import QUANTIZERS
from benchy.derive.variants import Derived, derive_variants

from .conftest import DATA, MODELS, ROOT
from .model_types import TFLITE_COMPUTE, onnx_compute, onnx_io, tflite_compute, tflite_io

MODEL_FILES = {
    "cnn": "cnn_fp32.tflite",
    "lstm": "lstm_fp32.tflite",
    "cnn_onnx": "cnn_fp32.onnx",
    "lstm_onnx": "lstm_fp32.onnx",
}
TFLITE_RECIPES = '["fp16", "dynamic_int8", "int8", "int4_weights", '
TFLITE_RECIPES += '{ name = "int8_io", recipe = "int8", int8_io = true }]'
RECIPES = {".tflite": TFLITE_RECIPES, ".onnx": '["fp16", "dynamic_int8", "int8", "int4_weights"]'}


def derive_suite(path: Path, samples: int = 40, recipes: dict[str, str] = RECIPES) -> Path:
    """A suite deriving every named recipe from each example model (one model per file)."""
    text = ""
    for name, file in MODEL_FILES.items():
        text += textwrap.dedent(f"""
            [models.{name}]
            dataset = "{DATA}"
            reference = "fp32"
            derive = {recipes[Path(file).suffix]}
            calibration = {{ samples = {samples} }}
            [models.{name}.variants]
            fp32 = "{MODELS / file}"
            """)  # fmt: skip
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test derives into a cache of its own (never ~/.cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "benchy" / "variants"


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> Derived:
    """Every recipe on every example model, derived once for the module."""
    tmp = tmp_path_factory.mktemp("derived")
    suite = load_suite(derive_suite(tmp / "suite.toml"))
    return derive_variants(suite, tmp / "out", VariantCache(tmp / "cache"))


def variant_file(derived: Derived, model: str, variant: str) -> Path:
    found = [d for d in derived.variants if (d.model, d.variant) == (model, variant)]
    assert len(found) == 1 and found[0].error is None, found
    assert found[0].file is not None
    return found[0].file


def outputs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(top-1 per test window, labels), by the real runtime: integer inputs quantized and
    outputs dequantized with the tensors' own scales, fused-LSTM state reset per window."""
    with np.load(DATA) as data:
        x, y = data["x"], data["y"]
    top = []
    if path.suffix == ".onnx":
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for window in x:
            top.append(int(np.argmax(session.run(None, {name: window[None]})[0])))
        return np.asarray(top), y
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    for window in x:
        value: np.ndarray = window[None]
        if np.dtype(inp["dtype"]).kind == "i":
            scale, zero = inp["quantization"]
            value = np.clip(np.round(value / scale) + zero, -128, 127)
        interp.reset_all_variables()
        interp.set_tensor(inp["index"], value.astype(inp["dtype"]))
        interp.invoke()
        raw = interp.get_tensor(out["index"]).astype(np.float64)
        if np.dtype(out["dtype"]).kind == "i":
            scale, zero = out["quantization"]
            raw = (raw - zero) * scale
        top.append(int(np.argmax(raw)))
    return np.asarray(top), y


def accuracy(path: Path) -> float:
    top, y = outputs(path)
    return float((top == y).mean() * 100)


# What each recipe promises, per format: (weight type, activation type) of every compute op it
# quantizes, and the graph's input/output type.
TFLITE_PROMISES = {
    "fp16": ("FLOAT16", "FLOAT32", "FLOAT32"),
    "dynamic_int8": ("INT8", "FLOAT32", "FLOAT32"),
    "int8": ("INT8", "INT8", "FLOAT32"),
    "int8_io": ("INT8", "INT8", "INT8"),
    "int4_weights": ("INT4", "FLOAT32", "FLOAT32"),
}


@pytest.mark.parametrize("model", ["cnn", "lstm"])
@pytest.mark.parametrize("variant", sorted(TFLITE_PROMISES))
def test_tflite_recipe_gives_what_it_promises(derived: Derived, model: str, variant: str) -> None:
    path = variant_file(derived, model, variant)
    weight, activation, io = TFLITE_PROMISES[variant]
    compute = tflite_compute(path)
    assert compute and {c.op for c in compute} <= TFLITE_COMPUTE
    assert {(c.weight, c.activation) for c in compute} == {(weight, activation)}, compute
    assert tflite_io(path) == ([io], [io])
    top, _ = outputs(path)  # LiteRT loads and runs it
    assert len(top) == 40
    if model == "cnn":  # every op quantizable (the LSTM op stays float: the file can grow)
        assert path.stat().st_size < (MODELS / MODEL_FILES[model]).stat().st_size


ONNX_OPS = {"Conv", "Gemm", "MatMul"}


@pytest.mark.parametrize("model", ["cnn_onnx", "lstm_onnx"])
def test_onnx_fp16_and_dynamic_int8(derived: Derived, model: str) -> None:
    fp16 = onnx_compute(variant_file(derived, model, "fp16"))
    assert fp16 and {c.weight for c in fp16} == {"FLOAT16"}  # every weight, LSTM's too
    dynamic = onnx_compute(variant_file(derived, model, "dynamic_int8"))
    assert dynamic and {c.weight for c in dynamic} == {"INT8"}
    assert not {c.op for c in dynamic} & ONNX_OPS  # all became integer ops
    for variant in ("fp16", "dynamic_int8"):
        path = variant_file(derived, model, variant)
        assert onnx_io(path) == (["FLOAT"], ["FLOAT"])
        assert len(outputs(path)[0]) == 40  # ONNX Runtime loads and runs it


@pytest.mark.parametrize("model", ["cnn_onnx", "lstm_onnx"])
def test_onnx_static_int8_is_qdq_int8(derived: Derived, model: str) -> None:
    path = variant_file(derived, model, "int8")
    compute = [c for c in onnx_compute(path) if c.op in ONNX_OPS]
    assert compute and {(c.weight, c.activation) for c in compute} == {("INT8", "INT8")}
    assert onnx_io(path) == (["FLOAT"], ["FLOAT"])


def test_onnx_int4_weights(derived: Derived) -> None:
    path = variant_file(derived, "lstm_onnx", "int4_weights")
    assert {c.weight for c in onnx_compute(path) if c.op == "MatMulNBits"} == {"INT4"}
    assert len(outputs(path)[0]) == 40
    # The CNN has no MatMul: MatMulNBitsQuantizer has nothing to take, and says so.
    (cnn,) = [d for d in derived.variants if (d.model, d.variant) == ("cnn_onnx", "int4_weights")]
    assert cnn.file is None
    assert cnn.error is not None and "MatMulNBitsQuantizer quantized no weight" in cnn.error
    assert derived.suite.models["cnn_onnx"].derive_errors == {"int4_weights": cnn.error}


@pytest.mark.parametrize("model", sorted(MODEL_FILES))
def test_static_int8_within_the_example_budget(derived: Derived, model: str) -> None:
    budget = load_suite(ROOT / "suites" / "wearable.toml").budgets["accuracy_drop_max"]
    reference = accuracy(MODELS / MODEL_FILES[model])
    for variant in ("int8", "int8_io") if not model.endswith("onnx") else ("int8",):
        assert accuracy(variant_file(derived, model, variant)) >= reference - budget


def test_provenance(derived: Derived) -> None:
    record = derived.provenance()["lstm/int8"]
    assert record["from"] == "fp32"
    assert record["source_file"] == str(MODELS / "lstm_fp32.tflite")
    assert record["recipe"] == {"recipe": "int8", "int8_io": False}
    assert record["quantizer"] == "ai-edge-quantizer" and record["quantizer_version"]
    calibration = record["calibration"]
    assert (calibration["key"], calibration["samples"], calibration["samples_requested"]) == (
        "x_calib",
        40,
        40,
    )
    assert derived.provenance()["lstm/fp16"]["calibration"] is None
    onnx = derived.provenance()["cnn_onnx/fp16"]
    assert (onnx["quantizer"], onnx["recipe"]["recipe"]) == ("onnxconverter-common", "fp16")


class Calls:
    """Counts the quantizers' `derive` calls: the seam every derivation goes through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for quantizer in QUANTIZERS.values():
            real = quantizer.derive

            def counted(*args: Any, _real: Callable[..., None] = real) -> None:
                self.count += 1
                _real(*args)

            monkeypatch.setattr(quantizer, "derive", counted)


def cache_state(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}


def test_second_derivation_calls_no_quantizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_cache: Path
) -> None:
    suite = load_suite(derive_suite(tmp_path / "suite.toml"))
    calls = Calls(monkeypatch)
    first = derive_variants(suite, tmp_path / "a")
    assert calls.count == 18  # 5 + 5 recipes on .tflite, 4 + 4 on .onnx
    assert not any(d.cached for d in first.variants)
    before = cache_state(own_cache)
    assert len(before) == 18  # 17 files and the refused recipe's reason
    second = derive_variants(suite, tmp_path / "b")
    assert calls.count == 18  # not one more call
    assert all(d.cached for d in second.variants)
    assert cache_state(own_cache) == before  # nothing rewritten
    assert [d.sha256 for d in second.variants] == [d.sha256 for d in first.variants]
    assert [d.error for d in second.variants] == [d.error for d in first.variants]
    assert not list(own_cache.glob(".*"))  # no temporary file left behind


def one_model(tmp_path: Path, body: str, tail: str = "") -> Suite:
    """The example CNN (fp32 .tflite and .onnx) with `body` in its [models.cnn] table and
    `tail` after its variants."""
    path = tmp_path / f"s{len(list(tmp_path.glob('s*.toml')))}.toml"
    path.write_text(
        f'[models.cnn]\ndataset = "{DATA}"\nreference = "fp32"\n{body}\n'
        f'[models.cnn.variants]\nfp32 = "{MODELS / "cnn_fp32.tflite"}"\n'
        f'onnx = "{MODELS / "cnn_fp32.onnx"}"\n{tail}'
    )
    return load_suite(path)


def test_cache_key_follows_source_recipe_and_calibration(tmp_path: Path) -> None:
    def keys(body: str) -> dict[str, str]:
        made = derive_variants(one_model(tmp_path, body), tmp_path / "out")
        return {d.variant: d.cache_key for d in made.variants}

    base = keys('derive = ["fp16", "int8"]\ncalibration = { samples = 10 }')
    assert keys('derive = ["fp16", "int8"]\ncalibration = { samples = 10 }') == base
    fewer = keys('derive = ["fp16", "int8"]\ncalibration = { samples = 11 }')
    assert fewer["fp16"] == base["fp16"]  # fp16 does not calibrate: the data is not in its key
    assert fewer["int8"] != base["int8"]
    other = keys('derive = ["fp16", "int8"]\ncalibration = { samples = 10, key = "x" }')
    assert other["int8"] != base["int8"]
    io = keys('derive = [{ name = "int8", recipe = "int8", int8_io = true }]\n'
              "calibration = { samples = 10 }")  # fmt: skip
    assert io["int8"] != base["int8"]


def test_cache_root_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_root() == tmp_path / "benchy" / "variants"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid by the XDG spec: ignored
    assert default_root() == Path.home() / ".cache" / "benchy" / "variants"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_root() == Path.home() / ".cache" / "benchy" / "variants"


def test_pass_through_recipes_reach_the_quantizers_unchanged(tmp_path: Path) -> None:
    body = """
    [[models.cnn.derive]]
    name = "a16"
    ai_edge_quantizer = "static_wi8_ai16"
    [[models.cnn.derive]]
    name = "qop"
    from = "onnx"
    onnxruntime = { method = "quantize_static", quant_format = "QOperator", per_channel = false }
    [[models.cnn.derive]]
    name = "nope"
    ai_edge_quantizer = "no_such_recipe"
    [[models.cnn.derive]]
    name = "badenum"
    from = "onnx"
    onnxruntime = { method = "quantize_dynamic", weight_type = "QInt7" }
    """
    suite = one_model(tmp_path, "", textwrap.dedent(body))
    made = {d.variant: d for d in derive_variants(suite, tmp_path / "out").variants}
    a16 = tflite_compute(made["a16"].file)  # type: ignore[arg-type]
    assert {(c.weight, c.activation) for c in a16} == {("INT8", "INT16")}
    qop = made["qop"].file
    assert qop is not None
    import onnx

    ops = {n.op_type for n in onnx.load(str(qop)).graph.node}
    assert {"QLinearConv", "QGemm"} <= ops and "Conv" not in ops
    assert made["nope"].error is not None
    assert made["nope"].error.startswith('ai-edge-quantizer: no recipe "no_such_recipe"')
    assert "static_wi8_ai8" in made["nope"].error
    assert made["badenum"].error == (
        'onnxruntime.quantization: weight_type = "QInt7"; valid: '
        "QInt8, QUInt8, QFLOAT8E4M3FN, QInt16, QUInt16, QInt4, QUInt4"
    )


def test_missing_extra_is_a_config_error(
    make_suite: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    suite = make_suite('[models.cnn]\nreference = "fp32"\nderive = ["fp16"]\n'
                       '[models.cnn.variants]\nfp32 = "@MODELS@/cnn_fp32.tflite"\n')  # fmt: skip
    monkeypatch.setitem(sys.modules, "ai_edge_quantizer", None)  # as if not installed
    assert main(["run", str(suite), "--results", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {suite}: [models.cnn].derive: variant "fp16" needs ai-edge-quantizer, which is '
        "not installed; install the quantizers: pip install 'benchy[quantize]'"
    )
    assert not (tmp_path / "r").exists()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_derive_command_writes_files_and_refuses_others(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = in_tmp / "suite.toml"
    suite.write_text(
        f'[models.cnn]\ndataset = "{DATA}"\nreference = "fp32"\n'
        'derive = ["dynamic_int8", { name = "mcu", recipe = "int8", int8_io = true }]\n'
        f'[models.cnn.variants]\nfp32 = "{MODELS / "cnn_fp32.tflite"}"\n'
    )
    assert main(["derive", str(suite)]) == 0
    out = in_tmp / "derived" / "suite"
    assert sorted(p.name for p in out.iterdir()) == [
        "cnn-dynamic_int8.tflite",
        "cnn-mcu.tflite",
        "derived.json",
    ]
    assert tflite_io(out / "cnn-mcu.tflite") == (["INT8"], ["INT8"])
    assert main(["derive", str(suite)]) == 0  # its own files: overwritten
    mine = in_tmp / "mine"
    mine.mkdir()
    (mine / "cnn-mcu.tflite").write_bytes(b"not benchy's")
    capsys.readouterr()
    assert main(["derive", str(suite), "-o", str(mine)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: refusing to overwrite {mine / 'cnn-mcu.tflite'}: benchy did not make it (it is "
        f"not listed in {mine / 'derived.json'}); choose another folder or move the file"
    )
    assert (mine / "cnn-mcu.tflite").read_bytes() == b"not benchy's"
    assert sorted(p.name for p in mine.iterdir()) == ["cnn-mcu.tflite"]
