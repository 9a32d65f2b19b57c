"""One cell on a DUT, timed by the DUT's own clock.

1. Upload the first input, one `infer 1 0%` (first_inference_ms).
2. Warmup: `infer 1 W%` runs the W warmups on the DUT in one command; more `infer 1 0%` until
   `warmup_seconds` have passed on the host clock.
3. Per-inference samples: `infer 1 0%` repeated until `min_runs` and `min_seconds` are both
   reached (never beyond `max_runs` or `max_seconds`); each sample is T1 − T0 of that command.
   Host and link time fall outside T0..T1. The input stays loaded (uploading per sample would
   cost the link ~10 ms per KB at 115200 baud for nothing: latency does not depend on values).
4. One window `infer N 0%` of about `min_seconds` on the DUT: its mean (T1 − T0)/N is the
   reference runner's figure, free of any per-command cost inside the firmware.
5. Accuracy (when asked): every dataset input uploaded, `infer 1 0%`, `m-results-[...]`.
"""

from __future__ import annotations

import math
import statistics
import time

from benchy.errors import CellTimeout
from benchy.serial.client import DutClient
from benchy.serial.tensors import ModelIO
from benchy.worker.protocol import CellResult, MeasureSpec
from benchy.worker.stopping import enough


class _Clock:
    def __init__(self, deadline: float, timeout_s: float) -> None:
        self.deadline, self.timeout_s = deadline, timeout_s

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise CellTimeout(f"cell exceeded {self.timeout_s:.0f} s")


def measure(
    client: DutClient,
    io: ModelIO,
    inputs: list[bytes],
    m: MeasureSpec,
    collect_outputs: bool,
    timeout_s: float,
    quantized_results: bool,
) -> CellResult:
    clock = _Clock(time.monotonic() + timeout_s, timeout_s)
    n_out = io.output.size
    reply_s = client.settings.timeout_s
    t = time.monotonic()
    client.load(inputs[0])
    upload_s = time.monotonic() - t
    first = client.infer(1, 0, outputs=n_out)
    per_s = max(first.elapsed_us, 1) / 1e6

    warm_start = time.monotonic()
    warm_n = 0
    warmups = int(m["warmup_runs"])
    if warmups > 0:
        client.infer(1, warmups, timeout=reply_s + 3 * (warmups + 1) * per_s, outputs=n_out)
        warm_n = warmups + 1
    while time.monotonic() - warm_start < float(m["warmup_seconds"]):
        clock.check()
        client.infer(1, 0, outputs=n_out)
        warm_n += 1
    warmup_s = time.monotonic() - warm_start

    min_runs, max_runs = int(m["min_runs"]), int(m["max_runs"])
    start = time.monotonic()
    min_end, max_end = start + float(m["min_seconds"]), start + float(m["max_seconds"])
    samples: list[int] = []
    while True:
        clock.check()
        samples.append(client.infer(1, 0, outputs=n_out).elapsed_us * 1000)
        if enough(len(samples), time.monotonic(), min_runs, max_runs, min_end, max_end):
            break
    window_s = time.monotonic() - start

    median_s = max(statistics.median(samples) / 1e9, 1e-6)
    runs = math.ceil(float(m["min_seconds"]) / median_s)
    runs = max(1, min(runs, max_runs, math.floor(float(m["max_seconds"]) / median_s) or 1))
    clock.check()
    window = client.infer(runs, 0, timeout=reply_s + 3 * runs * median_s, outputs=n_out)

    outputs = None
    out_start = time.monotonic()
    if collect_outputs:
        outputs = []
        for x in inputs:
            clock.check()
            client.load(x)
            reply = client.infer(1, 0, outputs=n_out)
            outputs.append(io.decode(reply.results, quantized_results))
    return {
        "status": "ok",
        "samples_ns": samples,
        "window_s": window_s,
        "warmup_runs": warm_n,
        "warmup_s": warmup_s,
        "first_inference_ms": first.elapsed_us / 1000,
        "outputs_s": time.monotonic() - out_start,
        "outputs": outputs,
        "extra": {
            "dut_window_mean_ms": window.elapsed_us / runs / 1000,
            "dut_window_runs": runs,
            "upload_bytes_per_s": len(inputs[0]) / upload_s if upload_s > 0 else None,
        },
    }
