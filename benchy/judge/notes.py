"""The notes a shift test writes beside its verdict: which repetitions were set aside, which
were outliers, which rounds' two processes ran at different speeds (shift.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from benchy.stats import outliers
from benchy.welch import TRIM

if TYPE_CHECKING:
    from benchy.judge.shift import Pair

MAX_NAMED = 4  # repetitions named per side in a note


def _far(p: Pair, d: float) -> str:
    text = f"{p.relative(d) * 100:+.0f}%" if p.scale.log else f"{d:+.3g}"
    return text.replace("-", "−")


def _listed(name: str, rounds: npt.NDArray[np.int64], far: list[str]) -> str:
    shown = [f"{int(r)} {f}" for r, f in zip(rounds, far, strict=True)][:MAX_NAMED]
    more = f", … ({len(far) - MAX_NAMED} more)" if len(far) > MAX_NAMED else ""
    return f"{name} round{'s' if len(far) > 1 else ''} {', '.join(shown)}{more}"


def set_aside(p: Pair) -> str:
    """`slowed by other load, set aside: base rounds 3 +41%, 9 +52%`."""
    parts = []
    for name, values, rounds, kept in zip(("base", "new"), (p.x, p.y), (p.rounds_x, p.rounds_y),
                                          p.kept(), strict=True):  # fmt: skip
        if kept.all():
            continue
        centre = float(np.median(values[kept]))
        order = np.argsort(values[~kept])
        far = [_far(p, float(v) - centre) for v in values[~kept][order]]
        parts.append(_listed(name, rounds[~kept][order], far))
    if p.modes:
        (kx, ky), m, n = p.kept(), len(p.x), len(p.y)
        modes = (f"speed modes: the fast one compared by Welch's t (base {kx.sum()} of {m}, "
                 f"new {ky.sum()} of {n} repetitions)")  # fmt: skip
        return f"{modes}; slower, set aside: {'; '.join(parts)}"
    return f"slowed by other load, set aside: {'; '.join(parts)}" if parts else ""


def paired(p: Pair) -> str:
    """`paired by round: 20% trimmed mean of 16 rounds' differences (Yuen's t); a round's two
    processes at different speeds in rounds 3 −31%, 9 +32%`."""
    d, rounds = p.differences()
    how = "timed in turn in one process per round" if p.within else "paired by round"
    text = f"{how}: {TRIM:.0%} trimmed mean of {len(d)} rounds' differences (Yuen's t)"
    idx = mismatched(p)
    if not idx:
        return text
    centre = float(np.median(d))
    far = [_far(p, float(d[i]) - centre) for i in idx]
    speeds = _listed("at different speeds in", rounds[idx], far)
    return f"{text}; a round's two {'models' if p.within else 'processes'} {speeds}"


def unpaired(p: Pair) -> str:
    """What a two-sample test names: the repetitions set aside, then the outliers."""
    return "; ".join(filter(None, [set_aside(p), outliers_named(p)]))


def outliers_named(p: Pair) -> str:
    """`outlier repetitions: base round 7 +43%`: far from their side's compared median."""
    parts = []
    for name, values, rounds, kept in zip(("base", "new"), (p.x, p.y), (p.rounds_x, p.rounds_y),
                                          p.kept(), strict=True):  # fmt: skip
        v, r = values[kept], rounds[kept]
        idx = outliers(v, p.up / 2)
        if idx:
            centre = float(np.median(v))
            parts.append(_listed(name, r[idx], [_far(p, float(v[i]) - centre) for i in idx]))
    return (
        f"outlier repetitions (kept; ranks bound their weight): {'; '.join(parts)}" if parts else ""
    )


def mismatched(p: Pair) -> list[int]:
    """Paired: the rounds (indices) whose difference lies far from the others' — the round's
    two processes ran at different speeds."""
    return outliers(p.differences()[0], p.up / 2)
