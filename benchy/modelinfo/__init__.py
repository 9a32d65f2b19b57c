"""What a model file holds, read on the host without running it: its inputs and outputs (names,
shapes with the dynamic dimensions marked, element types, quantization), op counts by type, a
TFLite model's signatures, an ONNX model's external data files.

tflite.py   the flatbuffer, through LiteRT's generated schema (ai_edge_litert, a dependency)
onnx.py     the protobuf, through protowire.py: a small reader of the wire format, so that
            neither the `onnx` package nor the weights are needed (external data is not read)

`read_model` is cached by file identity (path, size, mtime): a suite's checks, its requests and
`benchy inspect` read each file once.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchy import exitcodes
from benchy.errors import BenchyError

Dim = int | str | None
"""A dimension: a fixed size, a symbolic name (ONNX `dim_param`), or None (dynamic, unnamed)."""

FEEDABLE = (
    "float32", "float16", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool",
)  # fmt: skip
"""Element types benchy can make inputs of (numpy has them)."""


class ModelError(BenchyError):
    """The file cannot be read as a model of its format (given on the command line: exit 2)."""

    exit_code = exitcodes.USAGE


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    """numpy's name for the element type (float32, int64, bool…), or the format's own name for
    a type numpy lacks (bfloat16, string, sequence…)."""
    dims: tuple[Dim, ...] | None
    """None: the model does not say the rank."""
    scale: float = 0.0
    zero_point: int = 0
    per_axis: bool = False
    """Quantized per channel (several scales): shown, not used for inputs."""

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and self.dtype.startswith(("int", "uint"))

    def dim_name(self, axis: int) -> str:
        """How `dims` and `--dim` name a dynamic dimension: its symbolic name, else
        INPUT[AXIS] (TFLite's dynamic dimensions have no names)."""
        assert self.dims is not None
        dim = self.dims[axis]
        return dim if isinstance(dim, str) else f"{self.name}[{axis}]"

    def dynamic(self) -> list[tuple[int, str]]:
        """(axis, name) of every dynamic dimension."""
        if self.dims is None:
            return []
        return [(a, self.dim_name(a)) for a, d in enumerate(self.dims) if not isinstance(d, int)]

    def shape_text(self) -> str:
        """[1, batch, ?] — fixed sizes, symbolic names, `?` for unnamed dynamic ones."""
        if self.dims is None:
            return "unknown rank"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.dims) + "]"

    def quantization_text(self) -> str:
        if self.per_axis:
            return "per-axis"
        return f"scale {self.scale:.6g}, zero point {self.zero_point}" if self.quantized else ""

    def payload(self) -> dict[str, object]:
        """For `benchy inspect --json`."""
        quant = None
        if self.quantized:
            quant = {"scale": self.scale, "zero_point": self.zero_point}
        elif self.per_axis:
            quant = {"per_axis": True}
        return {
            "name": self.name,
            "shape": None if self.dims is None else list(self.dims),
            "dtype": self.dtype,
            "quantization": quant,
        }


@dataclass(frozen=True)
class IOInfo:
    """The inputs and outputs of a graph (or of a TFLite signature, by its names)."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def input(self, name: str) -> TensorInfo | None:
        return next((t for t in self.inputs if t.name == name), None)

    def output(self, name: str) -> TensorInfo | None:
        return next((t for t in self.outputs if t.name == name), None)

    def dynamic_dims(self) -> dict[str, list[str]]:
        """Dimension name → where it occurs (`input[axis]`), over every input."""
        out: dict[str, list[str]] = {}
        for t in self.inputs:
            for axis, name in t.dynamic():
                out.setdefault(name, []).append(f"{t.name}[{axis}]")
        return out


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    format: str  # "tflite" | "onnx"
    io: IOInfo
    """The model's own inputs and outputs (a TFLite model's first subgraph)."""
    ops: dict[str, int]
    file_bytes: int
    signatures: dict[str, IOInfo] = field(default_factory=dict)
    """TFLite signatures by key, their inputs and outputs named by the signature."""
    external_data: tuple[str, ...] = ()
    """ONNX: the files holding tensors outside the model, as the model names them (relative to
    its folder)."""
    facts: dict[str, str] = field(default_factory=dict)

    def data_files(self) -> list[Path]:
        return [self.path.parent / location for location in self.external_data]

    @property
    def size_bytes(self) -> int:
        """The model file and its external data files."""
        return self.file_bytes + sum(p.stat().st_size for p in self.data_files() if p.is_file())

    def io_for(self, signature: str | None) -> IOInfo:
        """The inputs and outputs a cell feeds: a TFLite signature's when one is chosen."""
        if signature is None or self.format != "tflite":
            return self.io
        return self.signatures[signature]


READERS: dict[str, Callable[[Path], ModelInfo]] = {}
"""File suffix → its reader (registered by tflite.py and onnx.py)."""


def register(suffix: str) -> Callable[[Callable[[Path], ModelInfo]], Callable[[Path], ModelInfo]]:
    def add(reader: Callable[[Path], ModelInfo]) -> Callable[[Path], ModelInfo]:
        READERS[suffix] = reader
        return reader

    return add


@functools.lru_cache(maxsize=256)
def _read(path: Path, _size: int, _mtime_ns: int) -> ModelInfo:
    return READERS[path.suffix.lower()](path)


def read_model(path: Path) -> ModelInfo:
    """The model's description. Raises ModelError when the file cannot be read as one."""
    path = Path(path).resolve()
    if path.suffix.lower() not in READERS:
        known = ", ".join(sorted(READERS))
        raise ModelError(f"{path.name}: not a model file benchy reads ({known})")
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelError(f"{path.name}: cannot read: {exc.strerror}") from None
    return _read(path, st.st_size, st.st_mtime_ns)


def readable(path: Path) -> ModelInfo | None:
    """The model's description, or None when the host cannot read it (the worker, which has
    the runtime, then says why the cell cannot run)."""
    try:
        return read_model(path)
    except ModelError:
        return None


def companions(path: Path) -> list[Path]:
    """The files a model needs beside it under their own names (ONNX external data)."""
    info = readable(path)
    return [] if info is None else info.data_files()


def model_bytes(path: Path) -> int:
    """The model's size on disk, its external data files included."""
    return path.stat().st_size + sum(p.stat().st_size for p in companions(path) if p.is_file())


def elements(shape: tuple[int, ...] | list[int]) -> int:
    return math.prod(shape)


def _load_builtin() -> None:
    from benchy.modelinfo import onnx, tflite  # noqa: F401  (registration side effect)


_load_builtin()
