"""Issue 12, multi-threaded cells of an interleaved A/B (`benchy ab`): each round's candidate
process runs right after its baseline process, so the two share the machine's speed of the
moment. Such cells are compared round by round — Yuen's trimmed t on the rounds' differences —
which judges what the fast-mode comparison of two separate runs cannot (a 2-thread cell's fastest
speed is rarely reached in both). Yuen's t checked against scipy; the comparison on constructed
rounds: no false alarm where rounds' speeds differ, a 10% slowdown caught."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from scipy.stats.mstats import winsorize

from benchy.config import Gate
from benchy.judge.compare import one_job
from benchy.judge.latency import LATENCY
from benchy.judge.sequential import Looks
from benchy.judge.shift import Pair, judge_pairs
from benchy.results.read import StoredRun
from benchy.results.schema import CellKey
from benchy.welch import trimmed_mean, yuen_p_above, yuen_shift

DELTA = math.log1p(0.05)


def test_yuen_matches_scipy() -> None:
    d = np.array([-31, 11, -2, 10, 12, -8, 9, 9, 12, 8, 25, 5, 8, 6, 32, 10], float) / 100
    n, h = len(d), len(d) - 2 * 3  # 20% of 16: 3 trimmed from each end
    se = np.std(np.asarray(winsorize(d, limits=(0.2, 0.2))), ddof=1) / (0.6 * math.sqrt(n))
    mean = sps.trim_mean(d, 0.2)
    got = yuen_shift(d, 0.99)
    half = sps.t.ppf(0.995, h - 1) * se
    assert trimmed_mean(d) == pytest.approx(mean, rel=1e-12)
    assert (got.estimate, got.low, got.high) == pytest.approx((mean, mean - half, mean + half))
    p = sps.t.sf((mean - 0.05) / se, h - 1)
    assert yuen_p_above(d, 0.05) == pytest.approx(p, rel=1e-9)
    with pytest.raises(ValueError):
        yuen_shift(d[:2], 0.99)


def test_yuen_ci_covers_the_true_shift_when_some_rounds_differ() -> None:
    """16 rounds, 15% of them with the two processes at different speeds (±20%, either way):
    the 99% CI still covers the true +10% in ≥ 98.5% of 4000 draws."""
    rng = np.random.default_rng(3)
    misses = 0
    for _ in range(4000):
        d = 0.1 + rng.normal(0, 0.01, 16)
        odd = rng.random(16) < 0.15
        d[odd] += rng.choice([-0.2, 0.2], int(odd.sum()))
        s = yuen_shift(d, 0.99)
        misses += not (s.low <= 0.1 <= s.high)
    assert misses / 4000 <= 0.015


def _rounds(rng: np.random.Generator, n: int, speed: float, factor: float) -> tuple[
        np.ndarray, np.ndarray]:  # fmt: skip
    """Per-round p50s of a 2-thread cell in an interleaved A/B: the machine's speed of the
    moment (1.0, 1.1, 1.25 or 1.5) shared by a round's two processes, but in one round of five
    the candidate's process lands at a speed of its own; ±0.5% noise."""
    speeds = np.array([1.0, 1.1, 1.25, 1.5])
    shared = rng.choice(speeds, n)
    own = np.where(rng.random(n) < 0.2, rng.choice(speeds, n), shared)
    x = speed * shared * rng.normal(1, 0.005, n)
    y = speed * factor * own * rng.normal(1, 0.005, n)
    return np.log(x), np.log(y)


def _pair(x: np.ndarray, y: np.ndarray, i: int, paired: bool) -> Pair:
    rounds = np.arange(len(x), dtype=np.int64)
    cell = CellKey("local", "m", f"v{i}", "tflite", "xnnpack", 2)
    return Pair(cell, "p50", None, None, x, y, rounds, rounds, DELTA, -math.log1p(-0.05),
                LATENCY, paired=paired)  # fmt: skip


