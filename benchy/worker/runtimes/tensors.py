"""Values in and out of a runner's tensors: real (float) data is quantized into integer tensors
that have a scale, with that tensor's scale and zero point, and dequantized out of them."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchy.worker.runtimes.base import Tensor


def quant_params(detail: dict[str, Any]) -> tuple[float, int]:
    """A TFLite tensor detail's per-tensor scale and zero point ((0, 0): not quantized)."""
    q: dict[str, Any] = detail.get("quantization_parameters") or {}
    scales = q.get("scales")
    zeros: Any = q.get("zero_points")
    if scales is not None and len(scales) == 1:
        return float(scales[0]), int(zeros[0])
    if scales is not None and len(scales) > 1:
        return 0.0, 0
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)


def to_tensor(x: Any, tensor: Tensor) -> Any:
    """Values as `tensor` takes them: its shape and dtype; real values quantized for a quantized
    tensor, integers rounded and clipped to the type's range."""
    dtype = np.dtype(tensor.dtype)
    x = np.asarray(x).reshape(tensor.shape)
    if dtype.kind in "iu" and x.dtype.kind not in "iub":
        x = x.astype(np.float64)
        if tensor.quantized:
            x = x / tensor.scale + tensor.zero_point
        info = np.iinfo(dtype)
        x = np.clip(np.round(x), info.min, info.max)
    elif dtype.kind in "iu" and tensor.quantized:  # integer data for a quantized tensor: reals
        return to_tensor(x.astype(np.float64), tensor)
    return np.ascontiguousarray(x.astype(dtype))


def from_tensor(raw: Any, tensor: Tensor) -> Any:
    """A tensor's values as float64, dequantized when it is quantized."""
    raw = np.asarray(raw)
    if tensor.quantized:
        return (raw.astype(np.float64) - tensor.zero_point) * tensor.scale
    return raw.astype(np.float64)
