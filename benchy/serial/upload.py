"""Input upload: `db load N%`, then the bytes as `db HEX%` chunks, pipelined.

Hex doubles every byte and each chunk costs `db ` + `%`, so with 31-byte chunks (what the
reference runner sends; 66 characters, inside the DUT's 80-character command buffer) at most
31/66 = 47% of the link's raw byte rate carries input. Stop-and-wait (window 1, the protocol's
rule: wait for `m-ready` before the next command) loses a round trip per chunk on top; with a
window of W chunks in flight the link stays busy. Use a window > 1 only with firmware that
buffers UART input while it parses (a ring buffer or DMA); the emulator does.

The reference DUT appends a chunk's valid hex pairs before it finds a bad one, so a rejected
chunk cannot be sent again alone: the load restarts (`db load N` rewinds the DUT's buffer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchy.errors import DutError, ProtocolError
from benchy.serial.messages import Kind, Message

if TYPE_CHECKING:
    from benchy.serial.client import DutClient

MAX_CHUNK_BYTES = 38  # "db " + 76 hex digits = 79 characters: the reference's 80-char buffer


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def upload(client: DutClient, data: bytes) -> None:
    """One attempt; raises on anything short of a clean, complete load. `db load N` is the
    first command of the pipeline: with a window > 1 the first chunks follow it at once."""
    if not data:
        raise ProtocolError("nothing to upload: the input has 0 bytes")
    parts = chunks(data, client.settings.chunk_bytes)
    commands = [f"db load {len(data)}%".encode("ascii")]
    commands += [b"db " + part.hex().encode("ascii") + b"%" for part in parts]
    window = client.settings.window
    sent = acked = 0
    while acked < len(commands):
        if sent - acked < window and sent < len(commands):
            burst = commands[sent : acked + window]
            client.link.write(b"".join(burst))
            sent += len(burst)
        reply = client.reply(client.settings.timeout_s, "db")
        if acked == 0:
            _check_load(reply, len(data))
        else:
            _check_chunk(reply, acked, len(parts))
        acked += 1
    if client.settings.verify:
        back = b"".join(m.data or b"" for m in client.exchange("db print") if m.kind is Kind.BUFFER)
        if back != data:
            raise ProtocolError("db print% read back different bytes than were sent")


def _check_load(reply: list[Message], size: int) -> None:
    if not any(m.kind is Kind.EXPECTING and m.number == size for m in reply):
        said = "; ".join(m.text for m in reply)[:200] or "nothing"
        raise ProtocolError(f"the DUT did not accept db load {size}: it said {said}")


def _check_chunk(reply: list[Message], index: int, total: int) -> None:
    for m in reply:
        if m.kind is Kind.ERROR:
            raise DutError(f"db chunk {index}/{total}: e-[{m.text}]")
    done = any(m.kind is Kind.LOAD_DONE for m in reply)
    if done != (index == total):
        where = "early" if done else "missing after the last chunk"
        raise ProtocolError(f"m-load-done {where}: bytes were lost or added on the link")
