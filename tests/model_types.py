"""What a model file holds, read from the file itself (LiteRT's flatbuffer schema, the ONNX
protobuf), not through any quantizer: the element types of each compute op's stored weight and
of the activation it takes, and of the graph's inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
from ai_edge_litert import schema_py_generated as fb


@dataclass(frozen=True)
class Compute:
    op: str
    weight: str
    """Element type the weight is stored in (behind a DEQUANTIZE / DequantizeLinear, if any)."""
    activation: str
    """Element type of the data input as the op computes on it."""


TFLITE_COMPUTE = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def _names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_")}


def _tflite(path: Path) -> fb.ModelT:
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(path.read_bytes(), 0))


def tflite_compute(path: Path) -> list[Compute]:
    model = _tflite(path)
    graph = model.subgraphs[0]
    ops, types = _names(fb.BuiltinOperator), _names(fb.TensorType)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]

    def name(op: fb.OperatorT) -> str:
        return ops[codes[op.opcodeIndex]]

    producer = {out: op for op in graph.operators for out in op.outputs}

    def stored(tensor: int) -> str:
        made_by = producer.get(tensor)
        if made_by is not None and name(made_by) == "DEQUANTIZE":
            tensor = made_by.inputs[0]
        return types[graph.tensors[tensor].type]

    return [
        Compute(name(op), stored(op.inputs[1]), types[graph.tensors[op.inputs[0]].type])
        for op in graph.operators
        if name(op) in TFLITE_COMPUTE
    ]


def tflite_ops(path: Path) -> set[str]:
    model = _tflite(path)
    ops = _names(fb.BuiltinOperator)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    return {ops[codes[op.opcodeIndex]] for op in model.subgraphs[0].operators}


def tflite_io(path: Path) -> tuple[list[str], list[str]]:
    graph = _tflite(path).subgraphs[0]
    types = _names(fb.TensorType)
    return (
        [types[graph.tensors[i].type] for i in graph.inputs],
        [types[graph.tensors[i].type] for i in graph.outputs],
    )


ONNX_WEIGHT_INPUT = {
    "Conv": 1,
    "Gemm": 1,
    "MatMul": 1,
    "LSTM": 1,
    "ConvInteger": 1,
    "MatMulInteger": 1,
    "DynamicQuantizeLSTM": 1,
    "MatMulNBits": 1,
}
"""Compute ops and the input index of their weight."""


def onnx_compute(path: Path) -> list[Compute]:
    graph = onnx.load(str(path)).graph
    stored = {i.name: onnx.TensorProto.DataType.Name(i.data_type) for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def weight(node: onnx.NodeProto) -> str:
        if node.op_type == "MatMulNBits":  # packed into uint8: the attribute says how
            bits = next(a.i for a in node.attribute if a.name == "bits")
            return f"INT{bits}"
        name = node.input[ONNX_WEIGHT_INPUT[node.op_type]]
        made_by = producer.get(name)
        if made_by is not None and made_by.op_type == "DequantizeLinear":
            name = made_by.input[0]
        return stored.get(name, "computed")

    def activation(node: onnx.NodeProto) -> str:
        made_by = producer.get(node.input[0])
        if made_by is not None and made_by.op_type == "DequantizeLinear":
            return stored[made_by.input[2]]  # the zero point's type is the quantized type
        if node.op_type in ("ConvInteger", "MatMulInteger"):
            return "INT8 at run time" if made_by is not None else "?"
        return "FLOAT"

    return [
        Compute(n.op_type, weight(n), activation(n))
        for n in graph.node
        if n.op_type in ONNX_WEIGHT_INPUT
    ]


def onnx_io(path: Path) -> tuple[list[str], list[str]]:
    graph = onnx.load(str(path)).graph
    constants = {i.name for i in graph.initializer}

    def kind(value: onnx.ValueInfoProto) -> str:
        return onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type)

    return (
        [kind(i) for i in graph.input if i.name not in constants],
        [kind(o) for o in graph.output],
    )
