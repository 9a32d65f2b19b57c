"""Instructions per inference between two runs (issue 15): callgrind's count of the timed
invokes, judged like latency against δ = `[gate] instructions_pct` (default 0.5%), but without
the statistics wall-clock needs: the count of one process is deterministic up to allocator and
ASLR effects (A/A scatter measured here: benchmarks/instructions_gate.py), so every repetition
counts, not a distribution of them.

The interval is the range of all pairwise ratios between the sides' repetitions:
[new min / base max − 1, new max / base min − 1]. With one repetition per side it is the point
shift (the count is trusted to be deterministic); with more it holds every pairing.
- `regressed` (exit 1) when even the lowest ratio is above +δ; `improved` below −δ;
- `unchanged` when the whole range lies within ±δ; `inconclusive` (exit 4) when it straddles δ;
- `unstable` (shown, not gated) when a side's own repetitions spread by more than δ — a count
  that varies that much is not deterministic (threads spinning, input-dependent work) — unless
  the range is beyond δ altogether.
Not in the Holm family: there is no p-value to correct.
"""

from __future__ import annotations

from typing import Any

from benchy.config import Gate
from benchy.judge.result import Result, one_sided
from benchy.results.schema import INSTRUCTIONS, CellKey

METRIC = "instructions"


def _side(row: dict[str, Any]) -> tuple[float, float, float] | None:
    mid = row.get(INSTRUCTIONS)
    if mid is None or mid <= 0:
        return None
    low = row.get("instructions_min") or mid
    high = row.get("instructions_max") or mid
    return float(mid), float(low), float(high)


def compare_instructions(
    cell: CellKey, b: dict[str, Any], n: dict[str, Any], gate: Gate, context: tuple[str, ...]
) -> Result | None:
    base, new = _side(b), _side(n)
    if base is None or new is None:
        return one_sided(cell, METRIC, b.get(INSTRUCTIONS), n.get(INSTRUCTIONS), context)
    d = gate.instructions_pct / 100
    shift = new[0] / base[0] - 1
    low, high = new[1] / base[2] - 1, new[2] / base[1] - 1
    spread = max((s[2] - s[1]) / s[0] for s in (base, new))
    note = "range over all pairs of repetitions"
    if low > d:
        verdict = "regressed"
    elif high < -d:
        verdict = "improved"
    elif spread > d:
        verdict = "unstable"
        note = f"repetitions spread {spread:.2%} > δ {d:.2%}: not deterministic here, not gated"
    elif high > d:
        verdict = "inconclusive"
    else:
        verdict = "unchanged"
    return Result(cell, METRIC, verdict, base[0], new[0], shift, low, high, d, context=context,
                  note=note)  # fmt: skip
