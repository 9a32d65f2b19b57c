"""Command line: parsing and exit codes only. Exit codes: 0 pass, 1 budget failed or regressed,
2 usage/config error, 3 a cell errored or a target failed, 4 inconclusive, 130 interrupted."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

from benchy import __version__, exitcodes, interrupts
from benchy.commands import COMMANDS
from benchy.errors import BenchyError
from benchy.interrupts import stop_on_signals


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchy",
        description="Benchmark edge ML models on real targets against latency, memory and "
        "accuracy budgets.",
        epilog=exitcodes.EPILOG,
    )
    p.add_argument("--version", action="version", version=f"benchy {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name in COMMANDS:
        importlib.import_module(f"benchy.commands.{name.replace('-', '_')}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # logs and CI: do not squeeze the table to 80 columns
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, show_time=False)],
    )
    try:
        with stop_on_signals():
            code: int = args.func(args, console)
    except BenchyError as exc:
        Console(stderr=True).print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return interrupts.exit_code(exc)
    return code


if __name__ == "__main__":
    sys.exit(main())
