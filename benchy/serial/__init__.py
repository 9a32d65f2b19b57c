"""Serial (MCU) targets: the MLPerf Tiny DUT protocol over a real serial link.

lines.py     bytes → bounded lines (the only parser of raw device bytes)
messages.py  one line → a typed message (`m-ready`, `m-lap-us-N`, `e-[...]`, ...)
ports.py     which device node: a path, or a USB vid:pid / serial number
link.py      the pyserial port: timeouts on every read, reconnect with backoff
client.py    the protocol's commands, with resync, retries and reset recovery
upload.py    `db load N` + pipelined `db HEX` chunks
tensors.py   the model's input/output tensors on the host: quantize, dequantize
measure.py   one cell on a DUT: warmup, per-inference samples, a window, accuracy
firmware.py  the emulated DUT firmware: the protocol over real TFLite Micro kernels
faults.py    fault injection for the emulator
emulator.py  the emulated DUT on a pty pair (a real serial link for pyserial)
"""

from __future__ import annotations

EMULATOR_NAME = "benchy-emulator"
"""What the emulated DUT answers to `name%` (`m-name-dut-[benchy-emulator]`); a DUT whose name
starts with this is labelled emulated in every result."""
