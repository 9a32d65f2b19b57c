"""A figure measured once per repetition (a latency percentile, peak memory, energy), compared
between two runs: one test per cell × metric, all of them one Holm family.

Per test (`Pair`), on the test scale (log for latency, MiB or mJ otherwise):

1. Speed modes and slowed repetitions (latency only; modes.py). On a machine that runs worker
   processes at one of a few speeds, each side's fast mode is compared, by Welch's t on its few
   close values with their variance moderated by the fast modes of the cells measured alike
   (`welch.Prior`, Smyth's moderated t: 3 values alone give 2 degrees of freedom, useless at
   Holm's level); cells whose speeds cannot be matched are `unstable` with the reason.
   Otherwise a worker process either runs at the machine's speed or is slowed by other load
   (measured on this VM under load: a third of the processes of every cell 20–90% slower, the
   others within ±1%); other load only ever slows, so on each side the values farther above
   its lower quartile than δ plus 3 scaled MADs of its lower half (`stats.slow_limit`) are set
   aside and named — each side on its own values, or neither side when half or more of one
   side's values would go.
2. The run-wide drift (drift.py) taken out of the candidate's values.
3. Hodges–Lehmann shift with the Mann–Whitney CI (exact below 60 values per side; Welch's t
   for fast modes, step 1; for a pair measured round by round — an interleaved A/B's
   multi-threaded cell, `paired` — Yuen's trimmed t on the rounds' differences instead of
   steps 1 and 3's two-sample tests: a round's two processes share the machine's speed of the
   moment, which cancels out of their difference; an interleaved single-threaded cell whose
   speeds cannot be matched is compared so too, instead of `unstable`); one-sided
   p-values against +δ (worse) and −δ (better), divided by the share of α of the look the cell
   was judged at (sequential.py).
4. Scatter, robust: the scaled MAD of each side's compared values; repetitions farther from
   their side's median than 3.5 of those (and than δ/2) are named with their round and distance.
   The rank-based CI already shrugs off a hiccup; such repetitions are reported, not removed.
5. Holm across every test of the comparison, then the verdict: `regressed` / `improved` when Holm
   rejects and the CI is wholly past ±δ; `unchanged` when the shift's one-sided upper bound at
   `equivalence` (95%: an equivalence test, as TOST) is within δ — a false alarm needs 99% and Holm,
   a claim of no regression beyond δ needs 95%; otherwise `inconclusive` — or `unstable` when the
   robust scatter exceeds `unstable_cv_pct` while the CI straddles δ (a CI wholly past δ is judged
   whatever the scatter). Each result carries its minimum detectable effect: the smallest shift
   that, seen with this scatter, would have been `regressed` — δ plus the distance from the estimate
   to the CI's lower end at the level of Holm's first step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from benchy.config import Gate
from benchy.judge import notes
from benchy.judge.modes import Speeds, match, shared_speed
from benchy.judge.result import Result, with_
from benchy.judge.sequential import Looks
from benchy.report.figures import signed_pct
from benchy.results.schema import CellKey
from benchy.stats import (
    Shift,
    hodges_lehmann,
    holm,
    mwu_p_above,
    robust_scatter,
    shift_ci_depth,
    z_value,
)
from benchy.welch import (
    TRIM,
    Bools,
    Prior,
    pooled,
    trimmed_mean,
    welch_p_above,
    welch_shift,
    without_order,
    yuen_p_above,
    yuen_shift,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Scale:
    """How values on the test scale read."""

    log: bool  # values are logs: a shift d reads expm1(d); else d / the baseline's median
    show: Callable[[float], str]  # a value on the test scale as text, e.g. "3.2 µs"
    trim: bool = False  # set slowed repetitions aside (latency)


@dataclass(frozen=True)
class Pair:
    """One cell × metric: each repetition's value on both sides, on the test scale."""

    cell: CellKey
    metric: str
    base: float | None  # the cells' point values, for display
    new: float | None
    x: Floats
    y: Floats
    rounds_x: Ints  # the repetition (round) each value came from
    rounds_y: Ints
    up: float  # δ: the worsening that counts, on the test scale (> 0)
    down: float  # the improvement that counts (> 0): a shift below −down
    scale: Scale
    context: tuple[str, ...] = ()
    model_changed: bool = False
    offset: float = 0.0  # run-wide drift taken out of y
    paired: bool = False  # compared round by round (`benchy ab`'s multi-threaded cells)
    interleaved: bool = False  # round r ran back to back on both sides (one `benchy ab`)
    within: bool = False  # paired, each round's two values timed in turn in one process
    _kept: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] = field(init=False, repr=False)
    _centre: float = field(init=False, repr=False)  # the baseline's median
    prior: Prior | None = None  # the other cells' fast-mode scatter (moderated t)
    modes: bool = field(init=False, default=False)  # fast speed modes compared (Welch's t)
    matched: bool = field(init=False, default=False)  # both sides at one known speed (or mode)
    unmatched: str = field(init=False, default="")  # why the two sides' speeds cannot be matched
    lacking: str = field(init=False, default="")  # ... and which side lacks a fast mode

    def __post_init__(self) -> None:
        every = np.ones(len(self.x), bool), np.ones(len(self.y), bool)
        if self.paired:  # a round's two processes share the machine's speed of the moment
            speeds = Speeds(every, matched=True)
        elif self.scale.trim:
            speeds = match(self.x, self.y, self.up, self.cell.threads)
        else:
            speeds = Speeds(every)
        for name in ("modes", "matched", "unmatched", "lacking"):
            object.__setattr__(self, name, getattr(speeds, name))
        object.__setattr__(self, "_kept", speeds.kept)
        object.__setattr__(self, "_centre", float(np.median(self.x)))

    def kept(self) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Which values are compared: all, or on both sides those below its slow block."""
        return self._kept

    def compared(self) -> tuple[Floats, Floats]:
        kx, ky = self.kept()
        return self.x[kx], self.y[ky] - self.offset

    def _rounds(self) -> tuple[Floats, Ints, Bools | None]:
        """Paired: new − base (drift out) per round measured on both sides, the rounds, and for
        rounds timed in one process which of them timed the baseline's model first (even
        rounds: runner._run_paired), the crossover's two orders."""
        rounds, ix, iy = np.intersect1d(self.rounds_x, self.rounds_y, return_indices=True)
        first = rounds % 2 == 0 if self.within else None
        return self.y[iy] - self.offset - self.x[ix], rounds, first

    def differences(self) -> tuple[Floats, Ints]:
        """Paired: new − base per round (in one process, the order effect out), and the rounds."""
        d, rounds, first = self._rounds()
        return (d if first is None else without_order(d, first)), rounds

    def shift(self, confidence: float) -> Shift:
        """The shift of the compared values with its CI: Hodges–Lehmann and Mann–Whitney; for
        fast speed modes (a few values that agree closely) Welch's t; paired, Yuen's trimmed t
        on the rounds' differences (in one process, per order: welch._crossover)."""
        if self.paired:
            d, _, first = self._rounds()
            return yuen_shift(d, confidence, first)
        x, y = self.compared()
        if self.modes:
            return welch_shift(x, y, confidence, self.prior)
        return hodges_lehmann(x, y, confidence)

    def p_above(self, up: float, down: float) -> tuple[float, float]:
        """One-sided p-values of "worse by at most `up`" and "better by at most `down`"."""
        if self.paired:
            d, _, first = self._rounds()
            return yuen_p_above(d, up, first), yuen_p_above(-d, down, first)
        x, y = self.compared()
        if self.modes:
            return welch_p_above(x, y, up, self.prior), welch_p_above(y, x, down, self.prior)
        return mwu_p_above(x, y, up), mwu_p_above(y, x, down)

    @property
    def raw(self) -> float:
        """The shift (Hodges–Lehmann of the compared values; paired, the trimmed mean of the
        rounds' differences) before any drift is taken out."""
        if self.paired:
            d, _, first = self._rounds()
            return trimmed_mean(d, first) + self.offset
        kx, ky = self.kept()
        return float(np.median((self.y[ky][None, :] - self.x[kx][:, None]).ravel()))

    def relative(self, d: float) -> float:
        if math.isinf(d):
            return d
        if self.scale.log:
            return math.expm1(d)
        return d / self._centre if self._centre else math.inf


