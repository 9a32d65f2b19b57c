"""The machine facts of each target and the run's settings, as collapsed tables (<details>)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from benchy.report.page import esc, table

NOT_SETTINGS = ("targets", "comparison")  # shown in their own sections


def leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted.key, text) for every scalar in nested dicts; lists of scalars joined by spaces."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and not any(isinstance(v, dict | list) for v in data):
        yield prefix, " ".join(str(v) for v in data)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, "–" if data is None else str(data)


def _summary(facts: dict[str, Any]) -> str:
    parts = [
        facts.get("board") or facts.get("cpu_model"),
        f"{facts['cores']} cores" if facts.get("cores") else None,
        f"{facts['ram_mb'] / 1024:.0f} GiB RAM" if facts.get("ram_mb") else None,
        " ".join(str(facts[k]) for k in ("os", "kernel") if facts.get(k)) or None,
        f"Python {facts['python']}" if facts.get("python") else None,
    ]
    return ", ".join(str(p) for p in parts if p)


def facts_section(manifest: dict[str, Any]) -> str:
    out = ['<h2 id="facts">Machines and settings</h2>']
    for target, facts in (manifest.get("targets") or {}).items():
        facts = facts if isinstance(facts, dict) else {"facts": facts}
        out.append(
            f"<details><summary><b>{esc(target)}</b>: {esc(_summary(facts))}</summary>"
            + table(("fact", "value"), leaves(facts))
            + "</details>"
        )
    settings = {k: v for k, v in manifest.items() if k not in NOT_SETTINGS}
    out.append(
        "<details><summary><b>Run settings</b>: measurement, gate, budgets, files and their "
        "sha256</summary>" + table(("setting", "value"), leaves(settings)) + "</details>"
    )
    return "\n".join(out)
