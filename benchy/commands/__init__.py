"""One module per subcommand. Each defines `add_parser(subparsers)` and sets `func(args, console)`,
which returns the exit code. COMMANDS lists them in `benchy --help` order."""

from __future__ import annotations

COMMANDS = [
    "run",
    "inspect",
    "init",
    "derive",
    "compare",
    "ab",
    "history",
    "report",
    "export",
    "targets",
    "clean",
    "emulate-dut",
]
