"""Pick the best cell meeting all budgets, per target."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Best:
    target: str
    row: pd.Series | None
    rank_by: str
    candidates: int


HIGHER_IS_BETTER = {"battery_life_hours"}


def best_per_target(cells: pd.DataFrame, rank_by: str) -> list[Best]:
    out = []
    if rank_by not in cells:  # no cell produced the figure at all
        return [Best(str(t), None, rank_by, 0) for t in cells["target"].unique()]
    for target, group in cells.groupby("target", sort=False):
        passing = group[(group["verdict"] == "pass") & group[rank_by].notna()]
        ascending = rank_by not in HIGHER_IS_BETTER
        ordered = passing.sort_values(rank_by, kind="stable", ascending=ascending)
        row = ordered.iloc[0] if len(passing) else None
        out.append(Best(str(target), row, rank_by, len(passing)))
    return out