@dataclass
class _Test:
    pair: Pair
    result: Result
    hl: Shift | None = None  # on the test scale, drift out, before any between-run margin
    p_up: float = 1.0
    p_down: float = 1.0
    weight: float = 1.0
    scatter: float = 0.0
    mismatched: int = 0  # paired: rounds whose two processes ran at different speeds
    margin: float = 0.0
    tested: bool = False


def judge_pairs(pairs: list[Pair], gate: Gate, looks: Looks) -> list[Result]:
    """Every pair's verdict, in order; Holm across the ones that could be tested."""
    pairs = with_priors(pairs)
    moded = _speed_modes(pairs)
    tests = [_prepare(q, gate, looks, moded.get((q.cell.target, q.metric), 0)) for q in pairs]
    margins = between_runs(tests, gate)
    for t in tests:
        if t.hl is not None:
            _test(t, margins.get(_group(t.pair), 0.0))
    family = [t for t in tests if t.tested]
    alpha = (1 - gate.confidence) / 2  # the CI's one-sided tail
    pvalues = [min(1.0, min(t.p_up, t.p_down) / t.weight) for t in family]
    rejected = holm(pvalues, alpha)
    for t, reject, p in zip(family, rejected, pvalues, strict=True):
        t.result = _decide(t, reject, p, len(family), gate)
        t.result = with_(t.result, mde=_mde(t, alpha * t.weight / len(family)))
    return [t.result for t in tests]


