"""Small models with the inputs real models have, built here (no TensorFlow, no downloads):
ONNX with the `onnx` helper API, TFLite as hand-built flatbuffers through LiteRT's generated
schema (ai_edge_litert.schema_py_generated, the object API that writes .tflite files).

Each model computes something a test can check exactly, so a wrong feed shows in the metric:

vad.onnx           streaming voice-activity-like: input [batch, sequence], state [2, batch, 8],
                   sr int64 scalar → output = mean(input) + mean(state) + sr / 10000 [batch, 1],
                   stateN = state + 1 (a counter: fed back, the state of invoke k is k)
vad_half.onnx      the same in float16 (inputs, outputs, constants; sr stays int64)
types.onnx         a int8 [1, 4], b uint8 [1, 4], flag bool [1, 4], h float16 [1, 4] →
                   out = a + b + flag + h (float32)
strings.onnx       s string [1] → Identity (an input benchy cannot feed)
noshape.onnx       x float, no shape in the model → Identity (the suite must give one)
weights.onnx       x [1, 16] → y = x · W [1, 4], W in the external file weights.data
dynamic.tflite     x [-1, 4] → y = x + [1, 2, 3, 4] (a dynamic batch dimension)
signatures.tflite  signature "add": out = a + b (subgraph 0); "mul": out = a * b (subgraph 1)
int8_add.tflite    a int8 [1, 4] (scale 0.05), b int8 [1, 4] (scale 0.1, zero point -10) →
                   out int8 = a + b (scale 0.1)
counter.tflite     x [1, 4], state [1, 4] → y = x + state, stateN = state + 1

`python -m tests.tiny_models DIR` writes them all (the config corpus keeps a copy in
tests/config_corpus/models, made so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import flatbuffers
import numpy as np
import onnx
from ai_edge_litert import schema_py_generated as fb
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def _save(model: onnx.ModelProto, path: Path, **kwargs: object) -> Path:
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), **kwargs)  # type: ignore[arg-type]
    return path


def vad_onnx(path: Path, half: bool = False) -> Path:
    """The fp32 model, or (half) the same in float16: inputs, outputs and constants."""
    f, i64 = (TensorProto.FLOAT16 if half else TensorProto.FLOAT), TensorProto.INT64
    real = np.float16 if half else np.float32
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[1], keepdims=1),
        helper.make_node("ReduceMean", ["state"], ["s0"], axes=[0, 2], keepdims=0),
        helper.make_node("Unsqueeze", ["s0", "one_axis"], ["s"]),
        helper.make_node("Cast", ["sr"], ["srf"], to=f),
        helper.make_node("Mul", ["srf", "tenth_milli"], ["srk"]),
        helper.make_node("Add", ["m", "s"], ["ms"]),
        helper.make_node("Add", ["ms", "srk"], ["output"]),
        helper.make_node("Add", ["state", "one"], ["stateN"]),
    ]
    graph = helper.make_graph(
        nodes,
        "vad",
        [
            helper.make_tensor_value_info("input", f, ["batch", "sequence"]),
            helper.make_tensor_value_info("state", f, [2, "batch", 8]),
            helper.make_tensor_value_info("sr", i64, []),
        ],
        [
            helper.make_tensor_value_info("output", f, ["batch", 1]),
            helper.make_tensor_value_info("stateN", f, [2, "batch", 8]),
        ],
        [
            numpy_helper.from_array(np.array([1], np.int64), "one_axis"),
            numpy_helper.from_array(np.array(1e-4, real), "tenth_milli"),
            numpy_helper.from_array(np.array(1.0, real), "one"),
        ],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET, producer_name="benchy-tests"), path)


def types_onnx(path: Path) -> Path:
    f = TensorProto.FLOAT
    inputs = {"a": TensorProto.INT8, "b": TensorProto.UINT8, "flag": TensorProto.BOOL,
              "h": TensorProto.FLOAT16}  # fmt: skip
    nodes = [helper.make_node("Cast", [n], [f"{n}_f"], to=f) for n in inputs]
    nodes += [
        helper.make_node("Add", ["a_f", "b_f"], ["ab"]),
        helper.make_node("Add", ["ab", "flag_f"], ["abf"]),
        helper.make_node("Add", ["abf", "h_f"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "types",
        [helper.make_tensor_value_info(n, t, [1, 4]) for n, t in inputs.items()],
        [helper.make_tensor_value_info("out", f, [1, 4])],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def strings_onnx(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["t"])],
        "strings",
        [helper.make_tensor_value_info("s", TensorProto.STRING, [1])],
        [helper.make_tensor_value_info("t", TensorProto.STRING, [1])],
    )
    return _save(helper.make_model(graph, opset_imports=OPSET), path)


def noshape_onnx(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "noshape",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    # (onnx's checker wants graph inputs to have a shape; ONNX Runtime does not)
    onnx.save_model(helper.make_model(graph, opset_imports=OPSET), str(path))
    return path


WEIGHTS = np.arange(64, dtype=np.float32).reshape(16, 4) / 64.0


def weights_onnx(path: Path, data_name: str = "weights.data") -> Path:
    """y = x · W with W stored in `data_name` beside the model (ONNX external data)."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(WEIGHTS, "W")],
    )
    model = helper.make_model(graph, opset_imports=OPSET)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=0)  # fmt: skip
    return path


