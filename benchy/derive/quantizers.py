"""Quantizer registry: one quantizer per model format (file suffix), each mapping benchy's named
recipes onto its own API and passing its own recipe format through unchanged.

Quantizer modules import their libraries only inside `derive`, so validating a suite costs no
import of ai-edge-quantizer or onnxruntime.quantization.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

log = logging.getLogger(__name__)

Calibration = Literal["required", "optional", "none"]


class RecipeError(Exception):
    """The quantizer refused the recipe for this model, or failed applying it. The message is
    the quantizer's reason; the derived variant becomes an error row with it."""


@dataclass(frozen=True)
class Recipe:
    """A named recipe (`name`, with `int8_io` for static int8), or a quantizer's own recipe or
    options (`tool` = its advanced key, `options` exactly as the suite gave them)."""

    name: str | None
    int8_io: bool = False
    tool: str | None = None
    options: Any = field(default=None, compare=False, hash=False)

    def canonical(self) -> dict[str, Any]:
        """What identifies the recipe in the cache key and in run.json."""
        if self.name is not None:
            return {"recipe": self.name, "int8_io": self.int8_io}
        return {"tool": self.tool, "options": self.options}

    def label(self) -> str:
        if self.name is not None:
            return f"{self.name} (integer I/O)" if self.int8_io else self.name
        return f"{self.tool} recipe"


class Quantizer(ABC):
    """Derives variants of one model format."""

    suffix: ClassVar[str]
    advanced_key: ClassVar[str]
    """The suite key that passes this quantizer's own recipe/options through."""

    @abstractmethod
    def requires(self, recipe: Recipe) -> tuple[tuple[str, str], ...]:
        """(module, pip distribution) pairs the recipe imports."""

    def refuses(self, recipe: Recipe) -> str | None:
        """Why this quantizer can never apply the recipe (known before any model is read)."""
        return None

    @abstractmethod
    def tools(self, recipe: Recipe) -> dict[str, str]:
        """Distribution → version of what makes the file; the first entry is the quantizer."""

    @abstractmethod
    def calibration(self, recipe: Recipe) -> Calibration:
        """Whether the recipe calibrates: required, optional (a pass-through recipe decides),
        or none."""

    @abstractmethod
    def derive(self, source: Path, recipe: Recipe, samples: np.ndarray | None, dest: Path) -> None:
        """Write the derived model to `dest`. Raises RecipeError with the quantizer's reason."""


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for dist in dists:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


@contextlib.contextmanager
def quiet(tool: str) -> Iterator[None]:
    """Keep a quantizer's progress bars, warnings and INFO logging off benchy's output (they go
    to the debug log), and turn whatever it raises into a RecipeError naming it.

    Third-party quantizers raise anything (ValueError, KeyError, AssertionError, RuntimeError
    from C++): every exception is the quantizer's reason, so all are caught here."""
    err = io.StringIO()
    previous = logging.root.manager.disable
    try:
        with contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.INFO)
            yield
    except RecipeError:
        raise
    except Exception as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the quantizer's formatting
        raise RecipeError(f"{tool}: {type(exc).__name__}: {reason}"[:500]) from exc
    finally:
        logging.disable(previous)
        if err.getvalue().strip():
            log.debug("%s said: %s", tool, err.getvalue().strip()[-2000:])


QUANTIZERS: dict[str, Quantizer] = {}


def for_file(path: Path) -> Quantizer | None:
    """The quantizer for a model file, by its suffix (any case)."""
    return QUANTIZERS.get(path.suffix.lower())


def register(cls: type[Quantizer]) -> type[Quantizer]:
    QUANTIZERS[cls.suffix] = cls()
    return cls


def _load_builtin() -> None:
    from benchy.derive import recipes_onnx, recipes_tflite  # noqa: F401  (registration)


_load_builtin()
