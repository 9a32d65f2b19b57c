"""TFLite Micro: the runtime flashed into MCU firmware, and its RAM need computed on the host.

The `tflm` runtime runs only on serial (MCU) targets: the model is inside the firmware, so there
is nothing to configure here; its one delegate label is "firmware".

`tflm_arena_bytes(path)` is the tensor arena a TFLite Micro interpreter allocates for a model:
the RAM to reserve on the MCU besides code and stack. It is computed with the `tflite-micro`
package in a child process (TFLM prints its allocation record to stderr, C-level, and may abort
on a model it cannot take; neither must reach benchy's terminal). Dynamic-range int8 and float16
variants have no TFLite Micro kernels: those raise TflmError saying so.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

from benchy.errors import TflmError
from benchy.runtimes import Delegate, RuntimeSpec, register
from benchy.tomltable import Table

FIRMWARE = "firmware"
MEMORY_SOURCE = "host TFLM"
INSTALL_HINT = "pip install tflite-micro (wheels exist for Linux x86_64, Python 3.10-3.13)"
PROBE_TIMEOUT_S = 120.0


def parse_delegates(table: Table) -> tuple[Delegate, ...]:
    return (Delegate(FIRMWARE, {"name": FIRMWARE}),)


SPEC = register(
    RuntimeSpec(
        name="tflm",
        extensions=(".tflite",),
        default_delegates=(FIRMWARE,),
        parse_delegates=parse_delegates,
        config_keys=(),
        threaded=False,
    )
)


def tflm_missing() -> str | None:
    """Why TFLite Micro cannot be used on this host, or None when it can."""
    try:
        import tflite_micro  # noqa: F401
    except ImportError as exc:
        return f"tflite-micro is not installed ({exc}); {INSTALL_HINT}"
    return None


def tflm_version() -> str | None:
    try:
        import tflite_micro
    except ImportError:
        return None
    return str(getattr(tflite_micro, "__version__", "unknown"))


def _explain(name: str, log: str) -> str:
    """TFLite Micro's own words, with the usual causes named."""
    if "Hybrid models are not supported" in log:
        why = "dynamic-range (hybrid) int8: TFLite Micro runs full-integer models only"
    elif "DEQUANTIZE" in log and "kTfLiteInt8" in log:
        why = "float16 weights: TFLite Micro has no float16 kernels"
    else:
        lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
        why = "; ".join(lines[-2:]) or "no reason given"
    return f"TFLite Micro cannot run {name}: {why}"


@functools.lru_cache(maxsize=64)
def _arena(path: str, size: int, mtime_ns: int) -> int:
    del size, mtime_ns  # part of the cache key only: a rebuilt model is measured again
    missing = tflm_missing()
    if missing:
        raise TflmError(missing)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchy.runtimes.tflm_probe", path],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise TflmError(f"TFLite Micro took over {PROBE_TIMEOUT_S:.0f} s on {path}") from None
    name = Path(path).name
    try:
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise TflmError(f"TFLite Micro crashed on {name}: {tail[0]}") from None
    if reply.get("why"):
        raise TflmError(f"TFLite Micro cannot run {name}: {reply['why']}")
    if "arena_bytes" not in reply:
        raise TflmError(_explain(name, str(reply.get("log") or reply.get("error") or "")))
    return int(reply["arena_bytes"])


def tflm_arena_bytes(path: Path | str) -> int:
    """Bytes of tensor arena TFLite Micro needs for this model (its RecordingMicroAllocator's
    total after one inference). Raises TflmError when TFLite Micro is missing or cannot run it."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise TflmError(f"cannot read {path}: {exc.strerror}") from None
    return _arena(str(p), st.st_size, st.st_mtime_ns)
