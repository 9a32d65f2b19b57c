""".tflite recipes: ai-edge-quantizer (Google's quantizer for LiteRT models; it needs
ai-edge-litert, not TensorFlow).

- `fp16`: weight-only FLOAT_CASTING to 16 bits: float16 weights, DEQUANTIZE to float kernels.
- `dynamic_int8`: `recipe.dynamic_wi8_afp32()`: int8 weights; the kernels quantize
  activations at run time.
- `int8`: `recipe.static_wi8_ai8()`, calibrated: int8 weights and activations. Inputs and
  outputs stay float32 (QUANTIZE/DEQUANTIZE at the edges: NO_QUANTIZE on the INPUT and OUTPUT
  virtual ops) unless `int8_io = true`: then they are int8, as TFLite Micro firmware takes.
- `int4_weights`: `recipe.weight_only_wi4_afp32()`: int4 weights, DEQUANTIZE to float kernels.

`ai_edge_quantizer = [...]` passes a recipe (the JSON list `Quantizer.load_quantization_recipe`
takes) through unchanged; `ai_edge_quantizer = "static_wi8_ai16"` names a function of
`ai_edge_quantizer.recipe`. ai-edge-quantizer 0.10 quantizes FULLY_CONNECTED, CONV_2D and
their kin but not UNIDIRECTIONAL_SEQUENCE_LSTM: an LSTM op stays float in every recipe.
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

TOOL = "ai-edge-quantizer"


def _fp16(qt: Any, recipe: Recipe) -> None:
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    qt.add_weight_only_config(
        ".*", qtyping.TFLOperationName.ALL_SUPPORTED, 16, algorithm_key=AlgorithmName.FLOAT_CASTING
    )


def _dynamic_int8(qt: Any, recipe: Recipe) -> None:
    from ai_edge_quantizer import recipe as recipes

    qt.load_quantization_recipe(recipes.dynamic_wi8_afp32())


def _int8(qt: Any, recipe: Recipe) -> None:
    from ai_edge_quantizer import qtyping
    from ai_edge_quantizer import recipe as recipes
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    qt.load_quantization_recipe(recipes.static_wi8_ai8())
    if not recipe.int8_io:
        for edge in (qtyping.TFLOperationName.INPUT, qtyping.TFLOperationName.OUTPUT):
            qt.update_quantization_recipe(".*", edge, None, AlgorithmName.NO_QUANTIZE)


def _int4_weights(qt: Any, recipe: Recipe) -> None:
    from ai_edge_quantizer import recipe as recipes

    qt.load_quantization_recipe(recipes.weight_only_wi4_afp32())


def _passed_through(qt: Any, recipe: Recipe) -> None:
    from ai_edge_quantizer import recipe as recipes

    options = recipe.options
    if isinstance(options, str):
        make = getattr(recipes, options, None)
        if not callable(make) or options.startswith("_"):
            known = sorted(
                n
                for n in dir(recipes)
                if n.islower() and not n.startswith("_") and callable(getattr(recipes, n))
            )
            raise RecipeError(f'{TOOL}: no recipe "{options}" in ai_edge_quantizer.recipe; '
                              f"it has: {', '.join(known)}")  # fmt: skip
        options = make()
    qt.load_quantization_recipe(options)


NAMED: dict[str, Callable[[Any, Recipe], None]] = {
    "fp16": _fp16,
    "dynamic_int8": _dynamic_int8,
    "int8": _int8,
    "int4_weights": _int4_weights,
}


def _calibrate(qt: Any, source: Path, samples: np.ndarray) -> Any:
    """Calibration results over `samples`, through the model's one signature and one input.

    One window per `calibrate` call: each call builds a fresh interpreter, so stateful ops (a
    fused LSTM keeps its state across invokes) start every window from zero state, as benchy's
    worker runs them. A single call would carry the state from one window into the next."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(source))
    signatures = interp.get_signature_list()
    if len(signatures) != 1:
        raise RecipeError(f"{TOOL}: calibration needs exactly one signature; the model has "
                          f"{len(signatures)}")  # fmt: skip
    key, signature = next(iter(signatures.items()))
    if len(signature["inputs"]) != 1:
        raise RecipeError(f"{TOOL}: calibration feeds one input; signature {key} has "
                          f"{len(signature['inputs'])}")  # fmt: skip
    name = signature["inputs"][0]
    detail = interp.get_signature_runner(key).get_input_details()[name]
    shape, dtype = [int(s) for s in detail["shape"]], detail["dtype"]
    if samples[0].size != int(np.prod(shape)):
        raise RecipeError(f"{TOOL}: calibration samples have shape {list(samples.shape[1:])}; "
                          f"input {name} takes {shape}")  # fmt: skip
    result = None
    for x in samples:
        window = {name: x.reshape(shape).astype(dtype)}
        result = qt.calibrate({key: [window]}, previous_calibration_result=result)
    return result


@register
class AiEdgeQuantizer(Quantizer):
    suffix = ".tflite"
    advanced_key = "ai_edge_quantizer"

    def requires(self, recipe: Recipe) -> tuple[tuple[str, str], ...]:
        return (("ai_edge_quantizer", TOOL),)

    def tools(self, recipe: Recipe) -> dict[str, str]:
        return versions(TOOL, "ai-edge-litert")  # LiteRT runs the calibration

    def calibration(self, recipe: Recipe) -> Calibration:
        if recipe.name is None:
            return "optional"  # the recipe says: Quantizer.need_calibration
        return "required" if recipe.name == "int8" else "none"

    def derive(self, source: Path, recipe: Recipe, samples: np.ndarray | None, dest: Path) -> None:
        with quiet(TOOL):
            from ai_edge_quantizer import quantizer

            qt = quantizer.Quantizer(str(source))
            load = NAMED[recipe.name] if recipe.name else _passed_through
            load(qt, recipe)
            calibrated = None
            if qt.need_calibration:
                if samples is None:
                    raise RecipeError(f"{TOOL}: the recipe calibrates, and the model has no "
                                      "dataset or calibration source")  # fmt: skip
                calibrated = _calibrate(qt, source, samples)
            qt.quantize(calibrated, enable_progress_report=False).export_model(str(dest))
