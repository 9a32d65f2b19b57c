"""An .onnx file's inputs, outputs, ops and external data files, from its protobuf (onnx.proto3
field numbers; protowire.py reads the wire format). The file is memory-mapped and tensors are
skipped, so a model of any size is read in milliseconds; external data is never opened.

Graph inputs that are also initializers are weights with a default, not inputs to feed (what
ONNX Runtime's `get_inputs()` lists too). A dimension is a `dim_value` (fixed), a `dim_param`
(named: `dims` sets it by that name) or neither (dynamic, unnamed).
"""

from __future__ import annotations

import mmap
from collections import Counter
from pathlib import Path

from benchy.modelinfo import Dim, IOInfo, ModelError, ModelInfo, TensorInfo, register
from benchy.modelinfo.protowire import LENGTH, WireError, fields, signed, text

# ModelProto
M_IR_VERSION, M_PRODUCER, M_PRODUCER_VERSION, M_GRAPH, M_OPSET = 1, 2, 3, 7, 8
# GraphProto
G_NODE, G_INITIALIZER, G_INPUT, G_OUTPUT = 1, 5, 11, 12
# NodeProto, AttributeProto
N_OP_TYPE, N_ATTRIBUTE, N_DOMAIN = 4, 5, 7
A_T, A_G, A_TENSORS, A_GRAPHS = 5, 6, 10, 11
# TensorProto, StringStringEntryProto
T_NAME, T_EXTERNAL_DATA, T_DATA_LOCATION = 8, 13, 14
EXTERNAL = 1
# ValueInfoProto → TypeProto → Tensor → TensorShapeProto → Dimension
V_NAME, V_TYPE = 1, 2
TYPE_TENSOR, TYPE_SEQUENCE, TYPE_MAP, TYPE_SPARSE, TYPE_OPTIONAL = 1, 4, 5, 8, 9
TT_ELEM, TT_SHAPE = 1, 2
SHAPE_DIM, DIM_VALUE, DIM_PARAM = 1, 1, 2

ELEMENT_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
    14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
    19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1",
}  # fmt: skip
"""TensorProto.DataType → numpy's name (the format's name where numpy has none)."""
OTHER_TYPES = {TYPE_SEQUENCE: "sequence", TYPE_MAP: "map", TYPE_SPARSE: "sparse tensor",
               TYPE_OPTIONAL: "optional"}  # fmt: skip


def _sub(buf: memoryview, start: int, end: int, number: int) -> list[tuple[int, int]]:
    """(start, end) of each length-delimited field `number` of a message."""
    return [(a, b) for n, w, a, b in fields(buf, start, end) if n == number and w == LENGTH]


def _first_text(buf: memoryview, start: int, end: int, number: int) -> str:
    found = _sub(buf, start, end, number)
    return text(buf, *found[0]) if found else ""


def _dims(buf: memoryview, start: int, end: int) -> tuple[Dim, ...]:
    dims: list[Dim] = []
    for a, b in _sub(buf, start, end, SHAPE_DIM):
        dim: Dim = None
        for n, w, v, e in fields(buf, a, b):
            if n == DIM_VALUE and w == 0:
                dim = signed(v)
            elif n == DIM_PARAM and w == LENGTH and e > v:
                dim = text(buf, v, e)
        dims.append(dim)
    return tuple(dims)


def _value_info(buf: memoryview, start: int, end: int) -> TensorInfo:
    name = _first_text(buf, start, end, V_NAME)
    dtype, dims = "unknown", None
    for a, b in _sub(buf, start, end, V_TYPE):
        for n, w, v, e in fields(buf, a, b):
            if n != TYPE_TENSOR:
                dtype = OTHER_TYPES.get(n, dtype)
                continue
            if w != LENGTH:
                continue
            for tn, tw, tv, te in fields(buf, v, e):
                if tn == TT_ELEM and tw == 0:
                    dtype = ELEMENT_TYPES.get(tv, f"type {tv}")
                elif tn == TT_SHAPE and tw == LENGTH:
                    dims = _dims(buf, tv, te)
    return TensorInfo(name, dtype, dims)