# ---------------------------------------------------------------- TFLite flatbuffers


def _tensor(
    name: str,
    shape: list[int],
    signature: list[int] | None = None,
    kind: int = fb.TensorType.FLOAT32,
    buffer: int = 0,
    quant: tuple[float, int] | None = None,
) -> fb.TensorT:
    t = fb.TensorT()
    t.name, t.shape, t.type, t.buffer = name, shape, kind, buffer
    if signature is not None:
        t.shapeSignature = signature
    if quant is not None:
        q = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [quant[0]], [quant[1]]
        t.quantization = q
    return t


def _op(code: int, inputs: list[int], outputs: list[int], options: str) -> fb.OperatorT:
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = code, inputs, outputs
    op.builtinOptionsType = getattr(fb.BuiltinOptions, options)
    op.builtinOptions = getattr(fb, f"{options}T")()
    return op


def _code(builtin: int) -> fb.OperatorCodeT:
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = builtin
    code.version = 1
    return code


def _graph(tensors: list[fb.TensorT], inputs: list[int], outputs: list[int],
           ops: list[fb.OperatorT], name: str = "main") -> fb.SubGraphT:  # fmt: skip
    g = fb.SubGraphT()
    g.name, g.tensors, g.inputs, g.outputs, g.operators = name, tensors, inputs, outputs, ops
    return g


def _buffer(data: np.ndarray | None = None) -> fb.BufferT:
    b = fb.BufferT()
    if data is not None:
        b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
    return b


def _signature(key: str, subgraph: int, inputs: dict[str, int],
               outputs: dict[str, int]) -> fb.SignatureDefT:  # fmt: skip
    def maps(names: dict[str, int]) -> list[fb.TensorMapT]:
        out = []
        for name, index in names.items():
            m = fb.TensorMapT()
            m.name, m.tensorIndex = name, index
            out.append(m)
        return out

    s = fb.SignatureDefT()
    s.signatureKey, s.subgraphIndex = key, subgraph
    s.inputs, s.outputs = maps(inputs), maps(outputs)
    return s


def _write(path: Path, subgraphs: list[fb.SubGraphT], codes: list[int],
           buffers: list[fb.BufferT], signatures: list[fb.SignatureDefT] = ()) -> Path:  # type: ignore[assignment]  # fmt: skip
    m = fb.ModelT()
    m.version, m.subgraphs, m.buffers = 3, subgraphs, buffers
    m.operatorCodes = [_code(c) for c in codes]
    m.signatureDefs = list(signatures)
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


ADD, MUL = fb.BuiltinOperator.ADD, fb.BuiltinOperator.MUL
BIAS = np.array([1, 2, 3, 4], dtype=np.float32)


def dynamic_tflite(path: Path) -> Path:
    tensors = [_tensor("x", [1, 4], [-1, 4]), _tensor("bias", [4], buffer=1),
               _tensor("y", [1, 4], [-1, 4])]  # fmt: skip
    graph = _graph(tensors, [0], [2], [_op(0, [0, 1], [2], "AddOptions")])
    return _write(path, [graph], [ADD], [_buffer(), _buffer(BIAS)])


def signatures_tflite(path: Path) -> Path:
    def graph(name: str, code: int, options: str) -> fb.SubGraphT:
        tensors = [_tensor(f"{name}_a", [1, 4]), _tensor(f"{name}_b", [1, 4]),
                   _tensor(f"{name}_out", [1, 4])]  # fmt: skip
        return _graph(tensors, [0, 1], [2], [_op(code, [0, 1], [2], options)], name)

    sigs = [_signature(k, i, {"a": 0, "b": 1}, {"out": 2}) for i, k in enumerate(("add", "mul"))]
    subgraphs = [graph("add", 0, "AddOptions"), graph("mul", 1, "MulOptions")]
    return _write(path, subgraphs, [ADD, MUL], [_buffer()], sigs)


