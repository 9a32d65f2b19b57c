"""Host-side runtime registry: which files a runtime takes and how its delegates are configured.

The code that runs models lives in the on-device worker (benchy/worker.py); this side only
validates configuration and builds the delegate payload the worker receives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchy.tomltable import Table


@dataclass(frozen=True)
class Delegate:
    """One delegate / execution provider choice: a short label and what the worker gets."""

    label: str
    payload: dict[str, Any] = field(hash=False, compare=False)


@dataclass(frozen=True)
class RuntimeSpec:
    name: str
    extensions: tuple[str, ...]
    default_delegates: tuple[str, ...]
    parse_delegates: Callable[[Table], tuple[Delegate, ...]]
    config_keys: tuple[str, ...]
    threaded: bool = True
    """False when `[matrix].threads` means nothing (MCU firmware): its cells run once, as 1."""

    def applies_to(self, model_file: str) -> bool:
        return model_file.lower().endswith(self.extensions)


RUNTIMES: dict[str, RuntimeSpec] = {}


def register(spec: RuntimeSpec) -> RuntimeSpec:
    RUNTIMES[spec.name] = spec
    return spec


def _load_builtin() -> None:
    from benchy.runtimes import onnxruntime, tflite, tflm  # noqa: F401  (registration side effect)


_load_builtin()
