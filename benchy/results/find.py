"""Finding stored runs: a suite's runs newest first, and `--baseline PATH|latest`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from benchy.errors import UsageError
from benchy.results.manifest import schema_problem

log = logging.getLogger(__name__)


def finished_runs(folder: Path) -> list[Path]:
    """Run directories under a folder, newest first (names start with the UTC start time)."""
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if (p / "run.json").is_file()]
    return sorted(runs, key=lambda p: p.name, reverse=True)


def newest_run(
    folder: Path, suite: str, targets: list[str], skip: Path | None = None
) -> Path | None:
    """The newest finished run of `suite` covering `targets` under `folder` (a results base
    folder, or the suite's own folder in it), other than `skip`."""
    place = folder / suite if (folder / suite).is_dir() else folder
    for run_dir in finished_runs(place):
        if skip is not None and run_dir.resolve() == skip.resolve():
            continue
        try:
            manifest = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            log.warning("%s: unreadable run.json, skipped", run_dir)
            continue
        if manifest.get("suite") != suite or manifest.get("status") != "finished":
            continue
        if not set(targets) <= set(manifest.get("targets") or {}):
            continue
        if schema_problem(manifest) is not None:
            log.warning("%s: %s; skipped", run_dir, schema_problem(manifest))
            continue
        return run_dir
    return None


def resolve_baseline(
    spec: str, results: Path, suite: str, targets: list[str], skip: Path | None
) -> Path | None:
    """`--baseline PATH|latest`. PATH is a run directory, or a folder searched like `latest`.
    Returns None when `latest` finds nothing yet (the first run of a suite)."""
    if spec == "latest":
        return newest_run(results, suite, targets, skip)
    path = Path(spec)
    if (path / "run.json").is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"--baseline: {spec}: no such run directory")
    found = newest_run(path, suite, targets, skip)
    if found is None:
        raise UsageError(
            f"--baseline: {spec}: no finished run of suite {suite} on {', '.join(targets)} in it"
        )
    return found