INT8_A, INT8_B, INT8_OUT = (0.05, 0), (0.1, -10), (0.1, 0)


def int8_add_tflite(path: Path) -> Path:
    i8 = fb.TensorType.INT8
    tensors = [_tensor("a", [1, 4], kind=i8, quant=INT8_A), _tensor("b", [1, 4], kind=i8,
               quant=INT8_B), _tensor("out", [1, 4], kind=i8, quant=INT8_OUT)]  # fmt: skip
    graph = _graph(tensors, [0, 1], [2], [_op(0, [0, 1], [2], "AddOptions")])
    return _write(path, [graph], [ADD], [_buffer()])


def counter_tflite(path: Path) -> Path:
    tensors = [_tensor("x", [1, 4]), _tensor("state", [1, 4]), _tensor("one", [1], buffer=1),
               _tensor("y", [1, 4]), _tensor("stateN", [1, 4])]  # fmt: skip
    ops = [_op(0, [0, 1], [3], "AddOptions"), _op(0, [1, 2], [4], "AddOptions")]
    graph = _graph(tensors, [0, 1], [3, 4], ops)
    return _write(path, [graph], [ADD], [_buffer(), _buffer(np.ones(1, np.float32))])


TFLITE_SUITE = """
[matrix]
runtimes = ["tflite"]
[models.batch]
dataset = "batch3.npz"
metric = "mae"
dims = {{ "x[0]" = 3 }}
[models.batch.variants]
fp32 = "{dynamic}"
[models.mul]
dataset = "mul.npz"
metric = "mae"
signature = "mul"
[models.mul.variants]
fp32 = "{signatures}"
[models.add]
dataset = "add.npz"
metric = "mae"
signature = "add"
[models.add.variants]
fp32 = "{signatures}"
[models.q]
dataset = "add.npz"
metric = "mae"
[models.q.variants]
int8 = "{int8_add}"
[models.c]
dataset = "stream.npz"
metric = "mae"
output = "y"
[models.c.variants]
fp32 = "{counter}"
[models.c.inputs.state]
source = "zeros"
[models.c.feedback]
stateN = "state"
"""

TFLITE_LIMITS = {"batch": 1e-6, "mul": 1e-6, "add": 1e-6, "q": 0.06, "c": 1e-6}
"""The MAE each model of TFLITE_SUITE scores when fed right. batch: 3-row batches (resized
from [1, 4]); mul, add: each signature's own subgraph; q: two float arrays quantized with their
own scales (0.05; 0.1, zero point -10) — three roundings of a 0.05/0.1 quantum cost ~0.04 here
(deterministic), while unquantized or misscaled feeds cost ~1; c: y_k = x_k + k, only if the
state counted every invoke."""


def tflite_suite(folder: Path, models: dict[str, Path]) -> str:
    """TFLITE_SUITE with its datasets written into `folder` (paths relative to it)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(10, 3, 4)).astype(np.float32)
    np.savez(folder / "batch3.npz", x=x, y=(x + BIAS).reshape(10, 12))
    a, b = (rng.uniform(-1, 1, size=(12, 1, 4)).astype(np.float32) for _ in range(2))
    np.savez(folder / "mul.npz", a=a, b=b, y=(a * b).reshape(12, 4))
    np.savez(folder / "add.npz", a=a, b=b, y=(a + b).reshape(12, 4))
    x1 = rng.uniform(-1, 1, size=(6, 1, 4)).astype(np.float32)
    np.savez(folder / "stream.npz", x=x1, y=(x1 + np.arange(6)[:, None, None]).reshape(6, 4))
    return TFLITE_SUITE.format(**{k: str(v) for k, v in models.items()})


def build_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "vad": vad_onnx(folder / "vad.onnx"),
        "types": types_onnx(folder / "types.onnx"),
        "strings": strings_onnx(folder / "strings.onnx"),
        "noshape": noshape_onnx(folder / "noshape.onnx"),
        "weights": weights_onnx(folder / "weights.onnx"),
        "dynamic": dynamic_tflite(folder / "dynamic.tflite"),
        "signatures": signatures_tflite(folder / "signatures.tflite"),
        "int8_add": int8_add_tflite(folder / "int8_add.tflite"),
        "counter": counter_tflite(folder / "counter.tflite"),
    }
    made["vad_half"] = vad_onnx(folder / "vad_half.onnx", half=True)
    return made


if __name__ == "__main__":
    for name, file in build_all(Path(sys.argv[1])).items():
        print(name, file)
