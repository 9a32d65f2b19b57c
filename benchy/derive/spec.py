"""The suite's `derive = [...]` and `calibration = {...}` keys → typed, validated specs.

Validated with the rest of the suite (benchy/config.py calls `parse_derive` and
`parse_calibration` for each `[models.NAME]`): a wrong name, a recipe the source's format has
no quantizer for, or a missing `quantize` extra is a one-line config error before anything runs.
"""

from __future__ import annotations

import importlib.util
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchy.derive.quantizers import QUANTIZERS, Quantizer, Recipe, for_file
from benchy.tomltable import Table, choices_text

NAMED = ("fp16", "dynamic_int8", "int8", "int4_weights")
"""Recipes by name; each quantizer maps them onto its own API."""

TOOL_KEYS = tuple(sorted(q.advanced_key for q in QUANTIZERS.values()))
ITEM_KEYS = ("name", "from", "recipe", "int8_io", *TOOL_KEYS)
EXTRA = "pip install 'benchy[quantize]'"


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


@dataclass(frozen=True)
class DeriveSpec:
    """One derived variant: `variant` is made from the file of variant `source` by `recipe`."""

    variant: str
    source: str
    recipe: Recipe


@dataclass(frozen=True)
class CalibrationSpec:
    """Where static recipes take their samples: array `key` of the .npz `path` (None: the
    model's dataset; key None: `x_calib` when the file has it, else `x`), first `samples`."""

    path: Path | None = None
    key: str | None = None
    samples: int = 100


def _item(
    t: Table, index: int, raw: Any, variants: dict[str, Path]
) -> tuple[str, str | None, Recipe]:
    """(variant name, explicit source or None, recipe) of one `derive` entry."""
    if isinstance(raw, str):
        if raw not in NAMED:
            raise t.error(
                "derive", f'unknown recipe "{raw}"; valid choices: {choices_text(NAMED)}, '
                "or a table { name = ..., recipe = ... } (see README, Derived variants)"
            )  # fmt: skip
        return raw, None, Recipe(raw)
    if not isinstance(raw, dict):
        raise t.error("derive", f"expected recipe names or tables, got {_show(raw)}")
    it = Table(raw, t.file, f"{t.path}.derive[{index}]")
    it.only(*ITEM_KEYS)
    tools = [key for key in TOOL_KEYS if key in it]
    given = (["recipe"] if "recipe" in it else []) + tools
    if len(given) != 1:
        keys = ", ".join(["recipe", *TOOL_KEYS])
        raise it.error(None, f"expected exactly one of {keys}; got {len(given)}")
    source = it.string("from", None, choices=tuple(variants))
    if "recipe" in it:
        name = it.string("recipe", choices=NAMED)
        int8_io = it.boolean("int8_io", False)
        if int8_io and name != "int8":
            raise it.error("int8_io", f'applies to recipe "int8" (static), not "{name}"')
        return it.string("name", name), source, Recipe(name, int8_io=int8_io)
    if "int8_io" in it:
        raise it.error("int8_io", f'applies to recipe "int8"; with {tools[0]} say it there')
    options = it.data[tools[0]]
    if not isinstance(options, str | list | dict) or not options:
        raise it.error(
            tools[0], f"expected the quantizer's recipe or options, got {_show(options)}"
        )
    if "name" not in it:
        raise it.error("name", "required with a pass-through recipe: the derived variant's name")
    return it.string("name"), source, Recipe(None, tool=tools[0], options=options)


