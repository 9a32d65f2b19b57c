"""benchy's exit codes: the one place they are defined (the CLI epilog and the README's table
say the same). When several apply, the most serious wins: 3, then 1, then 4."""

from __future__ import annotations

PASS = 0
"""Every cell ran, every budget held and, against a baseline, nothing regressed."""
FAILED = 1
"""A budget failed or a regression was found (and nothing crashed)."""
USAGE = 2
"""Usage or configuration error, one line naming file, table and key; nothing ran."""
ERROR = 3
"""A cell errored (crash, timeout, corrupt model) or a target failed."""
INCONCLUSIVE = 4
"""Nothing failed, but a budget or a comparison could not be decided at the [gate] confidence."""
INTERRUPTED = 130
"""Ctrl-C (or SIGTERM/SIGHUP): finished cells are on disk."""

EPILOG = (
    "Exit codes: 0 all budgets held and nothing regressed, 1 a budget failed or a regression "
    "was found, 2 usage or config error, 3 a cell errored or a target failed, 4 inconclusive "
    "(--inconclusive=pass makes it 0), 130 interrupted."
)
