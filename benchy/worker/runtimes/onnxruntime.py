"""ONNX Runtime on the device: one execution provider per cell, sequential execution, inputs
and a preallocated output bound with IOBinding so the timed run copies nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from benchy.worker.profiling import ORT_SOURCE, ort_rows, profile_pass
from benchy.worker.protocol import CellRequest, RuntimeFacts
from benchy.worker.runtimes.base import Runner, Unavailable

ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def import_onnxruntime() -> Any:
    import onnxruntime

    return onnxruntime


def onnxruntime_facts() -> RuntimeFacts:
    try:
        ort = import_onnxruntime()
    except Exception as exc:  # any import failure is a fact to report, not a crash
        return {"available": False, "reason": "onnxruntime does not import: %s" % exc}
    return {
        "available": True,
        "module": "onnxruntime",
        "version": ort.__version__,
        "providers": list(ort.get_available_providers()),
    }


class OnnxRunner(Runner):
    name = "onnxruntime"
    module = "onnxruntime"

    def __init__(self, cell: CellRequest) -> None:
        try:
            ort = import_onnxruntime()
        except ImportError as exc:
            raise Unavailable("onnxruntime is not installed: %s" % exc) from None
        self.version = ort.__version__
        provider = cell["delegate"]
        name = provider["name"]
        if name not in ort.get_available_providers():
            raise Unavailable(
                "execution provider %s is not in this onnxruntime build (has: %s)"
                % (name, ", ".join(ort.get_available_providers()))
            )
        self.ort, self.cell = ort, cell
        self.providers = [(name, provider.get("options") or {})]
        self.session = ort.InferenceSession(
            cell["model_path"], self._options(), providers=self.providers
        )
        self.inputs = self.session.get_inputs()
        self.outputs = self.session.get_outputs()
        self.binding = self.session.io_binding()
        self._out_value = None
        out = self.outputs[0]
        if all(isinstance(s, int) for s in out.shape) and out.type in ORT_TYPES:
            # Preallocated output: the timed run writes into it instead of allocating.
            self._out_value = ort.OrtValue.ortvalue_from_shape_and_type(
                out.shape, np.dtype(ORT_TYPES[out.type])
            )
            self.binding.bind_ortvalue_output(out.name, self._out_value)
        for extra in self.outputs[0 if self._out_value is None else 1 :]:
            self.binding.bind_output(extra.name)

    def _options(self) -> Any:
        ort, cell = self.ort, self.cell
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(cell["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = cell["delegate"].get("graph_optimization_level", "all")
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        return opts

    def profile_ops(self, sets: list[Any]) -> dict[str, Any]:
        """ONNX Runtime's profiler on a second session (same options, same provider) after the
        timed loop: per-node kernel times averaged over the profiling runs. The trace file is
        written into a private temporary folder, read, and removed with it."""
        folder = tempfile.mkdtemp(prefix="benchy-ort-profile-")
        try:
            opts = self._options()
            opts.enable_profiling = True
            opts.profile_file_prefix = os.path.join(folder, "ort")
            session = self.ort.InferenceSession(
                self.cell["model_path"], opts, providers=self.providers
            )
            names = [i.name for i in session.get_inputs()]
            feeds: dict[str, Any] = {}

            def set_inputs(arrays: list[Any]) -> None:
                feeds.update(zip(names, arrays))

            profile_pass(lambda: session.run(None, feeds), set_inputs, sets)
            with open(session.end_profiling()) as fh:
                events = json.load(fh)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return {"ops": ort_rows(events), "ops_source": ORT_SOURCE}

    def applied(self) -> str:
        return "+".join(
            p.replace("ExecutionProvider", "").lower() for p in self.session.get_providers()
        )

    def input_specs(self) -> list[dict[str, Any]]:
        specs = []
        for i in self.inputs:
            shape = [s if isinstance(s, int) else 1 for s in i.shape]
            specs.append({"name": i.name, "shape": shape, "dtype": ORT_TYPES.get(i.type, i.type)})
        return specs

    def prepare_input(self, index: int, x: Any) -> Any:
        spec = self.input_specs()[index]
        return np.ascontiguousarray(np.asarray(x).reshape(spec["shape"]).astype(spec["dtype"]))

    def set_inputs(self, arrays: list[Any]) -> None:
        for meta, arr in zip(self.inputs, arrays):
            self.binding.bind_cpu_input(meta.name, arr)

    def invoke(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def first_output(self) -> Any:
        if self._out_value is not None:
            return np.asarray(self._out_value.numpy(), dtype=np.float64)
        return np.asarray(self.binding.copy_outputs_to_cpu()[0], dtype=np.float64)