def _check_source(t: Table, variant: str, source: str, path: Path, recipe: Recipe) -> None:
    quantizer = for_file(path)
    if quantizer is None:
        raise t.error(
            "derive", f'variant "{variant}": no quantizer for {path.suffix} files (from "{source}"'
            f"); valid: {choices_text(QUANTIZERS)}"
        )  # fmt: skip
    if recipe.tool is not None and recipe.tool != quantizer.advanced_key:
        raise t.error(
            "derive", f'variant "{variant}": {recipe.tool} does not take {path.suffix} files '
            f'(from "{source}"); for {path.suffix} use {quantizer.advanced_key}'
        )  # fmt: skip
    refusal = quantizer.refuses(recipe)
    if refusal is not None:
        raise t.error("derive", f'variant "{variant}" (from "{source}", {path.suffix}): {refusal}')
    for module, dist in quantizer.requires(recipe):
        if importlib.util.find_spec(module) is None:
            raise t.error(
                "derive", f'variant "{variant}" needs {dist}, which is not installed; install '
                f"the quantizers: {EXTRA}"
            )  # fmt: skip


def parse_derive(
    t: Table, variants: dict[str, Path], reference: str | None
) -> tuple[DeriveSpec, ...]:
    """`derive = ["fp16", { name = "int8_io", recipe = "int8", int8_io = true }, …]` of one
    model. A string is a named recipe applied to the reference variant; a table can rename
    it, derive `from` another variant, or pass a quantizer's own recipe through."""
    if "derive" not in t:
        return ()
    raw = t.data["derive"]
    if not isinstance(raw, list) or not raw:
        raise t.error("derive", f"expected a non-empty list of recipes, got {_show(raw)}")
    specs: list[DeriveSpec] = []
    for index, entry in enumerate(raw):
        name, source, recipe = _item(t, index, entry, variants)
        source = source or reference
        if source is None:
            raise t.error(
                "derive", f'variant "{name}" needs a source: set reference = "VARIANT" for the '
                'model, or from = "VARIANT" in its table'
            )  # fmt: skip
        if name in variants:
            raise t.error(
                "derive", f'variant "{name}" is a file variant already; give the derived one '
                'another name = "..."'
            )  # fmt: skip
        if any(s.variant == name for s in specs):
            raise t.error("derive", f'variant "{name}" is derived twice; give one a name = "..."')
        _check_source(t, name, source, variants[source], recipe)
        specs.append(DeriveSpec(name, source, recipe))
    return tuple(specs)


def quantizer_of(path: Path) -> Quantizer:
    """The quantizer of a source file that parse_derive accepted."""
    quantizer = for_file(path)
    assert quantizer is not None, path  # parse_derive refuses other formats
    return quantizer


def _npz_arrays(t: Table, key: str, path: Path) -> list[str]:
    if not zipfile.is_zipfile(path):
        raise t.error(key, f"{path.name} is not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as data:
            return list(data.files)
    except (OSError, ValueError) as exc:
        raise t.error(key, f"cannot read {path.name}: {exc}") from None


def parse_calibration(
    t: Table,
    root: Path,
    dataset: Path | None,
    derive: tuple[DeriveSpec, ...],
    variants: dict[str, Path],
) -> CalibrationSpec | None:
    """`calibration = { samples = 100, source = "data/calib.npz", key = "x" }`. Derived
    variants whose recipe must calibrate need a source (or the model's dataset)."""
    if "calibration" not in t and not derive:
        return None
    needs = [
        s.variant
        for s in derive
        if quantizer_of(variants[s.source]).calibration(s.recipe) == "required"
    ]
    ct = t.table("calibration")
    ct.only("samples", "source", "key")
    path = ct.path_value("source", root, None)
    where = ct if path is not None else t
    place = "source" if path is not None else "dataset"
    data = path or dataset
    if data is None:
        if needs:
            raise t.error(
                "calibration", f'variant "{needs[0]}" calibrates on data: set dataset = "FILE.npz" '
                'or calibration = { source = "FILE.npz" }'
            )  # fmt: skip
        key = ct.string("key", None)
    else:
        arrays = _npz_arrays(where, place, data)
        key = ct.string("key", None, choices=arrays)
        if key is None and not {"x_calib", "x"} & set(arrays):
            raise ct.error("key", f"{data.name} has no x_calib or x; valid: {choices_text(arrays)}")
    return CalibrationSpec(path, key, ct.number("samples", 100, integer=True, minimum=1))
