"""TFLite on the device: LiteRT (ai_edge_litert) where installed, else tflite_runtime (what a
Pi usually has). Which one ran is reported with every cell."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchy.worker.protocol import CellRequest, RuntimeFacts
from benchy.worker.runtimes.base import Failed, Runner, Unavailable
from benchy.worker.runtimes.tensors import from_tensor, to_tensor


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
        self.inputs = self.interp.get_input_details()
        self.outputs = self.interp.get_output_details()
        self.requested = kind

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

    def profile_ops(self, sets: list[Any]) -> dict[str, Any]:
        """LiteRT's and tflite_runtime's Python Interpreter has no profiler (no per-op timing
        hook; `experimental_preserve_all_tensors` and `_get_ops_details` give tensors and op
        names, not time): the host profiles TFLite cells elsewhere (callgrind, the native
        benchmark tool)."""
        why = "%s's Python Interpreter exposes no op profiler" % self.module
        return {"ops_source": "unavailable: " + why}

    def input_specs(self) -> list[dict[str, Any]]:
        return [
            {
                "name": d["name"],
                "shape": [int(s) for s in d["shape"]],
                "dtype": np.dtype(d["dtype"]).name,
            }
            for d in self.inputs
        ]

    def set_inputs(self, arrays: list[Any]) -> None:
        # Fused LSTM ops keep state in variable tensors across invokes: each input is a fresh
        # window, so reset them here, outside the timed region.
        self.interp.reset_all_variables()
        for detail, arr in zip(self.inputs, arrays):
            self.interp.set_tensor(detail["index"], arr)

    def prepare_input(self, index: int, x: Any) -> Any:
        """Cast (and quantize, for integer tensors) a float array to what input `index` takes."""
        return to_tensor(x, self.inputs[index])

    def invoke(self) -> None:
        self.interp.invoke()

    def first_output(self) -> Any:
        detail = self.outputs[0]
        raw = self.interp.get_tensor(detail["index"])
        return from_tensor(raw, detail)
