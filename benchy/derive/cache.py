"""Derived files cached by content, so a re-run quantizes nothing.

The key is the sha256 of canonical JSON (sorted keys, no whitespace) of: the source model's
sha256, the recipe, the calibration samples' sha256 (when the recipe calibrates), the
quantizer's name and version (and of the tools beside it), and RECIPES_VERSION. Any change in
any of them is a new file; nothing else can make one. Files live in
`$XDG_CACHE_HOME/benchy/variants` (default `~/.cache/benchy/variants`), named
`<key><suffix>`, written to a temporary name in the same folder and renamed (atomic: a reader
sees the whole file or none, and two runs deriving the same key do not corrupt it).

A recipe the quantizer refuses is cached too (`<key><suffix>.error`, its reason): with the same
model, recipe, data and quantizer version it would refuse again. Failures of the machine (a
full disk) are not cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

RECIPES_VERSION = 1
"""Bumped when benchy changes what a named recipe asks a quantizer for."""


def canonical_json(value: Any) -> str:
    # default=str: TOML dates in pass-through options become their ISO text
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def cache_key(parts: dict[str, Any]) -> str:
    return hashlib.sha256(
        canonical_json({**parts, "recipes_version": RECIPES_VERSION}).encode()
    ).hexdigest()


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative path is invalid and is ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "benchy" / "variants"


class VariantCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_root()

    def path(self, key: str, suffix: str) -> Path:
        return self.root / f"{key}{suffix}"

    def get(self, key: str, suffix: str) -> Path | None:
        path = self.path(key, suffix)
        return path if path.is_file() else None

    def error(self, key: str, suffix: str) -> str | None:
        """The reason the quantizer refused this key before, if it did."""
        path = self.path(key, suffix + ".error")
        return path.read_text() if path.is_file() else None

    def put_error(self, key: str, suffix: str, reason: str) -> None:
        def write(tmp: Path) -> None:
            tmp.write_text(reason)

        self._write(self.path(key, suffix + ".error"), write)

    def put(self, key: str, suffix: str, make: Callable[[Path], None]) -> Path:
        """`make(tmp)` writes the file; it is renamed into place only if make returns."""
        self._write(self.path(key, suffix), make)
        return self.path(key, suffix)

    def _write(self, final: Path, make: Callable[[Path], None]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # The temporary name keeps the suffix: quantizers pick the output format by it.
        tmp = self.root / f".{secrets.token_hex(4)}.tmp-{final.name}"
        try:
            make(tmp)
            if not tmp.is_file():
                raise OSError(f"the quantizer wrote no file ({tmp.name})")
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # ours: a failed or interrupted derivation leaves nothing behind
