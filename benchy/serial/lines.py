"""Raw device bytes → text lines, with hard bounds on memory.

A DUT ends lines with `\\r\\n`; a noisy link drops or flips bytes, so either `\\r` or `\\n` ends a
line and empty lines are skipped. A line longer than `max_line` bytes is dropped whole (up to its
end), and at most `max_pending` complete lines are kept before the oldest are dropped: whatever
arrives, the reader holds at most about `max_line × (max_pending + 1)` bytes. Bytes that are not
ASCII come out as U+FFFD, so the message parser can call such a line garbage.
"""

from __future__ import annotations

import re
from collections import deque

MAX_LINE = 16 * 1024  # an m-results line of ~1000 classes fits
MAX_PENDING = 256
_BREAK = re.compile(rb"[\r\n]")


class LineReader:
    """Feed it bytes as they arrive; pop complete lines."""

    def __init__(self, max_line: int = MAX_LINE, max_pending: int = MAX_PENDING) -> None:
        if max_line < 1 or max_pending < 1:
            raise ValueError("max_line and max_pending must be ≥ 1")
        self.max_line, self.max_pending = max_line, max_pending
        self._partial = bytearray()
        self._skipping = False  # inside an overlong line: drop until its end
        self._lines: deque[str] = deque()
        self.dropped_bytes = 0
        self.dropped_lines = 0

    @property
    def buffered(self) -> int:
        """Bytes held: the partial line plus pending lines (for the memory bound)."""
        return len(self._partial) + sum(len(line) for line in self._lines)

    def feed(self, data: bytes) -> None:
        pieces = _BREAK.split(data)
        for i, piece in enumerate(pieces):
            ended = i < len(pieces) - 1
            self._take(piece, ended)

    def _take(self, piece: bytes, ended: bool) -> None:
        if self._skipping:
            self.dropped_bytes += len(piece)
            self._skipping = not ended
            return
        if len(self._partial) + len(piece) > self.max_line:
            self.dropped_bytes += len(self._partial) + len(piece)
            self.dropped_lines += 1
            self._partial.clear()
            self._skipping = not ended
            return
        self._partial += piece
        if ended:
            if self._partial:
                self._push(self._partial.decode("ascii", "replace"))
            self._partial.clear()

    def _push(self, line: str) -> None:
        if len(self._lines) >= self.max_pending:
            dropped = self._lines.popleft()
            self.dropped_bytes += len(dropped)
            self.dropped_lines += 1
        self._lines.append(line)

    def pop(self) -> str | None:
        return self._lines.popleft() if self._lines else None

    def clear(self) -> None:
        self._partial.clear()
        self._lines.clear()
        self._skipping = False
