"""A starting suite for model files (`benchy init`): one model, one variant per file, one input
table per input filled from the model, every dynamic dimension left as "CHOOSE" — the one thing
benchy cannot guess. Set those and the suite passes validation (the README's keys apply).

Inputs: from the dataset when it holds an array named after the input (or x, for the first);
else random reals in [0, 1) for float and quantized inputs, coin flips for booleans, zeros for
plain integer inputs (ids, sample rates: a value to set, which the comment says). Outputs with
an input's shape and type are listed as feedback candidates, commented out.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from benchy.datasets import dataset_problem, headers
from benchy.errors import UsageError
from benchy.inputs.config import CHOOSE
from benchy.inputs.plan import toml_key
from benchy.modelinfo import IOInfo, ModelInfo, TensorInfo, read_model


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _path(path: Path, base: Path) -> str:
    return _q(Path(os.path.relpath(path.resolve(), base.resolve())).as_posix())


UNSAFE = re.compile(r"[^\w.+-]")


def folder_safe(name: str) -> str:
    """`name` as a suite name (one folder name: benchy/tomltable.py, FOLDER_NAME)."""
    safe = UNSAFE.sub("_", name)[:100]
    return safe if re.match(r"\w", safe) else f"m{safe}"[:100]


def model_name(files: list[Path]) -> str:
    """The files' common stem (vad.onnx, vad_half.onnx → vad), else the first stem."""
    stems = [f.stem for f in files]
    common = os.path.commonprefix(stems)  # noqa: RUF071 (names, not paths)
    # Back to a word boundary: cnn_full_int8, cnn_fp32 → cnn (not cnn_f).
    while common and not all(s == common or s[len(common)] in "_-. " for s in stems):
        common = common[:-1]
    return common.rstrip("_-. ") or stems[0]


def variant_names(files: list[Path]) -> list[str]:
    """The files' stems; a stem two files share gets the format: m_tflite, m_onnx."""
    stems = [f.stem for f in files]
    return [
        s if stems.count(s) == 1 else f"{s}_{f.suffix.lstrip('.')}"
        for s, f in zip(stems, files, strict=True)
    ]


def _signature(infos: list[ModelInfo]) -> str | None:
    """A TFLite signature all the files share, when it is their only one (its names are the
    model's own: `x`, not `serving_default_x:0`)."""
    keys = {tuple(i.signatures) for i in infos}
    if all(i.format == "tflite" for i in infos) and len(keys) == 1:
        (only,) = keys
        if len(only) == 1:
            return only[0]
    return None


def _array_for(index: int, tensor: TensorInfo, arrays: set[str]) -> str | None:
    if tensor.name in arrays:
        return tensor.name
    return "x" if index == 0 and "x" in arrays else None


def _input_table(prefix: str, index: int, t: TensorInfo, arrays: set[str]) -> list[str]:
    quant = f", {t.quantization_text()}" if t.quantized else ""
    shape = t.shape_text() + (" (scalar)" if t.dims == () else "")
    lines = [f"[{prefix}.inputs.{toml_key(t.name)}]  # {t.dtype} {shape}{quant}"]
    key = _array_for(index, t, arrays)
    if key is not None:
        lines.append('source = "dataset"')
        if key != t.name:
            lines.append(f"key = {_q(key)}")
    elif t.dtype == "bool" or t.dtype.startswith("float") or t.quantized:
        lines += ['source = "random"', "low = 0.0", "high = 1.0"]
    else:
        lines += [
            'source = "zeros"  # an integer input: set value = N for a constant (a sample rate,',
            '                  # a token id), or source = "random" with low/high',
        ]
    return [*lines, ""]


def _feedback(io: IOInfo) -> list[str]:
    """Outputs that could feed an input back (same shape and element type), commented out."""
    pairs = [
        (o.name, i.name)
        for o in io.outputs
        for i in io.inputs
        if o.dims is not None and o.dims == i.dims and o.dtype == i.dtype and o.dims != ()
    ]
    if not pairs:
        return []
    lines = ["# Streaming state: an output that feeds an input on the next invoke. Candidates",
             "# (same shape and type) — keep the ones that are state:"]  # fmt: skip
    return [*lines, "# [MODEL.feedback]", *(f"# {toml_key(o)} = {_q(i)}" for o, i in pairs), ""]


def suite_text(files: list[Path], dataset: Path | None, base: Path) -> str:
    """The suite, with paths relative to `base` (the folder it is written to)."""
    infos = [read_model(f) for f in files]
    signature = _signature(infos)
    io = infos[0].io_for(signature)
    for info, f in zip(infos[1:], files[1:], strict=True):
        other = info.io_for(signature)
        if [t.name for t in other.inputs] != [t.name for t in io.inputs]:
            raise UsageError(
                f"{f.name} and {files[0].name} have different inputs "
                f"({', '.join(t.name for t in other.inputs)} vs "
                f"{', '.join(t.name for t in io.inputs)}): init them separately"
            )
    arrays: set[str] = set()
    if dataset is not None:
        problem = dataset_problem(dataset)
        if problem is not None:
            raise UsageError(f"--dataset {dataset}: {problem}")
        arrays = set(headers(dataset.resolve())) - {"y"}
    name = model_name(files)
    prefix = f"models.{toml_key(name)}"
    variants = variant_names(files)
    dims: dict[str, list[str]] = {}
    for info in infos:
        for dim, where in info.io_for(signature).dynamic_dims().items():
            dims.setdefault(dim, []).extend(w for w in where if w not in dims.get(dim, []))
    head = [
        f"# Written by `benchy init` from {', '.join(f.name for f in files)}.",
        "# Keys: README, Suite files. Run it with: benchy run THIS_FILE",
    ]
    if dims:
        head.append(f'# Replace every "{CHOOSE}" with a value first (dynamic dimensions).')
    lines = [*head, "", "[suite]", f"name = {_q(folder_safe(name))}", ""]
    lines += [f"[{prefix}]", f"reference = {_q(variants[0])}"]
    if dataset is not None:
        lines.append(f"dataset = {_path(dataset, base)}  # labels/targets in y")
        lines.append('metric = "accuracy"  # or top_k, mae, rmse')
    if signature is not None:
        lines.append(f"signature = {_q(signature)}")
    outputs = ", ".join(f"{t.name} {t.shape_text()} {t.dtype}" for t in io.outputs)
    if io.outputs:
        lines.append(
            f"output = {_q(io.outputs[0].name)}  # scored by the metric; outputs: {outputs}"
        )
    lines += ["", f"[{prefix}.variants]"]
    lines += [f"{toml_key(v)} = {_path(f, base)}" for v, f in zip(variants, files, strict=True)]
    lines.append("")
    if dims:
        lines.append(f"[{prefix}.dims]  # dynamic dimensions: choose a size for each")
        lines += [f'{toml_key(d)} = "{CHOOSE}"  # {", ".join(w)}' for d, w in dims.items()]
        lines.append("")
    for index, tensor in enumerate(io.inputs):
        lines += _input_table(prefix, index, tensor, arrays)
    lines += [line.replace("[MODEL.", f"[{prefix}.") for line in _feedback(io)]
    return "\n".join(lines).rstrip("\n") + "\n"
