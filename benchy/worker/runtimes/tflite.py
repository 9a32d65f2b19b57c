"""TFLite on the device: LiteRT (ai_edge_litert) where installed, else tflite_runtime (what a
Pi usually has). Which one ran is reported with every cell."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from benchy.worker.protocol import CellRequest, RuntimeFacts
from benchy.worker.runtimes.base import (
    Failed,
    Runner,
    Tensor,
    Unavailable,
    requested_shapes,
    shape_for,
)
from benchy.worker.runtimes.tensors import from_tensor, quant_params, to_tensor


def import_tflite() -> tuple[Any, str, str]:
    """(interpreter module, module name, version) of the TFLite runtime present."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter as mod

        return mod, "ai_edge_litert", getattr(ai_edge_litert, "__version__", "unknown")
    except ImportError:
        pass
    import tflite_runtime
    from tflite_runtime import interpreter as mod

    return mod, "tflite_runtime", getattr(tflite_runtime, "__version__", "unknown")


def tflite_facts() -> RuntimeFacts:
    try:
        _, module, version = import_tflite()
    except Exception as exc:  # any import failure is a fact to report, not a crash
        reason = "neither ai_edge_litert nor tflite_runtime imports: %s" % exc
        return {"available": False, "reason": reason}
    return {"available": True, "module": module, "version": version}


