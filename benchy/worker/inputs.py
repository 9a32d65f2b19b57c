"""The input sets a cell cycles through, already in the tensors' shapes and dtypes: the dataset's
samples, or seeded uniform random arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchy.worker.protocol import InputsSpec
from benchy.worker.runtimes import Runner


def input_sets(runner: Runner, spec: InputsSpec) -> list[list[Any]]:
    """One list of arrays (one per model input) per set."""
    if spec["kind"] == "dataset":
        data = np.load(spec["path"], allow_pickle=False)
        x = data[spec.get("key", "x")]
        limit = spec.get("limit")
        if limit:
            x = x[: int(limit)]
        return [[runner.prepare_input(0, xi)] for xi in x]
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    low, high = float(spec.get("low", 0.0)), float(spec.get("high", 1.0))
    sets = []
    for _ in range(int(spec.get("count", 8))):
        arrays = []
        for i, meta in enumerate(runner.input_specs()):
            shape = spec.get("shape") or meta["shape"]
            arrays.append(runner.prepare_input(i, rng.uniform(low, high, size=shape)))
        sets.append(arrays)
    return sets
