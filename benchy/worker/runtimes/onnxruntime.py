"""ONNX Runtime on the device: one execution provider per cell, sequential execution, inputs
and preallocated outputs bound with IOBinding so the timed run copies nothing; an output fed
back into an input (streaming state) swaps buffers between invokes instead of copying."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchy.worker.protocol import CellRequest, RuntimeFacts
from benchy.worker.runtimes.base import Runner, Tensor, Unavailable, requested_shapes, shape_for
from benchy.worker.runtimes.tensors import from_tensor

ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(uint16)": "uint16",
    "tensor(int32)": "int32",
    "tensor(uint32)": "uint32",
    "tensor(int64)": "int64",
    "tensor(uint64)": "uint64",
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
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(cell["threads"])
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        level = provider.get("graph_optimization_level", "all")
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[level]
        providers = [(name, provider.get("options") or {})]
        self.session = ort.InferenceSession(cell["model_path"], opts, providers=providers)
        self.ort = ort
        requested = requested_shapes(cell)
        self.inputs = [
            Tensor(i.name, i.name, shape_for(i.name, i.shape, requested), _dtype(i.type))
            for i in self.session.get_inputs()
        ]
        self.outputs = [
            Tensor(o.name, o.name, [s if isinstance(s, int) else -1 for s in o.shape or []],
                   _dtype(o.type))
            for o in self.session.get_outputs()
        ]  # fmt: skip
        self.binding = self.session.io_binding()
        self._values: dict[str, Any] = {}
        for out, meta in zip(self.outputs, self.session.get_outputs()):
            if (
                meta.shape is not None
                and all(s >= 0 for s in out.shape)
                and out.dtype in ORT_TYPES.values()
            ):
                # Preallocated: the timed run writes into it instead of allocating.
                value = ort.OrtValue.ortvalue_from_shape_and_type(out.shape, np.dtype(out.dtype))
                self.binding.bind_ortvalue_output(out.name, value)
                self._values[out.name] = value
            else:
                self.binding.bind_output(out.name)
        self.fed: list[_Fed] = []
        self._fed_inputs: set[str] = set()

    def applied(self) -> str:
        return "+".join(
            p.replace("ExecutionProvider", "").lower() for p in self.session.get_providers()
        )

    def set_inputs(self, arrays: list[Any]) -> None:
        fed = self._fed_inputs
        for tensor, arr in zip(self.inputs, arrays):
            if tensor.name not in fed:
                self.binding.bind_cpu_input(tensor.name, arr)

    def invoke(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def output(self, index: int) -> Any:
        tensor = self.outputs[index]
        for fed in self.fed:
            if fed.output == tensor.name:
                return from_tensor(fed.values[1 - fed.current].numpy(), tensor)
        if tensor.name in self._values:
            return from_tensor(self._values[tensor.name].numpy(), tensor)
        return from_tensor(self.binding.get_outputs()[index].numpy(), tensor)

    def stream(self, pairs: list[tuple[int, int]]) -> None:
        self.fed = [_Fed(self.ort, self.outputs[o], self.inputs[i]) for o, i in pairs]
        self._fed_inputs = {f.input for f in self.fed}

    def restart(self, arrays: list[Any]) -> None:
        for fed in self.fed:
            fed.restart(arrays[[t.name for t in self.inputs].index(fed.input)], self.binding)

    def feed(self) -> None:
        for fed in self.fed:
            fed.swap(self.binding)


def _dtype(ort_type: str) -> str:
    return ORT_TYPES.get(ort_type, ort_type)


class _Fed:
    """One output fed back into an input, with no copy: two buffers take turns, one bound as
    the input while the invoke writes the other as the output; `swap` exchanges their roles."""

    def __init__(self, ort: Any, output: Tensor, tensor: Tensor) -> None:
        self.output, self.input = output.name, tensor.name
        self.buffers = [np.zeros(tensor.shape, np.dtype(tensor.dtype)) for _ in range(2)]
        self.values = [ort.OrtValue.ortvalue_from_numpy(b) for b in self.buffers]
        self.current = 0  # the buffer bound as the input

    def _bind(self, binding: Any) -> None:
        binding.bind_ortvalue_input(self.input, self.values[self.current])
        binding.bind_ortvalue_output(self.output, self.values[1 - self.current])

    def restart(self, first: Any, binding: Any) -> None:
        self.current = 0
        np.copyto(self.buffers[0], first)
        self._bind(binding)

    def swap(self, binding: Any) -> None:
        self.current = 1 - self.current
        self._bind(binding)
