"""Float data in and out of integer (quantized) TFLite tensors, with each tensor's own scale and
zero point."""

from __future__ import annotations

from typing import Any

import numpy as np


def quant_params(detail: dict[str, Any]) -> tuple[float, int]:
    q: dict[str, Any] = detail.get("quantization_parameters") or {}
    scales = q.get("scales")
    zeros: Any = q.get("zero_points")
    if scales is not None and len(scales) == 1:
        return float(scales[0]), int(zeros[0])
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def to_tensor(x: Any, detail: dict[str, Any]) -> Any:
    dtype = np.dtype(detail["dtype"])
    x = np.asarray(x).reshape(detail["shape"])
    if dtype.kind in "iu":
        scale, zero = quant_params(detail)
        if scale:
            x = np.round(x.astype(np.float64) / scale) + zero
        info = np.iinfo(dtype)
        x = np.clip(x, info.min, info.max)
    return np.ascontiguousarray(x.astype(dtype))


def from_tensor(raw: Any, detail: dict[str, Any]) -> Any:
    if np.dtype(detail["dtype"]).kind in "iu":
        scale, zero = quant_params(detail)
        if scale:
            return (raw.astype(np.float64) - zero) * scale
    return raw.astype(np.float64)