def _speed_modes(pairs: list[Pair]) -> dict[tuple[str, str], int]:
    """Per target and metric, how many cells show speed modes, where they are at least half of
    its latency cells (and two): the machine has speed modes then, and a cell whose speeds
    cannot be matched is not compared. One cell with a slow fringe that looks like a mode does
    not make a machine's other cells unjudgeable."""
    counts: dict[tuple[str, str], list[int]] = {}
    for p in pairs:
        if p.scale.trim:
            c = counts.setdefault((p.cell.target, p.metric), [0, 0])
            c[0] += p.modes or bool(p.unmatched)
            c[1] += 1
    return {k: m for k, (m, n) in counts.items() if m >= 2 and 2 * m >= n}


def _group(p: Pair) -> tuple[str, str, int]:
    """Cells measured alike: one target, metric and thread count (2-thread cells scatter and
    move between runs more than 1-thread ones on a 2-core machine)."""
    return p.cell.target, p.metric, p.cell.threads


PRIOR_DF = 4.0
"""d0 of the moderated t: how many degrees of freedom the other cells' scatter counts for."""


def with_priors(pairs: list[Pair]) -> list[Pair]:
    """Pairs compared by their fast modes, each given the pooled scatter of the fast modes of
    the cells measured like it (same target, metric and threads), both sides."""
    groups: dict[tuple[str, str, int], list[Floats]] = {}
    for p in pairs:
        if p.modes:
            group = groups.setdefault(_group(p), [])
            group.extend(p.compared())
    priors = {k: pooled(v, PRIOR_DF) for k, v in groups.items()}
    return [replace(p, prior=priors[_group(p)]) if p.modes else p for p in pairs]


def between_runs(tests: list[_Test], gate: Gate) -> dict[tuple[str, str, int], float]:
    """Per target, metric and thread count, the margin for how much cells move between two runs
    on their own (a run × cell interaction: on a loaded machine cells drift apart between two
    runs, and no within-run CI sees it). Estimated like a random effect in a meta-analysis
    (DerSimonian–Laird, made robust): the scaled MAD of the shifts of the cells whose model did
    not change (and whose own CI is within ±δ: a cell that cannot be placed to δ says nothing of
    this), less the part their own CIs explain (the median squared standard error, from each
    CI's width); the margin is z × that (z of the gate's confidence), added to δ in every test
    of that metric and to both ends of its CI. Robust, so that one cell's own change does not
    widen every CI (the price: a few cells moving on their own are not caught by it). Needs
    `drift_min_cells` such cells (as the drift does); 0 otherwise."""
    z = z_value(gate.confidence)
    groups: dict[tuple[str, str, int], list[Shift]] = {}
    for t in tests:
        if t.hl is None or t.pair.model_changed or not math.isfinite(t.hl.low):
            continue
        if (t.hl.high - t.hl.low) / 2 <= t.pair.up:  # precise enough to show how cells move
            groups.setdefault(_group(t.pair), []).append(t.hl)
    out = {}
    for key, shifts in groups.items():
        if len(shifts) < gate.drift_min_cells:
            continue
        spread = robust_scatter([s.estimate for s in shifts])
        own = float(np.median([((s.high - s.low) / (2 * z)) ** 2 for s in shifts]))
        out[key] = z * math.sqrt(max(spread**2 - own, 0.0))
    return out


