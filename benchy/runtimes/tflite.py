"""TFLite through LiteRT (ai_edge_litert) or tflite_runtime: delegate configuration."""

from __future__ import annotations

from typing import Any

from benchy.runtimes import Delegate, RuntimeSpec, register
from benchy.tomltable import Table

BUILTIN = {
    "xnnpack": "the default XNNPACK CPU delegate (AUTO op resolver)",
    "none": "builtin kernels, no default delegates (BUILTIN_WITHOUT_DEFAULT_DELEGATES)",
    "reference": "reference kernels (BUILTIN_REF): slow, for checking",
}
CHOICES = (*BUILTIN, "external:<library path>", "{ external = <path>, options = {...} }")


def _external(table: Table, library: Any, options: Any) -> Delegate:
    if not isinstance(library, str) or not library:
        raise table.error("delegates", "external delegate needs a library path")
    if not isinstance(options, dict):
        raise table.error("delegates", "external delegate options must be a table")
    name = library.rsplit("/", 1)[-1]
    payload = {
        "name": "external",
        "library": library,
        "options": {k: str(v) for k, v in options.items()},
    }
    return Delegate(f"external:{name}", payload)


def parse_delegates(table: Table) -> tuple[Delegate, ...]:
    raw = table.data.get("delegates", ["xnnpack"])
    if not isinstance(raw, list) or not raw:
        raise table.error("delegates", 'expected a non-empty list, e.g. ["xnnpack", "none"]')
    out = []
    for item in raw:
        if isinstance(item, str) and item in BUILTIN:
            out.append(Delegate(item, {"name": item}))
        elif isinstance(item, str) and item.startswith("external:"):
            out.append(_external(table, item.removeprefix("external:"), {}))
        elif isinstance(item, dict) and set(item) <= {"external", "options"}:
            out.append(_external(table, item.get("external"), item.get("options", {})))
        else:
            shown = f'"{item}"' if isinstance(item, str) else repr(item)
            raise table.error(
                "delegates", f"unknown delegate {shown}; valid choices: {', '.join(CHOICES)}"
            )
    return tuple(out)


SPEC = register(
    RuntimeSpec(
        name="tflite",
        extensions=(".tflite",),
        default_delegates=("xnnpack",),
        parse_delegates=parse_delegates,
        config_keys=("delegates",),
    )
)
