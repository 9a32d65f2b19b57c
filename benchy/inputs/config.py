"""The suite's keys for a model's inputs, parsed (what they mean for a model file: plan.py).

[models.vad]
dims = { batch = 1, sequence = 512 }   # dynamic dimensions by name
output = "output"                      # the output the metric scores
signature = "serving_default"          # TFLite: feed this signature, by its names
[models.vad.inputs.state]              # one table per input, by name
source = "zeros"                       # dataset | random | zeros | ones | value
shape = [2, 1, 128]
[models.vad.feedback]                  # streaming: output = "the input it feeds next"
stateN = "state"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchy.errors import ConfigError
from benchy.tomltable import Table

SOURCES = ("dataset", "random", "zeros", "ones", "value")
DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32", "int64")
CHOOSE = "CHOOSE"
"""What `benchy init` writes where the user must choose a value (a dynamic dimension)."""


@dataclass(frozen=True)
class Place:
    """Where a table is, for errors that name file, table and key."""

    file: str
    table: str

    @classmethod
    def of(cls, t: Table) -> Place:
        return cls(t.file, t.path)

    def error(self, key: str | None, message: str) -> ConfigError:
        where = f"[{self.table}]" + (f".{key}" if key else "")
        return ConfigError(self.file, where, message)


@dataclass(frozen=True)
class InputSpec:
    """[models.X.input] (suites before named inputs): the default for every input without a
    table of its own. `shape` applies to a single-input model."""

    kind: str  # "dataset" | "random"
    low: float = 0.0
    high: float = 1.0
    seed: int = 0
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    place: Place | None = None


@dataclass(frozen=True)
class TensorInput:
    """[models.X.inputs.NAME]: how one input is fed."""

    name: str
    place: Place
    source: str | None = None
    """None: from the dataset when it holds an array for this input, else as [models.X.input]."""
    low: float | None = None
    high: float | None = None
    seed: int | None = None
    shape: tuple[int, ...] | None = None
    value: Any = field(default=None, hash=False)
    key: str | None = None


@dataclass(frozen=True)
class InputsConfig:
    place: Place
    tensors: dict[str, TensorInput] = field(default_factory=dict)
    dims: dict[str, int] = field(default_factory=dict)
    output: str | None = None
    feedback: dict[str, str] = field(default_factory=dict)
    """Output name → the input it feeds on the next invoke."""
    signature: str | None = None


INPUT_KEYS = ("inputs", "dims", "output", "feedback", "signature")
"""The keys of [models.X] parsed here (besides `input`)."""


def _shape(t: Table, key: str) -> tuple[int, ...] | None:
    """A shape: a list of integers ≥ 1; [] is a scalar."""
    if key not in t:
        return None
    value = t.data[key]
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise t.error(key, f"expected a list of integers ≥ 1 ([] for a scalar), got {value!r}")
    return tuple(value)


def _range(t: Table, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and high < low:
        raise t.error("high", f"must be ≥ low ({low:g})")


def _value(t: Table) -> Any:
    """A constant: a number, true/false, or a nested list of them with rows of equal length."""
    value = t.data["value"]
    problem = f"expected a number, true/false or a nested list of them, got {value!r}"
    if isinstance(value, str | dict):
        raise t.error("value", problem)
    try:
        array = np.asarray(value)
    except (ValueError, OverflowError):  # ragged rows; integers beyond 64 bits
        raise t.error("value", problem + " (rows of unequal length?)") from None
    if array.dtype.kind not in "biuf":
        raise t.error("value", problem)
    return value


def _tensor(name: str, t: Table, has_dataset: bool) -> TensorInput:
    t.only("source", "low", "high", "seed", "shape", "value", "key")
    source = t.string("source", None, choices=SOURCES)
    if "value" in t and source not in (None, "value"):
        raise t.error(
            "source", f'is "{source}" but value is set; a constant needs source = "value"'
        )
    if source == "value" and "value" not in t:
        raise t.error("value", 'required when source = "value"')
    if "key" in t and source not in (None, "dataset"):
        raise t.error("key", f'names a dataset array, but source is "{source}"')
    if (source == "dataset" or "key" in t) and not has_dataset:
        key = "source" if source == "dataset" else "key"
        raise t.error(key, 'needs dataset = "FILE.npz" in the model\'s table')
    low, high = t.number("low", None), t.number("high", None)
    _range(t, low, high)
    value = _value(t) if "value" in t else None
    return TensorInput(
        name=name,
        place=Place.of(t),
        source="value" if value is not None else ("dataset" if "key" in t else source),
        low=low,
        high=high,
        seed=t.number("seed", None, integer=True, minimum=0),
        shape=_shape(t, "shape"),
        value=value,
        key=t.string("key", None),
    )


def _dims(t: Table) -> dict[str, int]:
    dims = {}
    for name, value in t.data.items():
        if value == CHOOSE:
            raise t.error(
                name,
                f'choose a value for this dynamic dimension (an integer ≥ 1) instead of "{CHOOSE}"',
            )
        dims[name] = t.number(name, integer=True, minimum=1)
    return dims


def _names(t: Table) -> dict[str, str]:
    return {k: t.string(k) for k in t.data}


def parse_inputs(t: Table, has_dataset: bool) -> InputsConfig:
    """The input keys of one [models.X] table."""
    tensors = {name: _tensor(name, sub, has_dataset) for name, sub in t.tables("inputs").items()}
    feedback = _names(t.table("feedback"))
    seen: dict[str, str] = {}
    for out, inp in feedback.items():
        if inp in seen:
            raise t.table("feedback").error(out, f'input "{inp}" is already fed by "{seen[inp]}"')
        seen[inp] = out
    return InputsConfig(
        place=Place.of(t),
        tensors=tensors,
        dims=_dims(t.table("dims")),
        output=t.string("output", None),
        feedback=feedback,
        signature=t.string("signature", None),
    )


def parse_legacy_input(t: Table, has_dataset: bool) -> InputSpec:
    """[models.X.input]: source dataset | random for every input without its own table."""
    t.only("source", "low", "high", "seed", "shape", "dtype")
    default = "dataset" if has_dataset else "random"
    source = t.string("source", default, choices=("dataset", "random"))
    if source == "dataset" and not has_dataset:
        raise t.error("source", 'is "dataset" but the model has no dataset = "FILE.npz"')
    low = t.number("low", 0.0)
    high = t.number("high", 1.0)
    _range(t, low, high)
    return InputSpec(
        source,
        low,
        high,
        t.number("seed", 0, integer=True, minimum=0),
        t.int_list("shape", None, minimum=1),
        t.string("dtype", None, choices=DTYPES),
        Place.of(t),
    )
