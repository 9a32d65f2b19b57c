"""The terminal's summary of ops.parquet: per cell, where its time (or its instructions) goes,
by op type, largest first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console

from benchy.report.markup import plain, styled
from benchy.results.schema import IDENTITY, CellKey

TOP = 4


def top_ops_lines(ops: pd.DataFrame, top: int = TOP) -> list[str]:
    """`local/cnn/fp32 tflite/xnnpack ×1 (callgrind-ir, instructions): convolution 80%, …`."""
    lines = []
    for key, cell in ops.groupby(list(IDENTITY), sort=False, observed=True):
        by_type = cell.groupby("op_type", sort=False)["share_pct"].sum().sort_values(
            ascending=False
        )  # fmt: skip
        timed = cell["mean_us"].notna().all()
        unit = "time" if timed else "instructions"
        shown = ", ".join(f"{plain(t)} {share:.0f}%" for t, share in by_type.head(top).items())
        if len(by_type) > top:
            shown += f", {len(by_type) - top} more"
        source = "/".join(sorted(set(cell["source"].astype(str))))
        title = CellKey.from_values(key).title()
        lines.append(f"{plain(title)} ({plain(source)}, {unit}): {shown}")
    return lines


def print_top_ops(console: Console, run_dir: Path) -> None:
    path = run_dir / "ops.parquet"
    if not path.is_file():
        return
    ops = pd.read_parquet(path)
    if ops.empty:
        return
    console.print(styled("where the time goes (top op types per cell; ops.parquet)", "bold"))
    for line in top_ops_lines(ops):
        console.print(line)
