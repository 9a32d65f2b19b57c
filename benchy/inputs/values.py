"""Whether numbers from a suite fit an input's element type, as the worker will store them.

A quantized input (an integer tensor with a scale) takes real values, quantized with its scale
and zero point (what the worker does with dataset and random values too); any other integer
input takes integers in its type's range; float16 and float32 inputs take what does not
overflow to infinity; booleans take true/false or 0/1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchy.modelinfo import TensorInfo


def _range_text(dtype: np.dtype[Any]) -> str:
    info = np.iinfo(dtype)
    return f"{info.min}..{info.max}"


def fit_problem(values: Any, tensor: TensorInfo) -> str | None:
    """Why these values (a number, a bool or nested lists) cannot be input `tensor`, or None."""
    array = np.asarray(values)
    name = f'input "{tensor.name}" ({tensor.dtype})'
    if tensor.dtype == "bool":
        if array.dtype.kind != "b" and not np.isin(array, (0, 1)).all():
            return f"{name} takes true/false (or 0/1)"
        return None
    dtype = np.dtype(tensor.dtype)
    if tensor.quantized:
        q = np.round(array.astype(np.float64) / tensor.scale) + tensor.zero_point
        if q.size and (q.min() < np.iinfo(dtype).min or q.max() > np.iinfo(dtype).max):
            return (
                f"{name} is quantized (scale {tensor.scale:.6g}, zero point {tensor.zero_point}):"
                f" real values from {(np.iinfo(dtype).min - tensor.zero_point) * tensor.scale:.6g}"
                f" to {(np.iinfo(dtype).max - tensor.zero_point) * tensor.scale:.6g} fit"
            )
        return None
    if dtype.kind in "iu":
        if array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
            return f"{name} takes integers"
        if array.size and (array.min() < np.iinfo(dtype).min or array.max() > np.iinfo(dtype).max):
            return f"{name} takes {_range_text(dtype)}"
        return None
    if dtype.kind == "f":
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        top = np.finfo(dtype).max
        if finite.size and np.abs(finite.astype(np.float64)).max() > top:
            return f"{name} takes magnitudes up to {float(top):.6g}"
    return None