def fewest_repetitions(confidence: float) -> int:
    """The fewest repetitions per side for which a CI of the shift exists at this confidence."""
    r = 2
    while shift_ci_depth(r, r, confidence) == 0:
        r += 1
    return r


def _prepare(p: Pair, gate: Gate, looks: Looks, moded: int) -> _Test:
    """The test of one pair; `moded`: cells of its target and metric showing speed modes, when
    the machine has them (0 otherwise)."""
    x, y = p.compared()
    result = Result(
        p.cell, p.metric, "inconclusive", p.base, p.new, delta=p.relative(p.up),
        confidence=gate.confidence, context=p.context, repetitions=(len(p.x), len(p.y)),
    )  # fmt: skip
    named = notes.paired(p) if p.paired else notes.unpaired(p)
    if p.unmatched and moded:
        if p.interleaved:
            return _by_round(p, p.unmatched, gate, looks, moded)
        note = f"{p.unmatched}: not gated"
        return _Test(p, with_(result, verdict="unstable", note=note, lacking=p.lacking))
    if moded and p.scale.trim and not p.matched:
        why = (f"speed modes on this target ({moded} cells), none told apart in this cell's "
               "repetitions (too few at its fastest, or no gap above them)")  # fmt: skip
        if p.interleaved:
            return _by_round(p, why, gate, looks, moded)
        note = "; ".join(filter(None, [f"{why}: not gated", named]))
        return _Test(p, with_(result, verdict="unstable", note=note, lacking="both"))
    need = fewest_repetitions(gate.confidence)
    if p.paired and (rounds := len(p.differences()[0])) < need:
        note = f"{rounds} rounds on both sides are too few (need ≥ {need})"
        return _Test(p, with_(result, note=note))
    if not p.modes and not p.paired and shift_ci_depth(len(x), len(y), gate.confidence) == 0:
        few = f"{len(x)} vs {len(y)} repetitions are too few for a {gate.confidence:.0%} CI"
        note = "; ".join(filter(None, [f"{few} (need ≥ {need} each)", named]))
        if len(x) < len(p.x) or len(y) < len(p.y):  # the machine slowed the others
            if p.interleaved:
                return _by_round(p, few, gate, looks, moded)
            return _Test(p, with_(result, verdict="unstable", note=f"{note}: not gated"))
        return _Test(p, with_(result, note=note))
    hl = p.shift(gate.confidence)
    result = with_(result, shift=p.relative(hl.estimate), note=named,
                   raw=p.relative(p.raw) if p.offset else None)  # fmt: skip
    shared = _shared_speed(p, hl.estimate)
    if shared:
        if p.interleaved:
            return _by_round(p, shared, gate, looks, moded)
        note, lacking = f"{named}; {shared}: not gated", "new" if hl.estimate > 0 else "base"
        return _Test(p, with_(result, verdict="unstable", note=note, lacking=lacking))
    mismatched = len(notes.mismatched(p)) if p.paired else 0
    return _Test(p, result, hl, weight=looks.weight(len(p.y)), scatter=_scatter(p, x, y),
                 mismatched=mismatched)  # fmt: skip


def _by_round(p: Pair, why: str, gate: Gate, looks: Looks, moded: int) -> _Test:
    """A cell of an interleaved job whose speeds the fast modes cannot match between the sides:
    compared round by round instead (a round's two processes share the machine's speed of the
    moment), the reason kept in front."""
    t = _prepare(replace(p, paired=True), gate, looks, moded)
    t.result = with_(t.result, note=f"{why}, so {t.result.note}")
    return t


def _shared_speed(p: Pair, shift: float) -> str:
    if not p.modes:
        return ""
    rounds = (p.rounds_x, p.rounds_y)
    return shared_speed(p.x, p.y - p.offset, p.kept(), rounds, p.up, shift, p.cell.threads)


