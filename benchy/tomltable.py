"""Typed reads from a parsed TOML table, with errors that name the file, table and key."""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchy.errors import ConfigError

_MISSING: Any = object()
FOLDER_NAME = re.compile(r"\w[\w.+-]{0,99}")
"""One path component that cannot climb, hide or go absolute: a letter, digit or `_` first."""
FOLDER_NAME_TEXT = (
    'one folder name: letters, digits, "_", "-", "+", "." (not first), ≤ 100 characters'
)


def load_toml(path: Path, shown: str) -> Table:
    """Parse a TOML file; syntax errors become one-line ConfigErrors."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(shown, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, "", f"invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(shown, "", _not_utf8(exc)) from None
    except OSError as exc:
        raise ConfigError(shown, "", f"cannot read: {exc.strerror}") from None
    return Table(data, shown, "")


def _not_utf8(exc: UnicodeDecodeError) -> str:
    line = bytes(exc.object[: exc.start]).count(b"\n") + 1
    byte = exc.object[exc.start]
    return f"line {line}: byte 0x{byte:02x} is not UTF-8; TOML files must be UTF-8 text"


def _show(value: Any) -> str:
    if isinstance(value, str):  # control characters (NUL, escapes) shown escaped, not sent
        return f'"{value}"' if value.isprintable() else json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def choices_text(choices: Iterable[str]) -> str:
    return ", ".join(sorted(choices))


class Table:
    """One TOML table and where it lives, for error messages."""

    def __init__(self, data: dict[str, Any], file: str, path: str) -> None:
        self.data, self.file, self.path = data, file, path

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> list[str]:
        return list(self.data)

    def where(self, key: str | None = None) -> str:
        table = f"[{self.path}]" if self.path else "top level"
        if key is None:
            return table
        return f"{table}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(self.file, self.where(key), message, self.path, key)

    def only(self, *allowed: str) -> None:
        """Reject keys this table does not define (typos must not be silently ignored)."""
        for key in self.data:
            if key not in allowed:
                raise self.error(None, f'unknown key "{key}"; valid keys: {choices_text(allowed)}')

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(key, "required key is missing")
        return default

    def string(
        self, key: str, default: Any = _MISSING, choices: Iterable[str] | None = None
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a non-empty string, got {_show(value)}")
        if choices is not None and value not in choices:
            raise self.error(
                key, f"unknown value {_show(value)}; valid choices: {choices_text(choices)}"
            )
        return value

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        minimum: float | None = None,
        integer: bool = False,
        above: bool = False,
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        kind = "an integer" if integer else "a number"
        ok = isinstance(value, int) if integer else isinstance(value, int | float)
        if not ok or isinstance(value, bool):
            raise self.error(key, f"expected {kind}, got {_show(value)}")
        if not math.isfinite(value):  # TOML allows nan and inf; no setting means either
            raise self.error(key, f"expected a finite number, got {_show(value)}")
        if minimum is not None and (value <= minimum if above else value < minimum):
            bound = f"> {minimum:g}" if above else f"≥ {minimum:g}"
            raise self.error(key, f"expected {kind} {bound}, got {_show(value)}")
        return int(value) if integer else float(value)

    def folder_name(self, key: str, default: str) -> str:
        """A string used as one folder name under a results folder (so it cannot escape it)."""
        value: str = self.string(key, default)
        if FOLDER_NAME.fullmatch(value) is None:
            origin = "" if key in self.data else " (the default: the file's name); set one"
            raise self.error(key, f"expected {FOLDER_NAME_TEXT}, got {_show(value)}{origin}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_show(value)}")
        return value

    def int_list(self, key: str, default: Any = _MISSING, minimum: int = 0) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        good = (
            isinstance(value, list)
            and value
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
        )
        if not good:
            raise self.error(
                key, f"expected a non-empty list of integers ≥ {minimum}, got {_show(value)}"
            )
        return tuple(value)

    def str_list(
        self, key: str, default: Any = _MISSING, choices: Iterable[str] | None = None
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(key, f"expected a non-empty list of strings, got {_show(value)}")
        if choices is not None:
            for v in value:
                if v not in choices:
                    raise self.error(
                        key, f"unknown value {_show(v)}; valid choices: {choices_text(choices)}"
                    )
        return tuple(value)

    def table(self, key: str, required: bool = False) -> Table:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise self.error(key, "required table is missing")
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {_show(value)}")
        return Table(value, self.file, f"{self.path}.{key}" if self.path else key)

    def tables(self, key: str, required: bool = False) -> dict[str, Table]:
        """A table of named tables, e.g. [models.cnn], [models.lstm]."""
        outer = self.table(key, required)
        if required and not outer.data:
            raise self.error(key, "expected at least one entry")
        return {name: outer.table(name) for name in outer.data}

    def table_list(self, key: str) -> list[Table]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected an array of tables ([[{key}]]), got {_show(value)}")
        base = f"{self.path}.{key}" if self.path else key
        return [Table(v, self.file, f"{base}[{i}]") for i, v in enumerate(value)]

    def path_value(self, key: str, root: Path, default: Any = _MISSING) -> Any:
        """A file path relative to the file's folder; it must exist."""
        value = self.string(key, default)
        if value is default and default is not _MISSING:
            return value
        resolved = (root / value).resolve()
        if not resolved.is_file():
            raise self.error(key, f"file not found: {value} (looked in {resolved.parent})")
        return resolved
