"""The protobuf wire format, read: enough to walk an ONNX file's messages by field number without
the `onnx` package (https://protobuf.dev/programming-guides/encoding/).

A message is a run of (key, value) pairs; key = field number << 3 | wire type. Wire types: 0
varint, 1 eight bytes, 2 length-delimited (strings, bytes, sub-messages, packed repeated
numbers), 5 four bytes. Groups (3, 4) were deprecated before ONNX existed and are refused.
Length-delimited values are returned as (start, end) into the buffer, never copied, so a large
tensor is skipped at the cost of one varint.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a protobuf message."""


def varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it)."""
    value, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(
    buf: memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value or start, end) of each field of the message in
    buf[start:end]. For wire type 2 the value is the start offset and `end` its end; for the
    others it is the number and `end` is unused (0)."""
    pos, stop = start, len(buf) if end is None else end
    while pos < stop:
        key, pos = varint(buf, pos, stop)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = varint(buf, pos, stop)
            yield number, wire, value, 0
        elif wire == LENGTH:
            size, pos = varint(buf, pos, stop)
            if pos + size > stop:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, wire, pos, pos + size
            pos += size
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > stop:
                raise WireError(f"field {number} runs past the end of its message")
            yield number, wire, int.from_bytes(buf[pos : pos + width], "little"), 0
            pos += width
        else:
            raise WireError(f"wire type {wire} (field {number}) is not used by ONNX")


def signed(value: int) -> int:
    """An int64 field's varint as the signed number (two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def text(buf: memoryview, start: int, end: int) -> str:
    return bytes(buf[start:end]).decode("utf-8", "replace")