def _test(t: _Test, margin: float) -> None:
    """The p-values against ±(δ + margin) and the CI widened by the margin."""
    p, hl = t.pair, t.hl
    assert hl is not None
    t.margin = margin
    widened = ""
    if margin * 100 >= 0.05:
        what = f"{p.relative(margin) * 100:.1f}%" if p.scale.log else p.scale.show(margin)
        widened = f"CI widened by ±{what}: how much unchanged cells move between the two runs"
    note = "; ".join(filter(None, [t.result.note, widened]))
    low, high = p.relative(hl.low - margin), p.relative(hl.high + margin)
    result = with_(t.result, low=low, high=high, note=note)
    if margin >= p.up:
        why = "≥ δ: this metric cannot be compared between these runs; not gated"
        t.result = with_(result, verdict="unstable", note=f"{note} {why}")
        return
    t.p_up, t.p_down = p.p_above(p.up + margin, p.down + margin)
    t.result, t.tested = result, True


def _upper_bound(t: _Test, gate: Gate) -> float:
    """The shift's one-sided upper bound at the gate's `equivalence` (its α shared between the
    looks as the regression test's is), the between-run margin scaled to that level."""
    level = 1 - 2 * (1 - gate.equivalence) * t.weight  # the two-sided CI with that upper end
    high = t.pair.shift(level).high
    if not math.isfinite(high):
        return math.inf
    return t.pair.relative(high + t.margin * z_value(level) / z_value(gate.confidence))


def _scatter(p: Pair, x: Floats, y: Floats) -> float:
    """The larger side's robust scatter, relative (scaled MAD of the compared values); paired,
    that of the rounds' differences."""
    sides = [p.differences()[0]] if p.paired else [x, y]
    known = [v for v in map(robust_scatter, sides) if not math.isnan(v)]
    if not known:
        return 0.0
    if p.scale.log:
        return max(known)
    return max(known) / abs(p._centre) if p._centre else math.inf


def _decide(t: _Test, rejected: bool, p: float, family: int, gate: Gate) -> Result:
    r = t.result
    assert r.low is not None and r.high is not None and r.delta is not None
    up = t.p_up <= t.p_down
    note = ""
    if rejected and up and r.low > r.delta:
        verdict = "regressed"
    elif rejected and not up and r.high < t.pair.relative(-t.pair.down):
        verdict = "improved"
    elif r.high > r.delta and (bound := _upper_bound(t, gate)) <= r.delta:
        verdict, level = "unchanged", f"{gate.equivalence:.0%}"
        note = (f"{level} upper bound {signed_pct(bound)} ≤ δ: unchanged at {level} "
                "(one-sided, as TOST)")  # fmt: skip
    elif r.high > r.delta:
        verdict = "inconclusive"
        share = f" and {t.weight:.0%} of α at this look" if t.weight < 1 else ""
        if r.low > r.delta:
            note = f"clears δ alone, not after Holm over {family} tests{share}"
        elif t.scatter * 100 > gate.unstable_cv_pct:
            verdict = "unstable"
            note = (
                f"robust scatter {t.scatter:.1%} > {gate.unstable_cv_pct:g}% "
                "(scaled MAD of the repetitions) while the CI straddles δ: not gated"
            )
        elif t.mismatched > TRIM * (rounds := len(t.pair.differences()[0])):
            verdict = "unstable"
            note = (
                f"in {t.mismatched} of {rounds} rounds the two "
                f"{'models' if t.pair.within else 'processes'} ran at different "
                f"speeds, more than the {TRIM:.0%} the trimmed mean sets aside, while the CI "
                "straddles δ: not gated"
            )
    else:
        verdict = "unchanged"
    note = "; ".join(filter(None, [r.note, note]))
    return with_(r, verdict=verdict, note=note, p=p)


def _mde(t: _Test, tail: float) -> float:
    """δ (plus the between-run margin) plus how far below the estimate the CI reaches at Holm's
    first-step level: a shift of this size or more, seen with this scatter, would have been
    `regressed`."""
    level = t.pair.shift(1 - 2 * tail)
    if not math.isfinite(level.low):
        return math.inf
    return t.pair.relative(t.pair.up + t.margin + level.estimate - level.low)


def with_offset(pair: Pair, offset: float) -> Pair:
    """The pair with the run-wide drift `offset` to take out of its candidate values."""
    return replace(pair, offset=offset)
