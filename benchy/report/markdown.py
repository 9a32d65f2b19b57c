"""Markdown summary (for `$GITHUB_STEP_SUMMARY` or `--markdown FILE`) and a few `::error::`
workflow annotations for the worst failures."""

from __future__ import annotations

import os
from pathlib import Path

from benchy.judge.compare import Comparison
from benchy.report.cases import Case
from benchy.report.comparison import ab_hint, looks_text

ICON = {0: "✅", 1: "❌", 3: "💥", 4: "⚠️"}
ATTENTION = ("error", "failure", "skipped")
MAX_ANNOTATIONS = 5


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary(
    suite: str,
    verdict: str,
    code: int,
    run_dir: Path,
    cases: list[Case],
    comparison: Comparison | None,
    baseline_note: str = "",
) -> str:
    lines = [f"## benchy {suite}: {ICON.get(code, '')} {verdict} (exit {code})", ""]
    if comparison is not None:
        lines.append(
            f"Run `{run_dir}` against baseline `{comparison.base.dir}`: "
            f"{comparison.gate.confidence:.0%} CIs of per-repetition shifts, "
            f"Holm over {comparison.family} tests{looks_text(comparison)}."
        )
    else:
        lines.append(f"Run `{run_dir}`; budgets only{baseline_note}.")
    counts = {o: sum(c.outcome == o for c in cases) for o in ("passed", *ATTENTION)}
    lines += ["", "| outcome | checks |", "| --- | ---: |"]
    lines += [f"| {o} | {n} |" for o, n in counts.items() if n]
    if comparison is not None:
        verdicts = ", ".join(f"{v} {n}" for v, n in sorted(comparison.counts().items()))
        lines += ["", f"Comparison verdicts: {verdicts or 'none'}."]
    worst = [c for c in cases if c.needs_attention]
    worst.sort(key=lambda c: ATTENTION.index(c.outcome))
    if worst:
        lines += ["", "### Needs attention", "", "| cell | check | result |", "| --- | --- | --- |"]
        lines += [f"| {_cell(c.title)} | {c.name} | {_cell(c.message)} |" for c in worst]
    if comparison is not None:
        lines += ["", "### What differs between the two runs", ""]
        diffs = [f"- {_cell(d.text())}" for d in comparison.differences]
        lines += diffs or ["- nothing benchy records, apart from the time"]
    quiet = len([c for c in cases if c.outcome == "skipped" and not c.needs_attention])
    if quiet:
        lines += [
            "",
            f"{quiet} checks were not judged (unstable, unchecked or unavailable): "
            "see the full list.",
        ]
    if comparison is not None and comparison.unstable_between_runs():
        lines += ["", f"{ab_hint(comparison)}."]
    lines += ["", f"<details><summary>All {len(cases)} checks</summary>", ""]
    lines += ["| cell | check | outcome | result |", "| --- | --- | --- | --- |"]
    lines += [f"| {_cell(c.title)} | {c.name} | {c.outcome} | {_cell(c.message)} |" for c in cases]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def write_summary(text: str, path: Path | None) -> list[Path]:
    """Write to `path` (replacing it) and append to $GITHUB_STEP_SUMMARY when that is set."""
    written = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with Path(step).open("a") as fh:
            fh.write(text + "\n")
        written.append(Path(step))
    return written


def _escape(text: str, prop: bool = False) -> str:
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def workflow_annotations(cases: list[Case], limit: int = MAX_ANNOTATIONS) -> list[str]:
    """`::error title=…::message` lines for the worst failures: crashes, then regressions, then
    budgets; one more line says how many were left out."""
    bad = [c for c in cases if c.outcome in ("error", "failure")]
    order = {"crash": 0, "regression": 1, "budget": 2}
    bad.sort(key=lambda c: order.get(c.kind, 3))
    lines = [
        f"::error title={_escape(f'benchy {c.title}', prop=True)}::{_escape(c.message)}"
        for c in bad[:limit]
    ]
    if len(bad) > limit:
        lines.append(f"::error title=benchy::{len(bad) - limit} more failures: see the summary")
    return lines
