"""`benchy run MODEL.tflite|MODEL.onnx`: one model file measured without a suite — random inputs,
the local target (or --target), the default measurement, every dynamic dimension from --dim.

The suite is built as the table a suite file would hold and goes through the same checks, so
a model run and `benchy init`'s suite measure the same thing. A dynamic dimension without a
--dim is exit 2, naming the --dim to add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchy.config import Suite, suite_from
from benchy.errors import UsageError
from benchy.inputs.starter import folder_safe
from benchy.modelinfo import READERS, read_model
from benchy.runtimes import RUNTIMES
from benchy.tomltable import Table


def is_model_file(path: Path) -> bool:
    return path.suffix.lower() in READERS


def parse_dims(given: list[str]) -> dict[str, int]:
    """--dim NAME=VALUE (repeatable) → {NAME: VALUE}."""
    dims = {}
    for item in given:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value.isdigit() or int(value) < 1:
            raise UsageError(f"--dim {item}: expected NAME=VALUE with an integer VALUE ≥ 1")
        dims[name] = int(value)
    return dims


def _runtime(path: Path, runtime: str | None) -> str:
    fits = [n for n, spec in RUNTIMES.items() if spec.applies_to(path.name) and spec.threaded]
    if runtime is None:
        return fits[0]
    if runtime not in fits:
        raise UsageError(
            f"--runtime {runtime}: does not run {path.suffix} files (use {', '.join(fits)})"
        )
    return runtime


def _check_dims(path: Path, dims: dict[str, int]) -> None:
    """Every dynamic dimension has a --dim, and every --dim names one (exit 2 otherwise)."""
    dynamic = read_model(path).io.dynamic_dims()
    for name in dims:
        if name not in dynamic:
            known = ", ".join(dynamic) or "none"
            raise UsageError(
                f"--dim {name}: {path.name} has no dynamic dimension {name}; its dynamic "
                f"dimensions: {known}"
            )
    missing = [name for name in dynamic if name not in dims]
    if missing:
        where = ", ".join(
            n if dynamic[n] == [n] else f"{n} ({', '.join(dynamic[n])})" for n in missing
        )
        add = " ".join(f"--dim {_shell(f'{n}=N')}" for n in missing)
        raise UsageError(f"{path}: dynamic dimensions without a value: {where}; add {add}")


def _shell(arg: str) -> str:
    """An argument as typed in a shell: quoted when it has [ ] (TFLite's INPUT[AXIS])."""
    return f"'{arg}'" if any(c in arg for c in "[] *?$'\"") else arg


def model_suite(
    path: Path, runtime: str | None, threads: list[int] | None, dims: list[str], targets: list[str]
) -> Suite:
    """The suite that measures `path` alone."""
    if not path.is_file():
        raise UsageError(f"{path}: file not found")
    given = parse_dims(dims)
    _check_dims(path, given)
    name = folder_safe(path.stem)
    data: dict[str, Any] = {
        "suite": {"name": name, "targets": targets},
        "models": {
            name: {
                "variants": {path.suffix.lstrip(".").lower(): str(path.resolve())},
                "dims": given,
            }
        },
        "matrix": {"runtimes": [_runtime(path, runtime)], "threads": threads or [1]},
    }
    return suite_from(Table(data, str(path), ""), path)
