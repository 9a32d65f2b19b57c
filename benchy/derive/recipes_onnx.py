""".onnx recipes: onnxruntime.quantization (int8, int4) and onnxconverter-common (fp16).

Each named recipe is a preset of the pass-through form below (PRESETS):

- `fp16`: `float16`, i.e. `convert_float_to_float16(keep_io_types=True)`: float16
  initializers, float32 inputs and outputs (Cast at the edges).
- `dynamic_int8`: `quantize_dynamic(weight_type=QInt8)`: int8 weights; ConvInteger,
  MatMulInteger, DynamicQuantizeLSTM quantize activations at run time.
- `int8`: `quantize_static(QDQ, per_channel, QInt8 activations and weights, MinMax)`,
  calibrated: int8 weights and activations (QuantizeLinear/DequantizeLinear pairs), float32
  inputs and outputs.
- `int4_weights`: `matmul_nbits`, i.e. `MatMulNBitsQuantizer(bits=4, block_size=32,
  is_symmetric=True)`: int4 weights of MatMul nodes (MatMulNBits). It quantizes nothing else:
  a model without MatMul gets an error, not a copy of itself.

`onnxruntime = { method = "quantize_static", quant_format = "QOperator", … }` passes the other
keys as keyword arguments, unchanged, to the method: `quantize_static` (benchy supplies the
CalibrationDataReader), `quantize_dynamic`, `matmul_nbits` (MatMulNBitsQuantizer) or `float16`
(onnxconverter-common). Values of `quant_format`, `activation_type`, `weight_type` and
`calibrate_method` name members of QuantFormat, QuantType and CalibrationMethod.

`int8_io` is refused: onnxruntime's quantized graphs take float inputs (QuantizeLinear inside),
and an ONNX graph input holds no scale the worker could quantize a float window with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchy.derive.quantizers import (
    Calibration,
    Quantizer,
    Recipe,
    RecipeError,
    quiet,
    register,
    versions,
)

TOOL = "onnxruntime.quantization"

PRESETS: dict[str, dict[str, Any]] = {
    "fp16": {"method": "float16", "keep_io_types": True},
    "dynamic_int8": {"method": "quantize_dynamic", "weight_type": "QInt8"},
    "int8": {
        "method": "quantize_static",
        "quant_format": "QDQ",
        "per_channel": True,
        "activation_type": "QInt8",
        "weight_type": "QInt8",
        "calibrate_method": "MinMax",
    },
    "int4_weights": {"method": "matmul_nbits", "bits": 4, "block_size": 32, "is_symmetric": True},
}

ENUMS = {
    "quant_format": "QuantFormat",
    "activation_type": "QuantType",
    "weight_type": "QuantType",
    "calibrate_method": "CalibrationMethod",
}
"""Options whose TOML string names a member of an onnxruntime.quantization enum."""

NEEDS = {
    "quantize_static": (("onnxruntime", "onnxruntime"),),
    "quantize_dynamic": (("onnxruntime", "onnxruntime"),),
    "matmul_nbits": (("onnxruntime", "onnxruntime"), ("onnx_ir", "onnx-ir")),
    "float16": (("onnxconverter_common", "onnxconverter-common"),),
}


def _options(recipe: Recipe) -> dict[str, Any]:
    if recipe.name is not None:
        return dict(PRESETS[recipe.name])
    return dict(recipe.options) if isinstance(recipe.options, dict) else {}


def _enums(options: dict[str, Any]) -> dict[str, Any]:
    import onnxruntime.quantization as q

    out = dict(options)
    for key, enum_name in ENUMS.items():
        if isinstance(out.get(key), str):
            enum = getattr(q, enum_name)
            if out[key] not in enum.__members__:
                raise RecipeError(f"{TOOL}: {key} = \"{out[key]}\"; valid: "
                                  f"{', '.join(enum.__members__)}")  # fmt: skip
            out[key] = enum[out[key]]
    return out


def _single_input(model: Any) -> tuple[str, list[int], Any]:
    """(name, shape with symbolic dimensions as 1, numpy dtype) of the graph's one input."""
    import onnx

    constants = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise RecipeError(f"{TOOL}: calibration feeds one input; the graph has {len(inputs)}")
    tensor = inputs[0].type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim]
    return inputs[0].name, shape, onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)


