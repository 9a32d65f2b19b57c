"""`benchy inspect MODEL [--json]`: what a model file takes and gives, read on the host without
running it — inputs and outputs (names, shapes with the dynamic dimensions marked, element types,
quantization), the dynamic dimensions to set, op counts by type, size, TFLite signatures, ONNX
external data files.

Exit codes: 0 the model was read, 2 it cannot be read as a .tflite or .onnx model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from benchy import exitcodes
from benchy.modelinfo import IOInfo, ModelInfo, TensorInfo, read_model
from benchy.report.markup import plain


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "inspect",
        help="a model's inputs, outputs, dynamic dimensions, ops and signatures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, metavar="MODEL", help="a .tflite or .onnx file")
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    p.set_defaults(func=cmd_inspect)


def size_text(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def payload(info: ModelInfo) -> dict[str, Any]:
    """`--json`: the same facts as the text, as data."""

    def io(part: IOInfo) -> dict[str, Any]:
        return {
            "inputs": [t.payload() for t in part.inputs],
            "outputs": [t.payload() for t in part.outputs],
        }

    return {
        "file": str(info.path),
        "format": info.format,
        "size_bytes": info.size_bytes,
        **io(info.io),
        "dynamic_dims": info.io.dynamic_dims(),
        "signatures": {key: io(sig) for key, sig in info.signatures.items()},
        "ops": dict(sorted(info.ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "external_data": list(info.external_data),
        "facts": info.facts,
    }


def _tensors(title: str, tensors: tuple[TensorInfo, ...]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")
    for column in ("name", "shape", "dtype", "quantization"):
        table.add_column(column)
    for t in tensors:
        shape = t.shape_text() + ("  (scalar)" if t.dims == () else "")
        table.add_row(plain(t.name), plain(shape), plain(t.dtype), plain(t.quantization_text()))
    return table


def print_info(console: Console, info: ModelInfo) -> None:
    facts = ", ".join(f"{k} {v}" for k, v in info.facts.items())
    size = size_text(info.size_bytes)
    if info.external_data:
        size += f" with external data: {', '.join(info.external_data)}"
    console.print(f"[bold]{plain(info.path.name)}[/]: {info.format}, {plain(size)}"
                  + (f" ({plain(facts)})" if facts else ""))  # fmt: skip
    console.print(_tensors("inputs", info.io.inputs))
    console.print(_tensors("outputs", info.io.outputs))
    dims = info.io.dynamic_dims()
    if dims:
        console.print("dynamic dimensions (set them in [models.NAME].dims, or run with --dim "
                      "NAME=VALUE):", markup=False)  # fmt: skip
        for name, where in dims.items():
            console.print(f"  {plain(name)} = ?   ({plain(', '.join(where))})")
    for key, sig in info.signatures.items():
        ins = ", ".join(f"{t.name} {t.shape_text()} {t.dtype}" for t in sig.inputs)
        outs = ", ".join(f"{t.name} {t.shape_text()} {t.dtype}" for t in sig.outputs)
        console.print(f'signature "{plain(key)}": inputs {plain(ins)}; outputs {plain(outs)}')
    ops = sorted(info.ops.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(info.ops.values())
    console.print(f"ops ({total}): " + plain(", ".join(f"{op} {n}" for op, n in ops)))


def cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    info = read_model(args.model)
    if args.json:
        console.out(json.dumps(payload(info), indent=2), highlight=False)
    else:
        print_info(console, info)
    return exitcodes.PASS
