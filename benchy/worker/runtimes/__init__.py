"""Runtimes on the device: one module each, registered by name (the `runtime` of a cell).

A runner loads a model for a cell (delegate, threads, a TFLite signature, the inputs' shapes),
says which delegate really took nodes, describes its inputs and outputs, readies the input
sets, sets one, invokes, feeds state outputs back, and returns an output as floats.
"""

from __future__ import annotations

from typing import Any

from benchy.worker.protocol import RuntimeFacts
from benchy.worker.runtimes.base import Failed, Runner, Unavailable
from benchy.worker.runtimes.onnxruntime import OnnxRunner, onnxruntime_facts
from benchy.worker.runtimes.tflite import TFLiteRunner, tflite_facts

RUNNERS: dict[str, Any] = {"tflite": TFLiteRunner, "onnxruntime": OnnxRunner}

__all__ = ["RUNNERS", "Failed", "Runner", "Unavailable", "availability"]


def availability() -> dict[str, RuntimeFacts]:
    """What the device can run: {name: {"available": bool, "version"..., "reason"...}}."""
    return {"tflite": tflite_facts(), "onnxruntime": onnxruntime_facts()}
