"""`benchy init MODEL... [--dataset D.npz] [-o FILE]`: write a starting suite for model files —
one model, one variant per file, one input table per input (from the model), every dynamic
dimension left as "CHOOSE" to set. With --dataset, inputs named like its arrays take them.

Exit codes: 0 written, 2 a model or the dataset cannot be read, the files' inputs differ, or
FILE exists (init never overwrites a file).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.errors import UsageError
from benchy.inputs.starter import suite_text

log = logging.getLogger("benchy")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        help="write a starting suite for model files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("models", type=Path, nargs="+", metavar="MODEL", help=".tflite or .onnx files")
    p.add_argument("--dataset", type=Path, metavar="D.npz", help="arrays named like the inputs, y")
    p.add_argument("-o", "--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    if args.out is not None and (args.out.exists() or args.out.is_symlink()):
        raise UsageError(f"-o {args.out}: exists; benchy init does not overwrite files")
    base = args.out.parent if args.out is not None else Path.cwd()
    text = suite_text(list(args.models), args.dataset, base)
    if args.out is None:
        console.out(text, highlight=False, end="")
        return exitcodes.PASS
    try:
        with args.out.open("x") as fh:  # "x": never over a file that appeared meanwhile
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"-o {args.out}: cannot write: {exc.strerror}") from None
    log.info("wrote %s", args.out)
    return exitcodes.PASS
