"""What every device-side runtime runner offers, and the tensors it describes."""

from __future__ import annotations

from typing import Any, Sequence


class Unavailable(Exception):
    """The runtime (or an ONNX Runtime provider) is not on this device: the cell is reported
    unavailable, which does not fail a run; the model is not at fault."""


class Failed(Exception):
    """The cell asked for something that failed here (a delegate that does not load): an error
    with this message, which fails the run (exit 3)."""


class Tensor:
    """An input or output as the runner feeds or reads it: its name (a TFLite signature's name
    when one is run), the runtime's handle, the concrete shape, the numpy dtype and, for a
    quantized integer tensor, its scale and zero point."""

    def __init__(
        self,
        name: str,
        handle: Any,
        shape: Sequence[int],
        dtype: str,
        scale: float = 0.0,
        zero_point: int = 0,
    ) -> None:
        self.name, self.handle = name, handle
        self.shape = [int(s) for s in shape]
        self.dtype, self.scale, self.zero_point = dtype, float(scale), int(zero_point)

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype.startswith(("int", "uint"))

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def requested_shapes(cell: Any) -> dict[str, list[int]]:
    """Input name → the shape the host resolved for it."""
    feeds = cell["inputs"].get("feeds") or []
    return {f["name"]: list(f["shape"]) for f in feeds if "name" in f and "shape" in f}


def shape_for(name: str, model_dims: Sequence[Any], requested: dict[str, list[int]]) -> list[int]:
    """The shape to feed input `name`: the host's, else the model's when it has no dynamic
    dimension (-1 or a name), else an error (a dynamic dimension is never guessed)."""
    if name in requested:
        return requested[name]
    for axis, dim in enumerate(model_dims):
        if not isinstance(dim, int) or dim < 0:
            raise Failed(
                "input %s has a dynamic dimension (axis %d) and no value: set dims or the "
                "input's shape in the suite" % (name, axis)
            )
    return [int(d) for d in model_dims]


class Runner:
    """A model loaded for one cell, its inputs already at the shapes the cell feeds."""

    module: str
    version: str
    inputs: list[Tensor]
    outputs: list[Tensor]

    def applied(self) -> str:
        """Which delegate or provider really runs the model."""
        raise NotImplementedError

    def input_specs(self) -> list[dict[str, Any]]:
        """[{"name", "shape", "dtype"}] of the inputs as fed."""
        return [t.spec() for t in self.inputs]

    def load(self, sets: list[list[Any]]) -> list[Any]:
        """Ready the input sets (lists of arrays in `inputs` order, `stream` already said);
        returns one handle per set for `set_inputs`. Default: the arrays themselves."""
        return sets

    def set_inputs(self, handle: Any) -> None:
        """Set every input (a set's handle from `load`) but those fed back from an output."""
        raise NotImplementedError

    def invoke(self) -> None:
        raise NotImplementedError

    def output(self, index: int) -> Any:
        """Output `index` as float64 (dequantized)."""
        raise NotImplementedError

    def stream(self, pairs: list[tuple[int, int]]) -> None:
        """From now on output o feeds input i on the next invoke, for each (o, i)."""
        raise NotImplementedError

    def restart(self, arrays: list[Any]) -> None:
        """Start the stream again: the fed-back inputs from `arrays` (their own sources)."""
        raise NotImplementedError

    def feed(self) -> None:
        """After an invoke: each fed-back output becomes its input (outside the timed region)."""
        raise NotImplementedError

    def profile_ops(self, sets: list[list[Any]]) -> dict[str, Any]:
        """A per-op profiling pass after the timed loop over the input sets (arrays in `inputs`
        order, as `input_sets` made them): {"ops": [OpRow], "ops_source": ...}, or
        {"ops_source": "unavailable: <reason>"}."""
        raise NotImplementedError


def index_of(tensors: list[Tensor], name: str | None, what: str) -> int:
    """The position of the tensor called `name` (None: the first)."""
    if name is None:
        return 0
    for i, t in enumerate(tensors):
        if t.name == name:
            return i
    raise Failed(
        "the model has no %s %r (it has: %s)" % (what, name, ", ".join(t.name for t in tensors))
    )
