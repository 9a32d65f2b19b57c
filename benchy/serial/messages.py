"""One line from a DUT → a typed message. Never raises: what it cannot read is GARBAGE.

Messages of the MLPerf Tiny DUT protocol (`m-` messages, `e-[...]` errors); any other printable
line is OTHER (the reference firmware prints a few unprefixed lines, e.g. an oversized
`db load`). Numbers are bounded so a corrupted line cannot make a huge integer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_DIGITS = 20
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_UINT = re.compile(rf"\d{{1,{MAX_DIGITS}}}")
_EXPECTING = re.compile(rf"m-\[Expecting (\d{{1,{MAX_DIGITS}}}) bytes\]")
_HEX_BYTES = re.compile(r"[0-9a-fA-F]{2}(?:-[0-9a-fA-F]{2})*")


class Kind(StrEnum):
    READY = "ready"
    INIT_DONE = "init-done"
    TIMESTAMP_MODE = "timestamp-mode"
    LAP = "lap"
    RESULTS = "results"
    NAME = "name"
    PROFILE = "profile"
    MODEL = "model"
    EXPECTING = "expecting"
    LOAD_DONE = "load-done"
    BUFFER = "buffer"
    WARMUP_START = "warmup-start"
    WARMUP_DONE = "warmup-done"
    INFER_START = "infer-start"
    INFER_DONE = "infer-done"
    ERROR = "error"
    OTHER = "other"
    GARBAGE = "garbage"


@dataclass(frozen=True)
class Message:
    kind: Kind
    text: str
    """The line itself, or the part in brackets (NAME, PROFILE, MODEL, ERROR)."""
    number: int | None = None
    values: tuple[float, ...] | None = None
    data: bytes | None = None


_EXACT = {
    "m-ready": Kind.READY,
    "m-init-done": Kind.INIT_DONE,
    "m-load-done": Kind.LOAD_DONE,
    "m-warmup-done": Kind.WARMUP_DONE,
    "m-infer-done": Kind.INFER_DONE,
}
_NUMBERED = {
    "m-lap-us-": Kind.LAP,
    "m-warmup-start-": Kind.WARMUP_START,
    "m-infer-start-": Kind.INFER_START,
}
_BRACKETED = {"m-profile-[": Kind.PROFILE, "m-model-[": Kind.MODEL, "e-[": Kind.ERROR}


def _floats(body: str) -> tuple[float, ...] | None:
    out = []
    for item in body.split(","):
        item = item.strip()
        if not item or len(item) > 64:
            return None
        try:
            value = float(item)
        except ValueError:
            return None
        if not math.isfinite(value) and item.lower() not in ("nan", "inf", "-inf"):
            return None
        out.append(value)
    return tuple(out)


def parse(line: str) -> Message:
    line = line.strip()
    if not _PRINTABLE.fullmatch(line):
        return Message(Kind.GARBAGE, line)
    if line in _EXACT:
        return Message(_EXACT[line], line)
    for prefix, kind in _NUMBERED.items():
        if line.startswith(prefix):
            digits = line[len(prefix) :]
            if _UINT.fullmatch(digits):
                return Message(kind, line, number=int(digits))
            return Message(Kind.GARBAGE, line)
    if line.startswith("m-timestamp-mode-"):
        return Message(Kind.TIMESTAMP_MODE, line[len("m-timestamp-mode-") :])
    if line.startswith("m-results-["):
        values = _floats(line[len("m-results-[") : -1]) if line.endswith("]") else None
        if values is None:
            return Message(Kind.GARBAGE, line)
        return Message(Kind.RESULTS, line, values=values)
    for prefix, kind in _BRACKETED.items():
        if line.startswith(prefix):
            if not line.endswith("]"):
                return Message(Kind.GARBAGE, line)
            return Message(kind, line[len(prefix) : -1])
    if line.startswith("m-name-"):
        return Message(Kind.NAME, line[len("m-name-") :])
    expecting = _EXPECTING.fullmatch(line)
    if expecting:
        return Message(Kind.EXPECTING, line, number=int(expecting.group(1)))
    if line.startswith("m-buffer-"):
        body = line[len("m-buffer-") :]
        if not _HEX_BYTES.fullmatch(body):
            return Message(Kind.GARBAGE, line)
        return Message(Kind.BUFFER, line, data=bytes.fromhex(body.replace("-", "")))
    return Message(Kind.OTHER, line)


def bracketed(text: str) -> str:
    """`dut-[vendor name]` → `vendor name` (a name reply's part in brackets, if any)."""
    start, end = text.find("["), text.rfind("]")
    return text[start + 1 : end] if 0 <= start < end else text
