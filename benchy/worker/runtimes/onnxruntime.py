"""ONNX Runtime on the device: one execution provider per cell, sequential execution; each
input set bound once with IOBinding (to its own arrays and to preallocated outputs), so the
timed run copies and allocates nothing and nothing is rebound between runs; an output fed back
into an input (streaming state) takes turns with it between two buffers."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from benchy.worker.profiling import ORT_SOURCE, ort_rows, profile_pass
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


def share_thread_pool(threads: int) -> None:
    """One intra-op pool of `threads` for every session this process makes from now on (those
    with `shared_threads`): two sessions timed in turn (worker/pair.py) then use the same
    threads, as one session would. Only before the process's first session."""
    import_onnxruntime().set_global_thread_pool_sizes(threads, 1)


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
        requested = requested_shapes(cell)
        self.inputs = [
            Tensor(i.name, i.name, shape_for(i.name, i.shape, requested), _dtype(i.type))
            for i in self.session.get_inputs()
        ]
        named = _named_sizes(self.session.get_inputs(), self.inputs)
        self.outputs = [
            Tensor(o.name, o.name, [_size(s, named) for s in o.shape or []], _dtype(o.type))
            for o in self.session.get_outputs()
        ]
        # Preallocated outputs: the timed run writes into them instead of allocating.
        self._out: dict[str, Any] = {}
        for out in self.outputs:
            if all(s >= 0 for s in out.shape) and out.dtype in ORT_TYPES.values():
                self._out[out.name] = ort.OrtValue.ortvalue_from_shape_and_type(
                    out.shape, np.dtype(out.dtype)
                )
        self.fed: dict[str, tuple[str, list[Any], list[Any]]] = {}
        """Input fed back → (its output, two state buffers, their OrtValues)."""
        self.parity = 0
        self.binding: Any = None

    def _options(self) -> Any:
        ort, cell = self.ort, self.cell
        opts = ort.SessionOptions()
        if cell.get("shared_threads"):  # the process's one pool (share_thread_pool)
            opts.use_per_session_threads = False
        else:
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

    def load(self, sets: list[list[Any]]) -> list[Any]:
        """One IOBinding per input set (two for a streaming model, one per state buffer),
        bound once: between runs the harness only picks the next binding. Setting inputs by
        copying or rebinding between runs slows the next run of a 5 µs model by 3-5% (caches),
        which is harness cost a bare invoke loop does not pay."""
        parities = (0, 1) if self.fed else (0,)
        return [[self._binding(arrays, p) for p in parities] for arrays in sets]

    def _binding(self, arrays: list[Any], parity: int) -> Any:
        ort, binding = self.ort, self.session.io_binding()
        outputs = {out: values[1 - parity] for out, _, values in self.fed.values()}
        for tensor, arr in zip(self.inputs, arrays):
            if tensor.name in self.fed:
                value = self.fed[tensor.name][2][parity]
            else:  # wraps the set's own array (kept alive by the sets): no copy
                value = ort.OrtValue.ortvalue_from_numpy(arr)
            binding.bind_ortvalue_input(tensor.name, value)
        for out in self.outputs:
            value = outputs.get(out.name, self._out.get(out.name))
            if value is None:
                binding.bind_output(out.name)  # a shape known once it runs: ORT allocates
            else:
                binding.bind_ortvalue_output(out.name, value)
        return binding

    def set_inputs(self, handle: Any) -> None:
        self.binding = handle[self.parity]

    def invoke(self) -> None:
        self.session.run_with_iobinding(self.binding)

    def output(self, index: int) -> Any:
        tensor = self.outputs[index]
        for out, buffers, _ in self.fed.values():
            if out == tensor.name:
                return from_tensor(buffers[1 - self.parity], tensor)
        if tensor.name in self._out:
            return from_tensor(self._out[tensor.name].numpy(), tensor)
        return from_tensor(self.binding.get_outputs()[index].numpy(), tensor)

    def stream(self, pairs: list[tuple[int, int]]) -> None:
        """Two buffers per state, taking turns as the input and the output: feeding back is
        flipping which binding runs next (no copy)."""
        self.fed = {}
        for o, i in pairs:
            tensor = self.inputs[i]
            buffers = [np.zeros(tensor.shape, np.dtype(tensor.dtype)) for _ in range(2)]
            values = [self.ort.OrtValue.ortvalue_from_numpy(b) for b in buffers]
            self.fed[tensor.name] = (self.outputs[o].name, buffers, values)

    def restart(self, arrays: list[Any]) -> None:
        self.parity = 0
        for tensor, arr in zip(self.inputs, arrays):
            if tensor.name in self.fed:
                np.copyto(self.fed[tensor.name][1][0], arr)

    def feed(self) -> None:
        self.parity ^= 1


def _named_sizes(metas: list[Any], tensors: list[Tensor]) -> dict[str, int]:
    """Symbolic dimension name → the size its inputs are fed with. In ONNX one name is one
    size throughout the graph, so an output [batch, 1] is [1, 1] when batch is fed as 1: it
    can be preallocated rather than allocated by every run."""
    sizes: dict[str, int] = {}
    for meta, tensor in zip(metas, tensors):
        for dim, size in zip(meta.shape or [], tensor.shape):
            if isinstance(dim, str):
                sizes[dim] = size
    return sizes


def _size(dim: Any, named: dict[str, int]) -> int:
    """An output dimension's size, -1 when it is only known once the model runs."""
    if isinstance(dim, int):
        return dim
    return named.get(dim, -1) if isinstance(dim, str) else -1


def _dtype(ort_type: str) -> str:
    return ORT_TYPES.get(ort_type, ort_type)
