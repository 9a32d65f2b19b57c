"""Terminal view of a baseline comparison: what differs between the runs, then every result that
is not `unchanged` (all of them with `show_all`), then the counts."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchy.judge.compare import Comparison
from benchy.judge.result import ALL_CELLS, LABELS, VERDICTS, Result
from benchy.report.figures import latency_text
from benchy.report.markup import plain, styled
from benchy.report.table import fit_widths

STYLE = {
    "regressed": "bold red",
    "error": "bold red",
    "improved": "green",
    "unchanged": "dim",
    "inconclusive": "yellow",
    "unstable": "magenta",
    "unchecked": "dim",
    "missing": "yellow",
    "new": "cyan",
    "drift": "blue",
}
ORDER = list(VERDICTS)
QUIET = ("unchanged", "unchecked", "unstable")  # counted, listed only with show_all


def value_text(result: Result, value: float | None) -> str:
    if value is None:
        return "–"
    if result.metric in ("p50", "p90", "p99"):
        return latency_text(value)
    if result.metric.endswith("memory"):
        return f"{value:.1f} MiB"
    if result.metric == "energy":
        return f"{value:.3g} mJ"
    return f"{value:.4g}"


def shift_text(result: Result) -> str:
    if result.shift is None:
        return "–"
    text = _pct(result.shift, result.points)
    if result.low is not None and result.high is not None:
        text += f" [{_pct(result.low, result.points)}, {_pct(result.high, result.points)}]"
    return text


def _pct(value: float, points: bool) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "−∞"
    return (f"{value:+.2f}" if points else f"{value * 100:+.1f}%").replace("-", "−")


def mde_text(result: Result) -> str:
    """The minimum detectable effect: `6.1%`, `∞` (no shift could have been flagged)."""
    if result.mde is None:
        return "–"
    if math.isinf(result.mde):
        return "∞"
    return f"{result.mde:.3g} pt" if result.points else f"{result.mde * 100:.3g}%"


def reps_text(result: Result) -> str:
    """Repetitions compared, baseline/new (`12/18` when the candidate took more)."""
    if result.repetitions is None:
        return "–"
    return "/".join(str(n) for n in result.repetitions)


def delta_text(result: Result) -> str:
    if result.delta is None:
        return "–"
    return f"±{result.delta:.3g} pt" if result.points else f"±{result.delta * 100:.3g}%"


def sort_key(result: Result) -> tuple[int, float]:
    rank = ORDER.index(result.verdict) if result.verdict in ORDER else len(ORDER)
    return rank, -(result.low if result.low is not None and math.isfinite(result.low) else 0.0)


NOTE_MIN = 24  # the note column wraps; it keeps at least this much room
DROP = {"reps": 0, "MDE": 1, "δ": 2, "base": 3, "new": 4, "runtime ×threads": 5}
"""Columns a narrow terminal leaves out, first to last; the verdict always stays whole."""


def results_table(
    comparison: Comparison, show_all: bool = False, width: int | None = None
) -> Table:
    rows = sorted(comparison.results, key=sort_key)
    if not show_all:
        rows = [r for r in rows if r.verdict not in QUIET]
    many = len({r.cell.target for r in comparison.results}) > 1
    heads = (["target"] if many else []) + ["model", "variant", "runtime ×threads", "metric"]
    heads += ["base", "new", f"shift [{comparison.gate.confidence:.0%} CI]", "δ", "MDE", "reps"]
    heads.append("verdict")
    cells = [_row(r, many) for r in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(heads)]
    room = None if width is None else width - NOTE_MIN - 3  # the note and its gap
    kept = fit_widths(widths, [DROP.get(h) for h in heads], room)
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for i in kept:
        right = heads[i] in ("base", "new", "δ", "MDE", "reps") or heads[i].startswith("shift")
        table.add_column(heads[i], justify="right" if right else "left", no_wrap=True)
    table.add_column("note", no_wrap=False, min_width=min(NOTE_MIN, width or NOTE_MIN))
    for r, values in zip(rows, cells, strict=True):
        note = "; ".join(filter(None, [r.note, *r.context]))
        shown = [Text(values[i]) for i in kept[:-1]]  # the verdict, last, is styled
        shown.append(Text(r.verdict, style=STYLE.get(r.verdict, "")))
        table.add_row(*shown, Text(note))
    return table


def _row(r: Result, many: bool) -> list[str]:
    c = r.cell
    values = [c.target] if many else []
    whole = c.model == ALL_CELLS  # a target's (or one runtime's) run-wide drift
    values += [c.model, c.variant, c.runtime if whole else c.setup()]
    values += [LABELS.get(r.metric, r.metric), value_text(r, r.base), value_text(r, r.new)]
    return [*values, shift_text(r), delta_text(r), mde_text(r), reps_text(r), r.verdict]


def counts_line(comparison: Comparison) -> str:
    counts = comparison.counts()
    parts = [
        styled(f"{v} {counts[v]}", STYLE.get(v, ""))
        for v in sorted(counts, key=lambda v: ORDER.index(v) if v in ORDER else 99)
    ]
    return " · ".join(parts) if parts else "nothing to compare"


def ab_hint(comparison: Comparison) -> str:
    return (
        f"{comparison.unstable_between_runs()} latency results `unstable` between these two "
        "runs: `benchy ab BASE_SUITE NEW_SUITE` measures both sides in one job, each round's two "
        "models timed in one process, and judges such cells"
    )


def looks_text(comparison: Comparison) -> str:
    """`; looks at 12, 18, 24 repetitions` when cells could be judged more than once."""
    at = comparison.looks.at
    return f"; looks at {', '.join(map(str, at))} repetitions" if len(at) > 1 else ""


def print_comparison(console: Console, comparison: Comparison, show_all: bool = False) -> None:
    gate = comparison.gate
    console.print(
        f"[bold]baseline[/] {plain(comparison.base.dir)} → {plain(comparison.new.dir)}  "
        f"({gate.confidence:.0%} CIs of per-repetition shifts; Holm over "
        f"{comparison.family} tests{looks_text(comparison)})",
        soft_wrap=True,
    )
    if comparison.drift_text():
        console.print(
            f"run-wide drift taken out of every cell's shift: {plain(comparison.drift_text())}",
            soft_wrap=True,
        )
    if comparison.differences:
        console.print("[bold]what differs between the two runs:[/]")
        for d in comparison.differences:
            console.print(f"  {d.text()}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print("[dim]the two runs differ in nothing benchy records but time[/]")
    table = results_table(comparison, show_all, console.width)
    if table.row_count:
        console.print(table)
        console.print(
            "[dim]base and new: each cell's figure over all its samples pooled (where the "
            "note says 'timed in turn in one process', the median of those rounds); shift: "
            "the shift of the per-repetition values with its CI — a pooled figure that barely "
            "moves can sit beside a large shift when repetitions disagree[/]"
        )
    if comparison.unstable_between_runs():
        console.print(f"[dim]{ab_hint(comparison)}[/]", soft_wrap=True)
    quiet = [r for r in comparison.results if r.verdict in QUIET]
    if quiet and not show_all:
        console.print(
            f"[dim]{len(quiet)} unchanged, unstable or unchecked results not listed "
            "(`benchy compare --all` lists them, and so do --junit and --markdown)[/]"
        )
    console.print(f"comparison: {counts_line(comparison)}")
