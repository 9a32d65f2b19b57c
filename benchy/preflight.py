"""Every argument of `benchy run` checked before anything runs — in a dry run too, which then
exits 2 exactly as the real run would. Nothing here creates, writes or deletes anything."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchy.config import Measure, Suite
from benchy.errors import UsageError
from benchy.results.find import resolve_baseline
from benchy.results.manifest import new_run_dir
from benchy.results.read import StoredRun
from benchy.results.rundir import check_unused

if TYPE_CHECKING:
    from benchy.pipeline import RunRequest

log = logging.getLogger("benchy")


@dataclass(frozen=True)
class Checked:
    out: Path
    """The run directory (from --out, or a new name under --results; not created yet)."""
    baseline: StoredRun | None


def _existing_ancestor(path: Path) -> Path:
    for place in [path, *path.parents]:
        if os.path.lexists(place):
            return place
    return Path(".")


def _creatable(flag: str, path: Path, folder: Path) -> None:
    """`folder` (for `path`) exists as a writable directory, or could be made as one."""
    place = _existing_ancestor(folder)
    if not place.is_dir():
        raise UsageError(f"{flag} {path}: {place} is not a directory")
    if not os.access(place, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {place} is not writable")


def check_folder(flag: str, path: Path) -> None:
    """`path` is, or could be made as, a directory benchy can write in."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path}: exists and is not a directory")
    _creatable(flag, path, path)


def check_file(flag: str, path: Path) -> None:
    """`path` is, or could be made as, a file benchy can write."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory")
    _creatable(flag, path, path.parent)


def _baseline(
    args: RunRequest, suite: Suite, names: list[str], out: Path, measure: Measure
) -> StoredRun | None:
    """Resolve --baseline and read it in full (a bad one is a usage error, exit 2)."""
    if not args.baseline:
        return None
    found = resolve_baseline(
        args.baseline, args.results, suite.name, names, out, measure.payload(), args.quick
    )
    if found is None:
        log.warning("no earlier run of %s on %s to compare with", suite.name, ", ".join(names))
        return None
    return StoredRun.load(found, full=True)


def check_run_arguments(
    args: RunRequest, suite: Suite, names: list[str], measure: Measure
) -> Checked:
    """The checks a real run makes of its arguments, in the order it makes them."""
    if args.resume is not None:
        if args.out is not None:
            raise UsageError("--resume completes the run in its own folder: drop --out")
        check_folder("--resume", args.resume)
    elif args.out is not None:
        check_folder("--out", args.out)
        check_unused(args.out, "--out")
    else:
        check_folder("--results", args.results)
    for flag in ("junit", "markdown"):
        path = getattr(args, flag)
        if path is not None:
            check_file(f"--{flag}", path)
    out = args.resume or args.out or new_run_dir(args.results, suite.name)
    return Checked(out, _baseline(args, suite, names, out, measure))
