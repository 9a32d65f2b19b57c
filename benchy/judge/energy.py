"""Energy per inference between two runs. With each repetition's energy stored
(repetitions.parquet) it is judged like latency, by the shift test of shift.py on the mJ values
against δ = `energy_pct` of the baseline's median (energy per inference can be ≤ 0 when active
power barely exceeds idle, so it is compared on its own scale, not as a log). Runs stored before
that have one figure per cell: shown with its shift, not gated (one figure has no CI)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from benchy.config import Gate
from benchy.judge.memory import per_repetition
from benchy.judge.result import Result, one_sided
from benchy.judge.shift import Pair, Scale
from benchy.results.schema import ENERGY, CellKey

MJ = Scale(log=False, show=lambda v: f"{v:.3g} mJ")


def compare_energy(
    cell: CellKey,
    b: dict[str, Any],
    n: dict[str, Any],
    reps: tuple[pd.DataFrame | None, pd.DataFrame | None],
    gate: Gate,
    ctx: tuple[str, ...],
) -> Result | Pair | None:
    bv, nv = b.get(ENERGY), n.get(ENERGY)
    if bv is None or nv is None:
        return one_sided(cell, "energy", bv, nv, ctx)
    xs, ys = per_repetition(reps[0], ENERGY), per_repetition(reps[1], ENERGY)
    if xs is not None and ys is not None:
        centre = abs(float(np.median(xs[0])))
        if centre > 0:
            mj = gate.energy_pct / 100 * centre
            return Pair(cell, "energy", bv, nv, xs[0], ys[0], xs[1], ys[1], up=mj, down=mj,
                        scale=MJ, context=ctx)  # fmt: skip
    rel = nv / bv - 1 if bv else math.inf
    note = "point values (no per-repetition energy stored): shown, not gated"
    return Result(cell, "energy", "unchecked", bv, nv, rel, delta=gate.energy_pct / 100,
                  note=note, context=ctx)  # fmt: skip
