"""A .tflite file's inputs, outputs, signatures and ops, from its flatbuffer (LiteRT's generated
schema reader, lazily: the weights are never unpacked).

Dynamic dimensions are the -1 entries of a tensor's `shape_signature` (its `shape` holds 1
there). The generated reader has no verifier, so a damaged file is caught by the identifier
check and by the errors its accessors raise on offsets outside the buffer.
"""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path
from typing import Any

from ai_edge_litert import schema_py_generated as fb

from benchy.modelinfo import Dim, IOInfo, ModelError, ModelInfo, TensorInfo, register

TYPES: dict[int, str] = {
    v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_")
}
OPS: dict[int, str] = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def _tensor(graph: Any, index: int, name: str | None = None) -> TensorInfo:
    t = graph.Tensors(index)
    shape = [int(s) for s in t.ShapeAsNumpy()] if t.ShapeLength() else []
    signature = [int(s) for s in t.ShapeSignatureAsNumpy()] if t.ShapeSignatureLength() else []
    dims: tuple[Dim, ...] = tuple(
        None if signature and signature[i] < 0 else size for i, size in enumerate(shape)
    )
    scale, zero, per_axis = 0.0, 0, False
    q = t.Quantization()
    if q is not None and q.ScaleLength() == 1:
        scale = float(q.Scale(0))
        zero = int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0
    elif q is not None and q.ScaleLength() > 1:
        per_axis = True
    dtype = TYPES.get(t.Type(), f"type {t.Type()}")
    return TensorInfo(name or _text(t.Name()), dtype, dims, scale, zero, per_axis)


def _op_name(model: Any, op: Any) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = int(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
    if builtin == fb.BuiltinOperator.CUSTOM:
        return f"CUSTOM:{_text(code.CustomCode())}"
    return OPS.get(builtin, f"op {builtin}")


def _signatures(model: Any) -> dict[str, IOInfo]:
    out = {}
    for i in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(i)
        graph = model.Subgraphs(sig.SubgraphIndex())
        inputs = [sig.Inputs(j) for j in range(sig.InputsLength())]
        outputs = [sig.Outputs(j) for j in range(sig.OutputsLength())]
        out[_text(sig.SignatureKey())] = IOInfo(
            tuple(_tensor(graph, m.TensorIndex(), _text(m.Name())) for m in inputs),
            tuple(_tensor(graph, m.TensorIndex(), _text(m.Name())) for m in outputs),
        )
    return out


@register(".tflite")
def read_tflite(path: Path) -> ModelInfo:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read: {exc.strerror}") from None
    if len(data) < 8 or not fb.Model.ModelBufferHasIdentifier(data, 0):
        raise ModelError(f"{path.name}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = fb.Model.GetRootAsModel(data, 0)
        if not model.SubgraphsLength():
            raise ModelError(f"{path.name}: the TFLite model has no subgraph")
        graph = model.Subgraphs(0)
        io = IOInfo(
            tuple(_tensor(graph, graph.Inputs(i)) for i in range(graph.InputsLength())),
            tuple(_tensor(graph, graph.Outputs(i)) for i in range(graph.OutputsLength())),
        )
        ops: Counter[str] = Counter()
        for s in range(model.SubgraphsLength()):
            sub = model.Subgraphs(s)
            ops.update(_op_name(model, sub.Operators(k)) for k in range(sub.OperatorsLength()))
        signatures = _signatures(model)
        facts = {"schema version": str(model.Version()), "subgraphs": str(model.SubgraphsLength())}
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise ModelError(f"{path.name}: damaged TFLite flatbuffer ({type(exc).__name__})") from None
    return ModelInfo(path, "tflite", io, dict(ops), len(data), signatures, (), facts)
