"""Numbers as a person reads them in the HTML report: each value with its own unit."""

from __future__ import annotations

import math
import numbers
from typing import Any, SupportsFloat, TypeGuard

LATENCY_UNITS = ((1e-3, 1e6, "ns"), (1.0, 1e3, "µs"), (1e3, 1.0, "ms"))  # (below ms, ×, unit)


def latency_unit(ms: float) -> tuple[float, str]:
    """The factor from ms and the unit name that shows `ms` with 1–3 integer digits."""
    for below, factor, unit in LATENCY_UNITS:
        if abs(ms) < below:
            return factor, unit
    return 1e-3, "s"


def latency_text(ms: Any) -> str:
    if not is_number(ms):
        return "–"
    factor, unit = latency_unit(float(ms))
    return f"{sig(float(ms) * factor)} {unit}"


def sig(value: float) -> str:
    """Three significant digits without scientific notation: 0.00301, 0.84, 12.3, 999, 1234."""
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def number_text(value: Any, unit: str = "", digits: int = 3) -> str:
    if not is_number(value):
        return "–"
    text = f"{float(value):.{digits}g}"
    return f"{text} {unit}".rstrip()


def is_number(value: Any) -> TypeGuard[SupportsFloat]:
    """A finite real number (numpy's too); not a bool, None or NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(float(value))


def signed_pct(value: float) -> str:
    return f"{value * 100:+.1f}%".replace("-", "−")
