"""The serial line reader and message parser: exact on clean input, never a crash and bounded
memory on anything else (property-based)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchy.serial.lines import LineReader
from benchy.serial.messages import Kind, parse

MAX_LINE, MAX_PENDING = 64, 8


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40))
def test_arbitrary_bytes_never_crash_and_stay_bounded(chunks: list[bytes]) -> None:
    reader = LineReader(MAX_LINE, MAX_PENDING)
    for chunk in chunks:
        reader.feed(chunk)
        assert reader.buffered <= MAX_LINE * (MAX_PENDING + 1)
    while (line := reader.pop()) is not None:
        assert line and len(line) <= MAX_LINE
        assert "\r" not in line and "\n" not in line
        assert isinstance(parse(line).kind, Kind)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    msg = parse(text)
    assert isinstance(msg.kind, Kind)
    if msg.number is not None:
        assert 0 <= msg.number < 10**20


printable_line = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=MAX_LINE
)


@settings(max_examples=200, deadline=None)
@given(st.lists(printable_line, max_size=MAX_PENDING), st.data())
def test_clean_lines_come_out_exactly_however_they_are_split(
    lines: list[str], data: st.DataObject
) -> None:
    stream = "".join(line + "\r\n" for line in lines).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    reader = LineReader(MAX_LINE, MAX_PENDING)
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        reader.feed(stream[a:b])
    got = []
    while (line := reader.pop()) is not None:
        got.append(line)
    assert got == lines


def test_overlong_line_is_dropped_and_the_next_one_survives() -> None:
    reader = LineReader(MAX_LINE, MAX_PENDING)
    reader.feed(b"m-results-[" + b"1," * 100)
    reader.feed(b"2]\r\nm-ready\r\n")
    assert reader.pop() == "m-ready"
    assert reader.pop() is None
    assert reader.dropped_lines == 1


def test_pending_lines_are_bounded() -> None:
    reader = LineReader(MAX_LINE, MAX_PENDING)
    reader.feed(b"m-ready\r\n" * 1000)
    assert sum(1 for _ in iter(reader.pop, None)) == MAX_PENDING
    assert reader.dropped_lines == 1000 - MAX_PENDING


@pytest.mark.parametrize(
    ("line", "kind", "number", "values"),
    [
        ("m-ready", Kind.READY, None, None),
        ("m-init-done", Kind.INIT_DONE, None, None),
        ("m-timestamp-mode-performance", Kind.TIMESTAMP_MODE, None, None),
        ("m-lap-us-4294967295", Kind.LAP, 4294967295, None),
        ("m-lap-us-12a4", Kind.GARBAGE, None, None),
        ("m-lap-us-" + "9" * 40, Kind.GARBAGE, None, None),
        ("m-results-[0.0,0.99609375,1e-3]", Kind.RESULTS, None, (0.0, 0.99609375, 0.001)),
        ("m-results-[0.0,0.9x]", Kind.GARBAGE, None, None),
        ("m-results-[0.0,0.5", Kind.GARBAGE, None, None),
        ("m-results-[-128,127]", Kind.RESULTS, None, (-128.0, 127.0)),
        ("m-[Expecting 600 bytes]", Kind.EXPECTING, 600, None),
        ("m-load-done", Kind.LOAD_DONE, None, None),
        ("m-infer-start-10", Kind.INFER_START, 10, None),
        ("m-warmup-start-0", Kind.WARMUP_START, 0, None),
        ("e-[Invalid hex digit 'zz']", Kind.ERROR, None, None),
        ("Supplied buffer size 99999 exceeds maximum of 27648", Kind.OTHER, None, None),
        ("m-re\ufffddy", Kind.GARBAGE, None, None),
    ],
)
def test_parse_cases(
    line: str, kind: Kind, number: int | None, values: tuple[float, ...] | None
) -> None:
    msg = parse(line)
    assert (msg.kind, msg.number, msg.values) == (kind, number, values)


def test_bracketed_texts() -> None:
    assert parse("m-name-dut-[benchy-emulator]").text == "dut-[benchy-emulator]"
    assert parse("m-profile-[ULPMark for tinyML Firmware V0.0.1]").text == (
        "ULPMark for tinyML Firmware V0.0.1"
    )
    assert parse("e-[Unknown command: foo]").text == "Unknown command: foo"
    assert parse("m-buffer-00-ff-7f").data == b"\x00\xff\x7f"
