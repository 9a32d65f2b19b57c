"""Child process for `tflm_arena_bytes`: `python -m benchy.runtimes.tflm_probe MODEL.tflite`.

Loads the model into a TFLite Micro interpreter (recording allocator), runs one inference on
zeros, and prints one JSON line: {"arena_bytes": N} or {"error": ..., "log": ...}. TFLM writes
its allocation record and its errors to C-level stderr; fd 2 is redirected to a file here so they
can be read back.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from typing import Any

import numpy as np

TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
SEARCH_LIMIT = 64 * 1024 * 1024


def _runs(model: bytes, arena: int | None) -> Any:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model, arena_size=arena)
    for i in range(64):
        try:
            detail = interp.get_input_details(i)
        except (RuntimeError, ValueError, IndexError):
            break
        interp.set_input(np.zeros(detail["shape"], dtype=detail["dtype"]), i)
    interp.invoke()
    return interp


def _smallest_arena(model: bytes) -> int:
    """Fallback if TFLM's allocation record is not in the expected words: the smallest arena
    that allocates and runs, by bisection."""

    def fits(size: int) -> bool:
        try:
            _runs(model, size)
        except (RuntimeError, ValueError):
            return False
        return True

    lo, hi = 1, max(4096, len(model) * 10)
    while not fits(hi):
        if hi >= SEARCH_LIMIT:
            raise RuntimeError(f"no arena up to {SEARCH_LIMIT} bytes is enough")
        lo, hi = hi + 1, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def unsupported(model: bytes) -> str | None:
    """Why TFLite Micro cannot run this model correctly, found in its structure. TFLM refuses
    some hybrid ops but allocates others (a hybrid LSTM runs and returns NaN), so allocation
    alone is no proof."""
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    m = runtime.convert_bytearray_to_object(bytearray(model))

    def constant(tensor: Any) -> bool:
        data = m.buffers[tensor.buffer].data if m.buffers else None
        return data is not None and len(data) > 0

    for sg in m.subgraphs or []:
        tensors = sg.tensors or []
        if any(t.type == fb.TensorType.FLOAT16 for t in tensors):
            return "float16 tensors: TFLite Micro has no float16 kernels"
        for op in sg.operators or []:
            ins = [tensors[i] for i in (op.inputs if op.inputs is not None else []) if i >= 0]
            if (
                ins
                and ins[0].type == fb.TensorType.FLOAT32
                and not constant(ins[0])
                and any(t.type == fb.TensorType.INT8 and constant(t) for t in ins[1:])
            ):
                return (
                    "dynamic-range (hybrid) int8 weights on float activations: "
                    "TFLite Micro runs full-integer models only"
                )
    return None


def probe(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        model = fh.read()
    why = unsupported(model)
    if why is not None:
        return {"error": "unsupported", "why": why}
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            try:
                interp = _runs(model, None)
                interp.print_allocations()
                error = None
            except (RuntimeError, ValueError) as exc:
                error = str(exc)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    if error is not None:
        return {"error": error, "log": text[-4000:]}
    found = TOTAL.search(text)
    if found:
        return {"arena_bytes": int(found.group(1)), "how": "recorded"}
    return {"arena_bytes": _smallest_arena(model), "how": "bisected"}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m benchy.runtimes.tflm_probe MODEL.tflite\n")
        return 2
    reply = probe(argv[0])
    sys.stdout.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
