"""When a timed loop has measured enough: `min_runs` and `min_seconds` both reached, or either
`max_runs` or `max_seconds`. One rule for the worker's loop and the serial target's."""

from __future__ import annotations


def enough(
    runs: int, now: float, min_runs: int, max_runs: int, min_end: float, max_end: float
) -> bool:
    """`now`, `min_end` and `max_end` on one clock (any unit)."""
    return runs >= max_runs or now >= max_end or (runs >= min_runs and now >= min_end)
