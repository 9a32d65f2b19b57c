"""Target registry: `kind = "..."` in a target file names a registered Target class."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchy.targets.base import Target

TARGET_KINDS: dict[str, type[Target]] = {}


def register(cls: type[Target]) -> type[Target]:
    TARGET_KINDS[cls.kind] = cls
    return cls


def _load_builtin() -> None:
    from benchy.targets import labgrid, local, serial, ssh  # noqa: F401  (registration)


_load_builtin()