def test_paired_rounds_cry_no_wolf_and_catch_a_slowdown() -> None:
    """A/A: 300 cells in families of 10, none `regressed`. Two cells of each family 10% slower:
    `regressed` in ≥ 90% when paired, where the unpaired comparison of the same values (as
    if from two separate runs) cannot place most of them."""
    rng = np.random.default_rng(7)
    seen: dict[str, int] = {}
    caught = {True: 0, False: 0}
    for _ in range(30):
        same, slower = [], []
        for i in range(10):
            same.append(_rounds(rng, 16, 5.0 + i, 1.0))
            slower.append(_rounds(rng, 16, 5.0 + i, 1.1 if i in (0, 5) else 1.0))
        pairs = [_pair(x, y, i, paired=True) for i, (x, y) in enumerate(same)]
        for r in judge_pairs(pairs, Gate(), Looks.single()):
            seen[r.verdict] = seen.get(r.verdict, 0) + 1
        for paired in (True, False):
            pairs = [_pair(x, y, i, paired) for i, (x, y) in enumerate(slower)]
            results = judge_pairs(pairs, Gate(), Looks.single())
            caught[paired] += sum(results[i].verdict == "regressed" for i in (0, 5))
    assert "regressed" not in seen and "improved" not in seen, seen
    assert seen.get("unchanged", 0) >= 240, seen
    assert caught[True] >= 54, caught  # of 60
    assert caught[False] < 30, caught  # the same values as two separate runs: mostly unstable


def test_the_note_names_rounds_whose_processes_ran_at_different_speeds() -> None:
    x = np.log([5.0, 5.5, 5.0, 6.25, 5.0, 5.5, 7.5, 5.0, 5.0, 5.5, 5.0, 6.25])
    y = x + math.log(1.1)
    y[3] = math.log(5.0 * 1.1)  # the candidate's process fast while the base's was not
    (r,) = judge_pairs([_pair(x, y, 0, paired=True)], Gate(), Looks.single())
    assert r.verdict == "regressed", r.message()
    assert "paired by round: 20% trimmed mean of 12 rounds' differences (Yuen's t)" in r.note
    assert "a round's two processes at different speeds in round 3 −20%" in r.note


def test_only_the_two_sides_of_one_ab_are_paired(tmp_path: Path) -> None:
    def run(ab: object) -> StoredRun:
        manifest = {"ab": ab} if ab is not None else {}
        return StoredRun(tmp_path, manifest, None)  # type: ignore[arg-type]

    one = {"id": "a1", "side": "base"}
    assert one_job(run(one), run({"id": "a1", "side": "candidate"}))
    assert not one_job(run(one), run({"id": "b2", "side": "candidate"}))
    assert not one_job(run(None), run(None))  # two separate runs
    assert not one_job(run({"side": "base"}), run({"side": "candidate"}))


def test_too_many_rounds_at_different_speeds_leave_a_close_call_unstable() -> None:
    """7 of 20 rounds with the two processes at different speeds (more than the 20% trimmed):
    a close call cannot be judged (`unstable`, the reason given); a shift far past δ still is."""
    rng = np.random.default_rng(5)
    x = np.log(5.0 * rng.choice([1.0, 1.1, 1.25], 20) * rng.normal(1, 0.004, 20))
    odd = np.zeros(20)
    odd[[1, 4, 7, 10, 13, 16, 19]] = [0.4, -0.4, 0.4, -0.4, 0.4, -0.4, 0.4]
    noise = rng.normal(0, 0.01, 20)
    (close,) = judge_pairs([_pair(x, x + 0.05 + noise + odd, 0, True)], Gate(), Looks.single())
    assert close.verdict == "unstable", close.message()
    assert "in 7 of 20 rounds the two processes ran at different speeds, more than the 20%" in (
        close.note
    )
    (far,) = judge_pairs([_pair(x, x + 0.3 + noise + odd, 0, True)], Gate(), Looks.single())
    assert far.verdict == "regressed", far.message()


