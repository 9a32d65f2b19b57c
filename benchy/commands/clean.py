"""`benchy clean --target NAME`: remove benchy's files (worker, models, data) from a device."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from benchy import exitcodes
from benchy.config import load_target
from benchy.targets import TARGET_KINDS


def add_parser(sub: Any) -> None:
    p = sub.add_parser("clean", help="remove benchy's files from a device", description=__doc__)
    p.add_argument("--target", required=True, action="append", metavar="NAME_OR_PATH")
    p.set_defaults(func=cmd_clean)


def cmd_clean(args: argparse.Namespace, console: Console) -> int:
    for name in args.target:
        cfg = load_target(name)
        target = TARGET_KINDS[cfg.kind](cfg.name, cfg.options)
        try:
            console.print(target.clean(), markup=False, highlight=False, soft_wrap=True)
        finally:
            target.close()
    return exitcodes.PASS
