"""Small ONNX models whose op mix and cost are known: a chain of K MatMul+Relu layers (the
instruction-mode tests and benchmarks/instructions_gate.py build them; nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp_chain(path: Path, layers: int, width: int = 64, seed: int = 0) -> Path:
    """x (1, width) → [MatMul(width × width) → Relu] × layers; weights seeded, so the same
    arguments give the same file."""
    rng = np.random.default_rng(seed)
    nodes, weights, last = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        weights.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [last, f"w{i}"], [f"m{i}"], name=f"matmul_{i}"))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"relu_{i}"))
        last = f"r{i}"
    graph = helper.make_graph(
        nodes,
        f"mlp{layers}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
        [helper.make_tensor_value_info(last, TensorProto.FLOAT, [1, width])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
