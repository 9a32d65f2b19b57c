"""Calibration samples for static recipes: read once per model, hashed for the cache key."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchy.derive.spec import CalibrationSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationData:
    source: Path
    key: str
    requested: int
    samples: np.ndarray
    """float32, (n, ...): the first `requested` rows of the array (fewer if it has fewer)."""
    sha256: str
    """Of the samples' dtype, shape and bytes: the data the quantizer saw, not the file."""

    def payload(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "key": self.key,
            "samples": len(self.samples),
            "samples_requested": self.requested,
            "sha256": self.sha256,
        }


def digest(samples: np.ndarray) -> str:
    h = hashlib.sha256(f"{samples.dtype.str}{samples.shape}".encode())
    h.update(np.ascontiguousarray(samples).tobytes())
    return h.hexdigest()


def load(spec: CalibrationSpec, dataset: Path | None) -> CalibrationData:
    """The samples `spec` names (config validated that the file and array exist)."""
    path = spec.path or dataset
    if path is None:
        raise ValueError("no calibration source")  # config.py refuses this before any run
    with np.load(path, allow_pickle=False) as data:
        key = spec.key or ("x_calib" if "x_calib" in data.files else "x")
        samples = np.asarray(data[key][: spec.samples], dtype=np.float32)
    if len(samples) < spec.samples:
        log.info("calibrating on the %d samples of %s in %s (%d asked)",
                 len(samples), key, path.name, spec.samples)  # fmt: skip
    return CalibrationData(path, key, spec.samples, samples, digest(samples))
