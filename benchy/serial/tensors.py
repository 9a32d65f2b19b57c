"""The model's input and output tensors, read on the host from the .tflite file.

The DUT takes its input as raw bytes in the input tensor's type: inputs are made as the worker
makes them (benchy/worker/inputs.py: float data quantized with the tensor's own scale and zero
point, read with ai_edge_litert's Interpreter, which is already a benchy dependency). Results
a firmware prints as raw integers are dequantized with the output tensor's parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchy.errors import ProtocolError
from benchy.worker.inputs import input_sets
from benchy.worker.protocol import InputsSpec
from benchy.worker.runtimes.base import Tensor


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def quantized(self) -> bool:
        return self.dtype.kind in "iu" and self.scale != 0.0


def _spec(detail: dict[str, Any]) -> TensorSpec:
    q = detail.get("quantization_parameters") or {}
    scales, zeros = q.get("scales"), q.get("zero_points")
    if scales is not None and zeros is not None and len(scales) == 1:
        scale, zero = float(scales[0]), int(zeros[0])
    else:
        raw_scale, raw_zero = detail.get("quantization", (0.0, 0))
        scale, zero = float(raw_scale), int(raw_zero)
    shape = tuple(int(s) for s in detail["shape"])
    return TensorSpec(shape, np.dtype(detail["dtype"]), scale, zero)


@dataclass(frozen=True)
class ModelIO:
    input: TensorSpec
    output: TensorSpec

    @classmethod
    def from_tflite(cls, path: Path | str) -> ModelIO:
        from ai_edge_litert.interpreter import Interpreter

        try:
            interp = Interpreter(model_path=str(path))
        except (ValueError, RuntimeError) as exc:
            raise ProtocolError(f"cannot read {Path(path).name} on the host: {exc}") from None
        inputs, outputs = interp.get_input_details(), interp.get_output_details()
        if len(inputs) != 1:
            raise ProtocolError(
                f"{Path(path).name} has {len(inputs)} inputs; the MLPerf Tiny protocol carries one"
            )
        return cls(_spec(inputs[0]), _spec(outputs[0]))

    def decode(self, values: Sequence[float], quantized: bool) -> list[float]:
        """The DUT's results → floats: as printed, or dequantized if it printed raw integers."""
        out = self.output
        if quantized and out.quantized:
            return [(float(v) - out.zero_point) * out.scale for v in values]
        return [float(v) for v in values]

    def inputs(self, spec: InputsSpec) -> list[bytes]:
        """The cell's inputs (its InputsSpec, made as the worker makes them: benchy/worker/
        inputs.py) as the input tensor's bytes, little-endian, for the DUT. The firmware's one
        input takes the first feed, whatever the suite calls it."""
        spec_in = self.input
        feeds = spec.get("feeds") or []
        name = feeds[0].get("name", "input") if feeds else "input"
        tensor = Tensor(name, 0, spec_in.shape, spec_in.dtype.name, spec_in.scale,
                        spec_in.zero_point)  # fmt: skip
        little = spec_in.dtype.newbyteorder("<")
        return [
            np.ascontiguousarray(s[0].astype(little)).tobytes() for s in input_sets([tensor], spec)
        ]
