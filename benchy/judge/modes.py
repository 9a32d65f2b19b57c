"""Speed modes: which repetitions of a cell two runs can compare (shift.py, step 1).

Some machines run a worker process at one of a few speeds: this VM, on some days, at two ~45%
apart in shares that change from run to run, and a 2-thread cell at three (both threads fast,
one, none). Each side's fast mode (`stats.fast_mode`) is what is compared then; without speed
modes, the values a side's slowed fringe (`stats.slow_limit`) leaves. Where the sides' speeds
cannot be matched, the reason says why and the cell is not gated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from benchy.stats import fast_mode, slow_limit

Mask = npt.NDArray[np.bool_]
MAX_NAMED = 4  # rounds named in a note


@dataclass(frozen=True)
class Speeds:
    kept: tuple[Mask, Mask]  # the values compared on each side
    modes: bool = False  # fast modes compared (Welch's t)
    matched: bool = False  # both sides at one known speed, or their fast modes
    unmatched: str = ""  # why the two sides' speeds cannot be matched
    lacking: str = ""  # ... and which side lacks a fast mode


def _two(mode: Mask | None) -> bool:
    """A fast mode that is not the whole sample: the sample shows two speeds."""
    return mode is not None and not mode.all()


def match(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], up: float, threads: int = 1
) -> Speeds:
    """What to compare of two samples of one cell (log values; δ = up). A cell of k threads is
    at its fastest only when all k are (a share p^k of its processes), and when a run got none
    its middle speed looks fastest: measured here, 2-thread cells' fastest modes differed
    between runs by up to 46% with 3–6 values each. So a multi-threaded cell's fast mode must
    hold at least half of each side's repetitions."""
    fx, fy = (fast_mode(v, up, _fewest(len(v), threads)) for v in (x, y))
    matched = fx is not None and fy is not None
    if fx is not None and fy is not None and (_two(fx) or _two(fy)):
        return Speeds((fx, fy), modes=True, matched=True)
    every = np.ones(len(x), bool), np.ones(len(y), bool)
    lx, ly = slow_limit(x, up), slow_limit(y, up)
    kept = (x < lx, y < ly) if lx is not None and ly is not None else every
    if _two(fx) or _two(fy):
        # Compared as slowed fringes unless the target shows speed modes (shift.judge_pairs).
        has, lacks, f = ("base", "new", fx) if _two(fx) else ("new", "base", fy)
        assert f is not None
        fewest = _fewest(len(y) if lacks == "new" else len(x), threads)
        why = (f"speed modes: {has} has a fast one ({f.sum()} of {len(f)} repetitions), "
               f"{lacks} none that can be told (< {fewest} repetitions at one speed)")  # fmt: skip
        return Speeds(kept, unmatched=why, lacking=lacks)
    return Speeds(kept, matched=matched)


def _spread(v: npt.NDArray[np.float64]) -> float:
    return float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def _fewest(n: int, threads: int) -> int:
    return 3 if threads <= 1 else max(3, math.ceil(n / 2))


def shared_speed(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    kept: tuple[Mask, Mask],
    rounds: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    up: float,
    shift: float,
    threads: int = 1,
) -> str:
    """Why fast modes farther apart than δ may be two speeds of the machine rather than a
    change, or "": the slower side's fast mode is a speed the other side's slower repetitions
    ran at — one of them within δ/2 of it, or it lies among 3 or more of them (within δ/2 of
    their range) — and either the cell runs several threads (whose middle speeds are tight) or
    the slower side's mode scatters more than twice as much as the faster one's: a real fast
    mode shifted by a change is as tight as the one it is compared with (±0.5–1% here), a slow
    speed taken for it is not (±3–5%); slowed repetitions near a tight mode are load. A run whose
    processes never got the fast speed shows a slower one as its fastest; when that is one the
    other run also ran at, a change and a speed never got look alike."""
    if abs(shift) <= up:
        return ""
    (kx, ky), (rx, ry) = kept, rounds
    slower, faster, other, name, named = (y[ky], x[kx], x[~kx], "base", rx[~kx]) if shift > 0 else (
        x[kx], y[ky], y[~ky], "new", ry[~ky])  # fmt: skip
    # A 2-thread cell's middle speed (one thread fast) is as tight as its fastest; a 1-thread
    # cell's slow speed here scatters ±3–5% against ±0.5–1% for its fast one.
    wide = _spread(slower) > 2 * max(_spread(faster), 0.002)
    if len(other) == 0 or not (wide or threads > 1):
        return ""
    level = float(np.mean(slower))
    near = np.abs(other - level) < up / 2
    among = len(other) >= 3 and other.min() - up / 2 <= level <= other.max() + up / 2
    if not near.any() and not among:
        return ""
    closest = np.argsort(np.abs(other - level))[:MAX_NAMED]
    which = ", ".join(str(int(r)) for r in sorted(named[closest]))
    return (f"the {'new' if shift > 0 else 'base'} side's fastest speed is among those {name}'s "
            f"slower repetitions ran at (rounds {which}): a change or a speed it never got "
            "cannot be told")  # fmt: skip
