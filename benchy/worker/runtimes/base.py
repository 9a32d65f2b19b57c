"""What every device-side runtime runner offers."""

from __future__ import annotations

from typing import Any


class Unavailable(Exception):
    """The runtime (or an ONNX Runtime provider) is not on this device: the cell is reported
    unavailable, which does not fail a run; the model is not at fault."""


class Failed(Exception):
    """The cell asked for something that failed here (a delegate that does not load): an error
    with this message, which fails the run (exit 3)."""


class Runner:
    """A model loaded for one cell."""

    module: str
    version: str

    def applied(self) -> str:
        """Which delegate or provider really runs the model."""
        raise NotImplementedError

    def input_specs(self) -> list[dict[str, Any]]:
        """[{"name", "shape", "dtype"}] of the model's inputs."""
        raise NotImplementedError

    def prepare_input(self, index: int, x: Any) -> Any:
        """A float array as input `index` takes it (shape, dtype, quantization)."""
        raise NotImplementedError

    def set_inputs(self, arrays: list[Any]) -> None:
        raise NotImplementedError

    def invoke(self) -> None:
        raise NotImplementedError

    def first_output(self) -> Any:
        """The first output as float64."""
        raise NotImplementedError

    def profile_ops(self, sets: list[Any]) -> dict[str, Any]:
        """A per-op profiling pass after the timed loop: {"ops": [OpRow], "ops_source": ...},
        or {"ops_source": "unavailable: <reason>"}."""
        raise NotImplementedError
