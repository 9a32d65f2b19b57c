"""Issue 12, cells measured on a machine with speed modes (this VM runs each worker process at one
of two speeds ~45% apart, in shares that change from run to run): the fast mode is told apart,
compared by Welch's t on its few close values, and the comparison neither cries wolf when the
shares differ nor misses a 10% slowdown. Welch's t and its CDF checked against scipy."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as sps

from benchy.config import Gate
from benchy.judge.latency import LATENCY
from benchy.judge.sequential import Looks
from benchy.judge.shift import Pair, judge_pairs
from benchy.results.schema import CellKey
from benchy.stats import fast_mode
from benchy.welch import betainc, t_quantile, t_sf, welch_p_above, welch_shift

DELTA = math.log1p(0.05)


@pytest.mark.parametrize("df", [1.0, 2.5, 3.0, 7.3, 30.0, 400.0])
def test_student_t_matches_scipy(df: float) -> None:
    for t in (-40.0, -5.0, -1.0, 0.0, 0.3, 2.0, 10.0, 40.0):
        assert t_sf(t, df) == pytest.approx(sps.t.sf(t, df), rel=1e-9, abs=1e-15)
    for p in (1e-5, 0.001, 0.5, 0.995, 0.99995):
        assert t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-7, abs=1e-9)
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(sps.beta.cdf(0.4, 2.0, 3.0), rel=1e-12)


def test_welch_ci_and_p_value_match_scipy() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(0.0, 1.0, 5), rng.normal(1.0, 2.0, 4)
    got = welch_shift(x, y, 0.99)
    ci = sps.ttest_ind(y, x, equal_var=False).confidence_interval(0.99)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    expected = sps.ttest_ind(y - 0.2, x, equal_var=False, alternative="greater").pvalue
    assert welch_p_above(x, y, 0.2) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError):
        welch_shift(x[:1], y, 0.99)


def test_welch_ci_covers_the_true_shift_with_three_values_a_side() -> None:
    rng = np.random.default_rng(9)
    shifts = [welch_shift(rng.normal(0, 0.005, 3), rng.normal(0.1, 0.01, 4), 0.99)
              for _ in range(4000)]  # fmt: skip
    misses = sum(not (s.low <= 0.1 <= s.high) for s in shifts)
    assert misses / 4000 <= 0.01 + 0.005  # 99% CI; 4000 draws: +0.5% is > 3 standard errors


def _speeds(rng: np.random.Generator, n: int, speed: float, fast_share: float) -> np.ndarray:
    """Per-repetition p50s as this VM gives them: a fast mode within ±0.5%, the other processes
    30–70% slower."""
    values = speed * rng.normal(1.0, 0.004, n)
    slow = rng.random(n) >= fast_share
    values[slow] *= rng.uniform(1.3, 1.7, int(slow.sum()))
    return np.log(values)


def test_the_fast_mode_is_told_apart() -> None:
    fast = np.log([1.0, 1.004, 0.998, 1.002, 1.001])
    slow = np.log([1.35, 1.42, 1.47, 1.55, 1.61, 1.66, 1.7])
    both = np.concatenate([slow[:3], fast, slow[3:]])
    mask = fast_mode(both, DELTA)
    assert mask is not None and mask.tolist() == [False] * 3 + [True] * 5 + [False] * 4
    # One mode only: all of it.
    only = fast_mode(fast, DELTA)
    assert only is not None and only.all()
    # Too few fast values to be a mode, or slowed values in a chain with no gap: none.
    assert fast_mode(np.concatenate([fast[:2], slow]), DELTA) is None
    assert fast_mode(np.log(np.linspace(1.0, 1.3, 12)), DELTA) is None
    # A step inside the fast mode (measured: 1.00, 1.004 | 1.04 … 1.053, then +50%) is one mode.
    stepped = np.log([1.0, 1.004, 1.04, 1.042, 1.044, 1.048, 1.053, 1.527, 1.53, 1.6])
    inside = fast_mode(stepped, DELTA)
    assert inside is not None and inside.sum() == 7
    # Below three values nothing can be told.
    assert fast_mode(fast[:2], DELTA) is None


def _pair(x: np.ndarray, y: np.ndarray, i: int = 0) -> Pair:
    rounds = np.arange(max(len(x), len(y)), dtype=np.int64)
    cell = CellKey("local", "m", f"v{i}", "tflite", "none", 1)
    return Pair(cell, "p50", None, None, x, y, rounds[: len(x)], rounds[: len(y)],
                DELTA, -math.log1p(-0.05), LATENCY)  # fmt: skip


def test_different_mode_shares_cry_no_wolf_and_a_slowdown_is_caught() -> None:
    """A/A: the fast share 20–90% on each side, drawn independently (as between two runs here):
    500 cells in families of 10, none `regressed`, most `unchanged`. The candidate 10% slower:
    `regressed` wherever both sides show a fast mode, with the mode named in the note — but
    where the candidate's fastest is a speed the base's slow processes ran at."""
    # The candidate's other cells are unchanged; a whole run slower would be drift.
    rng = np.random.default_rng(12)
    seen: dict[str, int] = {}
    caught, moded = 0, 0
    for _ in range(50):
        same, slower = [], []
        for i in range(10):
            x = _speeds(rng, 12, 5.0 + i, rng.uniform(0.2, 0.9))
            same.append(_pair(x, _speeds(rng, 12, 5.0 + i, rng.uniform(0.2, 0.9)), i))
            factor = 1.1 if i in (0, 5) else 1.0  # two cells slower, not the whole run (drift)
            y = _speeds(rng, 12, (5.0 + i) * factor, rng.uniform(0.2, 0.9))
            slower.append(_pair(x, y, i))
        for r in judge_pairs(same, Gate(), Looks.single()):
            seen[r.verdict] = seen.get(r.verdict, 0) + 1
        for p, r in zip(slower, judge_pairs(slower, Gate(), Looks.single()), strict=True):
            if p.modes and p.cell.variant in ("v0", "v5"):
                moded += 1
                caught += r.verdict == "regressed"
                # A candidate that never got the fast speed: its fastest is a slow one.
                if r.verdict != "regressed":
                    assert r.verdict == "unstable" and "cannot be told" in r.note, r.message()
                assert "speed modes: the fast one compared" in r.note
    assert "regressed" not in seen, seen
    assert seen.get("unchanged", 0) >= 400, seen
    assert moded >= 80 and caught >= moded - 2, (caught, moded)


def test_a_slower_speed_is_not_taken_for_a_change() -> None:
    """The base got fast processes (1.00) and some at a slower speed (1.13–1.20, scattered as
    slow speeds are here); the candidate none fast — its fastest is that slower speed. Not
    `regressed`: `unstable`, with the rounds named, the candidate short."""
    base = np.log([1.0, 1.003, 1.006, 1.13, 1.15, 1.17, 1.2, 1.4, 1.41, 1.42, 1.43, 1.45])
    new = np.log([1.14, 1.155, 1.17, 1.19, 1.4, 1.41, 1.42, 1.42, 1.43, 1.44, 1.45, 1.46])
    (r,) = judge_pairs([_pair(base, new)], Gate(), Looks.single())
    assert r.verdict == "unstable", r.message()
    assert "fastest speed is among those base's slower repetitions ran at (rounds 3, 4," in r.note
    assert r.lacking == "new"
    # A real change moves the fast mode as tight as it was: +16%, close to that slower speed.
    shifted = np.log([1.16, 1.163, 1.166, 1.168, 1.4, 1.41, 1.42, 1.42, 1.43, 1.44, 1.45, 1.46])
    (r,) = judge_pairs([_pair(base, shifted)], Gate(), Looks.single())
    assert r.verdict == "regressed", r.message()


def test_a_side_without_a_fast_mode_is_not_compared_with_one() -> None:
    """Base: 5 processes fast, 7 slow; new: 1 fast, 11 slow (a run that rarely got the fast
    speed), on a target whose cells show speed modes. Comparing base's fast with new's slow
    would cry wolf: `unstable`, new short, and more repetitions of a stored baseline's cell
    cannot help, of the candidate's can. On a target where this one cell looks bimodal, it is a
    slowed fringe and compared as one."""
    from benchy.adaptive import promising

    base = np.log([1.0, 1.002, 1.004, 1.005, 1.007, 1.35, 1.4, 1.45, 1.5, 1.55, 1.6, 1.65])
    new = np.log([1.001, 1.32, 1.37, 1.42, 1.44, 1.47, 1.5, 1.53, 1.58, 1.62, 1.66, 1.7])
    other = _pair(base, base, 1)  # another cell of the target with two speeds
    r, _ = judge_pairs([_pair(base, new), other], Gate(), Looks.single())
    assert r.verdict == "unstable", r.message()
    assert "base has a fast one (5 of 12 repetitions), new none" in r.note
    assert r.lacking == "new"
    looks = Looks.plan(12, 24)
    assert promising(r, looks, base_grows=False)
    back, _ = judge_pairs([_pair(new, base), other], Gate(), Looks.single())
    assert back.lacking == "base"
    assert not promising(back, looks, base_grows=False) and promising(back, looks, True)
    # A 2-thread cell's candidate short of a fast mode is extended only where both sides grow.
    two = dataclasses.replace(r, cell=dataclasses.replace(r.cell, threads=2))
    assert not promising(two, looks, base_grows=False) and promising(two, looks, True)
    # Quiet target (the other cells at one speed): a fringe, judged by the slowed-fringe rule.
    tight = _pair(base[:5], base[:5], 1)
    r, *_ = judge_pairs([_pair(base, new), tight, _pair(base[:5], base[:5], 2)], Gate(),
                        Looks.single())  # fmt: skip
    assert "none that can be told" not in r.note, r.message()
