"""ONNX Runtime: execution providers by name (+ options) and graph optimization level."""

from __future__ import annotations

from benchy.runtimes import Delegate, RuntimeSpec, register
from benchy.tomltable import Table

LEVELS = ("disable", "basic", "extended", "all")


def known_providers() -> tuple[str, ...]:
    """Every provider name ONNX Runtime knows (whether or not this build has it)."""
    try:
        import onnxruntime

        return tuple(onnxruntime.get_all_providers())
    except ImportError:
        return ("CPUExecutionProvider", "XnnpackExecutionProvider", "CUDAExecutionProvider")


def label(provider: str) -> str:
    return provider.removesuffix("ExecutionProvider").lower()


def parse_delegates(table: Table) -> tuple[Delegate, ...]:
    level = table.string("graph_optimization_level", "all", choices=LEVELS)
    raw = table.data.get("providers", ["CPUExecutionProvider"])
    if not isinstance(raw, list) or not raw:
        raise table.error("providers", 'expected a non-empty list, e.g. ["CPUExecutionProvider"]')
    known = known_providers()
    out = []
    for item in raw:
        name: object = item if isinstance(item, str) else None
        options: object = {} if isinstance(item, str) else None
        if isinstance(item, dict) and set(item) <= {"name", "options"}:
            name, options = item.get("name"), item.get("options", {})
        if name not in known or not isinstance(options, dict):
            raise table.error(
                "providers",
                f"unknown execution provider {item!r}; valid choices: {', '.join(known)}",
            )
        payload = {
            "name": name,
            "options": {k: str(v) for k, v in options.items()},
            "graph_optimization_level": level,
        }
        out.append(Delegate(label(name), payload))
    return tuple(out)


SPEC = register(
    RuntimeSpec(
        name="onnxruntime",
        extensions=(".onnx", ".ort"),
        default_delegates=("cpu",),
        parse_delegates=parse_delegates,
        config_keys=("providers", "graph_optimization_level"),
    )
)
