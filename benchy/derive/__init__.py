"""Derived variants: one fp32 model in, its quantized variants out (issue 13).

    spec.py            `derive = [...]`, `calibration = {...}` → typed specs (called by config.py)
    quantizers.py      the registry: one quantizer per model format; Recipe, RecipeError
    recipes_tflite.py  .tflite: ai-edge-quantizer (no TensorFlow)
    recipes_onnx.py    .onnx: onnxruntime.quantization, onnxconverter-common (fp16)
    calibration.py     calibration samples, hashed
    cache.py           content-addressed cache ($XDG_CACHE_HOME/benchy/variants), atomic writes
    variants.py        derive_variants(suite, out_dir) → suite with the variants + provenance

This file imports nothing: config.py imports spec.py, and variants.py imports config.py.
"""
