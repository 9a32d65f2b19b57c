"""The input sets a cell cycles through, already in the tensors' shapes and dtypes, one array
per model input: dataset rows (the input's own array), seeded random arrays, or constants
(zeros, ones, a value). Real values go into quantized tensors with the tensor's scale and zero
point. Host and device share this module (the serial target encodes its inputs with it)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchy.worker.protocol import FeedSpec, InputsSpec
from benchy.worker.runtimes.base import Failed, Runner, Tensor, index_of
from benchy.worker.runtimes.tensors import to_tensor

RANDOM_SETS = 8
"""Random arrays per input to cycle through (`count` in the spec)."""


def _random(feed: FeedSpec, tensor: Tensor, position: int, n: int) -> list[Any]:
    """n seeded arrays: uniform reals in [low, high) (quantized if the tensor is), integers in
    low..high for a plain integer tensor, coin flips for a boolean one. Each input has its own
    stream (seed, position), so adding an input does not change another's values."""
    rng = np.random.default_rng([int(feed.get("seed", 0)), position])
    low, high = float(feed.get("low", 0.0)), float(feed.get("high", 1.0))
    kind = np.dtype(tensor.dtype).kind
    shape = tensor.shape
    out = []
    for _ in range(n):
        if kind == "b":
            x: Any = rng.random(shape) < 0.5
        elif kind in "iu" and not tensor.quantized:
            lo, hi = math.ceil(low), math.floor(high)
            x = rng.integers(lo, max(lo, hi), size=shape, endpoint=True)
        else:
            x = rng.uniform(low, high, size=shape)
        out.append(to_tensor(x, tensor))
    return out


def feed_arrays(
    feed: FeedSpec, tensor: Tensor, position: int, data: Any, limit: int | None, n_random: int
) -> list[Any]:
    """The arrays input `tensor` cycles through: one per dataset row, n_random random ones, or
    one constant."""
    source = feed.get("source", "random")
    if source == "dataset":
        rows = data[feed.get("key", "x")]
        return [to_tensor(row, tensor) for row in (rows[:limit] if limit else rows)]
    if source in ("zeros", "ones"):
        return [to_tensor(np.full(tensor.shape, 0.0 if source == "zeros" else 1.0), tensor)]
    if source == "value":
        value = np.broadcast_to(np.asarray(feed["value"]), tensor.shape)
        return [to_tensor(value, tensor)]
    if source == "random":
        return _random(feed, tensor, position, n_random)
    raise Failed("unknown input source %r" % source)


def _feed_for(spec: InputsSpec, tensor: Tensor, position: int) -> FeedSpec:
    for feed in spec.get("feeds") or []:
        if feed.get("name") == tensor.name:
            return feed
    default: FeedSpec = dict(spec.get("default") or {"source": "random"})  # type: ignore[assignment]
    if default.get("source") == "dataset" and position > 0:
        # Earlier suites: the dataset's x feeds the first input; the others are random.
        default = {"source": "random", "low": default.get("low", 0.0),
                   "high": default.get("high", 1.0), "seed": default.get("seed", 0)}  # fmt: skip
    return default


def input_sets(tensors: list[Tensor], spec: InputsSpec) -> list[list[Any]]:
    """One list of arrays (one per model input, in the runner's order) per set: as many sets
    as dataset rows when an input comes from the dataset, else `count` random ones."""
    known = {t.name for t in tensors}
    for feed in spec.get("feeds") or []:
        if feed.get("name") not in known:
            raise Failed(
                "the model has no input %r (it has: %s)"
                % (feed.get("name"), ", ".join(sorted(known)))
            )
    feeds = [_feed_for(spec, t, i) for i, t in enumerate(tensors)]
    limit = int(spec["limit"]) if spec.get("limit") else None
    count = int(spec.get("count", RANDOM_SETS))
    data: Any = None
    n_sets = count
    if any(f.get("source") == "dataset" for f in feeds):
        data = np.load(spec["path"], allow_pickle=False)
        first = next(f for f in feeds if f.get("source") == "dataset")
        n_sets = len(data[first.get("key", "x")])
        n_sets = min(n_sets, limit) if limit else n_sets
    arrays = [
        feed_arrays(f, t, i, data, limit, min(count, n_sets))
        for i, (f, t) in enumerate(zip(feeds, tensors))
    ]
    return [[a[k % len(a)] for a in arrays] for k in range(n_sets)]


def feedback_pairs(runner: Runner, spec: InputsSpec) -> list[tuple[int, int]]:
    """(output index, input index) for each output fed back into an input."""
    return [
        (index_of(runner.outputs, out, "output"), index_of(runner.inputs, inp, "input"))
        for out, inp in (spec.get("feedback") or {}).items()
    ]
