"""Models with a known extra cost: an ONNX MLP chain of K dense layers (MatMul + Add + Relu,
WIDTH × WIDTH float32 weights, seeded), so that K + 1 layers cost one layer more than K — a true
slowdown of about 1/K of the per-layer share. Built with `onnx`, no download."""

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


def chain_suite(model: Path, path: Path, repetitions: int, extra: str = "") -> Path:
    """A one-cell suite (ONNX Runtime, 1 thread) whose model `chain/k` is `model`: the base and
    the candidate suite differ only in the file behind the same cell."""
    path.write_text(
        f"""[suite]
name = "chain"
[matrix]
runtimes = ["onnxruntime"]
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
