"""`benchy ab`'s paired latency: the candidate's cell and its baseline partner loaded in one
worker process and timed in alternating blocks of a few milliseconds, so that both see the
machine's speed of the same moments.

Why: on a shared 2-vCPU machine a process's speed changes by 10-40% from one moment to the
next (the host's time phases); two processes run back to back land more than 3% apart in about
a third of rounds, so a 2-thread cell's shift between them is blurred beyond a 10% gate. Timed in
alternating blocks within one process, the two models' medians of a round agree to ~1% (A/A,
benchmarks: README "Performance").

ONNX Runtime: the two sessions share one intra-op thread pool of the cell's size (two pools of
spinning threads would contend for the cores and measure each other). TFLite: each interpreter
keeps its own (XNNPACK's threads sleep between invokes)."""

from __future__ import annotations

import time

from benchy.worker.measure import Loaded, injected_fault
from benchy.worker.protocol import CellRequest, CellResult, MeasureSpec
from benchy.worker.runtimes import RUNNERS

BLOCK_NS = 5_000_000
"""A block: invokes of one model until this long has passed (at least one)."""


def measure_pair(cell: CellRequest) -> CellResult:
    """Time `cell` and its `partner` alternately in this process (errors raise)."""
    injected_fault(cell, "pair")
    own: CellRequest = {**cell}
    partner: CellRequest = {**own.pop("partner")}
    if cell["runtime"] == "onnxruntime":
        from benchy.worker.runtimes.onnxruntime import share_thread_pool

        share_thread_pool(int(cell["threads"]))
        own["shared_threads"] = partner["shared_threads"] = True
    # Which model loads and times first alternates by round (`partner_first`), so that neither
    # side always has the first block or the first allocation.
    first = bool(cell.get("partner_first", True))
    order = (partner, own) if first else (own, partner)
    loaded = [Loaded.of(RUNNERS[c["runtime"]](c), c) for c in order]
    # The pair takes about one process's time: each model half of the warmup and timed seconds
    # (and its full count of runs).
    m = cell["measure"]
    half: MeasureSpec = {**m, "warmup_seconds": float(m["warmup_seconds"]) / 2,
                         "min_seconds": float(m["min_seconds"]) / 2}  # fmt: skip
    for model in loaded:
        model.first_invoke()
        model.warm_up(half)
    one, other = alternating(loaded, half)
    partner_ns, own_ns = (one, other) if first else (other, one)
    return {"status": "ok", "partner_ns": partner_ns, "samples_ns": own_ns}


def alternating(loaded: list[Loaded], m: MeasureSpec) -> tuple[list[int], list[int]]:
    """Timed invokes of each model in turn, a block of BLOCK_NS each, until each model has what
    one worker process of it would have (min_runs, and min_seconds of its own blocks) or its
    max_runs, or max_seconds per model have passed. A model at max_runs sits its turns out."""
    clock = time.perf_counter_ns
    samples: list[list[int]] = [[] for _ in loaded]
    spent = [0] * len(loaded)  # each model's blocks, wall time
    max_end = clock() + int(float(m["max_seconds"]) * 1e9) * len(loaded)
    min_ns = int(float(m["min_seconds"]) * 1e9)
    min_runs, max_runs = int(m["min_runs"]), int(m["max_runs"])
    while True:
        for k, model in enumerate(loaded):
            own, runner = samples[k], model.runner
            if len(own) >= max_runs:
                continue
            block_start = clock()
            while True:
                runner.set_inputs(model.sets[len(own) % len(model.sets)])  # outside the timing
                a = clock()
                runner.invoke()
                b = clock()
                own.append(b - a)
                if model.feed is not None:
                    model.feed()
                if b - block_start >= BLOCK_NS or len(own) >= max_runs:
                    break
            spent[k] += clock() - block_start
        done = (
            len(s) >= max_runs or (len(s) >= min_runs and t >= min_ns)
            for s, t in zip(samples, spent)
        )
        if all(done) or clock() >= max_end:
            return samples[0], samples[1]
