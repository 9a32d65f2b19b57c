"""Finding stored runs: a suite's runs newest first, and `--baseline PATH|latest`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from benchy.config import SAMPLE_SIZE
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
    folder: Path,
    suite: str,
    targets: list[str],
    skip: Path | None = None,
    settings: dict[str, Any] | None = None,
    quick: bool | None = None,
) -> Path | None:
    """The newest finished run of `suite` covering `targets` under `folder` (a results base
    folder, or the suite's own folder in it), other than `skip`. With `settings` (and `quick`),
    the newest run measured with the same settings is preferred: a baseline measured otherwise
    differs in more than the change being judged. Which run was taken, and why, is logged."""
    place = folder / suite if (folder / suite).is_dir() else folder
    fallback: tuple[Path, str] | None = None
    for run_dir in finished_runs(place):
        if skip is not None and run_dir.resolve() == skip.resolve():
            continue
        try:
            manifest = json.loads((run_dir / "run.json").read_text())
        except (OSError, ValueError):
            log.warning("%s: unreadable run.json, skipped", run_dir)
            continue
        if not isinstance(manifest, dict):
            log.warning("%s: run.json is not an object, skipped", run_dir)
            continue
        if manifest.get("suite") != suite or manifest.get("status") != "finished":
            continue
        if not set(targets) <= set(manifest.get("targets") or {}):
            continue
        if schema_problem(manifest) is not None:
            log.warning("%s: %s; skipped", run_dir, schema_problem(manifest))
            continue
        differs = _settings_differ(manifest, settings, quick)
        if not differs:
            why = "the same measurement settings" if settings is not None else "any settings"
            log.info("baseline: %s (the newest finished run of %s on %s with %s)", run_dir,
                     suite, ", ".join(targets), why)  # fmt: skip
            return run_dir
        if fallback is None:
            fallback = (run_dir, differs)
    if fallback is not None:
        log.warning("baseline: %s, the newest finished run of %s on %s; no run with the same "
                    "settings exists (this one differs in %s)", fallback[0], suite,
                    ", ".join(targets), fallback[1])  # fmt: skip
        return fallback[0]
    return None


def _settings_differ(
    manifest: dict[str, Any], settings: dict[str, Any] | None, quick: bool | None
) -> str:
    """What measurement settings differ from the wanted ones ("" when none, or none wanted)."""
    if settings is None:
        return ""
    stored = manifest.get("measure") or {}
    keys = sorted(k for k in settings if stored.get(k) != settings[k] and k not in SAMPLE_SIZE)
    if quick is not None and bool(manifest.get("quick")) != quick:
        keys.insert(0, "--quick")
    return ", ".join(keys)


def resolve_baseline(
    spec: str,
    results: Path,
    suite: str,
    targets: list[str],
    skip: Path | None,
    settings: dict[str, Any] | None = None,
    quick: bool | None = None,
) -> Path | None:
    """`--baseline PATH|latest`. PATH is a run directory, or a folder searched like `latest`.
    Returns None when `latest` finds nothing yet (the first run of a suite)."""
    if spec == "latest":
        return newest_run(results, suite, targets, skip, settings, quick)
    path = Path(spec)
    if (path / "run.json").is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"--baseline: {spec}: no such run directory")
    found = newest_run(path, suite, targets, skip, settings, quick)
    if found is None:
        raise UsageError(
            f"--baseline: {spec}: no finished run of suite {suite} on {', '.join(targets)} in it"
        )
    return found
