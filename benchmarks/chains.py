"""Models with a known extra cost: an MLP chain of K dense layers (WIDTH × WIDTH float32 weights,
seeded, ReLU), so that K + 1 layers cost one layer more than K — a true slowdown of about 1/K of
the per-layer share (measured here, 256 wide: +9%, +5%, +3% for K = 10, 20, 33). As ONNX
(MatMul + Add + Relu, built with `onnx`) or TFLite (FULLY_CONNECTED with a fused ReLU, written
with LiteRT's own flatbuffer schema). No download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH = 256


def mlp_chain(layers: int, path: Path, width: int = WIDTH, seed: int = 0) -> Path:
    """Write a K-layer chain to `path` (input "x" [1, width] float32 → output "y")."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current = "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = np.zeros(width, np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "y" if i == layers - 1 else f"h{i}"
        nodes += [
            helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
            helper.make_node("Relu", [f"a{i}"], [out]),
        ]
        current = out
    graph = helper.make_graph(
        nodes,
        f"chain{layers}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every onnxruntime this project supports
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def tflite_chain(layers: int, path: Path, width: int = WIDTH, seed: int = 0) -> Path:
    """Write a K-layer chain as a TFLite flatbuffer (input [1, width] float32)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as fb

    rng = np.random.default_rng(seed)
    model = fb.ModelT()
    model.version = 3
    model.buffers = [fb.BufferT()]  # buffer 0: empty, by convention
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.FULLY_CONNECTED
    code.version = 1
    model.operatorCodes = [code]
    graph = fb.SubGraphT()
    graph.tensors, graph.operators = [], []

    def tensor(name: str, shape: list[int], data: np.ndarray | None = None) -> int:
        t = fb.TensorT()
        t.name, t.shape, t.type = name.encode(), shape, fb.TensorType.FLOAT32
        t.buffer = 0
        if data is not None:
            buffer = fb.BufferT()
            buffer.data = np.frombuffer(data.tobytes(), np.uint8).tolist()
            model.buffers.append(buffer)
            t.buffer = len(model.buffers) - 1
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    current = tensor("x", [1, width])
    graph.inputs = [current]
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        weights = tensor(f"w{i}", [width, width], w)
        bias = tensor(f"b{i}", [width], np.zeros(width, np.float32))
        out = tensor(f"h{i}", [1, width])
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [current, weights, bias], [out]
        options = fb.FullyConnectedOptionsT()
        options.fusedActivationFunction = fb.ActivationFunctionType.RELU
        op.builtinOptionsType, op.builtinOptions = fb.BuiltinOptions.FullyConnectedOptions, options
        graph.operators.append(op)
        current = out
    graph.outputs = [current]
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(builder.Output()))
    return path


def chain_suite(
    model: Path, path: Path, repetitions: int, extra: str = "", threads: int = 1
) -> Path:
    """A one-cell suite (ONNX Runtime, `threads` threads) whose model `chain/k` is `model`: the
    base and the candidate suite differ only in the file behind the same cell."""
    path.write_text(
        f"""[suite]
name = "chain"
[matrix]
runtimes = ["onnxruntime"]
threads = [{threads}]
[models.chain]
input = {{ source = "random", seed = 1 }}
[models.chain.variants]
k = "{model}"
[measure]
warmup_runs = 50
warmup_seconds = 0.02
min_runs = 300
min_seconds = 0.05
repetitions = {repetitions}
{extra}"""
    )
    return path
