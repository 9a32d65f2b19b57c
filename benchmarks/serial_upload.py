"""Input upload rate over a serial link vs the link's raw capacity (run on demand; figures go
into the README).

    python benchmarks/serial_upload.py [--baud 115200] [--uploads 10]

The emulated DUT (real TFLite Micro, on a pty) paces both directions to baud/10 bytes/s, 8N1
framing, as a UART would: a pty itself has no baud rate, so unpaced figures would only measure
the kernel's pty copy. Uploads the wearable CNN's input (600 int8 bytes) with `db load` + `db HEX`
chunks, stop-and-wait (window 1, the protocol's rule) and pipelined (windows 2..8), and reports
payload bytes/s against baud/10. Hex doubles every byte and each chunk adds `db ` and `%`: with
31-byte chunks the ceiling is 31/66 = 47% of baud/10, with 38-byte chunks 38/80 = 47.5%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchy.serial.client import ClientSettings, DutClient
from benchy.serial.emulator import DutEmulator
from benchy.serial.link import SerialLink
from benchy.serial.ports import PortSpec
from benchy.serial.tensors import ModelIO

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "suites" / "models" / "cnn_full_int8.tflite"
DATA = ROOT / "suites" / "data" / "basicmotions.npz"


def rate(port: str, baud: int, chunk: int, window: int, data: bytes, uploads: int) -> float:
    link = SerialLink(PortSpec(path=port), baud, 5.0)
    link.open()
    client = DutClient(link, ClientSettings(timeout_s=5.0, chunk_bytes=chunk, window=window))
    client.sync()
    client.load(data)  # once untimed: first-use costs out of the figure
    start = time.perf_counter()
    for _ in range(uploads):
        client.load(data)
    elapsed = time.perf_counter() - start
    assert client.stats.retries == 0
    link.close()
    return len(data) * uploads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--uploads", type=int, default=10)
    args = parser.parse_args()
    data = ModelIO.from_tflite(MODEL).inputs({"kind": "dataset", "path": str(DATA), "limit": 1})[0]
    raw = args.baud / 10
    print(f"link: {args.baud} baud = {raw:.0f} bytes/s raw (8N1); input: {len(data)} bytes")
    print(f"{'chunk':>5} {'window':>6} {'bytes/s':>9} {'of raw':>7} {'of hex cap':>10}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        DutEmulator(MODEL, baud=args.baud, link=Path(tmp) / "dut") as emu,
    ):
        for chunk in (31, 38):
            cap = chunk / (len("db %") + 2 * chunk)
            for window in (1, 2, 4, 8):
                r = rate(emu.port, args.baud, chunk, window, data, args.uploads)
                print(f"{chunk:>5} {window:>6} {r:>9.0f} {r / raw:>7.1%} {r / raw / cap:>10.1%}")


if __name__ == "__main__":
    main()