def test_an_interleaved_single_threaded_cell_whose_speeds_cannot_be_matched_is_paired() -> None:
    """One thread: the fast modes first. Where they cannot be matched (here the candidate's
    fastest is a speed the base's slower processes ran at), a cell of an interleaved job is
    compared round by round instead, the reason kept; two separate runs leave it `unstable`."""
    base = np.log([1.0, 1.003, 1.006, 1.13, 1.15, 1.17, 1.2, 1.4, 1.41, 1.42, 1.43, 1.45])
    rng = np.random.default_rng(2)
    slower = base + math.log(1.16) + rng.normal(0, 0.003, 12)
    slower[:3] = np.log([1.14, 1.155, 1.17])  # never fast: its fastest is a slower speed
    rounds = np.arange(12, dtype=np.int64)
    cell = CellKey("local", "m", "v", "tflite", "xnnpack", 1)

    def judged(y: np.ndarray, interleaved: bool) -> str:
        p = Pair(cell, "p50", None, None, base, y, rounds, rounds, DELTA, -math.log1p(-0.05),
                 LATENCY, interleaved=interleaved)  # fmt: skip
        (r,) = judge_pairs([p], Gate(), Looks.single())
        return f"{r.verdict}: {r.note}"

    assert judged(slower, interleaved=False).startswith("unstable: ")
    got = judged(slower, interleaved=True)
    assert got.startswith("regressed: "), got
    assert "the new side's fastest speed is among those base's slower repetitions" in got
    assert ", so paired by round: 20% trimmed mean of 12 rounds' differences" in got
    same = slower - math.log(1.16)  # the same speeds, no change: no false alarm either way
    assert not judged(same, interleaved=True).startswith(("regressed", "improved"))


def test_the_crossover_takes_the_order_effect_out_of_rounds_timed_in_one_process() -> None:
    """Rounds timed in one process (worker/pair.py) alternate which model loads and times
    first; on this VM a 33-layer TFLite chain ran ~9% faster when loaded second. With that
    order effect (±9%) on a true +4% shift and 1% noise, 12 rounds: the crossover's 99% CI
    covers +4% in ≥ 98.5% of 4000 draws and is narrower than 4% in ≥ 95%; Yuen's t on the
    rounds as one sample is centred right too, but ~14× as wide."""
    rng = np.random.default_rng(11)
    first = np.arange(12) % 2 == 0
    misses, narrow, wide = 0, 0, []
    for _ in range(4000):
        d = 0.04 + np.where(first, -0.09, 0.09) + rng.normal(0, 0.01, 12)
        s = yuen_shift(d, 0.99, first)
        misses += not (s.low <= 0.04 <= s.high)
        narrow += s.high - s.low < 0.04
        one = yuen_shift(d, 0.99)
        wide.append((one.high - one.low) / (s.high - s.low))
    assert misses / 4000 <= 0.015
    assert narrow / 4000 >= 0.95
    assert np.median(wide) > 8
    assert trimmed_mean(d, first) == pytest.approx(s.estimate)
    few = np.array([True, False, False, False, False, False])  # one round in one order
    assert yuen_shift(d[:6], 0.99, few) == yuen_shift(d[:6], 0.99)


def test_rounds_timed_in_one_process_are_judged_as_a_crossover() -> None:
    """A Pair `within` one process: even rounds timed the baseline first (runner._run_paired).
    The order effect is not called a round at a different speed, and the shift is the true one."""
    rng = np.random.default_rng(4)
    x = np.log(5.0 * rng.normal(1, 0.003, 12))
    order = np.where(np.arange(12) % 2 == 0, -0.09, 0.09)
    y = x + math.log(1.12) + order + rng.normal(0, 0.005, 12)
    rounds = np.arange(12, dtype=np.int64)
    cell = CellKey("local", "m", "v", "tflite", "xnnpack", 1)
    p = Pair(cell, "p50", None, None, x, y, rounds, rounds, DELTA, -math.log1p(-0.05), LATENCY,
             paired=True, within=True)  # fmt: skip
    (r,) = judge_pairs([p], Gate(), Looks.single())
    assert r.verdict == "regressed", r.message()
    assert r.shift == pytest.approx(0.12, abs=0.01)
    assert "at different speeds" not in r.note
