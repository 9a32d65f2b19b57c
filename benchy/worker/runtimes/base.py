"""What every device-side runtime runner offers."""

from __future__ import annotations

from typing import Any


class Unavailable(Exception):
    """The cell cannot run here (missing runtime, provider, delegate); the model is not at fault."""


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
