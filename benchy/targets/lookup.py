"""Where a target name's file is: ./targets/NAME.toml, then targets/ beside the suite (in its
folder, then in its parent: a repository's suites/ and targets/), then the user's config folder
($XDG_CONFIG_HOME/benchy/targets, by default ~/.config/benchy/targets). A name found nowhere
that benchy has built in (`local`) is that built-in target: a file of that name only overrides
it. A name with a "/" or ending in .toml is a path."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from benchy.tomltable import Table

BUILTIN = {
    "local": 'kind = "local"\ndescription = "This machine\'s CPU (built in)"\n',
}
"""Targets that need no file."""


def config_dir() -> Path:
    """The user's benchy config folder (XDG base directories)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "benchy"


def places(suite_path: Path | None) -> list[Path]:
    """The folders a target name is looked up in, in order, without repeats."""
    found = [Path.cwd() / "targets"]
    if suite_path is not None:
        folder = suite_path.resolve().parent
        found += [folder / "targets", folder.parent / "targets"]
    found.append(config_dir() / "targets")
    unique: list[Path] = []
    for place in found:
        if all(place.resolve() != p.resolve() for p in unique):
            unique.append(place)
    return unique


def is_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".toml") or "/" in name_or_path


def find(name: str, suite_path: Path | None) -> Path | None:
    """The file for target `name`, or None (then it may be built in)."""
    for place in places(suite_path):
        if (place / f"{name}.toml").is_file():
            return place / f"{name}.toml"
    return None


def builtin(name: str) -> Table:
    return Table(tomllib.loads(BUILTIN[name]), f"built-in target {name}", "")


def known(suite_path: Path | None) -> list[str]:
    """Every target name the lookup would find."""
    names = set(BUILTIN)
    for place in places(suite_path):
        if place.is_dir():
            names |= {p.stem for p in place.glob("*.toml")}
    return sorted(names)


def not_found(name: str, suite_path: Path | None) -> str:
    """Why `name` is no target, saying where it was looked for."""
    where = ", ".join(_shown(p) for p in places(suite_path))
    return (
        f'target "{name}" not found: no {name}.toml in {where}; '
        f"valid choices: {', '.join(known(suite_path))} (or a path to a .toml file)"
    )


def _shown(place: Path) -> str:
    """A folder as the user would type it: relative to here when below it, else absolute."""
    try:
        return "./" + str(place.relative_to(Path.cwd()))
    except ValueError:
        return str(place)
