"""`benchy export RUN_DIR --format openmetrics|json [-o FILE]`: a stored run's cell figures for
Prometheus textfile collectors and dashboards (benchy/export.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.errors import UsageError
from benchy.export import FORMATS
from benchy.results.read import StoredRun


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="a stored run's figures as OpenMetrics or JSON",
                       description=__doc__)  # fmt: skip
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="a stored run directory")
    p.add_argument("--format", choices=sorted(FORMATS), default="openmetrics")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    text = FORMATS[args.format](StoredRun.load(args.run))
    if args.output is None:
        sys.stdout.write(text)
        return exitcodes.PASS
    if args.output.is_dir():
        raise UsageError(f"-o {args.output}: is a directory")
    tmp = args.output.with_name(f".{args.output.name}.{os.getpid()}.tmp")
    try:  # atomic: a textfile collector never reads half a file
        tmp.write_text(text)
        os.replace(tmp, args.output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"-o {args.output}: {exc.strerror}") from None
    return exitcodes.PASS
