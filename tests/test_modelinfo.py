"""The host reads a model's inputs, outputs, ops and signatures from the file itself: checked
against what the `onnx` package and LiteRT's own Interpreter say about the same files."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from ai_edge_litert.interpreter import Interpreter

from benchy.cli import main
from benchy.modelinfo import ModelError, ModelInfo, TensorInfo, read_model

from .conftest import MODELS, ROOT

SHIPPED = sorted(MODELS.glob("*.onnx")) + sorted((ROOT / "benchmarks" / "models").glob("*.onnx"))
SHIPPED_TFLITE = sorted(MODELS.glob("*.tflite")) + sorted(
    (ROOT / "benchmarks" / "models").glob("*.tflite")
)
CORPUS_MODELS = ROOT / "tests" / "config_corpus" / "models"


def onnx_tensor(value: onnx.ValueInfoProto) -> tuple[str, str, tuple[object, ...] | None]:
    t = value.type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name
    if not t.HasField("shape"):
        return value.name, dtype, None
    dims = tuple(
        d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim
    )
    return value.name, dtype, dims


def ours(t: TensorInfo) -> tuple[str, str, tuple[object, ...] | None]:
    dtype = "object" if t.dtype == "string" else t.dtype  # onnx maps its strings to object
    return t.name, dtype, t.dims


def onnx_files(tiny: dict[str, Path]) -> list[Path]:
    return SHIPPED + [p for p in tiny.values() if p.suffix == ".onnx"]


def test_onnx_reader_agrees_with_the_onnx_package(tiny: dict[str, Path]) -> None:
    for path in onnx_files(tiny):
        model = onnx.load(str(path), load_external_data=False)
        weights = {i.name for i in model.graph.initializer}
        info = read_model(path)
        want_in = [onnx_tensor(v) for v in model.graph.input if v.name not in weights]
        assert [ours(t) for t in info.io.inputs] == want_in, path.name
        assert [ours(t) for t in info.io.outputs] == [onnx_tensor(v) for v in model.graph.output]
        ops = Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}"
                      for n in model.graph.node)  # fmt: skip
        assert info.ops == dict(ops), path.name
        located = {
            e.value
            for i in model.graph.initializer
            for e in i.external_data
            if e.key == "location" and i.data_location == onnx.TensorProto.EXTERNAL
        }
        assert set(info.external_data) == located
        assert info.facts["ir version"] == str(model.ir_version)


def test_external_data_is_listed_and_counted_but_never_read(tiny: dict[str, Path]) -> None:
    info = read_model(tiny["weights"])
    assert info.external_data == ("weights.data",)
    data = tiny["weights"].parent / "weights.data"
    assert info.data_files() == [data]
    assert info.size_bytes == tiny["weights"].stat().st_size + data.stat().st_size


def interpreter_dims(detail: dict[str, object]) -> tuple[int | None, ...]:
    shape = [int(s) for s in detail["shape"]]  # type: ignore[attr-defined]
    signature = [int(s) for s in detail["shape_signature"]]  # type: ignore[attr-defined]
    return tuple(None if sig < 0 else s for s, sig in zip(shape, signature, strict=True))


def check_tensor(t: TensorInfo, detail: dict[str, object], name: str | None = None) -> None:
    assert t.name == (name or detail["name"])
    assert t.dtype == np.dtype(detail["dtype"]).name  # type: ignore[arg-type]
    assert t.dims == interpreter_dims(detail)
    params = detail["quantization_parameters"]
    scales = params["scales"]  # type: ignore[index]
    if len(scales) == 1:
        assert t.scale == pytest.approx(float(scales[0]))
        assert t.zero_point == int(params["zero_points"][0])  # type: ignore[index]
    else:
        assert not t.quantized


def test_tflite_reader_agrees_with_the_interpreter(tiny: dict[str, Path]) -> None:
    files = SHIPPED_TFLITE + [p for p in tiny.values() if p.suffix == ".tflite"]
    for path in files:
        info = read_model(path)
        interp = Interpreter(model_path=str(path))
        for t, d in zip(info.io.inputs, interp.get_input_details(), strict=True):
            check_tensor(t, d)
        for t, d in zip(info.io.outputs, interp.get_output_details(), strict=True):
            check_tensor(t, d)
        assert set(info.signatures) == set(interp.get_signature_list())
        for key, sig in info.signatures.items():
            runner = interp.get_signature_runner(key)
            details = runner.get_input_details()
            assert {t.name for t in sig.inputs} == set(details)
            for t in sig.inputs:
                check_tensor(t, details[t.name], t.name)
            assert {t.name for t in sig.outputs} == set(runner.get_output_details())
        ops = Counter(op["op_name"] for op in interp._get_ops_details())
        assert sum(info.ops.values()) >= sum(ops.values()) > 0  # all subgraphs vs the first


def test_what_the_tiny_models_hold(tiny: dict[str, Path]) -> None:
    vad = read_model(tiny["vad"])
    assert [(t.name, t.dtype, t.dims) for t in vad.io.inputs] == [
        ("input", "float32", ("batch", "sequence")),
        ("state", "float32", (2, "batch", 8)),
        ("sr", "int64", ()),
    ]
    assert vad.io.dynamic_dims() == {"batch": ["input[0]", "state[1]"], "sequence": ["input[1]"]}
    dynamic = read_model(tiny["dynamic"])
    assert dynamic.io.inputs[0].dims == (None, 4)
    assert dynamic.io.dynamic_dims() == {"x[0]": ["x[0]"]}
    sigs = read_model(tiny["signatures"])
    assert sigs.ops == {"ADD": 1, "MUL": 1}
    assert [t.name for t in sigs.io_for("mul").inputs] == ["a", "b"]
    assert [t.name for t in sigs.io_for(None).inputs] == ["add_a", "add_b"]
    q = read_model(tiny["int8_add"])
    assert [(t.scale, t.zero_point) for t in q.io.inputs] == [
        (pytest.approx(0.05), 0),
        (pytest.approx(0.1), -10),
    ]


def test_the_corpus_models_are_what_the_builder_makes(tiny: dict[str, Path]) -> None:
    """tests/config_corpus/models holds copies (the corpus needs files on disk): the same
    inputs, outputs, ops and signatures as a fresh build."""

    def facts(info: ModelInfo) -> tuple[object, ...]:
        return (info.io, info.ops, info.signatures, info.external_data)

    committed = sorted(CORPUS_MODELS.glob("*.*"))
    assert len(committed) >= 6
    for path in committed:
        if path.suffix in (".onnx", ".tflite"):
            assert facts(read_model(path)) == facts(read_model(tiny[path.stem])), path.name


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_damaged_files_are_model_errors_not_crashes(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(7)
    source = MODELS / f"cnn_fp32{suffix}"
    cases = {
        "random": rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "truncated": source.read_bytes()[: source.stat().st_size // 2],
        "empty": b"",
        "identifier only": b"TFL3" + os.urandom(200),
    }
    for name, data in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}{suffix}"
        path.write_bytes(data)
        try:
            info = read_model(path)
        except ModelError as exc:
            assert path.name in str(exc)
            continue
        # A prefix can parse as a smaller valid message: then it is a model with what it holds.
        assert isinstance(info, ModelInfo), name


def test_a_file_that_is_no_model_kind(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"\0" * 10)
    with pytest.raises(ModelError, match="not a model file benchy reads"):
        read_model(path)


def test_inspect_text_and_json(tiny: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tiny["vad"])]) == 0
    out = capsys.readouterr().out
    assert "vad.onnx" in out and "[2, batch, 8]" in out and "int64" in out and "(scalar)" in out
    assert "batch = ?   (input[0], state[1])" in out
    assert "ops (8): Add 3, ReduceMean 2, Cast 1, Mul 1, Unsqueeze 1" in out
    assert main(["inspect", str(tiny["signatures"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == "tflite"
    assert set(data["signatures"]) == {"add", "mul"}
    assert [i["name"] for i in data["signatures"]["mul"]["inputs"]] == ["a", "b"]
    assert main(["inspect", str(tiny["int8_add"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"][1]["quantization"] == {"scale": pytest.approx(0.1), "zero_point": -10}
    assert main(["inspect", str(tiny["dynamic"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["inputs"][0]["shape"] == [None, 4]
    assert data["dynamic_dims"] == {"x[0]": ["x[0]"]}
    assert main(["inspect", str(tiny["weights"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["external_data"] == ["weights.data"]


def test_inspect_of_no_model_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff")
    assert main(["inspect", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("error: bad.onnx: not an ONNX protobuf")