def _external(buf: memoryview, start: int, end: int) -> str | None:
    """A TensorProto's external data location, or None when its data is inside."""
    location, external = None, False
    for n, w, v, e in fields(buf, start, end):
        if n == T_DATA_LOCATION and w == 0:
            external = v == EXTERNAL
        elif n == T_EXTERNAL_DATA and w == LENGTH:
            entry = {k: "" for k in ("key", "value")}
            for en, ew, ev, ee in fields(buf, v, e):
                if ew == LENGTH and en in (1, 2):
                    entry["key" if en == 1 else "value"] = text(buf, ev, ee)
            if entry["key"] == "location":
                location = entry["value"]
    return location if external else None


class _Graph:
    """One pass over a GraphProto: its inputs, outputs, op counts and external data, with the
    subgraphs of control-flow nodes (If, Loop, Scan) walked for ops and external data."""

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf
        self.ops: Counter[str] = Counter()
        self.external: list[str] = []

    def tensor(self, start: int, end: int) -> None:
        location = _external(self.buf, start, end)
        if location is not None and location not in self.external:
            self.external.append(location)

    def node(self, start: int, end: int) -> None:
        buf = self.buf
        op = _first_text(buf, start, end, N_OP_TYPE)
        domain = _first_text(buf, start, end, N_DOMAIN)
        self.ops[op if domain in ("", "ai.onnx") else f"{domain}:{op}"] += 1
        for a, b in _sub(buf, start, end, N_ATTRIBUTE):
            for n, w, v, e in fields(buf, a, b):
                if w != LENGTH:
                    continue
                if n in (A_T, A_TENSORS):
                    self.tensor(v, e)
                elif n in (A_G, A_GRAPHS):
                    self.walk(v, e)

    def walk(self, start: int, end: int) -> tuple[list[TensorInfo], list[TensorInfo], set[str]]:
        inputs, outputs, weights = [], [], set()
        for n, w, v, e in fields(self.buf, start, end):
            if w != LENGTH:
                continue
            if n == G_NODE:
                self.node(v, e)
            elif n == G_INITIALIZER:
                weights.add(_first_text(self.buf, v, e, T_NAME))
                self.tensor(v, e)
            elif n == G_INPUT:
                inputs.append(_value_info(self.buf, v, e))
            elif n == G_OUTPUT:
                outputs.append(_value_info(self.buf, v, e))
        return inputs, outputs, weights


def _opsets(buf: memoryview, start: int, end: int) -> str:
    sets = []
    for a, b in _sub(buf, start, end, M_OPSET):
        domain, version = "ai.onnx", 0
        for n, w, v, e in fields(buf, a, b):
            if n == 1 and w == LENGTH and e > v:
                domain = text(buf, v, e)
            elif n == 2 and w == 0:
                version = v
        sets.append(f"{domain} {version}")
    return ", ".join(sets)


def _read(path: Path, buf: memoryview) -> ModelInfo:
    graph = _Graph(buf)
    facts: dict[str, str] = {}
    io = None
    for n, w, v, e in fields(buf):
        if n == M_IR_VERSION and w == 0:
            facts["ir version"] = str(v)
        elif n == M_PRODUCER and w == LENGTH:
            facts["producer"] = (text(buf, v, e) + " " + facts.get("producer", "")).strip()
        elif n == M_PRODUCER_VERSION and w == LENGTH:
            facts["producer"] = (facts.get("producer", "") + " " + text(buf, v, e)).strip()
        elif n == M_GRAPH and w == LENGTH:
            inputs, outputs, weights = graph.walk(v, e)
            io = IOInfo(tuple(i for i in inputs if i.name not in weights), tuple(outputs))
    if io is None:
        raise ModelError(f"{path.name}: not an ONNX model (no graph)")
    opsets = _opsets(buf, 0, len(buf))
    if opsets:
        facts["opsets"] = opsets
    return ModelInfo(path, "onnx", io, dict(graph.ops), len(buf), {}, tuple(graph.external), facts)


@register(".onnx")
def read_onnx(path: Path) -> ModelInfo:
    try:
        with path.open("rb") as fh:
            if fh.seek(0, 2) == 0:
                raise ModelError(f"{path.name}: empty file")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                view = memoryview(mapped)
                try:
                    return _read(path, view)
                finally:
                    view.release()
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read: {exc.strerror}") from None
    except (WireError, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(f"{path.name}: not an ONNX protobuf ({exc})") from None