def _reader(source: Path, samples: np.ndarray) -> Any:
    """A CalibrationDataReader over `samples`, each reshaped to the graph input."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

    name, shape, dtype = _single_input(onnx.load(str(source)))
    if samples[0].size != int(np.prod(shape)):
        raise RecipeError(f"{TOOL}: calibration samples have shape {list(samples.shape[1:])}; "
                          f"input {name} takes {shape}")  # fmt: skip
    feeds = iter([{name: x.reshape(shape).astype(dtype)} for x in samples])

    class Reader(CalibrationDataReader):  # type: ignore[misc]  # an untyped base class
        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(feeds, None)

    return Reader()


def _quantize_static(src: Path, dest: Path, kw: dict[str, Any], samples: np.ndarray | None) -> None:
    from onnxruntime.quantization import quantize_static

    if samples is None:
        raise RecipeError(f"{TOOL}: quantize_static calibrates, and the model has no dataset "
                          "or calibration source")  # fmt: skip
    quantize_static(str(src), str(dest), _reader(src, samples), **_enums(kw))


def _quantize_dynamic(src: Path, dest: Path, kw: dict[str, Any], _: np.ndarray | None) -> None:
    from onnxruntime.quantization import quantize_dynamic

    quantize_dynamic(str(src), str(dest), **_enums(kw))


def _matmul_nbits(src: Path, dest: Path, kw: dict[str, Any], _: np.ndarray | None) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    model = onnx.load(str(src))
    before = sorted(n.op_type for n in model.graph.node)
    quantizer = MatMulNBitsQuantizer(model, **_enums(kw))
    quantizer.process()
    if sorted(n.op_type for n in quantizer.model.model.graph.node) == before:
        raise RecipeError(
            f"{TOOL}: MatMulNBitsQuantizer quantized no weight: it takes MatMul and Gather "
            f"nodes with constant weights; this model has {', '.join(sorted(set(before)))}"
        )
    quantizer.model.save_model_to_file(str(dest))


def _float16(src: Path, dest: Path, kw: dict[str, Any], _: np.ndarray | None) -> None:
    import onnx
    from onnxconverter_common import float16

    onnx.save(float16.convert_float_to_float16(onnx.load(str(src)), **kw), str(dest))


METHODS: dict[str, Callable[[Path, Path, dict[str, Any], np.ndarray | None], None]] = {
    "quantize_static": _quantize_static,
    "quantize_dynamic": _quantize_dynamic,
    "matmul_nbits": _matmul_nbits,
    "float16": _float16,
}


@register
class OnnxQuantizer(Quantizer):
    suffix = ".onnx"
    advanced_key = "onnxruntime"

    def refuses(self, recipe: Recipe) -> str | None:
        if recipe.int8_io:
            return (
                "int8_io makes integer inputs and outputs for .tflite (TFLite Micro firmware); "
                f"{TOOL} keeps float32 inputs and outputs (QuantizeLinear inside the graph)"
            )
        method = _options(recipe).get("method")
        if method not in METHODS:
            return (
                f'onnxruntime = {{ method = "..." }} names one of {", ".join(sorted(METHODS))}; '
                f'got "{method}"'
                if isinstance(method, str)
                else f"got {method!r}"
            )
        return None

    def requires(self, recipe: Recipe) -> tuple[tuple[str, str], ...]:
        return (("onnx", "onnx"), *NEEDS[_options(recipe)["method"]])

    def tools(self, recipe: Recipe) -> dict[str, str]:
        method = _options(recipe)["method"]
        if method == "float16":
            return versions("onnxconverter-common", "onnx")
        return versions("onnxruntime", "onnx", *(["onnx-ir"] if method == "matmul_nbits" else []))

    def calibration(self, recipe: Recipe) -> Calibration:
        return "required" if _options(recipe)["method"] == "quantize_static" else "none"

    def derive(self, source: Path, recipe: Recipe, samples: np.ndarray | None, dest: Path) -> None:
        options = _options(recipe)
        method = options.pop("method")
        tool = "onnxconverter-common" if method == "float16" else TOOL
        with quiet(tool):
            METHODS[method](source, dest, options, samples)
