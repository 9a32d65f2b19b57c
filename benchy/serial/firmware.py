"""The emulated DUT firmware: MLPerf Tiny commands in, lines out, real TFLite Micro kernels.

No I/O here (emulator.py owns the pty): `handle(command)` returns the lines the reference
firmware would print, ending with `m-ready`. It follows the reference (`internally_implemented.cpp`)
where that is specified — command tokens, `infer N W` defaults 1 and 10, the error texts, the
`db` buffer that appends valid hex pairs before a bad one, the 80-character command buffer (in
emulator.py) — and decides the rest:

- th_load_tensor: the buffer must hold exactly the input tensor's bytes, else `e-[...]` (the
  reference prints an unprefixed line and runs on stale data);
- th_infer: reset the interpreter's state, copy the input in, invoke. TFLite Micro reuses the
  input tensor's memory for activations and keeps LSTM state between invokes, so every inference
  starts from the loaded window, like the host's reference run (the reset costs < 1 µs);
- th_results: the output dequantized to floats with 9 significant digits (float32 round-trips),
  like the reference's float vector; `results="quantized"` prints the raw integers instead;
- timestamps: the host's monotonic clock in µs since boot, wrapped to 32 bits like an MCU timer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchy.errors import TflmError
from benchy.runtimes.tflm import INSTALL_HINT
from benchy.serial import EMULATOR_NAME

MAX_DB_INPUT_SIZE = 27648  # the reference's buffer
U32_MASK = (1 << 32) - 1


def atoi(text: str) -> int:
    """C atoi: optional sign and leading digits; 0 when there are none."""
    text = text.lstrip()
    sign, i = 1, 0
    if text[:1] in "+-" and text[:1]:
        sign, i = (-1 if text[0] == "-" else 1), 1
    j = i
    while j < len(text) and text[j].isdigit() and j - i < 18:
        j += 1
    return sign * int(text[i:j]) if j > i else 0


def tflite_problem(model: Path) -> str | None:
    """Why `model` is not a TFLite flatbuffer (its file identifier, bytes 4..8, is "TFL3")."""
    try:
        with model.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"cannot read it: {exc.strerror}"
    if head[4:8] == b"TFL3":
        return None
    hint = "; ONNX models run on Linux targets, not on MCUs" if model.suffix == ".onnx" else ""
    return f"not a TFLite model (no TFL3 identifier){hint}"


class Firmware:
    def __init__(
        self,
        model: Path,
        name: str = EMULATOR_NAME,
        results: str = "float",
        max_input: int = MAX_DB_INPUT_SIZE,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        try:
            import tflite_micro
            from tflite_micro.python.tflite_micro import runtime
        except ImportError as exc:
            raise TflmError(
                f"the DUT emulator needs tflite-micro ({exc}); {INSTALL_HINT}"
            ) from None
        if results not in ("float", "quantized"):
            raise ValueError(f"results must be float or quantized, not {results!r}")
        problem = tflite_problem(model)
        if problem is not None:
            raise TflmError(f"{model.name}: {problem}")
        try:
            self.interp = runtime.Interpreter.from_file(str(model))
        except Exception as exc:  # hostile bytes fail anywhere in flatbuffers' generated code
            raise TflmError(
                f"TFLite Micro cannot load {model.name}: {type(exc).__name__}: {exc}"
            ) from None
        self.input: dict[str, Any] = self.interp.get_input_details(0)
        self.output: dict[str, Any] = self.interp.get_output_details(0)
        self.in_nbytes = int(np.prod(self.input["shape"])) * np.dtype(self.input["dtype"]).itemsize
        self.name, self.results_mode, self.clock = name, results, clock
        self.model_name = model.stem
        self.profile = f"benchy DUT emulator, tflite-micro {tflite_micro.__version__}"
        self.capacity = max(max_input, self.in_nbytes)
        self.buffer = bytearray(self.capacity)
        self.size = self.pos = 0
        self.boot_ns = clock()

    # ------------------------------------------------------------ board

    def now_us(self) -> int:
        return ((self.clock() - self.boot_ns) // 1000) & U32_MASK

    def reset(self) -> None:
        """Power cycle: the buffer and the timer start over."""
        self.size = self.pos = 0
        self.boot_ns = self.clock()
        self.interp.reset()

    def boot_lines(self) -> list[str]:
        return [
            "m-timestamp-mode-performance",
            f"m-lap-us-{self.now_us()}",
            "m-init-done",
            "m-ready",
        ]

    # ------------------------------------------------------------ commands

    def handle(self, command: str) -> list[str]:
        out: list[str] = []
        tokens = command.split()
        tok = tokens[0] if tokens else ""
        if tok == "name":
            out.append(f"m-name-dut-[{self.name}]")
        elif tok == "timestamp":
            out.append(f"m-lap-us-{self.now_us()}")
        elif tok == "profile":
            out += [f"m-profile-[{self.profile}]", f"m-model-[{self.model_name}]"]
        elif tok == "help":
            out += [self.profile, "name, timestamp, profile, db load N, db HEX, db print,"]
            out.append("infer N [W=10], results")
        elif tok == "db":
            self._db(tokens[1:], out)
        elif tok == "infer":
            self._infer(tokens[1:], out)
        elif tok == "results":
            out.append(self._results())
        else:
            out.append(f"e-[Unknown command: {tok}]")
        out.append("m-ready")
        return out

    def _db(self, args: list[str], out: list[str]) -> None:
        if not args:
            out.append("e-[Command 'db' requires a subcommand]")
        elif args[0] == "load":
            if len(args) < 2:
                out.append("e-[Command 'db load' requires the # of bytes]")
                return
            size = atoi(args[1])
            if size <= 0:
                out.append("e-[Command 'db load' must be >0 bytes]")
                return
            self.pos = 0
            if size > self.capacity:
                out.append(f"Supplied buffer size {size} exceeds maximum of {self.capacity}")
                return
            self.size = size
            out.append(f"m-[Expecting {size} bytes]")
        elif args[0] == "print":
            data = self.buffer[: self.size]
            for i in range(0, len(data), 8):
                out.append("m-buffer-" + "-".join(f"{b:02x}" for b in data[i : i + 8]))
        else:
            self._hex(args[0][:80], out)

    def _hex(self, digits: str, out: list[str]) -> None:
        if len(digits) % 2:
            out.append("e-[Insufficent number of hex digits]")  # sic: the reference's text
            return
        for i in range(0, len(digits), 2):
            pair = digits[i : i + 2]
            if not all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(f"e-[Invalid hex digit '{pair}']")
                return
            if self.pos >= self.capacity:
                out.append("e-[Buffer full]")
                return
            self.buffer[self.pos] = int(pair, 16)
            self.pos += 1
            if self.pos == self.size:
                out.append("m-load-done")
                return

    def _infer(self, args: list[str], out: list[str]) -> None:
        runs, warmups = 1, 10
        if args:
            runs = atoi(args[0])
            if runs <= 0:
                out.append("e-[Inference iterations must be >0]")
                return
            if len(args) > 1:
                warmups = atoi(args[1])
                if warmups < 0:
                    out.append("e-[Inference warmup must be >=0]")
                    return
        if self.pos != self.in_nbytes:
            out.append(f"e-[Input db has {self.pos} bytes, expected {self.in_nbytes}]")
            return
        x = np.frombuffer(bytes(self.buffer[: self.pos]), dtype=self.input["dtype"])
        x = x.reshape(self.input["shape"])
        out.append(f"m-warmup-start-{warmups}")
        for _ in range(warmups):
            self._invoke(x)
        out.append("m-warmup-done")
        out.append(f"m-infer-start-{runs}")
        out.append(f"m-lap-us-{self.now_us()}")
        for _ in range(runs):
            self._invoke(x)
        out.append(f"m-lap-us-{self.now_us()}")
        out.append("m-infer-done")
        out.append(self._results())

    def _invoke(self, x: np.ndarray[Any, Any]) -> None:
        self.interp.reset()
        self.interp.set_input(x, 0)
        self.interp.invoke()

    def outputs(self) -> list[float]:
        """The last inference's output as the host should see it (dequantized floats)."""
        raw = np.asarray(self.interp.get_output(0)).ravel()
        q = self.output.get("quantization_parameters") or {}
        scales, zeros = q.get("scales"), q.get("zero_points")
        if raw.dtype.kind in "iu" and scales is not None and zeros is not None and len(scales) == 1:
            return [float(v) for v in (raw.astype(np.float32) - zeros[0]) * scales[0]]
        return [float(v) for v in raw]

    def _results(self) -> str:
        if self.results_mode == "quantized":
            values = [str(int(v)) for v in np.asarray(self.interp.get_output(0)).ravel()]
        else:
            values = [f"{v:.9g}" for v in self.outputs()]
        return "m-results-[" + ",".join(values) + "]"
