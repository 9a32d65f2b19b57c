"""Energy per inference between two runs: shown with its shift, not gated, until per-repetition
energy is stored (one figure per cell has no CI)."""

from __future__ import annotations

import math
from typing import Any

from benchy.config import Gate
from benchy.judge.result import Result, one_sided
from benchy.results.schema import ENERGY, CellKey


def compare_energy(
    cell: CellKey, b: dict[str, Any], n: dict[str, Any], gate: Gate, ctx: tuple[str, ...]
) -> Result | None:
    bv, nv = b.get(ENERGY), n.get(ENERGY)
    if bv is None or nv is None:
        return one_sided(cell, "energy", bv, nv, ctx)
    rel = nv / bv - 1 if bv else math.inf
    note = "point values (no per-repetition energy stored): shown, not gated"
    return Result(cell, "energy", "unchecked", bv, nv, rel, delta=gate.energy_pct / 100,
                  note=note, context=ctx)  # fmt: skip
