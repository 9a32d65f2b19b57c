"""Quality of a variant's outputs: the metric over the dataset, agreement with the reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CLASSIFICATION = ("accuracy", "top_k")


@dataclass(frozen=True)
class Quality:
    metric: str
    value: float
    """accuracy and top-k in percent; MAE/RMSE in the label's units."""


def score(
    metric: str, outputs: npt.NDArray[np.float64], y: npt.NDArray[np.generic], top_k: int = 5
) -> Quality:
    """outputs: (N, K) scores or (N, D) regressions; y: labels (N,) or targets (N, D)."""
    if len(outputs) != len(y):
        raise ValueError(f"{len(outputs)} outputs for {len(y)} labels")
    if metric == "accuracy":
        return Quality(metric, float(np.mean(outputs.argmax(axis=1) == y.reshape(-1)) * 100))
    if metric == "top_k":
        k = min(top_k, outputs.shape[1])
        best = np.argsort(-outputs, axis=1, kind="stable")[:, :k]
        hit = (best == y.reshape(-1, 1)).any(axis=1)
        return Quality(f"top{k}", float(hit.mean() * 100))
    err = outputs.reshape(len(y), -1) - np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if metric == "mae":
        return Quality(metric, float(np.abs(err).mean()))
    if metric == "rmse":
        return Quality(metric, float(np.sqrt((err**2).mean())))
    raise ValueError(f"unknown metric {metric}")


def agreement(
    outputs: npt.NDArray[np.float64], reference: npt.NDArray[np.float64], classification: bool
) -> tuple[float | None, float]:
    """(% of samples whose top-1 equals the reference's, or None for regression; max |error|)."""
    max_abs = float(np.max(np.abs(outputs - reference))) if outputs.size else 0.0
    if not classification:
        return None, max_abs
    same = outputs.argmax(axis=1) == reference.argmax(axis=1)
    return float(same.mean() * 100), max_abs