class TFLiteRunner(Runner):
    name = "tflite"
    callgrind_function = "tflite::Subgraph::Invoke()"
    """What instruction counting toggles on (exactly: `*Subgraph::Invoke*` would also match
    InvokeImpl and switch collection off again inside it)."""

    def __init__(self, cell: CellRequest) -> None:
        try:
            mod, module, version = import_tflite()
        except ImportError as exc:
            raise Unavailable("no TFLite runtime: %s" % exc) from None
        self.module, self.version = module, version
        delegate = cell["delegate"]
        kind = delegate["name"]
        kwargs: dict[str, Any] = {
            "model_path": cell["model_path"],
            "num_threads": int(cell["threads"]),
        }
        resolver: Any = getattr(mod, "OpResolverType", None)
        if kind in ("none", "reference", "external") and resolver is None:
            raise Unavailable("this %s %s cannot disable default delegates" % (module, version))
        if kind == "none":
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        elif kind == "reference":
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_REF
        elif kind == "external":
            try:
                loaded = mod.load_delegate(delegate["library"], delegate.get("options") or {})
            except (ValueError, OSError, RuntimeError) as exc:
                raise Failed("delegate %s does not load: %s" % (delegate["library"], exc)) from None
            kwargs["experimental_delegates"] = [loaded]
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        self.interp = mod.Interpreter(**kwargs)
        self.interp.allocate_tensors()
        self.requested = kind
        self._bind(cell)

    def _bind(self, cell: CellRequest) -> None:
        """The inputs and outputs the cell feeds and reads (a signature's, when it names one),
        resized to the shapes the host resolved, then allocated."""
        interp, spec = self.interp, cell["inputs"]
        signature = spec.get("signature")
        self.subgraph = 0
        if signature is None:
            ins = {d["name"]: d["index"] for d in interp.get_input_details()}
            outs = {d["name"]: d["index"] for d in interp.get_output_details()}
        else:
            signatures = interp._get_full_signature_list()
            if signature not in signatures:
                raise Failed(
                    "the model has no signature %r (it has: %s)"
                    % (signature, ", ".join(sorted(signatures)) or "none")
                )
            self.subgraph = interp._interpreter.GetSubgraphIndexFromSignature(signature)
            ins, outs = signatures[signature]["inputs"], signatures[signature]["outputs"]
        sub = self.subgraph
        requested = requested_shapes(cell)
        for name, index in ins.items():
            detail = interp._get_tensor_details(index, sub)
            dims = [int(d) for d in detail.get("shape_signature", detail["shape"])]
            dims = dims if len(dims) == len(detail["shape"]) else [int(d) for d in detail["shape"]]
            want = shape_for(name, dims, requested)
            if [int(s) for s in detail["shape"]] == want:
                continue
            if sub == 0:
                interp.resize_tensor_input(index, want)
            else:  # what resize_tensor_input does, for the signature's subgraph
                shape = np.array(want, dtype=np.int32)
                interp._interpreter.ResizeInputTensor(index, shape, False, sub)
        if sub == 0:
            # The public calls, which refuse to run while anything else holds the wrapper.
            interp.allocate_tensors()
            self._set: Any = interp.set_tensor
            self.invoke = interp.invoke  # type: ignore[method-assign]
        else:  # a signature's own subgraph: the wrapper takes its index (as SignatureRunner does)
            wrapper = interp._interpreter
            wrapper.AllocateTensors(sub)
            self._set = lambda index, value: wrapper.SetTensor(index, value, sub)
            self.invoke = functools.partial(wrapper.Invoke, sub)  # type: ignore[method-assign]
        self.inputs = [self._tensor(n, i) for n, i in ins.items()]
        self.outputs = [self._tensor(n, i) for n, i in outs.items()]
        self.fed: list[tuple[Tensor, Tensor]] = []
        self._fed_inputs: set[int] = set()

    def _tensor(self, name: str, index: int) -> Tensor:
        detail = self.interp._get_tensor_details(index, self.subgraph)
        scale, zero = quant_params(detail)
        shape = [int(s) for s in detail["shape"]]
        return Tensor(name, index, shape, np.dtype(detail["dtype"]).name, scale, zero)

    def applied(self) -> str:
        """Which delegate really took nodes: delegate kernels appear as DELEGATE nodes."""
        inner = getattr(self.interp, "_interpreter", None)
        try:
            names = [inner.NodeName(i) for i in range(inner.NumNodes())]  # type: ignore[union-attr]
        except Exception:
            return "unknown"
        partitions = sum(1 for n in names if n == "DELEGATE")
        if not partitions:
            # XNNPACK (or an external delegate) was asked for but took no node.
            return "reference" if self.requested == "reference" else "none"
        label = "xnnpack" if self.requested == "xnnpack" else "external"
        return "%s (%d partition%s over %d ops)" % (
            label,
            partitions,
            "" if partitions == 1 else "s",
            len(names) - partitions,
        )

    def profile_ops(self, sets: list[list[Any]]) -> dict[str, Any]:
        """LiteRT's and tflite_runtime's Python Interpreter has no profiler (no per-op timing
        hook; `experimental_preserve_all_tensors` and `_get_ops_details` give tensors and op
        names, not time): the host profiles TFLite cells elsewhere (callgrind, the native
        benchmark tool)."""
        why = "%s's Python Interpreter exposes no op profiler" % self.module
        return {"ops_source": "unavailable: " + why}

    def set_inputs(self, arrays: list[Any]) -> None:
        if not self.fed:
            # Fused LSTM ops keep state in variable tensors across invokes: each input is a
            # fresh window, so reset them here, outside the timed region. (A streaming model,
            # whose state is fed back, keeps it.)
            self.interp.reset_all_variables()
        fed = self._fed_inputs
        for tensor, arr in zip(self.inputs, arrays):
            if tensor.handle not in fed:
                self._set(tensor.handle, arr)

    def stream(self, pairs: list[tuple[int, int]]) -> None:
        self.fed = [(self.outputs[o], self.inputs[i]) for o, i in pairs]
        self._fed_inputs = {t.handle for _, t in self.fed}

    def restart(self, arrays: list[Any]) -> None:
        self.interp.reset_all_variables()  # a fresh stream: any variable tensors too
        for _, tensor in self.fed:
            self._set(tensor.handle, arrays[self.inputs.index(tensor)])

    def feed(self) -> None:
        for out, tensor in self.fed:
            raw = self.interp.get_tensor(out.handle, self.subgraph)
            if out.scale != tensor.scale or out.zero_point != tensor.zero_point:
                raw = to_tensor(from_tensor(raw, out), tensor)
            self._set(tensor.handle, raw)

    def invoke(self) -> None:  # replaced per instance in _bind
        raise NotImplementedError

    def output(self, index: int) -> Any:
        tensor = self.outputs[index]
        return from_tensor(self.interp.get_tensor(tensor.handle, self.subgraph), tensor)
