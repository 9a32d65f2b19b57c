"""A model's input keys against one model file and its dataset: every input's source and
concrete shape, or a one-line ConfigError naming the file, table and key to fix.

Run for every variant when the suite loads (`check_model`), so nothing runs with an input the
model lacks, a dynamic dimension without a value, a constant that does not fit, or dataset
arrays of the wrong shape or count; and again (cached reads) for each cell's request, whose
InputsSpec carries the resolved shapes: the worker only feeds what the host decided.

A model file the host cannot read gets no checks: its cells run, and the worker (which has the
runtime) says why the model does not load — a damaged file fails its own cells, not the suite.

Rules, in order, for an input without `source`: `value` set → "value"; `key` set, or the
dataset holds an array named after the input (or `x`, for the first input) while
[models.X.input].source is "dataset" → "dataset"; else "random" with [models.X.input]'s range.
A dynamic dimension takes the input's `shape`, else `dims[name]` (name: the model's symbolic
name, or INPUT[AXIS] for an unnamed one).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchy.datasets import array_problem, headers
from benchy.errors import ConfigError
from benchy.inputs.config import InputsConfig, InputSpec, Place, TensorInput
from benchy.inputs.values import fit_problem
from benchy.modelinfo import FEEDABLE, IOInfo, ModelError, ModelInfo, TensorInfo, read_model
from benchy.worker.protocol import FeedSpec, InputsSpec

if TYPE_CHECKING:
    from benchy.config import Model

log = logging.getLogger(__name__)
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(name: str) -> str:
    """A TOML key for `name`: bare when it can be, else quoted."""
    return name if BARE_KEY.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


def _listed(names: list[str], none: str = "none") -> str:
    return ", ".join(names) if names else none


@dataclass(frozen=True)
class Feed:
    """How one input is fed: resolved for a model file (shape None: the model's own)."""

    name: str | None  # None: the default for inputs the host could not list
    source: str
    shape: tuple[int, ...] | None = None
    key: str | None = None
    low: float = 0.0
    high: float = 1.0
    seed: int = 0
    value: Any = field(default=None, hash=False)

    def payload(self) -> FeedSpec:
        spec: FeedSpec = {"source": self.source}
        if self.name is not None:
            spec["name"] = self.name
        if self.shape is not None:
            spec["shape"] = list(self.shape)
        if self.source == "dataset":
            spec["key"] = self.key or "x"
        elif self.source == "random":
            spec["low"], spec["high"], spec["seed"] = self.low, self.high, self.seed
        elif self.source == "value":
            spec["value"] = self.value
        return spec


@dataclass(frozen=True)
class InputPlan:
    feeds: tuple[Feed, ...]
    default: Feed | None = None
    output: str | None = None
    feedback: dict[str, str] = field(default_factory=dict)
    signature: str | None = None

    @property
    def uses_dataset(self) -> bool:
        feeds = [*self.feeds, *([self.default] if self.default else [])]
        return any(f.source == "dataset" for f in feeds)

    def spec(self, dataset: str | None, limit: int | None) -> InputsSpec:
        """The worker's InputsSpec, with the dataset's path on the device."""
        spec: InputsSpec = {"feeds": [f.payload() for f in self.feeds]}
        if self.default is not None:
            spec["default"] = self.default.payload()
        if self.uses_dataset and dataset is not None:
            spec["path"] = dataset
            if limit:
                spec["limit"] = limit
        if self.output is not None:
            spec["output"] = self.output
        if self.feedback:
            spec["feedback"] = dict(self.feedback)
        if self.signature is not None:
            spec["signature"] = self.signature
        return spec


class _Planner:
    """One model's input keys against one of its files."""

    def __init__(self, model: Model, file: Path, info: ModelInfo) -> None:
        self.cfg: InputsConfig = model.inputs
        self.legacy: InputSpec = model.input
        self.file, self.info = file.name, info
        self.arrays = dict(headers(model.dataset)) if model.dataset is not None else {}
        self.dataset = model.dataset
        self.named: dict[str, tuple[int, str]] = {}
        """A symbolic dimension's value, and where it was set (inputs must agree)."""

    # ------------------------------------------------------------ the model's names

    def io(self) -> IOInfo:
        sig = self.cfg.signature
        if sig is None or self.info.format != "tflite":
            return self.info.io
        if sig not in self.info.signatures:
            known = _listed(sorted(self.info.signatures), "it has none")
            raise self.cfg.place.error(
                "signature", f'{self.file} has no signature "{sig}"; its signatures: {known}'
            )
        return self.info.signatures[sig]

    def check_names(self, io: IOInfo) -> None:
        names = [t.name for t in io.inputs]
        for name, table in self.cfg.tensors.items():
            if name not in names:
                raise table.place.error(
                    None,
                    f'{self.file} has no input "{name}"; its inputs: {_listed(names)}'
                    + self._signature_hint(name),
                )
        outputs = [t.name for t in io.outputs]
        if self.cfg.output is not None and self.cfg.output not in outputs:
            raise self.cfg.place.error(
                "output",
                f'{self.file} has no output "{self.cfg.output}"; its outputs: {_listed(outputs)}',
            )

    def _signature_hint(self, name: str) -> str:
        if self.cfg.signature is not None:
            return ""
        for key, sig in sorted(self.info.signatures.items()):
            if sig.input(name) is not None:
                return f' (signature "{key}" has it: set signature = "{key}")'
        return ""

    # ------------------------------------------------------------ one input

    def feed(self, index: int, tensor: TensorInfo, n_inputs: int) -> Feed:
        table = self.cfg.tensors.get(tensor.name)
        place = table.place if table is not None else self.cfg.place
        if tensor.dtype not in FEEDABLE:
            raise place.error(
                None if table else "variants",
                f'input "{tensor.name}" of {self.file} is '
                f"{tensor.dtype}; benchy feeds numbers and booleans ({', '.join(FEEDABLE)})",
            )
        shape = self.shape(tensor, table, n_inputs)
        source, key = self.source(index, tensor, table)
        low = table.low if table is not None and table.low is not None else self.legacy.low
        high = table.high if table is not None and table.high is not None else self.legacy.high
        seed = table.seed if table is not None and table.seed is not None else self.legacy.seed
        feed = Feed(tensor.name, source, shape, key, low, high, seed,
                    table.value if table is not None else None)  # fmt: skip
        self.check_values(feed, tensor, table)
        return feed

    def source(
        self, index: int, tensor: TensorInfo, table: TensorInput | None
    ) -> tuple[str, str | None]:
        key = table.key if table is not None else None
        source = table.source if table is not None else None
        if source is None:
            found = self._array_for(index, tensor)
            if found is not None and self.legacy.kind == "dataset":
                return "dataset", found
            return "random", None
        if source != "dataset":
            return source, None
        key = key or self._array_for(index, tensor)
        if key is None or key not in self.arrays:
            assert table is not None and self.dataset is not None
            wanted = key or tensor.name
            raise table.place.error(
                "key" if table.key else "source",
                f'{self.dataset.name} has no array "{wanted}" for input "{tensor.name}"; it has: '
                f"{_listed(sorted(self.arrays))}"
                + ("" if table.key else '; name the array it takes with key = "..."'),
            )
        return "dataset", key

    def _array_for(self, index: int, tensor: TensorInfo) -> str | None:
        if tensor.name in self.arrays:
            return tensor.name
        return "x" if index == 0 and "x" in self.arrays else None

    def shape(
        self, tensor: TensorInfo, table: TensorInput | None, n_inputs: int
    ) -> tuple[int, ...]:
        given = table.shape if table is not None else None
        where = table.place if table is not None else None
        legacy = self.legacy.shape
        if given is None and legacy is not None:
            assert self.legacy.place is not None
            if n_inputs > 1:
                raise self.legacy.place.error(
                    "shape",
                    f"{self.file} has {n_inputs} inputs; give each its shape in "
                    f"[{self.cfg.place.table}.inputs.NAME].shape",
                )
            if tensor.dims is None or len(legacy) == len(tensor.dims):
                given, where = legacy, self.legacy.place
        if tensor.dims is None:
            if given is None:
                raise self.cfg.place.error(
                    "inputs",
                    f'input "{tensor.name}" of {self.file} has no shape in the model; '
                    f"set [{self.cfg.place.table}.inputs.{toml_key(tensor.name)}].shape",
                )
            return given
        if given is not None:
            assert where is not None
            return self._given(tensor, given, where)
        shape = []
        for axis, dim in enumerate(tensor.dims):
            if isinstance(dim, int):
                shape.append(dim)
                continue
            name = tensor.dim_name(axis)
            if name not in self.cfg.dims:
                raise self.cfg.place.error(
                    "dims",
                    f'input "{tensor.name}" of {self.file} has dynamic dimension "{name}" '
                    f"(axis {axis}) with no value; set dims = {{ {toml_key(name)} = N }} or "
                    f"[{self.cfg.place.table}.inputs.{toml_key(tensor.name)}].shape",
                )
            self._agree(dim, self.cfg.dims[name], f"[{self.cfg.place.table}.dims]")
            shape.append(self.cfg.dims[name])
        if legacy is not None and math.prod(legacy) != math.prod(shape):
            assert self.legacy.place is not None
            raise self.legacy.place.error(
                "shape",
                f"{list(legacy)} holds {math.prod(legacy)} values; input "
                f'"{tensor.name}" of {self.file} takes {list(shape)} ({math.prod(shape)})',
            )
        return tuple(shape)

    def _given(self, tensor: TensorInfo, given: tuple[int, ...], where: Place) -> tuple[int, ...]:
        assert tensor.dims is not None
        if len(given) != len(tensor.dims):
            raise where.error(
                "shape",
                f'expected {len(tensor.dims)} dimensions like input "{tensor.name}" of '
                f"{self.file} ({tensor.shape_text()}), got {list(given)}",
            )
        for axis, (size, dim) in enumerate(zip(given, tensor.dims, strict=True)):
            if isinstance(dim, int) and size != dim:
                raise where.error(
                    "shape",
                    f'dimension {axis} of input "{tensor.name}" is fixed at {dim} in '
                    f"{self.file} ({tensor.shape_text()}), got {size}",
                )
            self._agree(dim, size, f"[{where.table}].shape")
        return given

    def _agree(self, dim: Any, size: int, where: str) -> None:
        """One symbolic dimension has one value across the inputs that share it."""
        if not isinstance(dim, str):
            return
        seen = self.named.setdefault(dim, (size, where))
        if seen[0] != size:
            raise self.cfg.place.error(
                "dims",
                f'dimension "{dim}" is {seen[0]} in {seen[1]} but {size} in {where}; '
                "inputs that share a dimension need one value",
            )

    def check_values(self, feed: Feed, tensor: TensorInfo, table: TensorInput | None) -> None:
        assert feed.shape is not None
        place = table.place if table is not None else self.legacy.place
        if feed.source == "value":
            assert table is not None
            value_shape = np.shape(feed.value)
            try:
                fits = np.broadcast_shapes(value_shape, feed.shape) == feed.shape
            except ValueError:
                fits = False
            if not fits:
                raise table.place.error(
                    "value",
                    f'shape {list(value_shape)} does not fit input "{tensor.name}" '
                    f"{list(feed.shape)} (it must equal it or broadcast to it)",
                )
            problem = fit_problem(feed.value, tensor)
            if problem is not None:
                raise table.place.error("value", f"does not fit: {problem}")
        elif feed.source == "random" and tensor.dtype.startswith(("int", "uint")):
            problem = fit_problem([feed.low, feed.high], tensor)
            if problem is not None and place is not None:
                key = "low" if fit_problem([feed.low], tensor) else "high"
                raise place.error(key, f"does not fit: {problem}")
        elif feed.source == "dataset":
            self._check_array(feed, tensor)

    def _check_array(self, feed: Feed, tensor: TensorInfo) -> None:
        assert feed.key is not None and feed.shape is not None and self.dataset is not None
        problem = array_problem(self.dataset, feed.key, self.arrays)
        if problem is None and self.arrays[feed.key][0][0] == 0:
            problem = f"{self.dataset.name}: {feed.key} holds no samples"
        if problem is not None:
            raise self.cfg.place.error("dataset", problem)
        sample = self.arrays[feed.key][0][1:]
        if math.prod(sample) != math.prod(feed.shape):
            raise self.cfg.place.error(
                "dataset",
                f'{self.dataset.name}: array "{feed.key}" holds samples of shape '
                f'{list(sample)} ({math.prod(sample)} values); input "{tensor.name}" of '
                f"{self.file} takes {list(feed.shape)} ({math.prod(feed.shape)} values)",
            )

    # ------------------------------------------------------------ across inputs

    def check_counts(self, feeds: list[Feed]) -> None:
        """Every array fed holds one row per sample, and y one per sample too."""
        used = sorted({f.key for f in feeds if f.source == "dataset" and f.key is not None})
        if not used or self.dataset is None:
            return
        counts = {k: self.arrays[k][0][0] for k in used}
        first = used[0]
        for key in [*used[1:], *(["y"] if "y" in self.arrays else [])]:
            n = self.arrays[key][0][0]
            if n != counts[first]:
                why = "one y per sample" if key == "y" else "one row per sample in every input"
                raise self.cfg.place.error(
                    "dataset",
                    f"{self.dataset.name}: {first} holds {counts[first]} samples but "
                    f"{key} holds {n}; expected {why}",
                )

    def check_feedback(self, io: IOInfo, feeds: list[Feed]) -> None:
        place = Place(self.cfg.place.file, f"{self.cfg.place.table}.feedback")
        shapes = {f.name: f.shape for f in feeds}
        for out, inp in self.cfg.feedback.items():
            o, i = io.output(out), io.input(inp)
            if o is None:
                outputs = _listed([t.name for t in io.outputs])
                raise place.error(out, f'{self.file} has no output "{out}"; its outputs: {outputs}')
            if i is None:
                inputs = _listed([t.name for t in io.inputs])
                raise place.error(out, f'{self.file} has no input "{inp}"; its inputs: {inputs}')
            if o.dtype != i.dtype:
                raise place.error(
                    out,
                    f'output "{out}" is {o.dtype} but input "{inp}" is {i.dtype} in '
                    f"{self.file}; feedback needs one element type",
                )
            shape = shapes[inp]
            assert shape is not None
            if not self._fits(o, shape):
                raise place.error(
                    out,
                    f'output "{out}" {o.shape_text()} cannot feed input "{inp}" '
                    f"{list(shape)} in {self.file}",
                )

    def _fits(self, output: TensorInfo, shape: tuple[int, ...]) -> bool:
        if output.dims is None:
            return True
        if len(output.dims) != len(shape):
            return False
        for dim, size in zip(output.dims, shape, strict=True):
            known = self.named.get(dim, (None, ""))[0] if isinstance(dim, str) else dim
            if known is not None and known != size:
                return False
        return True

    def plan(self) -> InputPlan:
        io = self.io()
        self.check_names(io)
        feeds = [self.feed(i, t, len(io.inputs)) for i, t in enumerate(io.inputs)]
        self.check_counts(feeds)
        self.check_feedback(io, feeds)
        sig = self.cfg.signature if self.info.format == "tflite" else None
        return InputPlan(tuple(feeds), None, self.cfg.output, dict(self.cfg.feedback), sig)


def _unread_plan(model: Model, file: Path) -> InputPlan:
    """For a file the host cannot read: the inputs the suite names, and the default for the
    rest; the worker finds the shapes (and says why the model does not load)."""
    cfg, legacy = model.inputs, model.input
    arrays = dict(headers(model.dataset)) if model.dataset is not None else {}
    feeds = []
    for name, t in cfg.tensors.items():
        source = t.source or (
            "dataset" if name in arrays and legacy.kind == "dataset" else "random"
        )
        key = t.key or (name if source == "dataset" else None)
        feeds.append(Feed(name, source, t.shape, key, t.low if t.low is not None else legacy.low,
                          t.high if t.high is not None else legacy.high,
                          t.seed if t.seed is not None else legacy.seed, t.value))  # fmt: skip
    kind = "dataset" if legacy.kind == "dataset" and "x" in arrays else "random"
    default = Feed(None, kind, None, "x", legacy.low, legacy.high, legacy.seed)
    sig = cfg.signature if file.suffix.lower() == ".tflite" else None
    return InputPlan(tuple(feeds), default, cfg.output, dict(cfg.feedback), sig)


def plan_inputs(model: Model, file: Path) -> InputPlan:
    """How each input of `file` (a variant of `model`) is fed. Raises ConfigError."""
    try:
        info = read_model(file)
    except ModelError as exc:
        log.debug("%s: its inputs are checked by the worker: %s", file.name, exc)
        return _unread_plan(model, file)
    return _Planner(model, file, info).plan()


def inputs_problem(model: Model, file: Path) -> str | None:
    """Why `file` (say, a derived variant, made after the suite was checked) cannot be fed as
    the suite says, or None."""
    try:
        plan_inputs(model, file)
    except ConfigError as exc:
        return f"inputs: {exc}"
    return None


def check_model(model: Model) -> None:
    """Every variant's inputs resolve, and every `dims` name is a dynamic dimension of one of
    them (a misspelt name would otherwise be ignored). Raises ConfigError."""
    used: set[str] = set()
    read = []
    for file in model.variants.values():
        plan_inputs(model, file)
        try:
            info = read_model(file)
        except ModelError:
            continue
        read.append(info)
        used |= set(info.io_for(_signature(model, info)).dynamic_dims())
    for name in model.inputs.dims:
        if read and name not in used:
            known = _listed(sorted(used), "they have none")
            files = ", ".join(sorted({i.path.name for i in read}))
            raise model.inputs.place.error(
                "dims",
                f'no input of {files} has a dynamic dimension "{name}"; '
                f"its dynamic dimensions: {known}",
            )


def _signature(model: Model, info: ModelInfo) -> str | None:
    return model.inputs.signature if info.format == "tflite" else None
